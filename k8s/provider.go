package k8s

import (
	"errors"
	"fmt"

	"github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// NewProvider returns the Kubernetes provider for the cluster the kubeconfig points at. Every
// object in this package takes it explicitly, so nothing falls back to the ambient kubeconfig.
//
//   - Server-side apply is on (the provider's default, set here so an environment variable
//     cannot turn it off): patches of EKS-owned objects and the aws-auth conflict check rely on it.
//   - deleteUnreachable is on: when the cluster is already gone, destroy drops our objects from
//     the state instead of failing on an endpoint that will never answer.
//   - ConfigMaps are mutable: otherwise the provider replaces a ConfigMap whose data changed,
//     and for a fixed name that is delete-then-create, leaving a window without aws-auth in
//     which nodes cannot authenticate.
func NewProvider(ctx *pulumi.Context, name string, kubeconfig pulumi.StringInput, opts ...pulumi.ResourceOption) (*kubernetes.Provider, error) {
	if kubeconfig == nil {
		return nil, fmt.Errorf("k8s provider %s: %w", name, errors.New("kubeconfig: required (the cluster's kubeconfig output)"))
	}
	p, err := kubernetes.NewProvider(ctx, name, &kubernetes.ProviderArgs{
		Kubeconfig:             kubeconfig,
		EnableServerSideApply:  pulumi.Bool(true),
		DeleteUnreachable:      pulumi.Bool(true),
		EnableConfigMapMutable: pulumi.Bool(true),
	}, opts...)
	if err != nil {
		return nil, fmt.Errorf("k8s provider %s: %w", name, err)
	}
	return p, nil
}
