package main

import (
	"bytes"
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"sigs.k8s.io/aws-iam-authenticator/pkg/mapper/configmap"

	"github.com/eks-irsa/eks-irsa/internal/recorder"
	"github.com/eks-irsa/eks-irsa/stack"
)

// projectDir is the repository root: the real Pulumi.yaml and Pulumi.test.yaml.
const projectDir = "../.."

func runCLI(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code = run(args, &out, &errOut)
	return code, out.String(), errOut.String()
}

// planJSON is the part of the documented JSON the tests read.
type planJSON struct {
	CountsByType  map[string]int
	TrustPolicies []struct {
		RoleName string
		Policy   struct {
			Statement []struct {
				Action    []string
				Principal struct{ Federated string }
				Condition map[string]map[string]string
			}
		}
	}
	AWSAuth struct {
		Object struct{ Data map[string]string }
	}
	AWSNodePatches []struct {
		Type   string
		Object map[string]any
	}
	Outputs []struct {
		Name   string
		Value  any
		Secret bool
	}
	DeployTime struct {
		CriticalSeconds, FloorSeconds, Ratio float64
		CriticalPath                         []struct{ Type, Name string }
	}
}

func TestPlanTestStackJSON(t *testing.T) {
	code, stdout, stderr := runCLI(t, "plan", "-C", projectDir, "-s", "test", "--format", "json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var p planJSON
	if err := json.Unmarshal([]byte(stdout), &p); err != nil {
		t.Fatalf("decode plan: %v", err)
	}

	for typ, want := range map[string]int{
		"aws:eks/cluster:Cluster":                             1,
		"aws:autoscaling/group:Group":                         1,
		"aws:iam/openIdConnectProvider:OpenIdConnectProvider": 1,
		"eksirsa:infra:IRSARole":                              4, // aws-node + the three configured
		"aws:ec2/natGateway:NatGateway":                       1, // natGateways: single
		"aws:ec2/subnet:Subnet":                               6,
		"aws:ec2/vpcEndpoint:VpcEndpoint":                     2, // ecrEndpoints: ecr.api, ecr.dkr
		"kubernetes:core/v1:ConfigMap":                        1,
	} {
		if got := p.CountsByType[typ]; got != want {
			t.Errorf("%s: %d resources, want %d", typ, got, want)
		}
	}

	// Every IRSA role trusts only its own account's token, for STS.
	subjects := map[string]string{}
	for _, tp := range p.TrustPolicies {
		if len(tp.Policy.Statement) != 1 {
			t.Fatalf("%s: %d statements, want 1", tp.RoleName, len(tp.Policy.Statement))
		}
		st := tp.Policy.Statement[0]
		issuer := strings.TrimPrefix(st.Principal.Federated, "arn:aws:iam::123456789012:oidc-provider/")
		cond := st.Condition["StringEquals"]
		if !slices.Equal(st.Action, []string{"sts:AssumeRoleWithWebIdentity"}) || len(cond) != 2 || cond[issuer+":aud"] != "sts.amazonaws.com" {
			t.Errorf("%s: statement %+v, want web identity from %s with aud sts.amazonaws.com", tp.RoleName, st, issuer)
		}
		subjects[tp.RoleName] = cond[issuer+":sub"]
	}
	wantSubjects := map[string]string{
		"demo-eks-oidc-test-aws-node":                     "system:serviceaccount:kube-system:aws-node",
		"demo-eks-oidc-test-aws-load-balancer-controller": "system:serviceaccount:kube-system:aws-load-balancer-controller",
		"demo-eks-oidc-test-cluster-autoscaler":           "system:serviceaccount:kube-system:cluster-autoscaler",
		"demo-eks-oidc-test-external-secrets":             "system:serviceaccount:default:external-secrets",
	}
	for role, sub := range wantSubjects {
		if subjects[role] != sub {
			t.Errorf("%s trusts sub %q, want %q", role, subjects[role], sub)
		}
	}
	if len(subjects) != len(wantSubjects) {
		t.Errorf("trust policies for %v, want exactly %v", subjects, wantSubjects)
	}

	// aws-auth as EKS's authenticator reads it: the node role joins as a node.
	_, roles, _, err := configmap.ParseMap(p.AWSAuth.Object.Data)
	if err != nil {
		t.Fatalf("aws-iam-authenticator rejects aws-auth: %v", err)
	}
	if len(roles) != 1 || roles[0].RoleARN != "arn:aws:iam::123456789012:role/demo-eks-oidc-test-node" ||
		roles[0].Username != "system:node:{{EC2PrivateDNSName}}" ||
		!slices.Equal(roles[0].Groups, []string{"system:bootstrappers", "system:nodes"}) {
		t.Errorf("aws-auth role mappings %+v", roles)
	}

	var patchTypes []string
	for _, m := range p.AWSNodePatches {
		patchTypes = append(patchTypes, m.Type)
	}
	if !slices.Equal(patchTypes, []string{"kubernetes:core/v1:ServiceAccountPatch", "kubernetes:apps/v1:DaemonSetPatch"}) {
		t.Errorf("aws-node patches %q", patchTypes)
	}

	outputs := map[string]bool{}
	for _, o := range p.Outputs {
		outputs[o.Name] = o.Secret
	}
	if secret, ok := outputs["kubeconfig"]; !ok || !secret {
		t.Errorf("kubeconfig output present %v, secret %v; want a secret output", ok, secret)
	}

	// The deploy-time goal: within 5% of VPC → subnet → control plane → node join, with
	// nothing slow (NAT, endpoints, flow logs) waited for on the way.
	dt := p.DeployTime
	if dt.Ratio > 1.05 {
		t.Errorf("critical path %.0fs is %.3f × the floor %.0fs, want ≤ 1.05: %+v", dt.CriticalSeconds, dt.Ratio, dt.FloorSeconds, dt.CriticalPath)
	}
	for _, s := range dt.CriticalPath {
		switch s.Type {
		case "aws:ec2/natGateway:NatGateway", "aws:ec2/vpcEndpoint:VpcEndpoint", "aws:ec2/flowLog:FlowLog":
			t.Errorf("critical path waits for %s %s", s.Type, s.Name)
		}
	}
}

func TestPlanFormats(t *testing.T) {
	tests := []struct {
		format string
		want   []string
	}{
		{format: "text", want: []string{
			"eks-irsa/test: ", "\nResources\n", "\nIRSA trust policies\n  demo-eks-oidc-test-", "\n  demo-eks-oidc-test-aws-node\n    {\n",
			"\naws-auth\n", "\naws-node patches\n", "\nOutputs\n", "  kubeconfig: [secret]\n",
			"\nDeploy time\n  critical path ",
		}},
		{format: "mermaid", want: []string{"flowchart LR\n", "subgraph", " --> "}},
		{format: "dot", want: []string{"digraph \"eks-irsa/test\" {\n", "subgraph cluster_", " -> "}},
	}
	for _, tc := range tests {
		t.Run(tc.format, func(t *testing.T) {
			code, stdout, stderr := runCLI(t, "plan", "-C", projectDir, "--format", tc.format)
			if code != 0 || stderr != "" {
				t.Fatalf("exit %d, stderr %q", code, stderr)
			}
			for _, w := range tc.want {
				if !strings.Contains(stdout, w) {
					t.Errorf("output lacks %q", w)
				}
			}
		})
	}
}

// TestPlanBadConfig: exit code 2, every problem on stderr, nothing else anywhere.
func TestPlanBadConfig(t *testing.T) {
	dir := writeProject(t, "bad", `config:
  aws:region: us-west-2
  eks-irsa:network:
    availabilityZones: [us-west-2a, us-west-2b]
    publicSubnets: [10.0.1.0/24, 10.0.2.0/24]
    privateSubnets: [10.0.101.0/24, 10.0.102.0/24]
  eks-irsa:cluster:
    logRetentionDays: 10
  eks-irsa:nodes:
    min: 3
    max: 2
    desired: 2
`)
	code, stdout, stderr := runCLI(t, "plan", "-C", dir, "-s", "bad")
	if code != exitConfig {
		t.Errorf("exit %d, want %d", code, exitConfig)
	}
	if stdout != "" {
		t.Errorf("stdout %q, want nothing", stdout)
	}
	lines := strings.Split(strings.TrimSpace(stderr), "\n")
	if !strings.HasPrefix(lines[0], "invalid configuration (") {
		t.Errorf("stderr starts %q, want the problem count", lines[0])
	}
	for _, key := range []string{"eks-irsa:cluster.logRetentionDays", "eks-irsa:nodes.min"} {
		if !strings.Contains(stderr, key) {
			t.Errorf("stderr lacks %s:\n%s", key, stderr)
		}
	}
	for _, line := range lines[1:] {
		if !strings.HasPrefix(line, "  eks-irsa:") {
			t.Errorf("stderr line %q is not a config problem", line)
		}
	}
}

func TestPlanUsageErrors(t *testing.T) {
	tests := []struct {
		name     string
		args     []string
		wantCode int
		wantErr  string
	}{
		{name: "unknown format", args: []string{"plan", "-C", projectDir, "--format", "yaml"}, wantCode: exitConfig,
			wantErr: `--format "yaml", want one of text, json, mermaid, dot`},
		{name: "stack without a file", args: []string{"plan", "-C", projectDir, "-s", "prod"}, wantCode: exitFailure,
			wantErr: "eksirsa: stack prod:"},
		{name: "no project", args: []string{"plan", "-C", t.TempDir()}, wantCode: exitFailure,
			wantErr: "eksirsa: load project:"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, stdout, stderr := runCLI(t, tc.args...)
			if code != tc.wantCode || !strings.Contains(stderr, tc.wantErr) || stdout != "" {
				t.Errorf("exit %d, stdout %q, stderr %q; want exit %d and %q", code, stdout, stderr, tc.wantCode, tc.wantErr)
			}
		})
	}
}

// What plan prints as a role's trust policy is, line for line, the document the role sends
// to IAM: the program builds it, nothing renders it in between.
func TestPlanPrintsTheTrustPolicyIAMReceives(t *testing.T) {
	cfg, err := stack.LoadStackFiles(projectDir, "test")
	if err != nil {
		t.Fatal(err)
	}
	rec := recorder.New(stack.ProjectName, "test")
	if err := rec.Run(cfg, func(ctx *pulumi.Context) error { _, err := stack.Build(ctx); return err }); err != nil {
		t.Fatal(err)
	}
	role, ok := rec.Get("aws:iam/role:Role", "demo-eks-oidc-test-aws-node")
	if !ok {
		t.Fatal("no aws-node role")
	}
	sent := role.Inputs["assumeRolePolicy"].StringValue()
	code, stdout, stderr := runCLI(t, "plan", "-C", projectDir, "-s", "test")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if want := "  demo-eks-oidc-test-aws-node\n    " + strings.ReplaceAll(sent, "\n", "\n    ") + "\n"; !strings.Contains(stdout, want) {
		t.Errorf("plan does not print the trust policy IAM receives:\n%s\nwant it to contain\n%s", stdout, want)
	}
}

// A stack with a Pod Identity entry plans: the deploy-time table knows the add-on and the
// association (without rows plan failed: "no typical duration for 2 resource types"), and the
// tree shows both. (Plan's trust section prints IRSA trusts only, for now.)
func TestPlanPodIdentityEntry(t *testing.T) {
	dir := writeProject(t, "podid", `config:
  aws:region: us-west-2
  eks-irsa:network:
    availabilityZones: [us-west-2a, us-west-2b]
    publicSubnets: [10.0.1.0/24, 10.0.2.0/24]
    privateSubnets: [10.0.101.0/24, 10.0.102.0/24]
  eks-irsa:serviceAccountRoles:
    - namespace: apps
      serviceAccount: reports
      identity: podIdentity
      managedPolicyArns: [arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess]
`)
	code, stdout, stderr := runCLI(t, "plan", "-C", dir, "-s", "podid")
	if code != 0 {
		t.Fatalf("plan of a Pod Identity entry: exit %d: %s", code, stderr)
	}
	for _, want := range []string{"aws:eks/podIdentityAssociation:PodIdentityAssociation  demo-eks-oidc-dev-reports", "aws:eks/addon:Addon  demo-eks-oidc-dev-pod-identity-agent"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("plan does not list %q:\n%s", want, stdout)
		}
	}
}
