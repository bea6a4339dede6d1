package infra

import (
	"fmt"

	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/eks"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// PodIdentityAgentType is the PodIdentityAgent component's type token.
const PodIdentityAgentType = "eksirsa:infra:PodIdentityAgent"

// PodIdentityAgentArgs install the agent in one cluster.
type PodIdentityAgentArgs struct {
	ClusterName pulumi.StringInput
	Tags        map[string]string
}

// PodIdentityAgent is the eks-pod-identity-agent add-on: a hostNetwork DaemonSet on every
// node that hands pods of an associated account their role's credentials (EKS User Guide,
// pod-id-agent-setup). Without it an association gives no pod anything; the nodes join
// after it (Workers.JoinAfter), so no node runs pods of such an account before the agent is
// installed. The version is EKS's default for the cluster's version (addon_version unset).
type PodIdentityAgent struct {
	pulumi.ResourceState

	Addon *eks.Addon
}

// NewPodIdentityAgent installs the add-on.
func NewPodIdentityAgent(ctx *pulumi.Context, name string, args *PodIdentityAgentArgs, opts ...pulumi.ResourceOption) (*PodIdentityAgent, error) {
	if args == nil || args.ClusterName == nil {
		return nil, fmt.Errorf("pod identity agent %s: ClusterName is required", name)
	}
	a := &PodIdentityAgent{}
	if err := ctx.RegisterComponentResource(PodIdentityAgentType, name, a, opts...); err != nil {
		return nil, err
	}
	addon, err := eks.NewAddon(ctx, name, &eks.AddonArgs{
		ClusterName: args.ClusterName,
		AddonName:   pulumi.String(PodIdentityAgentAddon),
		Tags:        withTags(args.Tags),
	}, pulumi.Parent(a))
	if err != nil {
		return nil, fmt.Errorf("pod identity agent %s: create add-on: %w", name, err)
	}
	a.Addon = addon
	if err := ctx.RegisterResourceOutputs(a, pulumi.Map{"arn": addon.Arn}); err != nil {
		return nil, fmt.Errorf("pod identity agent %s: register outputs: %w", name, err)
	}
	return a, nil
}
