package stack

import (
	"encoding/json"
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/eks-irsa/eks-irsa/infra"
	"github.com/eks-irsa/eks-irsa/internal/recorder"
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
	trust := roleTrust(t, rec, associations["apps/web"])
	st := trust.Statement
	want := map[string]string{
		"aws:RequestTag/eks-cluster-arn":            cluster.Outputs["arn"].StringValue(),
		"aws:RequestTag/kubernetes-namespace":       "apps",
		"aws:RequestTag/kubernetes-service-account": "web",
	}
	if len(st) != 1 || st[0].Principal["Service"] != "pods.eks.amazonaws.com" || !slices.Equal(st[0].Action, []string{"sts:AssumeRole", "sts:TagSession"}) ||
		!maps.Equal(st[0].Condition["StringEquals"], want) || len(st[0].Condition) != 1 {
		t.Errorf("apps/web trust %+v, want pods.eks.amazonaws.com with sts:AssumeRole and sts:TagSession, only for session tags %v", st, want)
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
		if got[IRSATrustPolicyKey] != roleTrustJSON(t, rec, associations[key]) {
			t.Errorf("%s[%s] trust policy %v is not the role's: drift would compare another", OutPodIdentity, key, got[IRSATrustPolicyKey])
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

// roleTrust is the trust policy of the role whose ARN is arn.
func roleTrust(t *testing.T, rec *recorder.Recorder, arn string) infra.PolicyDocument {
	t.Helper()
	for _, r := range rec.ByType("aws:iam/role:Role") {
		if r.Outputs["arn"].StringValue() != arn {
			continue
		}
		var trust infra.PolicyDocument
		if err := json.Unmarshal([]byte(r.Inputs["assumeRolePolicy"].StringValue()), &trust); err != nil {
			t.Fatal(err)
		}
		return trust
	}
	t.Fatalf("no role %s", arn)
	return infra.PolicyDocument{}
}

// identity both (the migration's middle state): one trust with the OIDC statement and the Pod
// Identity one, the annotation kept, the association made; the offline size estimate is the
// size of the document the program writes.
func TestIdentityBoth(t *testing.T) {
	cfg := withRoles(t, role("apps", "web", map[string]any{"identity": "both", "account": "create"}))
	rec, out := runProgram(t, cfg)
	roles, _ := out[OutIRSARoles].(map[string]any)
	irsaRole, _ := roles["apps/web"].(map[string]any)
	pod, _ := out[OutPodIdentity].(map[string]any)["apps/web"].(map[string]any)
	arn, _ := irsaRole[IRSARoleARNKey].(string)
	if arn == "" || pod[PodIdentityRoleARNKey] != arn {
		t.Fatalf("%s[apps/web] = %v and %s[apps/web] = %v: want one role in both", OutIRSARoles, irsaRole, OutPodIdentity, pod)
	}
	trust := roleTrust(t, rec, arn)
	if len(trust.Statement) != 2 || trust.Statement[0].Principal["Federated"] == "" || trust.Statement[1].Principal["Service"] != "pods.eks.amazonaws.com" {
		t.Fatalf("trust %+v, want the OIDC statement then the Pod Identity one", trust.Statement)
	}
	if got := irsaRole[IRSATrustPolicyKey]; got != roleTrustJSON(t, rec, arn) {
		t.Errorf("%s trust policy %v is not the role's", OutIRSARoles, got)
	}
	var sub string
	for k, v := range trust.Statement[0].Condition["StringEquals"] {
		if strings.HasSuffix(k, ":sub") {
			sub = v
		}
	}
	if sub != "system:serviceaccount:apps:web" {
		t.Errorf("OIDC statement's sub %q", sub)
	}
	if n := len(rec.ByType(podIdentityAssociationType)); n != 1 {
		t.Errorf("%d associations, want 1", n)
	}
	if got := createdAccountAnnotations(t, rec, "web"); got["eks.amazonaws.com/role-arn"] != arn {
		t.Errorf("the created account's annotations %v, want the role %s", got, arn)
	}
	c, err := Decode(cfg)
	if err != nil {
		t.Fatal(err)
	}
	doc, _ := json.Marshal(json.RawMessage(roleTrustJSON(t, rec, arn)))
	if est, got := c.trustPolicySize(c.ServiceAccountRoles[0]), inlinePolicySize(doc); est != got {
		t.Errorf("trustPolicySize = %d, the program's trust policy has %d characters", est, got)
	}
}

func roleTrustJSON(t *testing.T, rec *recorder.Recorder, arn string) string {
	t.Helper()
	for _, r := range rec.ByType("aws:iam/role:Role") {
		if r.Outputs["arn"].StringValue() == arn {
			return r.Inputs["assumeRolePolicy"].StringValue()
		}
	}
	t.Fatalf("no role %s", arn)
	return ""
}

// createdAccountAnnotations are the annotations of the ServiceAccount the stack creates named name.
func createdAccountAnnotations(t *testing.T, rec *recorder.Recorder, name string) map[string]string {
	t.Helper()
	for _, sa := range rec.ByType("kubernetes:core/v1:ServiceAccount") {
		meta := sa.Inputs["metadata"].ObjectValue()
		if meta["name"].StringValue() != name {
			continue
		}
		out := map[string]string{}
		if a, ok := meta["annotations"]; ok && a.IsObject() {
			for k, v := range a.ObjectValue() {
				out[string(k)] = v.StringValue()
			}
		}
		return out
	}
	t.Fatalf("no ServiceAccount %s created", name)
	return nil
}

// The migration's last step changes the identity word alone, on accounts the stack creates or
// annotates: the created account stays the same resource, without the annotation (so the switch
// never deletes the account its pods run as); the annotating patch goes (taking only the
// annotation with it).
func TestPodIdentityKeepsTheStacksAccount(t *testing.T) {
	accounts := func(identity string) (*recorder.Recorder, map[string]any) {
		return runProgram(t, withRoles(t,
			role("apps", "web", map[string]any{"identity": identity, "account": "create", "createNamespace": true}),
			role("apps", "api", map[string]any{"identity": identity, "account": "annotate"})))
	}
	before, _ := accounts("both")
	after, out := accounts("podIdentity")
	urns := func(rec *recorder.Recorder, typ string) []string {
		var out []string
		for _, r := range rec.ByType(typ) {
			out = append(out, r.URN)
		}
		slices.Sort(out)
		return out
	}
	for _, typ := range []string{"kubernetes:core/v1:ServiceAccount", "kubernetes:core/v1:Namespace"} {
		if b, a := urns(before, typ), urns(after, typ); len(b) != 1 || !slices.Equal(a, b) {
			t.Errorf("%s: %v with both, %v with podIdentity: want the same one", typ, b, a)
		}
	}
	if got := createdAccountAnnotations(t, after, "web"); len(got) != 0 {
		t.Errorf("the created account keeps annotations %v under podIdentity", got)
	}
	for _, p := range after.ByType("kubernetes:core/v1:ServiceAccountPatch") {
		if name := p.Inputs["metadata"].ObjectValue()["name"].StringValue(); name != k8s.AWSNodeName {
			t.Errorf("podIdentity still patches ServiceAccount %s", name)
		}
	}
	if accounts, _ := out[OutServiceAccounts].(map[string]any); accounts["apps/web"] != nil || accounts["apps/api"] != nil {
		t.Errorf("%s = %v: a Pod Identity account has no annotation to verify", OutServiceAccounts, accounts)
	}
}

// identity bothUnannotated (the migration's middle state): the trust keeps the OIDC statement
// beside the Pod Identity one, so pods started under IRSA still assume the role, while the
// annotation goes, so restarted pods take Pod Identity; the association stays; the created
// account is the same object as under both. A state of the config, not a step of the
// migration, so a later up keeps it.
func TestIdentityBothUnannotated(t *testing.T) {
	accounts := func(identity string) (*recorder.Recorder, map[string]any) {
		return runProgram(t, withRoles(t,
			role("apps", "web", map[string]any{"identity": identity, "account": "create"}),
			role("apps", "api", map[string]any{"identity": identity, "account": "annotate"})))
	}
	both, _ := accounts("both")
	rec, out := accounts("bothUnannotated")
	roles, _ := out[OutIRSARoles].(map[string]any)
	pods, _ := out[OutPodIdentity].(map[string]any)
	sas, _ := out[OutServiceAccounts].(map[string]any)
	for _, key := range []string{"apps/web", "apps/api"} {
		irsaRole, _ := roles[key].(map[string]any)
		pod, _ := pods[key].(map[string]any)
		arn, _ := irsaRole[IRSARoleARNKey].(string)
		if arn == "" || pod[PodIdentityRoleARNKey] != arn {
			t.Fatalf("%s[%s] = %v and %s[%s] = %v: want one role in both (drift and verify --identities hold its OIDC statement)", OutIRSARoles, key, irsaRole, OutPodIdentity, key, pod)
		}
		trust := roleTrust(t, rec, arn)
		if len(trust.Statement) != 2 || trust.Statement[0].Principal["Federated"] == "" || trust.Statement[1].Principal["Service"] != "pods.eks.amazonaws.com" {
			t.Errorf("%s trust %+v, want the OIDC statement then the Pod Identity one", key, trust.Statement)
		}
		if _, ok := sas[key]; ok {
			t.Errorf("%s holds %s: nothing annotates it, verify would look for an annotation", OutServiceAccounts, key)
		}
	}
	if n := len(rec.ByType(podIdentityAssociationType)); n != 2 {
		t.Errorf("%d associations, want 2", n)
	}
	if got := createdAccountAnnotations(t, rec, "web"); len(got) != 0 {
		t.Errorf("the created account keeps annotations %v", got)
	}
	for _, p := range rec.ByType("kubernetes:core/v1:ServiceAccountPatch") {
		if name := p.Inputs["metadata"].ObjectValue()["name"].StringValue(); name != k8s.AWSNodeName {
			t.Errorf("bothUnannotated still patches ServiceAccount %s", name)
		}
	}
	for _, typ := range []string{"kubernetes:core/v1:ServiceAccount", "aws:iam/role:Role", podIdentityAssociationType} {
		b, a := []string{}, []string{}
		for _, r := range both.ByType(typ) {
			b = append(b, r.URN)
		}
		for _, r := range rec.ByType(typ) {
			a = append(a, r.URN)
		}
		slices.Sort(a)
		slices.Sort(b)
		if !slices.Equal(a, b) {
			t.Errorf("%s: %v with both, %v with bothUnannotated: want the same objects", typ, b, a)
		}
	}
}
