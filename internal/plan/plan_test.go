package plan

import (
	"bytes"
	"encoding/json"
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/eks-irsa/eks-irsa/internal/deploytime"
	"github.com/eks-irsa/eks-irsa/internal/recorder"
	"github.com/eks-irsa/eks-irsa/stack"
)

const irsaTrust = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"sts:AssumeRoleWithWebIdentity",` +
	`"Principal":{"Federated":"arn:aws:iam::123456789012:oidc-provider/oidc.eks.us-west-2.amazonaws.com/id/X"},` +
	`"Condition":{"StringEquals":{"oidc.eks.us-west-2.amazonaws.com/id/X:aud":"sts.amazonaws.com",` +
	`"oidc.eks.us-west-2.amazonaws.com/id/X:sub":"system:serviceaccount:kube-system:aws-node"}}}]}`

const serviceTrust = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"sts:AssumeRole","Principal":{"Service":"eks.amazonaws.com"}}]}`

// miniStack registers a small graph shaped like the real one: a network component, the
// cluster, an IRSA role, aws-auth, the aws-node patches and the workers after them.
func miniStack(ctx *pulumi.Context) (pulumi.Map, error) {
	custom := func(typ, name string, props pulumi.Map, opts ...pulumi.ResourceOption) (*pulumi.CustomResourceState, error) {
		var res pulumi.CustomResourceState
		return &res, ctx.RegisterResource(typ, name, props, &res, opts...)
	}
	var network pulumi.ResourceState
	if err := ctx.RegisterComponentResource("eksirsa:infra:Network", "test", &network); err != nil {
		return nil, err
	}
	vpc, err := custom("aws:ec2/vpc:Vpc", "test-vpc", pulumi.Map{"cidrBlock": pulumi.String("10.0.0.0/16")}, pulumi.Parent(&network))
	if err != nil {
		return nil, err
	}
	subnet, err := custom("aws:ec2/subnet:Subnet", "test-private-a", pulumi.Map{"vpcId": vpc.ID()}, pulumi.Parent(&network))
	if err != nil {
		return nil, err
	}
	clusterRole, err := custom("aws:iam/role:Role", "test-cluster", pulumi.Map{"name": pulumi.String("test-cluster"), "assumeRolePolicy": pulumi.String(serviceTrust)})
	if err != nil {
		return nil, err
	}
	cluster, err := custom("aws:eks/cluster:Cluster", "test", pulumi.Map{"subnetIds": pulumi.StringArray{subnet.ID().ToStringOutput()}, "roleArn": clusterRole.ID()})
	if err != nil {
		return nil, err
	}
	var irsa pulumi.ResourceState
	if err := ctx.RegisterComponentResource("eksirsa:infra:IRSARole", "test-aws-node", &irsa, pulumi.DependsOn([]pulumi.Resource{cluster})); err != nil {
		return nil, err
	}
	role, err := custom("aws:iam/role:Role", "test-aws-node", pulumi.Map{"name": pulumi.String("test-aws-node"), "assumeRolePolicy": pulumi.String(irsaTrust)}, pulumi.Parent(&irsa))
	if err != nil {
		return nil, err
	}
	authData := pulumi.Map{"mapRoles": pulumi.String("- rolearn: arn:aws:iam::123456789012:role/test-node\n  username: system:node:{{EC2PrivateDNSName}}\n  groups:\n  - system:bootstrappers\n  - system:nodes\n")}
	auth, err := custom("kubernetes:core/v1:ConfigMap", "test-aws-auth", pulumi.Map{
		"apiVersion": pulumi.String("v1"), "kind": pulumi.String("ConfigMap"),
		"metadata": pulumi.Map{"name": pulumi.String("aws-auth"), "namespace": pulumi.String("kube-system")},
		"data":     authData,
	}, pulumi.DependsOn([]pulumi.Resource{cluster}))
	if err != nil {
		return nil, err
	}
	sa, err := custom("kubernetes:core/v1:ServiceAccountPatch", "test-aws-node-service-account", pulumi.Map{
		"apiVersion": pulumi.String("v1"), "kind": pulumi.String("ServiceAccount"),
		"metadata": pulumi.Map{"name": pulumi.String("aws-node"), "namespace": pulumi.String("kube-system"),
			"annotations": pulumi.Map{"eks.amazonaws.com/role-arn": role.ID()}},
	})
	if err != nil {
		return nil, err
	}
	restart, err := custom("kubernetes:apps/v1:DaemonSetPatch", "test-aws-node-restart", pulumi.Map{
		"apiVersion": pulumi.String("apps/v1"), "kind": pulumi.String("DaemonSet"),
		"metadata": pulumi.Map{"name": pulumi.String("aws-node"), "namespace": pulumi.String("kube-system")},
	}, pulumi.DependsOn([]pulumi.Resource{sa}))
	if err != nil {
		return nil, err
	}
	asg, err := custom("aws:autoscaling/group:Group", "test-workers", pulumi.Map{"desiredCapacity": pulumi.Int(2)},
		pulumi.DependsOn([]pulumi.Resource{auth, restart}))
	if err != nil {
		return nil, err
	}
	return pulumi.Map{
		"clusterName":          cluster.ID(),
		"kubeconfig":           pulumi.ToSecret(pulumi.String("apiVersion: v1\nkind: Config\n")),
		"autoScalingGroupName": asg.ID(),
	}, nil
}

func buildMiniPlan(t *testing.T) *Plan {
	t.Helper()
	rec := recorder.New("eks-irsa", "test")
	var outs Outputs
	if err := rec.Run(map[string]string{}, outs.Program(miniStack)); err != nil {
		t.Fatalf("run: %v", err)
	}
	outputs, err := outs.Wait(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	p, err := Build("eks-irsa", "test", rec.Graph(), outputs, deploytime.Default())
	if err != nil {
		t.Fatalf("Build: %v", err)
	}
	return p
}

// TestPlanJSON asserts on the documented JSON form, decoded as a consumer would.
func TestPlanJSON(t *testing.T) {
	var buf bytes.Buffer
	if err := buildMiniPlan(t).Write(&buf, "json"); err != nil {
		t.Fatal(err)
	}
	var got struct {
		Resources []struct {
			Type, Name, Parent string
			DependsOn          []string
		}
		CountsByType  map[string]int
		TrustPolicies []struct {
			RoleName string
			Policy   struct {
				Statement []struct {
					Action    string
					Condition map[string]map[string]string
				}
			}
		}
		AWSAuth struct {
			Object struct {
				Metadata struct{ Name, Namespace string }
				Data     map[string]string
			}
		}
		AWSNodePatches []struct{ Type string }
		Outputs        []struct {
			Name   string
			Value  any
			Secret bool
		}
		DeployTime struct {
			CriticalSeconds, FloorSeconds, Ratio float64
			CriticalPath                         []struct{ Name string }
		}
	}
	if err := json.Unmarshal(buf.Bytes(), &got); err != nil {
		t.Fatalf("decode: %v\n%s", err, buf.String())
	}

	wantCounts := map[string]int{
		"eksirsa:infra:Network": 1, "eksirsa:infra:IRSARole": 1, "aws:ec2/vpc:Vpc": 1, "aws:ec2/subnet:Subnet": 1,
		"aws:iam/role:Role": 2, "aws:eks/cluster:Cluster": 1, "kubernetes:core/v1:ConfigMap": 1,
		"kubernetes:core/v1:ServiceAccountPatch": 1, "kubernetes:apps/v1:DaemonSetPatch": 1, "aws:autoscaling/group:Group": 1,
	}
	if !maps.Equal(got.CountsByType, wantCounts) {
		t.Errorf("counts %v\nwant %v", got.CountsByType, wantCounts)
	}
	if len(got.Resources) != 11 {
		t.Errorf("%d resources, want 11", len(got.Resources))
	}
	for _, r := range got.Resources {
		if r.Name == "test-vpc" && !strings.HasSuffix(r.Parent, "eksirsa:infra:Network::test") {
			t.Errorf("vpc parent %q, want the network component", r.Parent)
		}
	}

	if len(got.TrustPolicies) != 1 || got.TrustPolicies[0].RoleName != "test-aws-node" {
		t.Fatalf("trust policies %+v, want only the web-identity role test-aws-node", got.TrustPolicies)
	}
	st := got.TrustPolicies[0].Policy.Statement[0]
	cond := st.Condition["StringEquals"]
	if st.Action != "sts:AssumeRoleWithWebIdentity" ||
		cond["oidc.eks.us-west-2.amazonaws.com/id/X:sub"] != "system:serviceaccount:kube-system:aws-node" ||
		cond["oidc.eks.us-west-2.amazonaws.com/id/X:aud"] != "sts.amazonaws.com" {
		t.Errorf("trust statement %+v", st)
	}

	if md := got.AWSAuth.Object.Metadata; md.Name != "aws-auth" || md.Namespace != "kube-system" ||
		!strings.Contains(got.AWSAuth.Object.Data["mapRoles"], "rolearn: arn:aws:iam::123456789012:role/test-node") {
		t.Errorf("aws-auth %+v", got.AWSAuth)
	}
	if len(got.AWSNodePatches) != 2 || got.AWSNodePatches[0].Type != "kubernetes:core/v1:ServiceAccountPatch" ||
		got.AWSNodePatches[1].Type != "kubernetes:apps/v1:DaemonSetPatch" {
		t.Errorf("aws-node patches %+v", got.AWSNodePatches)
	}

	outs := map[string]any{}
	for _, o := range got.Outputs {
		outs[o.Name] = o.Value
		if (o.Name == "kubeconfig") != o.Secret {
			t.Errorf("output %s secret=%v", o.Name, o.Secret)
		}
	}
	if outs["kubeconfig"] != stack.SecretPlaceholder || outs["clusterName"] != "test" || outs["autoScalingGroupName"] != "test-workers" || len(outs) != 3 {
		t.Errorf("outputs %v, want clusterName, a blinded kubeconfig and autoScalingGroupName", outs)
	}

	// 5 vpc + 5 subnet + 600 cluster + (3 role + 2 SA patch + 10 restart) + 150 workers:
	// the IRSA binding is what the stack adds to the floor.
	dt := got.DeployTime
	if dt.CriticalSeconds != 775 || dt.FloorSeconds != 760 {
		t.Errorf("critical %vs floor %vs, want 775 and 760", dt.CriticalSeconds, dt.FloorSeconds)
	}
	var path []string
	for _, s := range dt.CriticalPath {
		path = append(path, s.Name)
	}
	if want := "test-vpc test-private-a test test-aws-node test-aws-node-service-account test-aws-node-restart test-workers"; strings.Join(path, " ") != want {
		t.Errorf("critical path %q\nwant %q", strings.Join(path, " "), want)
	}
}

func TestPlanRenderings(t *testing.T) {
	p := buildMiniPlan(t)
	tests := []struct {
		format string
		want   []string
	}{
		{format: "text", want: []string{
			"eks-irsa/test: 9 resources (2 components)\n",
			"\nResources\n  aws:iam/role:Role  test-cluster\n  eksirsa:infra:Network  test\n    aws:ec2/vpc:Vpc  test-vpc\n    aws:ec2/subnet:Subnet  test-private-a\n  aws:eks/cluster:Cluster  test\n",
			// The document exactly as the role sends it to IAM, not re-rendered.
			"\nIRSA trust policies\n  test-aws-node\n    " + irsaTrust + "\n",
			"\naws-auth\n  apiVersion: v1\n  data:\n    mapRoles: |\n      - rolearn: arn:aws:iam::123456789012:role/test-node\n",
			"\naws-node patches\n  apiVersion: v1\n  kind: ServiceAccount\n",
			"  ---\n  apiVersion: apps/v1\n  kind: DaemonSet\n",
			"\nOutputs\n  autoScalingGroupName: test-workers\n  clusterName: test\n  kubeconfig: [secret]\n",
			"\nDeploy time\n  critical path 12.9 min, floor 12.7 min, ratio 1.020",
		}},
		{format: "mermaid", want: []string{
			"flowchart LR\n",
			"  subgraph r2 [\"eksirsa:infra:Network<br/>test\"]\n    r1[\"aws:ec2/vpc:Vpc<br/>test-vpc\"]\n    class r1 critical\n",
			"  r1 --> r3\n",  // vpc → subnet
			"  r9 --> r10\n", // restart → workers
		}},
		{format: "dot", want: []string{
			"digraph \"eks-irsa/test\" {\n",
			"  subgraph cluster_r2 {\n    label=\"eksirsa:infra:Network\\ntest\";\n    r1 [label=\"aws:ec2/vpc:Vpc\\ntest-vpc\", color=red, penwidth=2];\n",
			"  r1 -> r3;\n",
		}},
	}
	for _, tc := range tests {
		t.Run(tc.format, func(t *testing.T) {
			var buf bytes.Buffer
			if err := p.Write(&buf, tc.format); err != nil {
				t.Fatal(err)
			}
			for _, w := range tc.want {
				if !strings.Contains(buf.String(), w) {
					t.Errorf("output\n%s\nwant it to contain %q", buf.String(), w)
				}
			}
		})
	}
	if err := p.Write(&bytes.Buffer{}, "yaml"); err == nil || !strings.Contains(err.Error(), "want one of text, json, mermaid, dot") {
		t.Errorf("Write yaml = %v, want an error listing the formats", err)
	}
}

// TestPlanJSONKeys pins the documented JSON form: renaming or dropping a field breaks
// consumers, so it must fail here first.
func TestPlanJSONKeys(t *testing.T) {
	var buf bytes.Buffer
	if err := buildMiniPlan(t).WriteJSON(&buf); err != nil {
		t.Fatal(err)
	}
	var top map[string]json.RawMessage
	if err := json.Unmarshal(buf.Bytes(), &top); err != nil {
		t.Fatal(err)
	}
	var dt, step, res map[string]json.RawMessage
	var path, resources []json.RawMessage
	for _, err := range []error{
		json.Unmarshal(top["deployTime"], &dt),
		json.Unmarshal(dt["criticalPath"], &path),
		json.Unmarshal(path[0], &step),
		json.Unmarshal(top["resources"], &resources),
		json.Unmarshal(resources[len(resources)-1], &res),
	} {
		if err != nil {
			t.Fatal(err)
		}
	}
	for what, tc := range map[string]struct {
		obj  map[string]json.RawMessage
		want []string
	}{
		"plan":       {top, []string{"awsAuth", "awsNodePatches", "countsByType", "deployTime", "outputs", "project", "resources", "stack", "trustPolicies"}},
		"deployTime": {dt, []string{"criticalPath", "criticalSeconds", "floor", "floorSeconds", "ratio", "serialSeconds"}},
		"path step":  {step, []string{"name", "seconds", "source", "startSeconds", "type", "urn"}},
		"resource":   {res, []string{"custom", "dependsOn", "name", "type", "urn"}},
	} {
		if got := slices.Sorted(maps.Keys(tc.obj)); !slices.Equal(got, tc.want) {
			t.Errorf("%s keys %q, want %q", what, got, tc.want)
		}
	}
}
