// Package k8s owns the Kubernetes side of the stack: the providers built from the cluster's
// kubeconfig, the aws-auth ConfigMap that lets worker nodes (and configured admins) join, and
// the binding of IRSA roles to service accounts, including the DaemonSet restart that makes
// running pods pick up a changed role. It takes plain Pulumi inputs (kubeconfig, role ARNs)
// and never imports the AWS layer.
//
// NewProviders makes two providers for the cluster. Providers.Apply writes aws-auth and the
// patches of objects others own with server-side apply under the field manager FieldManager,
// so `kubectl get --show-managed-fields` names us, conflicts name us, and destroying a patch
// gives back exactly the fields we set. Providers.Create creates the namespaces and service
// accounts we own without server-side apply (field manager CreateFieldManager), so that it
// can never take over one that already exists (see "Objects that already exist").
//
// # Replacement
//
// Every object has a fixed name. A create-before-delete replacement (what the engine does
// for every object when its provider is replaced) would, through Providers.Apply, apply the
// new object and then delete it, or for a patch relinquish the very fields the new patch just
// set, since both use FieldManager; through Providers.Create it would fail on the name the old
// object still holds. So every object is delete-before-replace: a short gap instead of a
// silent loss. What must not happen at all is the providers being replaced, which deletes and
// recreates every object (a created namespace with everything in it): the provider replaces
// itself when the kubeconfig's cluster changes or the kubeconfig is unknown in a preview, unless
// clusterIdentifier is set and unchanged, so ProviderArgs.ClusterIdentifier is required.
//
// # Objects that already exist
//
// With server-side apply a create is a PATCH, an upsert: a ServiceAccount in Mode
// CreateServiceAccount, or a namespace with CreateNamespace, that a Helm chart or a person
// already made would be taken over silently, and destroy (or removing the role from config)
// would then delete it. ServiceAccountRole therefore creates through Providers.Create, where a
// create is a POST:
//
//   - If the account or namespace already exists, the API server answers AlreadyExists: the
//     update fails on that object (`serviceaccounts "x" already exists`), the object is left
//     untouched, and what depends on it (the account in a created namespace, a restart) is not
//     attempted. A preview cannot tell: without server-side apply the provider skips the
//     dry-run create. ExplainExistingObject turns that failure into instructions.
//   - For an account someone else created, use Mode AnnotateServiceAccount: it patches the role
//     annotation only and leaves the account on destroy. For their namespace, leave
//     CreateNamespace false.
//   - An object we created is ours: updates are client-side three-way merges of our last
//     inputs, our new inputs and the live object (fields others added are kept, a repeated
//     `pulumi up` is a no-op), and destroy deletes it.
//   - An up killed after the API server created an object but before the state recorded it
//     leaves a pending create. Clearing it (`pulumi refresh --clear-pending-creates`) makes the
//     next up fail the same way on our own object; import it instead
//     (`--import-pending-creates`).
//
// Providers.Create refuses Patch resources (they need server-side apply), so an annotation
// can never go through it by mistake.
//
// A stack from before Providers.Create moves its created objects to it in place: the Apply
// provider keeps its name, and a provider change to the same cluster is an update, not a
// replacement. Only the first up that sets clusterIdentifier still replaces on an unknown
// kubeconfig (the identifier is added, not unchanged), so make it one that leaves the cluster
// alone.
//
// # Objects EKS owns
//
// kube-system/aws-node (ServiceAccount and DaemonSet) belongs to EKS. ServiceAccountRole
// touches it only through ServiceAccountPatch and DaemonSetPatch: destroy relinquishes our
// fields (the role annotation goes away) and leaves both objects in place.
//
// # aws-auth that already exists
//
// aws-auth is one ConfigMap whose mapRoles value is a single string, so server-side apply
// cannot merge two writers' mappings: whoever owns data.mapRoles owns every mapping in it.
// AwsAuth therefore never merges and never overwrites by default:
//
//   - Default (AdoptExisting false): the ConfigMap is applied without force. If aws-auth is
//     absent it is created and is ours (destroy deletes it). If another field manager already
//     wrote mapRoles or mapUsers with different content, the apply fails with the provider's
//     "Server-Side Apply field conflict detected" and the ConfigMap is left untouched.
//     mapUsers is always written (an empty list when no users are configured) so someone
//     else's mapUsers conflicts too. Only a value identical to ours is shared without a
//     conflict; destroy then deletes aws-auth, which held nothing but our mappings.
//     ExplainAwsAuthConflict turns that failure into instructions.
//   - The way out (AdoptExisting true): copy every mapping of the existing aws-auth into the
//     configured roles and users (`kubectl -n kube-system get configmap aws-auth -o yaml`),
//     then set the adopt flag. The apply is forced (annotation PatchForceAnnotation), so the
//     configured list becomes the whole of mapRoles/mapUsers, and the ConfigMap is retained
//     on delete because it was not ours to begin with.
//
// Why not a ConfigMapPatch for adoption: deleting a patch relinquishes its fields, and after a
// forced apply we are the sole owner of data.mapRoles, so destroy would remove every mapping
// (the user's included) from a cluster that keeps running.
//
// What the provider does around this, read in its source: a preview forces its dry-run
// create, so the conflict shows at update time, not in the preview; the environment variable
// PULUMI_K8S_ENABLE_PATCH_FORCE=true forces every apply and so overwrites an existing aws-auth
// without a conflict (do not set it). Once aws-auth is ours, the next change we make takes
// over fields written by `kubectl apply --server-side` (manager "kubectl") silently, while
// fields written by other managers (kubectl edit, client-side kubectl apply, eksctl) fail that
// update with a conflict.
//
// # Restarting pods when a role changes
//
// A pod reads its service account's role annotation only when it starts. ServiceAccountRole
// puts RestartToken(roleARN) in the DaemonSet's pod template (RestartAnnotation): the value
// changes exactly when the role ARN does, so pods roll once per role change and a repeated
// `pulumi up` is a no-op.
package k8s
