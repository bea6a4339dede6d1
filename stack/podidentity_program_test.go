package stack

import (
	"encoding/json"
	"slices"
	"testing"

	"github.com/eks-irsa/eks-irsa/infra"
	"github.com/eks-irsa/eks-irsa/k8s"
)

const (
	podIdentityAssociationType = "aws:eks/podIdentityAssociation:PodIdentityAssociation"
	addonType                  = "aws:eks/addon:Addon"
)

// A podIdentity entry gets a role trusted by pods.eks.amazonaws.com (EKS User Guide,
// pod-id-role), an association binding it to the account, no annotation, and the agent
// add-on once for all such entries, before any node joins; an irsa entry beside it is
// unchanged.
func TestPodIdentityEntries(t *testing.T) {
	cfg := withRoles(t,
		role("apps", "web", map[string]any{"identity": "podIdentity"}),
		role("apps", "jobs", map[string]any{"identity": "podIdentity"}),
		role("apps", "api", map[string]any{"account": "create"}))
	rec, out := runProgram(t, cfg)

	addons := rec.ByType(addonType)
	if len(addons) != 1 || addons[0].Inputs["addonName"].StringValue() != infra.PodIdentityAgentAddon {
		t.Fatalf("add-ons %v, want one %s", addons, infra.PodIdentityAgentAddon)
	}
	cluster := rec.ByType("aws:eks/cluster:Cluster")[0]
	if got := addons[0].Inputs["clusterName"].StringValue(); got != cluster.Outputs["name"].StringValue() {
		t.Errorf("add-on in cluster %q, want %q", got, cluster.Outputs["name"].StringValue())
	}
	for _, asg := range rec.ByType(asgType) {
		if !rec.DependsOn(asg.URN, addons[0].URN) {
			t.Errorf("ASG %s does not wait for the agent add-on: nodes could run a Pod Identity pod with no agent", asg.Name)
		}
	}

	associations := map[string]string{}
	for _, a := range rec.ByType(podIdentityAssociationType) {
		associations[a.Inputs["namespace"].StringValue()+"/"+a.Inputs["serviceAccount"].StringValue()] = a.Inputs["roleArn"].StringValue()
		if a.Inputs["clusterName"].StringValue() != cluster.Outputs["name"].StringValue() {
			t.Errorf("association %s in cluster %q", a.Name, a.Inputs["clusterName"].StringValue())
		}
	}
	if len(associations) != 2 || associations["apps/web"] == "" || associations["apps/jobs"] == "" {
		t.Fatalf("associations %v, want apps/web and apps/jobs", associations)
	}
	for _, r := range rec.ByType("aws:iam/role:Role") {
		if r.Outputs["arn"].StringValue() != associations["apps/web"] {
			continue
		}
		var trust infra.PolicyDocument
		if err := json.Unmarshal([]byte(r.Inputs["assumeRolePolicy"].StringValue()), &trust); err != nil {
			t.Fatal(err)
		}
		st := trust.Statement
		if len(st) != 1 || st[0].Principal["Service"] != "pods.eks.amazonaws.com" || !slices.Equal(st[0].Action, []string{"sts:AssumeRole", "sts:TagSession"}) || st[0].Condition != nil {
			t.Errorf("apps/web trust %+v, want pods.eks.amazonaws.com with sts:AssumeRole and sts:TagSession", st)
		}
	}

	// Nothing in the cluster for the Pod Identity accounts: the layer, verify and drift see
	// only the irsa one; the associations have their own output.
	accounts, _ := out[OutServiceAccounts].(map[string]any)
	if _, ok := accounts["apps/api"]; !ok {
		t.Errorf("%s = %v, want apps/api", OutServiceAccounts, accounts)
	}
	for _, key := range []string{"apps/web", "apps/jobs"} {
		if _, ok := accounts[key]; ok {
			t.Errorf("%s holds the Pod Identity account %s", OutServiceAccounts, key)
		}
		if roles, _ := out[OutIRSARoles].(map[string]any); roles[key] != nil {
			t.Errorf("%s holds the Pod Identity account %s", OutIRSARoles, key)
		}
		got, _ := out[OutPodIdentity].(map[string]any)[key].(map[string]any)
		if _, hasID := got[PodIdentityAssociationIDKey]; got[PodIdentityRoleARNKey] != associations[key] || !hasID {
			t.Errorf("%s[%s] = %v, want role %s and an association id", OutPodIdentity, key, got, associations[key])
		}
	}
	for _, sa := range rec.ByType("kubernetes:core/v1:ServiceAccount") {
		if name := sa.Inputs["metadata"].ObjectValue()["name"].StringValue(); name != "api" {
			t.Errorf("the stack created ServiceAccount %s", name)
		}
	}
	for _, sa := range rec.ByType("kubernetes:core/v1:ServiceAccountPatch") {
		if name := sa.Inputs["metadata"].ObjectValue()["name"].StringValue(); name != k8s.AWSNodeName {
			t.Errorf("the stack annotated ServiceAccount %s", name)
		}
	}
}

// Without a podIdentity entry there is no add-on, association or output.
func TestNoPodIdentityWithoutEntries(t *testing.T) {
	rec, out := runProgram(t, withRoles(t, role("apps", "api", nil)))
	if n := len(rec.ByType(addonType)) + len(rec.ByType(podIdentityAssociationType)); n != 0 {
		t.Errorf("%d add-ons and associations for IRSA-only entries", n)
	}
	if _, ok := out[OutPodIdentity]; ok {
		t.Errorf("output %s without a podIdentity entry", OutPodIdentity)
	}
}
