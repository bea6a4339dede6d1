// Package k8s owns the Kubernetes side of the stack: the provider built from the cluster's
// kubeconfig, the aws-auth ConfigMap that lets worker nodes (and configured admins) join, and
// the binding of IRSA roles to service accounts, including the DaemonSet restart that makes
// running pods pick up a changed role. It takes plain Pulumi inputs (kubeconfig, role ARNs)
// and never imports the AWS layer.
//
// Every object is written with server-side apply under the field manager FieldManager, so
// `kubectl get --show-managed-fields` names us, conflicts name us, and destroying a patch
// gives back exactly the fields we set.
//
// # Replacement
//
// Every object has a fixed name and, with server-side apply, a create is an upsert. A
// create-before-delete replacement (what the engine does for every object when the provider
// itself is replaced) would apply the new object and then delete it, or for a patch
// relinquish the very fields the new patch just set, since both use FieldManager. So every
// object is delete-before-replace: a short gap instead of a silent loss.
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
