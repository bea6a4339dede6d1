package main

import (
	"slices"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/auto"

	"github.com/eks-irsa/eks-irsa/stack"
)

// verify checks access entries only for a stack whose outputs say API mode, and then takes
// the cluster, the node role and the entries from those outputs, not from the stack file.
func TestVerifyReadsAccessEntriesInAPIModeOnly(t *testing.T) {
	opts := &options{stack: "test", dir: projectDir}
	outs := testStackOutputs()
	if a, err := accessExpectations(t.Context(), opts, outs); err != nil || a != nil {
		t.Fatalf("default mode: %+v, %v; want no access checks (the nodes join by aws-auth)", a, err)
	}
	dev := "arn:aws:iam::" + testAccount + ":role/dev"
	outs[stack.OutAuthenticationMode] = auto.OutputValue{Value: stack.ModeAPI}
	outs[stack.OutNodeRoleARN] = auto.OutputValue{Value: roleARN("node")}
	outs[stack.OutAccessEntries] = auto.OutputValue{Value: []any{
		map[string]any{stack.AccessEntryPrincipalKey: roleARN("node"), stack.AccessEntryTypeKey: "EC2_LINUX"},
		map[string]any{stack.AccessEntryPrincipalKey: dev, stack.AccessEntryTypeKey: "STANDARD", stack.AccessEntryGroupsKey: []any{"devs"}},
	}}
	a, err := accessExpectations(t.Context(), opts, outs)
	if err != nil || a == nil {
		t.Fatalf("API mode: %+v, %v", a, err)
	}
	if a.ClusterName != "demo-eks-oidc-test" || a.NodeRoleARN != roleARN("node") || a.EKS == nil {
		t.Errorf("API mode: cluster %q, node role %q, EKS client %v", a.ClusterName, a.NodeRoleARN, a.EKS != nil)
	}
	if len(a.Entries) != 2 || a.Entries[1].PrincipalARN != dev || !slices.Equal(a.Entries[1].Groups, []string{"devs"}) {
		t.Errorf("API mode entries %+v, want the node's and dev's from the output", a.Entries)
	}
}
