package migrate

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eks"
	ekstypes "github.com/aws/aws-sdk-go-v2/service/eks/types"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/eks-irsa/eks-irsa/awsaccess"
	"github.com/eks-irsa/eks-irsa/integration/moto"
	"github.com/eks-irsa/eks-irsa/k8s"
)

const (
	account  = "123456789012"
	nodeRole = "arn:aws:iam::" + account + ":role/demo-node"
	trust    = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"}]}`
)

// cluster is a moto with an API_AND_CONFIG_MAP cluster (EKS makes the creator's entry at
// CreateCluster: integration/moto/eks_access_entries.py) and the roles given as path/name.
func cluster(t testing.TB, roles ...string) aws.Config {
	t.Helper()
	m := moto.Start(t)
	for _, kv := range m.Env() {
		k, v, _ := strings.Cut(kv, "=")
		t.Setenv(k, v)
	}
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(t.TempDir(), "none"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(t.TempDir(), "none"))
	t.Setenv("AWS_PROFILE", "")
	os.Unsetenv("AWS_PROFILE")
	ctx := t.Context()
	cfg := m.Config("us-west-2")
	if _, err := eks.NewFromConfig(cfg).CreateCluster(ctx, &eks.CreateClusterInput{
		Name: aws.String("demo"), RoleArn: aws.String("arn:aws:iam::" + account + ":role/cluster"), ResourcesVpcConfig: &ekstypes.VpcConfigRequest{},
		AccessConfig: &ekstypes.CreateAccessConfigRequest{AuthenticationMode: ekstypes.AuthenticationModeApiAndConfigMap, BootstrapClusterCreatorAdminPermissions: aws.Bool(true)},
	}); err != nil {
		t.Fatal(err)
	}
	c := iam.NewFromConfig(cfg)
	for _, r := range roles {
		path, name := "/", r
		if i := strings.LastIndex(r, "/"); i >= 0 {
			path, name = "/"+r[:i+1], r[i+1:]
		}
		if _, err := c.CreateRole(ctx, &iam.CreateRoleInput{RoleName: aws.String(name), Path: aws.String(path), AssumeRolePolicyDocument: aws.String(trust)}); err != nil {
			t.Fatal(err)
		}
	}
	// The access config eksirsa gives its calls: adaptive retry, the endpoint as aws:endpoints.
	access, err := awsaccess.Read(func(key string) string {
		if key == awsaccess.RegionKey {
			return "us-west-2"
		}
		return ""
	})
	if err != nil {
		t.Fatal(err)
	}
	out, err := access.Config(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func awsAuth(mapRoles, mapUsers, mapAccounts string) *fake.Clientset {
	return fake.NewClientset(&corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Name: k8s.AWSAuthName, Namespace: k8s.KubeSystemNamespace},
		Data:       map[string]string{k8s.MapRolesKey: mapRoles, k8s.MapUsersKey: mapUsers, k8s.MapAccountsKey: mapAccounts},
	})
}

func role(arn, username string, groups ...string) string {
	return fmt.Sprintf("- rolearn: %s\n  username: %q\n  groups: [%s]\n", arn, username, strings.Join(groups, ", "))
}

// Each kind of row the issue names, against moto's IAM and EKS: the stack's node row; an admin
// in system:masters (its policy in the cluster's partition); a role whose aws-auth row has no
// path, resolved through IAM; an SSO role; a duplicate (the last role mapping wins); Fargate's
// row, another system: group, a username EKS refuses, a service-linked role, a row written with
// a path and mapAccounts, each blocked with its reason; the creator, whose entry EKS made.
func TestPlanClassifiesEveryRow(t *testing.T) {
	cfg := cluster(t, "demo-node", "admin", "teams/ci/deployer", "aws-reserved/sso.amazonaws.com/us-west-2/AWSReservedSSO_Admin_0123", "fargate-pods", "monitor", "weird")
	if _, err := iam.NewFromConfig(cfg).CreateServiceLinkedRole(t.Context(), &iam.CreateServiceLinkedRoleInput{AWSServiceName: aws.String("autoscaling.amazonaws.com")}); err != nil {
		t.Fatal(err)
	}
	mapRoles := role(nodeRole, k8s.NodeUsername, k8s.BootstrappersGroup, k8s.NodesGroup) +
		role("arn:aws:iam::"+account+":role/admin", "old-admin", "ops") +
		role("arn:aws:iam::"+account+":role/admin", "admin", "system:masters") +
		role("arn:aws:iam::"+account+":role/deployer", "ci", "deployers") +
		role("arn:aws:iam::"+account+":role/AWSReservedSSO_Admin_0123", "sso-admin:{{SessionName}}", "system:masters") +
		role("arn:aws:iam::"+account+":role/fargate-pods", "system:node:{{SessionName}}", "system:bootstrappers", "system:nodes", "system:node-proxier") +
		role("arn:aws:iam::"+account+":role/monitor", "monitor", "system:monitoring") +
		role("arn:aws:iam::"+account+":role/weird", "{{SessionName}}", "devs") +
		role("arn:aws:iam::"+account+":role/AWSServiceRoleForAutoScaling", "asg", "devs") +
		role("arn:aws:iam::"+account+":role/team/pathy", "pathy", "devs")
	mapUsers := "- userarn: arn:aws:iam::" + account + ":user/moto\n  username: creator\n  groups: [system:masters]\n" +
		"- userarn: arn:aws:iam::" + account + ":user/bob\n  username: bob\n  groups: [devs]\n"
	stackRows := map[string]string{k8s.MapRolesKey: role(nodeRole, k8s.NodeUsername, k8s.BootstrappersGroup, k8s.NodesGroup) +
		role("arn:aws:iam::"+account+":role/deployer", "ci", "deployers")}
	p, err := Read(t.Context(), Input{Kube: awsAuth(mapRoles, mapUsers, "- \"210987654321\"\n"), AWS: cfg, Cluster: "demo", NodeRoleARN: nodeRole, StackAWSAuth: stackRows})
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	for _, r := range p.Rows {
		lines = append(lines, r.Line(p.Partition))
	}
	got := strings.Join(lines, "\n")
	t.Logf("plan:\n%s", got)
	for _, want := range []string{
		"node-entry mapRoles " + nodeRole + " as system:node:{{EC2PrivateDNSName}} in [system:bootstrappers,system:nodes] (ours) -> the stack's node entry (nodes.accessEntry): EC2_LINUX [to declare]",
		"overridden mapRoles arn:aws:iam::" + account + ":role/admin as old-admin in [ops] (foreign): mapped 2 times",
		"the authenticator applies the last, admin [system:masters]",
		"entry      mapRoles arn:aws:iam::" + account + ":role/admin as admin in [system:masters] (foreign) -> STANDARD username admin + arn:aws:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy at cluster scope [to declare]",
		"entry      mapRoles arn:aws:iam::" + account + ":role/deployer as ci in [deployers] (ours) -> STANDARD username ci groups [deployers] (principal arn:aws:iam::" + account + ":role/teams/ci/deployer, as IAM has it) [to declare]",
		"(principal arn:aws:iam::" + account + ":role/aws-reserved/sso.amazonaws.com/us-west-2/AWSReservedSSO_Admin_0123, as IAM has it)",
		"blocked    mapRoles arn:aws:iam::" + account + ":role/fargate-pods as system:node:{{SessionName}} in [system:bootstrappers,system:nodes,system:node-proxier] (foreign): a Fargate profile's pod execution role",
		"blocked    mapRoles arn:aws:iam::" + account + ":role/monitor as monitor in [system:monitoring] (foreign): group system:monitoring: EKS refuses groups starting with \"system:\"",
		"blocked    mapRoles arn:aws:iam::" + account + ":role/weird as {{SessionName}} in [devs] (foreign): username {{SessionName}}: {{SessionName}} must follow a colon",
		"blocked    mapRoles arn:aws:iam::" + account + ":role/AWSServiceRoleForAutoScaling as asg in [devs] (foreign): a service-linked role",
		"blocked    mapRoles arn:aws:iam::" + account + ":role/team/pathy as pathy in [devs] (foreign): its role ARN carries a path",
		"eks-owned  mapUsers arn:aws:iam::" + account + ":user/moto as creator in [system:masters] (foreign): has an access entry the stack does not declare",
		"entry      mapUsers arn:aws:iam::" + account + ":user/bob as bob in [devs] (foreign) -> STANDARD username bob groups [devs] [to declare]",
		"blocked    210987654321 (foreign): mapAccounts admits every IAM identity of account 210987654321",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("the plan has no line with %q", want)
		}
	}
	if n := len(p.Blocked()); n != 6 {
		t.Errorf("%d blocked rows, want 6", n)
	}
	if n := len(p.ToDeclare()); n != 4 {
		t.Errorf("%d entries to declare (%+v), want admin, deployer, SSO and bob", n, p.ToDeclare())
	}
	// The rows in system:masters become cluster admins made with the admin bridge, so no
	// moment between CreateAccessEntry and AssociateAccessPolicy leaves them without admin.
	var bridged []string
	for _, e := range p.ToDeclare() {
		if e.AdminBridge {
			bridged = append(bridged, e.PrincipalARN[strings.LastIndex(e.PrincipalARN, "/")+1:])
		}
	}
	if want := "admin AWSReservedSSO_Admin_0123"; strings.Join(bridged, " ") != want {
		t.Errorf("entries declared with the admin bridge: %q, want %q", bridged, want)
	}

	// The rows written by hand that apply are what the stack's awsAuth must keep until the
	// aws-auth phase: not the overridden row, not the row with a path (it matches no caller).
	roles, users := p.Foreign()
	var kept []string
	for _, m := range append(roles, users...) {
		kept = append(kept, m.ARN[strings.LastIndex(m.ARN, "/")+1:]+" as "+m.Username)
	}
	if want := "admin as admin, AWSReservedSSO_Admin_0123 as sso-admin:{{SessionName}}, fargate-pods as system:node:{{SessionName}}, monitor as monitor, weird as {{SessionName}}, AWSServiceRoleForAutoScaling as asg, moto as creator, bob as bob"; strings.Join(kept, ", ") != want {
		t.Errorf("foreign rows kept %q, want %q", strings.Join(kept, ", "), want)
	}

	// Once declared and live, a row says so, and nothing is left to declare.
	declared := p.ToDeclare()
	c := eks.NewFromConfig(cfg)
	for _, e := range declared {
		if _, err := c.CreateAccessEntry(t.Context(), &eks.CreateAccessEntryInput{ClusterName: aws.String("demo"), PrincipalArn: aws.String(e.PrincipalARN)}); err != nil {
			t.Fatal(err)
		}
	}
	again, err := Read(t.Context(), Input{Kube: awsAuth(mapRoles, mapUsers, ""), AWS: cfg, Cluster: "demo", NodeRoleARN: nodeRole, StackAWSAuth: stackRows, Declared: declared, NodeEntry: true})
	if err != nil {
		t.Fatal(err)
	}
	if n := len(again.ToDeclare()); n != 0 {
		t.Errorf("after declaring: %d entries to declare, want 0", n)
	}
	for _, r := range again.Rows {
		if r.Kind == KindEntry && !(r.Declared && r.Live) {
			t.Errorf("row %s: declared %t, live %t after its entry was declared and made", r.ARN, r.Declared, r.Live)
		}
	}
}

// The plan of 200 rows, against moto, in under 5 s: one DescribeCluster, one ListAccessEntries
// page, one GetRole per role name, awsaccess.Concurrency at a time.
func TestPlanOf200Rows(t *testing.T) {
	const n = 200
	var names []string
	var mapRoles strings.Builder
	for i := range n {
		name := fmt.Sprintf("team-%03d", i)
		names = append(names, "teams/"+name)
		mapRoles.WriteString(role("arn:aws:iam::"+account+":role/"+name, name+":{{SessionName}}", "team"))
	}
	cfg := cluster(t, names...)
	calls := moto.CountCalls(&cfg)
	start := time.Now()
	p, err := Read(t.Context(), Input{Kube: awsAuth(mapRoles.String(), "", ""), AWS: cfg, Cluster: "demo", NodeRoleARN: nodeRole})
	elapsed := time.Since(start)
	if err != nil {
		t.Fatal(err)
	}
	if got := len(p.ToDeclare()); got != n {
		t.Errorf("%d entries to declare, want %d", got, n)
	}
	if p.ToDeclare()[7].PrincipalARN != "arn:aws:iam::"+account+":role/teams/team-007" {
		t.Errorf("entry 7's principal %s, want the role's path restored", p.ToDeclare()[7].PrincipalARN)
	}
	byOp := calls.ByOperation()
	t.Logf("%d rows in %s; calls %v (the plan's own count %v)", n, elapsed.Round(time.Millisecond), byOp, p.Calls)
	if byOp["IAM GetRole"] != n || byOp["EKS DescribeCluster"] != 1 || byOp["EKS ListAccessEntries"] != 1 || calls.Total() != n+2 {
		t.Errorf("calls %v, want %d GetRole, one DescribeCluster and one ListAccessEntries", byOp, n)
	}
	if elapsed > 5*time.Second {
		t.Errorf("the plan of %d rows took %s, want under 5 s", n, elapsed)
	}
}
