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

// verify and drift read Pod Identity only for a stack whose outputs hold
// podIdentityAssociations, and take each account's role and association id from there.
func TestVerifyAndDriftReadPodIdentityFromTheOutputs(t *testing.T) {
	opts := &options{stack: "test", dir: projectDir}
	outs := testStackOutputs()
	if p, err := podIdentityExpectations(t.Context(), opts, outs); err != nil || p != nil {
		t.Fatalf("no Pod Identity account: %+v, %v; want no Pod Identity checks", p, err)
	}
	outs[stack.OutPodIdentity] = auto.OutputValue{Value: map[string]any{
		"apps/web": map[string]any{stack.PodIdentityRoleARNKey: roleARN("web"), stack.PodIdentityAssociationIDKey: "a-0123456789abcdefg"},
		"apps/api": map[string]any{stack.PodIdentityRoleARNKey: roleARN("api"), stack.PodIdentityAssociationIDKey: "a-abcdefg0123456789"},
	}}
	p, err := podIdentityExpectations(t.Context(), opts, outs)
	if err != nil || p == nil || p.EKS == nil || p.ClusterName != "demo-eks-oidc-test" {
		t.Fatalf("with the output: %+v, %v", p, err)
	}
	if len(p.Associations) != 2 || p.Associations[0].Account() != "apps/api" || p.Associations[1].RoleARN != roleARN("web") || p.Associations[1].ID != "a-0123456789abcdefg" {
		t.Errorf("associations %+v, want apps/api then apps/web from the output", p.Associations)
	}
	// What drift reads besides, as the stack writes it.
	outs[stack.OutOIDCIssuer] = auto.OutputValue{Value: "https://oidc.eks.us-west-2.amazonaws.com/id/EXAMPLED539D4633E53DE1B71EXAMPLE"}
	outs[stack.OutOIDCProviderARN] = auto.OutputValue{Value: "arn:aws:iam::" + testAccount + ":oidc-provider/oidc.eks.us-west-2.amazonaws.com/id/EXAMPLED539D4633E53DE1B71EXAMPLE"}
	outs[stack.OutIRSARoles] = auto.OutputValue{Value: map[string]any{}}
	outs[stack.OutAWSAuth] = auto.OutputValue{Value: map[string]any{}}
	d, err := declaredIdentities(outs, "test")
	if err != nil || !slices.Equal(d.PodIdentity, p.Associations) {
		t.Errorf("drift's declared associations %+v (%v), want verify's %+v", d.PodIdentity, err, p.Associations)
	}
	// With its role as the program writes it, a podIdentity account's role is compared too.
	outs[stack.OutPodIdentity].Value.(map[string]any)["apps/web"].(map[string]any)[stack.IRSATrustPolicyKey] = `{"Version":"2012-10-17","Statement":[]}`
	d, err = declaredIdentities(outs, "test")
	if err != nil || len(d.Roles) != 1 || d.Roles[0].Account.String() != "apps/web" || !d.Roles[0].PodIdentity || d.Roles[0].Account.RoleARN != roleARN("web") {
		t.Errorf("drift's roles %+v (%v), want apps/web's as Pod Identity's", d.Roles, err)
	}
	outs[stack.OutPodIdentity] = auto.OutputValue{Value: map[string]any{"apps/web": map[string]any{}}}
	if _, err := podIdentityExpectations(t.Context(), opts, outs); err == nil {
		t.Error("an entry without its role was accepted")
	}
}
