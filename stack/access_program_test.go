package stack

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/eks-irsa/eks-irsa/internal/recorder"
)

const (
	accessEntryType = "aws:eks/accessEntry:AccessEntry"
	associationType = "aws:eks/accessPolicyAssociation:AccessPolicyAssociation"
	configMapType   = "kubernetes:core/v1:ConfigMap"
	crbType         = "kubernetes:rbac.authorization.k8s.io/v1:ClusterRoleBinding"
	asgType         = "aws:autoscaling/group:Group"
)

// apiConfig is the test stack in API mode with an SSO admin and a namespaced editor.
func apiConfig(t *testing.T) map[string]string {
	return entries(t, ModeAPI,
		map[string]any{"principalArn": "arn:aws:iam::123456789012:role/aws-reserved/sso.amazonaws.com/AWSReservedSSO_Admin_1", "policies": []any{map[string]any{"name": "AmazonEKSClusterAdminPolicy"}}},
		map[string]any{"principalArn": "arn:aws:iam::123456789012:role/dev", "username": "dev:{{SessionName}}", "kubernetesGroups": []string{"devs"},
			"policies": []any{map[string]any{"name": "AmazonEKSEditPolicy", "namespaces": []string{"apps"}}}})
}

// In API mode there is no aws-auth: the node role gets an EC2_LINUX entry, which the nodes
// wait for, bound to the role's unique id and the cluster's issuer; declared entries get their
// policy associations, each waiting for its entry.
func TestAPIModeGivesNodesAnEntryInsteadOfAWSAuth(t *testing.T) {
	rec, out := runProgram(t, apiConfig(t))
	if cms := rec.ByType(configMapType); len(cms) != 0 {
		t.Errorf("API mode registered %d ConfigMaps (%s), want no aws-auth", len(cms), cms[0].Name)
	}
	cluster := rec.ByType("aws:eks/cluster:Cluster")[0]
	if got := cluster.Inputs["accessConfig"].ObjectValue()["authenticationMode"].StringValue(); got != ModeAPI {
		t.Errorf("cluster authenticationMode %q, want API", got)
	}
	if got := cluster.Inputs["accessConfig"].ObjectValue()["bootstrapClusterCreatorAdminPermissions"]; !got.IsBool() || !got.BoolValue() {
		t.Errorf("bootstrapClusterCreatorAdminPermissions %v, want true", got)
	}
	var role recorder.Registration
	for _, r := range rec.ByType("aws:iam/role:Role") {
		if r.Inputs["name"].StringValue() == "demo-eks-oidc-test-node" {
			role = r
		}
	}
	node, ok := rec.Get(accessEntryType, "demo-eks-oidc-test-access-nodes")
	if !ok {
		t.Fatalf("no node access entry; entries: %v", rec.ByType(accessEntryType))
	}
	if node.Inputs["type"].StringValue() != "EC2_LINUX" || node.Inputs["principalArn"].StringValue() != role.Outputs["arn"].StringValue() {
		t.Errorf("node entry inputs %v, want EC2_LINUX for %s", node.Inputs, role.Outputs["arn"].StringValue())
	}
	if node.Inputs.HasValue("userName") || node.Inputs.HasValue("kubernetesGroups") {
		t.Errorf("node entry sets an identity: %v", node.Inputs)
	}
	uniqueID := role.Outputs["uniqueId"].StringValue()
	if uniqueID == "" || !strings.Contains(node.ReplacementTrigger, uniqueID) || !strings.Contains(node.ReplacementTrigger, rec.Fakes().Issuer()) {
		t.Errorf("node entry's replacement trigger %q, want the role's unique id %q and the issuer", node.ReplacementTrigger, uniqueID)
	}
	if !node.DeleteBeforeReplace || node.DeletedWith != cluster.URN {
		t.Errorf("node entry: deleteBeforeReplace %v, deletedWith %q; want true and the cluster", node.DeleteBeforeReplace, node.DeletedWith)
	}
	asg := rec.ByType(asgType)[0]
	if !rec.DependsOn(asg.URN, node.URN) {
		t.Errorf("the ASG does not wait for the node entry")
	}

	const (
		adminName = "demo-eks-oidc-test-access-aws:iam:123456789012:role/aws-reserved/sso.amazonaws.com/AWSReservedSSO_Admin_1"
		devName   = "demo-eks-oidc-test-access-aws:iam:123456789012:role/dev"
	)
	admin, _ := rec.Get(accessEntryType, adminName)
	dev, _ := rec.Get(accessEntryType, devName)
	if admin.Inputs["type"].StringValue() != "STANDARD" || dev.Inputs["userName"].StringValue() != "dev:{{SessionName}}" ||
		dev.Inputs["kubernetesGroups"].ArrayValue()[0].StringValue() != "devs" {
		t.Errorf("declared entries: %v, %v", admin.Inputs, dev.Inputs)
	}
	assocs := rec.ByType(associationType)
	if len(assocs) != 2 {
		t.Fatalf("%d policy associations, want 2", len(assocs))
	}
	want := map[string]string{
		adminName + "-AmazonEKSClusterAdminPolicy": "arn:aws:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy cluster []",
		devName + "-AmazonEKSEditPolicy":           "arn:aws:eks::aws:cluster-access-policy/AmazonEKSEditPolicy namespace [apps]",
	}
	for _, a := range assocs {
		scope := a.Inputs["accessScope"].ObjectValue()
		var ns []string
		if scope.HasValue("namespaces") {
			for _, n := range scope["namespaces"].ArrayValue() {
				ns = append(ns, n.StringValue())
			}
		}
		got := a.Inputs["policyArn"].StringValue() + " " + scope["type"].StringValue() + " [" + strings.Join(ns, ",") + "]"
		if want[a.Name] != got {
			t.Errorf("association %s: %s, want %s", a.Name, got, want[a.Name])
		}
		entry := admin
		if strings.HasPrefix(a.Name, devName+"-") {
			entry = dev
		}
		if !rec.DependsOn(a.URN, entry.URN) || !a.DeleteBeforeReplace {
			t.Errorf("association %s: waits for its entry %v, deleteBeforeReplace %v", a.Name, rec.DependsOn(a.URN, entry.URN), a.DeleteBeforeReplace)
		}
	}
	if out[OutAuthenticationMode] != ModeAPI {
		t.Errorf("output %s = %v, want API", OutAuthenticationMode, out[OutAuthenticationMode])
	}
	if _, ok := out[OutAWSAuth]; ok {
		t.Errorf("output %s in API mode: %v", OutAWSAuth, out[OutAWSAuth])
	}
	listed, _ := out[OutAccessEntries].([]any)
	if len(listed) != 3 || listed[0].(map[string]any)[AccessEntryTypeKey] != "EC2_LINUX" {
		t.Errorf("output %s = %v, want the node entry then the two declared", OutAccessEntries, out[OutAccessEntries])
	}
}

// The default mode keeps today's graph: aws-auth, no access entry.
func TestDefaultModeKeepsAWSAuthAndMakesNoEntry(t *testing.T) {
	rec, out := runProgram(t, testConfig(t))
	if n := len(rec.ByType(accessEntryType)) + len(rec.ByType(associationType)); n != 0 {
		t.Errorf("default mode registered %d access entries and associations", n)
	}
	if len(rec.ByType(configMapType)) != 1 {
		t.Errorf("default mode: %d ConfigMaps, want aws-auth", len(rec.ByType(configMapType)))
	}
	if out[OutAuthenticationMode] != ModeAPIAndConfigMap {
		t.Errorf("output %s = %v", OutAuthenticationMode, out[OutAuthenticationMode])
	}
}

// nodes.accessEntry in API_AND_CONFIG_MAP with a mapping: the node role keeps its aws-auth row and gets its
// EC2_LINUX entry too (the migration's step before the row goes), which the ASG waits for and
// the accessEntries output lists, so drift and verify hold it to EKS.
func TestNodeAccessEntryBesideAWSAuth(t *testing.T) {
	rec, out := runProgram(t, setIn(t, withAWSAuth(t, adminRole), "nodes.accessEntry", true))
	if len(rec.ByType(configMapType)) != 1 {
		t.Errorf("%d ConfigMaps, want aws-auth still", len(rec.ByType(configMapType)))
	}
	node, ok := rec.Get(accessEntryType, "demo-eks-oidc-test-access-nodes")
	if !ok || node.Inputs["type"].StringValue() != "EC2_LINUX" {
		t.Fatalf("node access entry %v (%v), want EC2_LINUX", node.Inputs, ok)
	}
	if !rec.DependsOn(rec.ByType(asgType)[0].URN, node.URN) {
		t.Errorf("the ASG does not wait for the node entry")
	}
	// aws-auth is written after the entries, which take precedence over its rows: a row goes
	// only once its principal's entry admits it.
	if !rec.DependsOn(rec.ByType(configMapType)[0].URN, node.URN) {
		t.Errorf("aws-auth does not wait for the access entries")
	}
	listed, _ := out[OutAccessEntries].([]any)
	if len(listed) != 1 || listed[0].(map[string]any)[AccessEntryTypeKey] != "EC2_LINUX" {
		t.Errorf("output %s = %v, want the node entry", OutAccessEntries, out[OutAccessEntries])
	}
	if out[OutAuthenticationMode] != ModeAPIAndConfigMap {
		t.Errorf("output %s = %v", OutAuthenticationMode, out[OutAuthenticationMode])
	}
}

// nodes.accessEntry and no awsAuth mapping: the node's row would be dead beside its entry, so
// the stack writes no aws-auth (the migration's "aws-auth emptied"); the ASG still waits for the
// entry; with a mapping left, aws-auth stays.
func TestNodeEntryAloneWritesNoAWSAuth(t *testing.T) {
	rec, out := runProgram(t, setIn(t, setIn(t, testConfig(t), "nodes.accessEntry", true), "awsAuth", map[string]any{"roles": []any{}, "users": []any{}}))
	if n := len(rec.ByType(configMapType)); n != 0 {
		t.Errorf("%d ConfigMaps, want no aws-auth", n)
	}
	if _, ok := out[OutAWSAuth]; ok {
		t.Errorf("output %s = %v, want none", OutAWSAuth, out[OutAWSAuth])
	}
	node, ok := rec.Get(accessEntryType, "demo-eks-oidc-test-access-nodes")
	if !ok || !rec.DependsOn(rec.ByType(asgType)[0].URN, node.URN) {
		t.Errorf("node entry %v; the ASG must wait for it", ok)
	}
	rec, _ = runProgram(t, setIn(t, withAWSAuth(t, adminRole), "nodes.accessEntry", true))
	if n := len(rec.ByType(configMapType)); n != 1 {
		t.Errorf("with a mapping left: %d ConfigMaps, want aws-auth", n)
	}
}

// The caller's own entry is refused before anything is registered (the fakes' caller is
// user/eks-irsa-plan).
func TestAnEntryForTheCallerIsRefused(t *testing.T) {
	rec := recorder.New(ProjectName, "test")
	err := rec.Run(entries(t, "", map[string]any{"principalArn": rec.Fakes().ARN("iam", "", "user/eks-irsa-plan")}), Program)
	if !IsConfigError(err) || !strings.Contains(err.Error(), "the identity running the stack") {
		t.Fatalf("got %v, want the creator refused", err)
	}
	if n := len(rec.Registrations()); n != 0 {
		t.Errorf("%d resources registered before the refusal", n)
	}
}

// plan's "Cluster access" names the creator's admin entry, the nodes' access and each entry.
func TestAccessSummaryNamesEveryWayIn(t *testing.T) {
	c, err := Decode(apiConfig(t))
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"authenticationMode API",
		"cluster admin: the identity that creates the cluster, by the entry EKS makes for it (AmazonEKSClusterAdminPolicy at cluster scope; bootstrapClusterCreatorAdminPermissions)",
		"nodes: role demo-eks-oidc-test-node, an EC2_LINUX access entry",
		"entry: arn:aws:iam::123456789012:role/aws-reserved/sso.amazonaws.com/AWSReservedSSO_Admin_1 (STANDARD); AmazonEKSClusterAdminPolicy at cluster scope",
		"entry: arn:aws:iam::123456789012:role/dev (STANDARD) as dev:{{SessionName}} in devs; AmazonEKSEditPolicy in namespaces apps",
	}
	if got := c.AccessSummary(); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("summary:\n  %s\nwant:\n  %s", strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}
}

// An entry is named after its principal, not its place in accessEntries: removing the first
// leaves the second's name (and so its entry) alone. Named by index, the second was renamed, a
// delete-first replacement in which its principal had no access.
func TestRemovingAnEntryKeepsTheOthers(t *testing.T) {
	dev := map[string]any{"principalArn": "arn:aws:iam::123456789012:role/dev", "policies": []any{map[string]any{"name": "AmazonEKSViewPolicy"}}}
	admin := map[string]any{"principalArn": "arn:aws:iam::123456789012:role/admin", "policies": []any{map[string]any{"name": "AmazonEKSClusterAdminPolicy"}}}
	names := func(declared ...map[string]any) []string {
		rec, _ := runProgram(t, entries(t, ModeAPI, declared...))
		var out []string
		for _, r := range append(rec.ByType(accessEntryType), rec.ByType(associationType)...) {
			if strings.Contains(r.Name, "role/dev") {
				out = append(out, r.Type+"::"+r.Name)
			}
		}
		return out
	}
	before, after := names(admin, dev), names(dev)
	if len(before) != 2 || !slices.Equal(before, after) {
		t.Errorf("dev's entry and association: %q with the admin's entry before it, %q without; want the same two", before, after)
	}
}

// The admin bridge (issue 19): an admin's entry carries a group that a ClusterRoleBinding the
// stack makes first binds to cluster-admin, so the entry grants cluster admin from the moment
// EKS creates it, before AssociateAccessPolicy (a second call) gives it its policy. The entry
// waits for the binding in the graph; another entry does not; aws-auth still waits for the
// entries; the output holds the group, so verify and drift expect it. Without adminBridge
// there is no binding and no group.
func TestAdminBridgeBindsItsGroupBeforeTheEntry(t *testing.T) {
	const adminEntry = "demo-eks-oidc-test-access-aws:iam:123456789012:role/admin"
	admin := map[string]any{"principalArn": adminRole, "username": "admin", "adminBridge": true, "policies": []any{map[string]any{"name": ClusterAdminPolicy}}}
	dev := map[string]any{"principalArn": "arn:aws:iam::123456789012:role/dev", "kubernetesGroups": []string{"devs"}}
	rec, out := runProgram(t, setIn(t, withAWSAuth(t, adminRole), "accessEntries", []any{admin, dev}))
	crbs := rec.ByType(crbType)
	if len(crbs) != 1 {
		t.Fatalf("%d ClusterRoleBindings, want the bridge's", len(crbs))
	}
	b := crbs[0]
	meta, ref := b.Inputs["metadata"].ObjectValue(), b.Inputs["roleRef"].ObjectValue()
	subject := b.Inputs["subjects"].ArrayValue()[0].ObjectValue()
	if got := meta["name"].StringValue() + " " + ref["kind"].StringValue() + "/" + ref["name"].StringValue() + " " + subject["kind"].StringValue() + "/" + subject["name"].StringValue(); got != "eks-irsa:cluster-admin-bridge ClusterRole/cluster-admin Group/eks-irsa:cluster-admin-bridge" {
		t.Errorf("the bridge's binding: %s", got)
	}
	cluster := rec.ByType("aws:eks/cluster:Cluster")[0]
	if !b.DeleteBeforeReplace || b.DeletedWith != cluster.URN || !strings.Contains(b.Provider, "pulumi:providers:kubernetes::demo-eks-oidc-test::") {
		t.Errorf("the bridge's binding: deleteBeforeReplace %v, deletedWith %q, provider %q; want delete first, with the cluster, by the server-side apply provider", b.DeleteBeforeReplace, b.DeletedWith, b.Provider)
	}
	entry, _ := rec.Get(accessEntryType, adminEntry)
	var groups []string
	for _, g := range entry.Inputs["kubernetesGroups"].ArrayValue() {
		groups = append(groups, g.StringValue())
	}
	if !slices.Equal(groups, []string{"eks-irsa:cluster-admin-bridge"}) {
		t.Errorf("the admin's entry groups %q, want the bridge's", groups)
	}
	if !rec.DependsOn(entry.URN, b.URN) {
		t.Errorf("the admin's entry does not wait for the bridge's binding")
	}
	devEntry, _ := rec.Get(accessEntryType, "demo-eks-oidc-test-access-aws:iam:123456789012:role/dev")
	if rec.DependsOn(devEntry.URN, b.URN) {
		t.Errorf("an entry without the bridge waits for its binding")
	}
	if !rec.DependsOn(rec.ByType(configMapType)[0].URN, entry.URN) {
		t.Errorf("aws-auth does not wait for the bridged entry")
	}
	listed, _ := out[OutAccessEntries].([]any)
	if len(listed) != 2 || fmt.Sprint(listed[0].(map[string]any)[AccessEntryGroupsKey]) != "[eks-irsa:cluster-admin-bridge]" {
		t.Errorf("output %s = %v, want the admin's entry with the bridge's group", OutAccessEntries, out[OutAccessEntries])
	}

	// plan's "Cluster access" says so.
	c, err := Decode(setIn(t, withAWSAuth(t, adminRole), "accessEntries", []any{admin, dev}))
	if err != nil {
		t.Fatal(err)
	}
	if want := "entry: arn:aws:iam::123456789012:role/admin (STANDARD) as admin; in eks-irsa:cluster-admin-bridge (bound to cluster-admin by the stack, before the entry is made) until AmazonEKSClusterAdminPolicy is associated and proven; AmazonEKSClusterAdminPolicy at cluster scope"; !slices.Contains(c.AccessSummary(), want) {
		t.Errorf("plan's access summary %q has no line %q", c.AccessSummary(), want)
	}

	delete(admin, "adminBridge")
	rec, out = runProgram(t, setIn(t, withAWSAuth(t, adminRole), "accessEntries", []any{admin, dev}))
	if n := len(rec.ByType(crbType)); n != 0 {
		t.Errorf("without adminBridge: %d ClusterRoleBindings, want none", n)
	}
	// An empty list, not left out: kubernetesGroups is Optional+Computed, so left out the
	// update would keep the bridge's group on the entry (measured on the emulated tier: the
	// bridge phase's update found nothing to change, "87 unchanged").
	if entry, _ := rec.Get(accessEntryType, adminEntry); !entry.Inputs["kubernetesGroups"].IsArray() || len(entry.Inputs["kubernetesGroups"].ArrayValue()) != 0 {
		t.Errorf("without adminBridge the entry's kubernetesGroups is %v, want an empty list", entry.Inputs["kubernetesGroups"])
	}
	listed, _ = out[OutAccessEntries].([]any)
	if fmt.Sprint(listed[0].(map[string]any)[AccessEntryGroupsKey]) != "[]" {
		t.Errorf("without adminBridge, output %s = %v", OutAccessEntries, out[OutAccessEntries])
	}
}
