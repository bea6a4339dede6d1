package k8s

import (
	"errors"
	"fmt"
	"slices"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// LayerArgs are the plain inputs of a cluster's Kubernetes layer: what the AWS layer hands
// over (kubeconfig, the cluster's ARN, role ARNs) and what config asks for.
type LayerArgs struct {
	// Kubeconfig and ClusterIdentifier build the providers (see ProviderArgs).
	Kubeconfig        pulumi.StringInput
	ClusterIdentifier pulumi.StringInput
	// Providers, when set, are the cluster's providers made before the layer (NewProviders
	// under the layer's name, so their URNs are the ones NewLayer gives them): what an object
	// made before the layer needs (the admin bridge, which access entries wait for, while
	// aws-auth waits for the entries). Nil: NewLayer makes them.
	Providers *Providers
	// Cluster ties every object to the cluster it lives in. Its Resource may be nil where the
	// stack has no cluster resource (the Kubernetes-only tier): destroy then deletes each object.
	Cluster ClusterInstance
	// NodeRoleARN is mapped in aws-auth so worker nodes can join.
	NodeRoleARN pulumi.StringInput
	// AWSNodeRoleARN is the VPC CNI's IRSA role: EKS's kube-system/aws-node account is
	// annotated with it and the aws-node DaemonSet rolled onto it.
	AWSNodeRoleARN pulumi.StringInput
	// Bindings are the other IRSA accounts, in config order.
	Bindings []Binding
	// AWSAuth holds the aws-auth mappings besides the node role's.
	AWSAuth AWSAuthMappings
	// WithoutAWSAuth leaves aws-auth out: a cluster in API mode reads none, and its nodes
	// authenticate by their access entry (infra.NewAccess), which NodesWaitFor does not list.
	WithoutAWSAuth bool
	// AWSAuthAfter are what aws-auth is written after: the access entries, which take
	// precedence over its rows, so a row can be rewritten or removed only once its principal's
	// entry (with its policies) admits it.
	AWSAuthAfter []pulumi.Resource
}

// AWSAuthMappings are the configured aws-auth mappings (see AWSAuthArgs).
type AWSAuthMappings struct {
	Roles []RoleMapping
	Users []UserMapping
	Adopt bool
}

// Binding is one IRSA role for Namespace/ServiceAccount. RoleARN nil, in Mode
// CreateServiceAccount only, keeps an account the stack created with no role annotation: the
// account of an EKS Pod Identity role, which must outlive a switch from IRSA (its pods run
// as it).
type Binding struct {
	// FormerName is the resource name the binding had when bindings were named after their
	// role (eks-irsa until 2026-12-06): an alias of the name NewLayer gives it now
	// (BindingName), so a stack of then keeps its objects. Empty: none.
	FormerName      string
	Namespace       string
	ServiceAccount  string
	RoleARN         pulumi.StringInput
	Mode            ServiceAccountMode
	CreateNamespace bool
}

// Layer is what NewLayer registered.
type Layer struct {
	Providers *Providers
	// AWSAuth is nil WithoutAWSAuth.
	AWSAuth *AWSAuth
	// AWSNode binds the VPC CNI's role and restarts its DaemonSet.
	AWSNode *ServiceAccountBinding
	// Bindings are the other accounts' bindings, by AccountKey; an account in Mode
	// NoServiceAccount has none.
	Bindings map[string]*ServiceAccountBinding
	// NodesWaitFor lists the objects worker capacity must wait for: aws-auth (or nodes cannot
	// authenticate), aws-node's annotation and restart (or the CNI runs without credentials and
	// coredns sticks), and every binding's objects (or a pod scheduled on the first node starts
	// without its role). The objects themselves, not their components: the SDK records a
	// component's children asynchronously, so depending on a component can miss a child
	// registered just before.
	NodesWaitFor []pulumi.Resource
	// Accounts is every account given a role, aws-node included, keyed by AccountKey.
	Accounts map[string]Account
}

// Account is the role an account was given, and what the layer did with the account.
type Account struct {
	RoleARN pulumi.StringOutput
	Mode    ServiceAccountMode
}

// AccountsOutput is Accounts as a stack output: each key maps to {AccountRoleARNKey: the
// role ARN, AccountModeKey: the mode}. The stack exports it so later commands read what was
// applied rather than re-deriving it from config, which may have changed since.
func (l *Layer) AccountsOutput() pulumi.Map {
	out := pulumi.Map{}
	for key, a := range l.Accounts {
		out[key] = pulumi.Map{AccountRoleARNKey: a.RoleARN, AccountModeKey: pulumi.String(string(a.Mode))}
	}
	return out
}

// Keys of each entry of Layer.Accounts.
const (
	AccountRoleARNKey = "roleArn"
	AccountModeKey    = "mode"
)

// AWSNodeBindingSuffix names the aws-node binding after the layer.
const AWSNodeBindingSuffix = "-aws-node"

// AWSAuthSuffix names the aws-auth component after the layer.
const AWSAuthSuffix = "-aws-auth"

// AccountKey is the "namespace/name" key of an account in Layer.Accounts.
func AccountKey(namespace, name string) string { return namespace + "/" + name }

// BindingName is the resource name of the binding of namespace/serviceAccount in the layer
// named layer: "<layer>-<namespace>/<serviceAccount>". It names the account, not its role, so
// a role renamed in config (a new role, a new ARN) updates the account's annotation in place:
// named after the role, the binding was a new resource, whose account create failed on the
// old one's ("already exists") and whose old patch, deleted last, took the annotation away.
func BindingName(layer, namespace, serviceAccount string) string {
	return layer + "-" + AccountKey(namespace, serviceAccount)
}

func (a *LayerArgs) validate() error {
	if a == nil {
		return errors.New("args: required")
	}
	var v validator
	if a.Cluster.Issuer == nil {
		v.addf("Cluster.Issuer", "required: the cluster's OIDC issuer, so a replaced cluster gets every object again")
	}
	v.roleARN("AWSNodeRoleARN", a.AWSNodeRoleARN)
	if a.WithoutAWSAuth && (len(a.AWSAuth.Roles)+len(a.AWSAuth.Users) > 0 || a.AWSAuth.Adopt) {
		v.addf("AWSAuth", "mappings given WithoutAWSAuth: nothing would write them")
	}
	formerNames := map[string]int{}
	accounts := map[string]int{}
	for i, b := range a.Bindings {
		field := fmt.Sprintf("Bindings[%d]", i)
		if b.FormerName != "" {
			if j, dup := formerNames[b.FormerName]; dup {
				v.addf(field+".FormerName", "%q is also Bindings[%d].FormerName", b.FormerName, j)
			} else {
				formerNames[b.FormerName] = i
			}
		}
		if b.RoleARN != nil || b.Mode != CreateServiceAccount {
			v.roleARN(field+".RoleARN", b.RoleARN)
		}
		if !slices.Contains(serviceAccountModes, b.Mode) {
			v.addf(field+".Mode", "%q is not one of %q", b.Mode, serviceAccountModes)
		}
		key := AccountKey(b.Namespace, b.ServiceAccount)
		if b.Namespace == KubeSystemNamespace && b.ServiceAccount == AWSNodeName {
			v.addf(field, "%s is bound by AWSNodeRoleARN; remove it from Bindings", key)
		} else if j, dup := accounts[key]; dup {
			v.addf(field, "%s is also Bindings[%d]: one role per account", key, j)
		} else {
			accounts[key] = i
		}
	}
	return errors.Join(v.errs...)
}

// NewLayer builds a cluster's Kubernetes layer: the providers, aws-auth, the aws-node binding
// and the other bindings. Everything is named after name: the providers name and
// name+CreateProviderSuffix, aws-auth name+AWSAuthSuffix, aws-node name+AWSNodeBindingSuffix,
// the other bindings BindingName. stack.Build calls it, and so does the integration
// tier, so both apply the same objects.
func NewLayer(ctx *pulumi.Context, name string, args *LayerArgs) (*Layer, error) {
	if err := args.validate(); err != nil {
		return nil, fmt.Errorf("k8s layer %s: %w", name, err)
	}
	providers, err := args.Providers, error(nil)
	if providers == nil {
		if providers, err = NewProviders(ctx, name, &ProviderArgs{Kubeconfig: args.Kubeconfig, ClusterIdentifier: args.ClusterIdentifier}); err != nil {
			return nil, err
		}
	}
	l := &Layer{
		Providers: providers,
		Bindings:  map[string]*ServiceAccountBinding{},
		Accounts:  map[string]Account{},
	}
	if !args.WithoutAWSAuth {
		auth, err := NewAWSAuth(ctx, name+AWSAuthSuffix, &AWSAuthArgs{
			Provider:      providers.Apply,
			Cluster:       &args.Cluster,
			NodeRoleARN:   args.NodeRoleARN,
			Roles:         args.AWSAuth.Roles,
			Users:         args.AWSAuth.Users,
			AdoptExisting: args.AWSAuth.Adopt,
			After:         args.AWSAuthAfter,
		})
		if err != nil {
			return nil, err
		}
		l.AWSAuth = auth
		l.NodesWaitFor = append(l.NodesWaitFor, auth.ConfigMap)
	}

	// EKS owns the account and the DaemonSet: annotate the one, roll the other onto the role.
	if l.AWSNode, err = NewServiceAccountBinding(ctx, name+AWSNodeBindingSuffix, &ServiceAccountBindingArgs{
		Provider:         providers.Apply,
		Cluster:          &args.Cluster,
		Namespace:        KubeSystemNamespace,
		ServiceAccount:   AWSNodeName,
		RoleARN:          args.AWSNodeRoleARN,
		Mode:             AnnotateServiceAccount,
		RestartDaemonSet: AWSNodeDaemonSet,
	}); err != nil {
		return nil, err
	}
	l.NodesWaitFor = append(l.NodesWaitFor, l.AWSNode.Resources()...)
	l.Accounts[AccountKey(KubeSystemNamespace, AWSNodeName)] = Account{RoleARN: l.AWSNode.RoleARN, Mode: AnnotateServiceAccount}

	for _, b := range args.Bindings {
		if b.Mode == NoServiceAccount {
			// Someone else creates and annotates the account; only the role is ours.
			l.Accounts[AccountKey(b.Namespace, b.ServiceAccount)] = Account{RoleARN: b.RoleARN.ToStringOutput(), Mode: b.Mode}
			continue
		}
		var opts []pulumi.ResourceOption
		bindingName := BindingName(name, b.Namespace, b.ServiceAccount)
		if b.FormerName != "" && b.FormerName != bindingName {
			// The engine carries a component's alias to its children whose names start with
			// the component's (each is the binding's name plus a suffix).
			opts = append(opts, pulumi.Aliases([]pulumi.Alias{{Name: pulumi.String(b.FormerName)}}))
		}
		binding, err := NewServiceAccountBinding(ctx, bindingName, &ServiceAccountBindingArgs{
			Provider:        providers.Apply,
			CreateProvider:  providers.Create,
			Cluster:         &args.Cluster,
			Namespace:       b.Namespace,
			ServiceAccount:  b.ServiceAccount,
			RoleARN:         b.RoleARN,
			Mode:            b.Mode,
			CreateNamespace: b.CreateNamespace,
		}, opts...)
		if err != nil {
			return nil, err
		}
		l.Bindings[AccountKey(b.Namespace, b.ServiceAccount)] = binding
		l.NodesWaitFor = append(l.NodesWaitFor, binding.Resources()...)
		if b.RoleARN != nil {
			l.Accounts[AccountKey(b.Namespace, b.ServiceAccount)] = Account{RoleARN: binding.RoleARN, Mode: b.Mode}
		}
	}
	return l, nil
}
