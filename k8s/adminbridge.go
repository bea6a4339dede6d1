package k8s

import (
	"errors"
	"fmt"

	"github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes"
	metav1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/meta/v1"
	rbacv1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/rbac/v1"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// AdminBridgeType is the AdminBridge component's type token.
const AdminBridgeType = "eksirsa:k8s:AdminBridge"

// AdminBridgeGroup is the Kubernetes group an access entry carries while its
// AmazonEKSClusterAdminPolicy association is not yet live, and AdminBridgeBinding the
// ClusterRoleBinding that binds it to ClusterRoleClusterAdmin. EKS refuses kubernetesGroups
// starting with system: (EKS User Guide, "Create access entries"), so an entry cannot carry
// system:masters, and "Amazon EKS doesn't confirm that the value for name exists in any
// bindings on your cluster" (API_CreateAccessEntry, kubernetesGroups): the binding must exist
// before the entry does.
const (
	AdminBridgeGroup        = "eks-irsa:cluster-admin-bridge"
	AdminBridgeBinding      = AdminBridgeGroup
	ClusterRoleClusterAdmin = "cluster-admin"
)

// AdminBridgeArgs configure the bridge.
type AdminBridgeArgs struct {
	// Provider is Providers.Apply: a create is an upsert, so an update killed while it made
	// the binding (the engine then forgets a pending Kubernetes create) applies it again
	// instead of failing "already exists". The name is the stack's own: nobody else's object is
	// taken over.
	Provider *kubernetes.Provider
	// Cluster ties the binding to the cluster it lives in (see ClusterInstance).
	Cluster *ClusterInstance
}

// AdminBridge is the ClusterRoleBinding of AdminBridgeGroup to cluster-admin: what access
// entries carrying the group are created after.
type AdminBridge struct {
	pulumi.ResourceState

	Binding *rbacv1.ClusterRoleBinding
}

// NewAdminBridge binds AdminBridgeGroup to cluster-admin.
func NewAdminBridge(ctx *pulumi.Context, name string, args *AdminBridgeArgs, opts ...pulumi.ResourceOption) (*AdminBridge, error) {
	if args == nil {
		return nil, fmt.Errorf("admin bridge %s: %w", name, errors.New("args: required"))
	}
	var v validator
	v.provider("Provider", "Apply", args.Provider)
	if err := errors.Join(v.errs...); err != nil {
		return nil, fmt.Errorf("admin bridge %s: %w", name, err)
	}
	b := &AdminBridge{}
	if err := ctx.RegisterComponentResource(AdminBridgeType, name, b, opts...); err != nil {
		return nil, fmt.Errorf("admin bridge %s: register component: %w", name, err)
	}
	// Delete first on replacement: the name is fixed, and an upsert followed by the old one's
	// delete would delete the new binding.
	bindingOpts := append([]pulumi.ResourceOption{pulumi.Parent(b), pulumi.Provider(args.Provider), pulumi.DeleteBeforeReplace(true)}, args.Cluster.options()...)
	binding, err := rbacv1.NewClusterRoleBinding(ctx, name+"-binding", &rbacv1.ClusterRoleBindingArgs{
		Metadata: &metav1.ObjectMetaArgs{
			Name:        pulumi.String(AdminBridgeBinding),
			Annotations: pulumi.StringMap{PatchFieldManagerAnnotation: pulumi.String(FieldManager)},
		},
		RoleRef: &rbacv1.RoleRefArgs{ApiGroup: pulumi.String("rbac.authorization.k8s.io"), Kind: pulumi.String("ClusterRole"), Name: pulumi.String(ClusterRoleClusterAdmin)},
		Subjects: rbacv1.SubjectArray{&rbacv1.SubjectArgs{
			ApiGroup: pulumi.String("rbac.authorization.k8s.io"), Kind: pulumi.String("Group"), Name: pulumi.String(AdminBridgeGroup),
		}},
	}, bindingOpts...)
	if err != nil {
		return nil, fmt.Errorf("admin bridge %s: create ClusterRoleBinding: %w", name, err)
	}
	b.Binding = binding
	if err := ctx.RegisterResourceOutputs(b, pulumi.Map{}); err != nil {
		return nil, fmt.Errorf("admin bridge %s: register outputs: %w", name, err)
	}
	return b, nil
}
