package integration

import (
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eks"
	ekstypes "github.com/aws/aws-sdk-go-v2/service/eks/types"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/eks-irsa/eks-irsa/integration/stackfile"
	"github.com/eks-irsa/eks-irsa/k8s"
)

// TestEmulatedAPIModeAccessEntries is a stack in API mode, end to end: `eksirsa up` makes the
// cluster with authenticationMode API and no aws-auth, the node role's EC2_LINUX entry (the
// nodes join by it and verify passes) and a declared entry with its two policies, in moto; drift
// finds nothing; a second up changes nothing; destroy leaves no entry (nor anything else).
// The same stack has a Pod Identity account beside its IRSA ones (checkPodIdentityEntry),
// migrates its three accounts to Pod Identity with workloads running (checkMigratePodIdentity),
// then moves one of them by config to both and back to podIdentity (checkIdentitySwitch):
// a cluster of today, and one stack fewer to bring up and tear down.
func TestEmulatedAPIModeAccessEntries(t *testing.T) {
	t.Parallel() // see startEmulated
	e := startEmulatedWith(t, emuOptions{mapByEKS: true})
	ctx := t.Context()
	const (
		devRole    = "arn:aws:iam::123456789012:role/team/dev"
		viewPolicy = "arn:aws:eks::aws:cluster-access-policy/AmazonEKSViewPolicy"
		editPolicy = "arn:aws:eks::aws:cluster-access-policy/AmazonEKSEditPolicy"
	)
	e.setConfig("eks-irsa:cluster", map[string]any{"version": "1.36", "publicAccessCidrs": []string{"0.0.0.0/0"}, "logRetentionDays": 30, "authenticationMode": "API"})
	e.setConfig("eks-irsa:accessEntries", []any{map[string]any{
		"principalArn": devRole, "username": "dev:{{SessionName}}", "kubernetesGroups": []string{"devs"},
		"policies": []any{map[string]any{"name": "AmazonEKSViewPolicy"}, map[string]any{"name": "AmazonEKSEditPolicy", "namespaces": []string{"apps"}}},
	}})

	roles, err := stackfile.Get(filepath.Join(e.dir, "Pulumi.test.yaml"), "eks-irsa:serviceAccountRoles")
	if err != nil {
		t.Fatal(err)
	}
	e.setConfig("eks-irsa:serviceAccountRoles", append(roles.([]any), podIdentityEntry))
	version := e.createPodIdentityAccount()

	// The up's verify --identities proves the Pod Identity account through EKS Auth as well.
	out, err := e.eksirsa("up", "--yes", "--verify-wait", "3m")
	if err != nil {
		t.Fatalf("eksirsa up: %v\n%s", err, out)
	}
	e.checkPodIdentityProof(out, "apps/reports")
	e.checkPodIdentityEntry(version)
	c := eks.NewFromConfig(e.aws)

	// An up killed while EKS made the agent's add-on leaves its create pending: the next up
	// adopts the add-on (recovery waits for it ACTIVE, then imports "<cluster>:<add-on>"),
	// neither stopping on it nor making another.
	agent := &eks.DescribeAddonInput{ClusterName: aws.String(e.name), AddonName: aws.String("eks-pod-identity-agent")}
	made, err := c.DescribeAddon(ctx, agent)
	if err != nil {
		t.Fatal(err)
	}
	e.interruptCreate("aws:eks/addon:Addon", e.name+"-pod-identity-agent")
	out, err = e.eksirsa("up", "--yes", "--no-verify")
	adopted := fmt.Sprintf("Importing aws:eks/addon:Addon %s-pod-identity-agent (id %s:eks-pod-identity-agent)", e.name, e.name)
	if err != nil || !strings.Contains(out, adopted) {
		t.Fatalf("eksirsa up after an interrupted create of the agent's add-on: %v, want %q in\n%s", err, adopted, out)
	}
	if now, err := c.DescribeAddon(ctx, agent); err != nil || !aws.ToTime(now.Addon.CreatedAt).Equal(aws.ToTime(made.Addon.CreatedAt)) {
		t.Errorf("the agent's add-on after the recovery: %v, %v; want the one made at %v", now, err, aws.ToTime(made.Addon.CreatedAt))
	}
	cl, err := c.DescribeCluster(ctx, &eks.DescribeClusterInput{Name: aws.String(e.name)})
	if err != nil {
		t.Fatal(err)
	}
	if mode := cl.Cluster.AccessConfig.AuthenticationMode; mode != "API" {
		t.Errorf("cluster authenticationMode %s, want API", mode)
	}
	if _, err := e.cluster.Client.CoreV1().ConfigMaps(k8s.KubeSystemNamespace).Get(ctx, k8s.AWSAuthName, metav1.GetOptions{}); err == nil {
		t.Errorf("API mode wrote aws-auth")
	}
	nodeRole := "arn:aws:iam::123456789012:role/" + e.nodeRole
	node, err := c.DescribeAccessEntry(ctx, &eks.DescribeAccessEntryInput{ClusterName: aws.String(e.name), PrincipalArn: aws.String(nodeRole)})
	if err != nil || aws.ToString(node.AccessEntry.Type) != "EC2_LINUX" {
		t.Fatalf("the node role's entry: %+v, %v; want EC2_LINUX", node, err)
	}
	dev, err := c.DescribeAccessEntry(ctx, &eks.DescribeAccessEntryInput{ClusterName: aws.String(e.name), PrincipalArn: aws.String(devRole)})
	if err != nil || aws.ToString(dev.AccessEntry.Username) != "dev:{{SessionName}}" || !slices.Equal(dev.AccessEntry.KubernetesGroups, []string{"devs"}) {
		t.Fatalf("the declared entry: %+v, %v", dev, err)
	}
	policies, err := c.ListAssociatedAccessPolicies(ctx, &eks.ListAssociatedAccessPoliciesInput{ClusterName: aws.String(e.name), PrincipalArn: aws.String(devRole)})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, p := range policies.AssociatedAccessPolicies {
		got = append(got, aws.ToString(p.PolicyArn)+" "+string(p.AccessScope.Type)+" "+strings.Join(p.AccessScope.Namespaces, ","))
	}
	slices.Sort(got)
	if want := []string{editPolicy + " namespace apps", viewPolicy + " cluster "}; !slices.Equal(got, want) {
		t.Errorf("associated policies %q, want %q", got, want)
	}

	// drift reads the mode and the entries as the stack declares them, and the Pod Identity
	// account's association and the agent add-on: nothing to report.
	if out, err := e.eksirsa("drift"); err != nil || strings.Contains(out, "DRIFT") ||
		!strings.Contains(out, "OK    pod-identity-association apps/reports: as the stack declares it") || !strings.Contains(out, "OK    pod-identity-agent cluster "+e.name) {
		t.Errorf("eksirsa drift on the API-mode stack: %v\n%s", err, out)
	}

	// verify reads the node role's EC2_LINUX entry and the declared one from EKS, a line each,
	// and the Pod Identity account's association and the agent add-on; the cluster names
	// verify's own principal as its entry maps it.
	out, err = e.eksirsa("verify")
	for _, want := range []string{
		"PASS cluster-access: verify's credentials are user arn:aws:iam::123456789012:user/moto in groups [system:masters system:authenticated]",
		"PASS node-access-entry: " + nodeRole + ": type EC2_LINUX, username system:node:{{EC2PrivateDNSName}}, groups [], no access policies",
		"PASS access-entry " + devRole + ": type STANDARD, username dev:{{SessionName}}, groups [devs]",
		"PASS pod-identity-agent: eks-pod-identity-agent ",
		"PASS pod-identity-association apps/reports: apps/reports → arn:aws:iam::123456789012:role/",
	} {
		if err != nil || !strings.Contains(out, want) {
			t.Errorf("eksirsa verify: %v, want a line %q in\n%s", err, want, out)
		}
	}
	// The entry's groups changed by hand: verify fails, naming the principal and the groups.
	setGroups := func(groups ...string) {
		t.Helper()
		if _, err := c.UpdateAccessEntry(ctx, &eks.UpdateAccessEntryInput{ClusterName: aws.String(e.name), PrincipalArn: aws.String(devRole), KubernetesGroups: groups}); err != nil {
			t.Fatal(err)
		}
	}
	setGroups("admins")
	out, err = e.eksirsa("verify")
	if want := "FAIL access-entry " + devRole + ": the access entry differs from the stack's: groups [admins], declared [devs]"; err == nil || !strings.Contains(out, want) {
		t.Errorf("eksirsa verify after the groups changed by hand: %v, want a line %q in\n%s", err, want, out)
	}
	setGroups("devs")

	// The stand-in maps the stack's kubeconfig (the creator, moto's user) by its access entry,
	// as EKS does: without the entry, API mode admits nobody, and verify is refused.
	creator := aws.String("arn:aws:iam::123456789012:user/moto")
	if _, err := c.DeleteAccessEntry(ctx, &eks.DeleteAccessEntryInput{ClusterName: aws.String(e.name), PrincipalArn: creator}); err != nil {
		t.Fatal(err)
	}
	// One refused SelfSubjectReview says it; the cluster's checks are not run.
	if out, err := e.eksirsa("verify"); err == nil || !strings.Contains(out, "FAIL cluster-access: ask the cluster who verify is (SelfSubjectReview): Unauthorized") ||
		!strings.Contains(out, "FAIL nodes-ready: not checked: cluster-access failed") {
		t.Errorf("eksirsa verify with the creator's entry deleted: %v, want cluster-access Unauthorized and nodes-ready not checked in\n%s", err, out)
	}
	if _, err := c.CreateAccessEntry(ctx, &eks.CreateAccessEntryInput{ClusterName: aws.String(e.name), PrincipalArn: creator}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.AssociateAccessPolicy(ctx, &eks.AssociateAccessPolicyInput{ClusterName: aws.String(e.name), PrincipalArn: creator,
		PolicyArn: aws.String("arn:aws:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy"), AccessScope: &ekstypes.AccessScope{Type: ekstypes.AccessScopeTypeCluster}}); err != nil {
		t.Fatal(err)
	}

	t.Logf("second up: %s resources unchanged", e.upChangesNothing("the second up"))
	e.checkMigratePodIdentity()
	e.checkIdentitySwitch()

	e.destroyLeavesNothing()
	if entries, err := c.ListAccessEntries(ctx, &eks.ListAccessEntriesInput{ClusterName: aws.String(e.name)}); err == nil {
		t.Errorf("the cluster (and its entries %q) outlived destroy", entries.AccessEntries)
	}
}
