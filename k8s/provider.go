package k8s

import (
	"errors"
	"fmt"

	"github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// ProviderArgs says which cluster the providers talk to.
type ProviderArgs struct {
	// Kubeconfig is the cluster's kubeconfig output (a secret).
	Kubeconfig pulumi.StringInput
	// ClusterIdentifier names the cluster stably (its ARN). Without it the provider replaces
	// itself, and every object with it, whenever the kubeconfig changes or is unknown in a
	// preview; with it, only a changed identifier replaces. It must not depend on the cluster
	// resource: when the cluster is replaced delete-first, the engine asks the provider about
	// its dependents with every input that depends on the cluster unknown, an unknown
	// identifier makes the provider a delete-first replacement too, and that chain fails
	// ("grpc: the client connection is closing", measured with Pulumi v3.274.1 and
	// pulumi-kubernetes v4.32: TestEmulatedClusterReplaced).
	ClusterIdentifier pulumi.StringInput
}

// Providers are the two Kubernetes providers of one cluster. They differ only in server-side
// apply, because with it a create is an upsert (a PATCH) that silently takes over an object
// someone else made, and destroy would then delete it.
type Providers struct {
	// Apply writes with server-side apply: aws-auth (whose conflict check relies on it) and the
	// patches of objects others own. The provider refuses patches without it.
	Apply *kubernetes.Provider
	// Create writes without server-side apply: a create is a POST, so an object that already
	// exists fails the update ("already exists") instead of being adopted. Updates are
	// client-side three-way merges. Every object this package creates uses it.
	Create *kubernetes.Provider
}

// CreateProviderSuffix names the Create provider after the Apply one, which keeps the plain
// name so that existing stacks see it updated, not replaced.
const CreateProviderSuffix = "-create"

func (a *ProviderArgs) validate() error {
	if a == nil {
		return errors.New("args: required")
	}
	var v validator
	if a.Kubeconfig == nil {
		v.addf("Kubeconfig", "required: the cluster's kubeconfig output")
	}
	if a.ClusterIdentifier == nil {
		v.addf("ClusterIdentifier", "required: the cluster's ARN, so a changed kubeconfig updates the providers instead of replacing them and every object")
	}
	return errors.Join(v.errs...)
}

// NewProviders returns the Apply and Create providers for the cluster. Every object in this
// package takes one of them explicitly, so nothing falls back to the ambient kubeconfig.
// Both providers share these settings:
//
//   - Server-side apply is set explicitly (on for Apply, off for Create), so an environment
//     variable cannot change it.
//   - deleteUnreachable is on: when the cluster is already gone, destroy drops our objects from
//     the state instead of failing on an endpoint that will never answer.
//   - ConfigMaps are mutable: otherwise the provider replaces a ConfigMap whose data changed,
//     and for a fixed name that is delete-then-create, leaving a window without aws-auth in
//     which nodes cannot authenticate. Only Apply writes a ConfigMap today; Create matches so
//     the two differ in nothing but server-side apply.
//   - clusterIdentifier is the cluster's stable name (see ProviderArgs).
func NewProviders(ctx *pulumi.Context, name string, args *ProviderArgs, opts ...pulumi.ResourceOption) (*Providers, error) {
	if err := args.validate(); err != nil {
		return nil, fmt.Errorf("k8s providers %s: %w", name, err)
	}
	apply, err := newProvider(ctx, name, args, true, opts...)
	if err != nil {
		return nil, err
	}
	create, err := newProvider(ctx, name+CreateProviderSuffix, args, false, opts...)
	if err != nil {
		return nil, err
	}
	return &Providers{Apply: apply, Create: create}, nil
}

func newProvider(ctx *pulumi.Context, name string, args *ProviderArgs, serverSideApply bool, opts ...pulumi.ResourceOption) (*kubernetes.Provider, error) {
	p, err := kubernetes.NewProvider(ctx, name, &kubernetes.ProviderArgs{
		Kubeconfig:             args.Kubeconfig,
		ClusterIdentifier:      args.ClusterIdentifier.ToStringOutput().ToStringPtrOutput(),
		EnableServerSideApply:  pulumi.Bool(serverSideApply),
		DeleteUnreachable:      pulumi.Bool(true),
		EnableConfigMapMutable: pulumi.Bool(true),
	}, opts...)
	if err != nil {
		return nil, fmt.Errorf("k8s provider %s: %w", name, err)
	}
	return p, nil
}
