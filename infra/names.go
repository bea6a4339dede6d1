package infra

import (
	"fmt"
	"maps"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// Protocol strings AWS and EKS define.
const (
	// ClusterTagPrefix + cluster name tags subnets (shared) and nodes (owned) for EKS and
	// the load-balancer and autoscaler controllers.
	ClusterTagPrefix = "kubernetes.io/cluster/"
	publicELBTag     = "kubernetes.io/role/elb"
	internalELBTag   = "kubernetes.io/role/internal-elb"
	eksPrincipal     = "eks.amazonaws.com"
	flowLogPrincipal = "vpc-flow-logs.amazonaws.com"
	assumeRole       = "sts:AssumeRole"
	// EKS User Guide, "Create the IAM role" for Pod Identity (pod-id-role): the role trusts
	// this service principal with sts:AssumeRole and sts:TagSession (the agent's session
	// carries the eks-cluster-name, kubernetes-namespace, ... tags: pod-id-abac).
	podsPrincipal = "pods.eks.amazonaws.com"
	tagSession    = "sts:TagSession"
	// PodIdentityAgentAddon is the EKS add-on that serves Pod Identity credentials on each
	// node (pod-id-agent-setup).
	PodIdentityAgentAddon = "eks-pod-identity-agent"
)

// mergeTags returns base plus each extra in turn, later ones winning.
func mergeTags(base map[string]string, extra ...map[string]string) map[string]string {
	all := maps.Clone(base)
	if all == nil {
		all = map[string]string{}
	}
	for _, e := range extra {
		maps.Copy(all, e)
	}
	return all
}

// withTags is mergeTags as a Pulumi map.
func withTags(base map[string]string, extra ...map[string]string) pulumi.StringMap {
	return pulumi.ToStringMap(mergeTags(base, extra...))
}

// allStrings applies fn to the values of several string outputs at once, doing the type
// checks pulumi.All leaves to its caller so a surprise is an error, not a panic.
func allStrings(fn func(v ...string) (string, error), outs ...pulumi.StringOutput) pulumi.StringOutput {
	inputs := make([]any, len(outs))
	for i, o := range outs {
		inputs[i] = o
	}
	return pulumi.All(inputs...).ApplyT(func(vs []any) (string, error) {
		strs := make([]string, len(vs))
		for i, v := range vs {
			s, ok := v.(string)
			if !ok {
				return "", fmt.Errorf("output %d is %T, want string", i, v)
			}
			strs[i] = s
		}
		return fn(strs...)
	}).(pulumi.StringOutput)
}
