package stack

import (
	"encoding/json"
	"maps"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"sigs.k8s.io/aws-iam-authenticator/pkg/mapper/configmap"

	"github.com/eks-irsa/eks-irsa/internal/recorder"
	"github.com/eks-irsa/eks-irsa/irsa"
	"github.com/eks-irsa/eks-irsa/k8s"
)

// testConfig is the configuration `pulumi up -s test` runs with, read from the stack files.
func testConfig(t testing.TB) map[string]string {
	t.Helper()
	cfg, err := LoadStackFiles("..", "test")
	if err != nil {
		t.Fatalf("load test stack: %v", err)
	}
	return cfg
}

// runProgram runs Build under the recorder and returns the resolved stack outputs. The run
// waits for resources, not for an Apply on an output no resource produced (a constant such
// as the region), so each output is awaited here.
func runProgram(t testing.TB, cfg map[string]string) (*recorder.Recorder, map[string]any) {
	t.Helper()
	rec := recorder.New(ProjectName, "test")
	outputs := map[string]any{}
	var mu sync.Mutex // applies run concurrently
	var pending sync.WaitGroup
	err := rec.Run(cfg, func(ctx *pulumi.Context) error {
		out, err := Build(ctx)
		if err != nil {
			return err
		}
		for name, v := range out {
			pending.Add(1)
			pulumi.ToOutput(v).ApplyT(func(x any) any {
				defer pending.Done()
				mu.Lock()
				defer mu.Unlock()
				outputs[name] = x
				return x
			})
		}
		return nil
	})
	if err != nil {
		t.Fatalf("program: %v", err)
	}
	pending.Wait()
	mu.Lock()
	defer mu.Unlock()
	return rec, maps.Clone(outputs)
}

// The whole test stack: the count of every resource type and the parent of every resource,
// so an accidental extra or missing resource fails here.
func TestTestStackRegistersTheExpectedTree(t *testing.T) {
	rec, _ := runProgram(t, testConfig(t))
	want := map[string]int{
		"eksirsa:infra:Network":          1,
		"eksirsa:infra:Cluster":          1,
		"eksirsa:infra:OIDCProvider":     1,
		"eksirsa:infra:NodeRole":         1,
		"eksirsa:infra:IRSARole":         4, // aws-node + 3 configured
		"eksirsa:infra:Workers":          1,
		"eksirsa:k8s:AwsAuth":            1,
		"eksirsa:k8s:ServiceAccountRole": 4,

		"aws:ec2/vpc:Vpc":                                     1,
		"aws:ec2/subnet:Subnet":                               6,
		"aws:ec2/internetGateway:InternetGateway":             1,
		"aws:ec2/eip:Eip":                                     1,
		"aws:ec2/natGateway:NatGateway":                       1,
		"aws:ec2/routeTable:RouteTable":                       4,
		"aws:ec2/route:Route":                                 4,
		"aws:ec2/routeTableAssociation:RouteTableAssociation": 6,
		"aws:ec2/securityGroup:SecurityGroup":                 3, // control plane, nodes, endpoints
		"aws:ec2/securityGroupRule:SecurityGroupRule":         4,
		"aws:ec2/vpcEndpoint:VpcEndpoint":                     2,
		"aws:ec2/flowLog:FlowLog":                             1,
		"aws:cloudwatch/logGroup:LogGroup":                    2,
		"aws:iam/role:Role":                                   7, // flow logs, cluster, node, 4 IRSA
		"aws:iam/rolePolicy:RolePolicy":                       4, // flow logs + 3 inline IRSA
		"aws:iam/rolePolicyAttachment:RolePolicyAttachment":   4, // cluster 1, node 2, aws-node 1
		"aws:iam/instanceProfile:InstanceProfile":             1,
		"aws:iam/openIdConnectProvider:OpenIdConnectProvider": 1,
		"aws:eks/cluster:Cluster":                             1,
		"aws:ec2/launchTemplate:LaunchTemplate":               1,
		"aws:autoscaling/group:Group":                         1,

		"pulumi:providers:kubernetes":            2, // Apply, and Create for what we create
		"kubernetes:core/v1:ConfigMap":           1,
		"kubernetes:core/v1:ServiceAccountPatch": 1, // aws-node: EKS owns it
		"kubernetes:core/v1:ServiceAccount":      3, // the configured accounts, account: create
		"kubernetes:apps/v1:DaemonSetPatch":      1,
	}
	got := rec.CountByType()
	for typ, n := range want {
		if got[typ] != n {
			t.Errorf("%s: %d registered, want %d", typ, got[typ], n)
		}
	}
	for typ, n := range got {
		if _, ok := want[typ]; !ok {
			t.Errorf("unexpected %d × %s", n, typ)
		}
	}

	// Parents: components at the top, every resource under the component that owns it. A
	// type some components share (roles, log groups, EC2 objects) may sit under any of them.
	owners := []struct {
		prefix  string
		parents []string
	}{
		{"aws:iam/role:", []string{"eksirsa:infra:Network", "eksirsa:infra:Cluster", "eksirsa:infra:NodeRole", "eksirsa:infra:IRSARole"}},
		{"aws:iam/rolePolicy:", []string{"eksirsa:infra:Network", "eksirsa:infra:IRSARole"}},
		{"aws:iam/rolePolicyAttachment:", []string{"eksirsa:infra:Cluster", "eksirsa:infra:NodeRole", "eksirsa:infra:IRSARole"}},
		{"aws:iam/instanceProfile:", []string{"eksirsa:infra:NodeRole"}},
		{"aws:iam/openIdConnectProvider:", []string{"eksirsa:infra:OIDCProvider"}},
		{"aws:cloudwatch/logGroup:", []string{"eksirsa:infra:Network", "eksirsa:infra:Cluster"}},
		{"aws:ec2/", []string{"eksirsa:infra:Network", "eksirsa:infra:Cluster", "eksirsa:infra:Workers"}},
		{"aws:eks/", []string{"eksirsa:infra:Cluster"}},
		{"aws:autoscaling/", []string{"eksirsa:infra:Workers"}},
		{"kubernetes:core/v1:ConfigMap", []string{"eksirsa:k8s:AwsAuth"}},
		{"kubernetes:", []string{"eksirsa:k8s:ServiceAccountRole"}},
	}
	for _, reg := range rec.Registrations() {
		parent, ok := rec.ByURN(reg.Parent)
		top := !ok // parented to the root stack
		switch {
		case strings.HasPrefix(reg.Type, "eksirsa:") || reg.Type == "pulumi:providers:kubernetes":
			if !top {
				t.Errorf("%s %s is under %s; components and the provider sit at the top", reg.Type, reg.Name, parent.Type)
			}
			continue
		case top:
			t.Errorf("%s %s has no component parent", reg.Type, reg.Name)
			continue
		}
		i := slices.IndexFunc(owners, func(o struct {
			prefix  string
			parents []string
		}) bool {
			return strings.HasPrefix(reg.Type, o.prefix)
		})
		if i < 0 {
			t.Errorf("%s %s: no owner listed for its type", reg.Type, reg.Name)
		} else if !slices.Contains(owners[i].parents, parent.Type) {
			t.Errorf("%s %s is under %s, want one of %v", reg.Type, reg.Name, parent.Type, owners[i].parents)
		}
	}
}

func TestStackOutputs(t *testing.T) {
	rec, out := runProgram(t, testConfig(t))
	f := rec.Fakes()
	roleARN := func(name string) string { return f.ARN("iam", "", "role/"+name) }
	checks := map[string]any{
		OutRegion:          "us-west-2",
		OutClusterName:     "demo-eks-oidc-test",
		OutEndpoint:        f.Endpoint(),
		OutOIDCIssuer:      f.Issuer(),
		OutOIDCProviderARN: f.ARN("iam", "", "oidc-provider/"+strings.TrimPrefix(f.Issuer(), "https://")),
		OutNodeRoleARN:     roleARN("demo-eks-oidc-test-node"),
		OutAWSNodeRoleARN:  roleARN("demo-eks-oidc-test-aws-node"),
		OutFlowLogGroup:    "/aws/vpc/demo-eks-oidc-test/flow-logs",
		OutClusterLogGroup: "/aws/eks/demo-eks-oidc-test/cluster",
		OutDesiredNodes:    4,
		OutMinNodes:        1,
		OutMaxNodes:        6,
	}
	for name, want := range checks {
		if out[name] != want {
			t.Errorf("output %s = %v, want %v", name, out[name], want)
		}
	}
	roles, _ := out[OutServiceAccountRoles].(map[string]string)
	wantRoles := map[string]string{
		"kube-system/aws-node":                     roleARN("demo-eks-oidc-test-aws-node"),
		"kube-system/aws-load-balancer-controller": roleARN("demo-eks-oidc-test-aws-load-balancer-controller"),
		"kube-system/cluster-autoscaler":           roleARN("demo-eks-oidc-test-cluster-autoscaler"),
		"default/external-secrets":                 roleARN("demo-eks-oidc-test-external-secrets"),
	}
	if !maps.Equal(roles, wantRoles) {
		t.Errorf("service account roles = %v, want %v", roles, wantRoles)
	}
	// The accounts verify reads: each role ARN with what the stack did with the account.
	accounts, _ := out[OutServiceAccounts].(map[string]any)
	for key, arn := range wantRoles {
		mode := k8s.CreateServiceAccount
		if key == "kube-system/aws-node" {
			mode = k8s.AnnotateServiceAccount
		}
		want := map[string]any{k8s.AccountRoleARNKey: arn, k8s.AccountModeKey: string(mode)}
		if got, _ := accounts[key].(map[string]any); !maps.Equal(got, want) {
			t.Errorf("output %s[%s] = %v, want %v", OutServiceAccounts, key, accounts[key], want)
		}
	}
	if len(accounts) != len(wantRoles) {
		t.Errorf("output %s = %v, want the %d accounts %v", OutServiceAccounts, accounts, len(wantRoles), wantRoles)
	}
	for _, name := range []string{OutVpcID, OutKubeconfig, OutNodeGroup} {
		if s, _ := out[name].(string); s == "" {
			t.Errorf("output %s is empty", name)
		}
	}
	for _, name := range []string{OutPublicSubnetIDs, OutPrivateSubnetIDs} {
		if ids, _ := out[name].([]string); len(ids) != 3 {
			t.Errorf("output %s = %v, want 3 subnets", name, out[name])
		}
	}
}

// Nodes boot only after aws-auth maps them and aws-node has its role and has rolled.
func TestWorkerCapacityWaitsForKubernetesObjects(t *testing.T) {
	rec, _ := runProgram(t, testConfig(t))
	asg := rec.ByType("aws:autoscaling/group:Group")[0]
	for _, typ := range []string{"kubernetes:core/v1:ConfigMap", "kubernetes:core/v1:ServiceAccountPatch", "kubernetes:apps/v1:DaemonSetPatch"} {
		for _, obj := range rec.ByType(typ) {
			if !rec.DependsOn(asg.URN, obj.URN) {
				t.Errorf("the ASG does not wait for %s %s", typ, obj.Name)
			}
		}
	}
	cluster := rec.ByType("aws:eks/cluster:Cluster")[0]
	for _, reg := range rec.Registrations() {
		if strings.HasPrefix(reg.Type, "kubernetes:") && rec.DependsOn(cluster.URN, reg.URN) {
			t.Errorf("the cluster waits for %s %s", reg.Type, reg.Name)
		}
	}
}

func TestAWSAuthMapsTheNodeRoleAsEKSParsesIt(t *testing.T) {
	cfg := testConfig(t)
	cfg["eks-irsa:awsAuth"] = `{"roles":[{"arn":"arn:aws:iam::123456789012:role/admin","username":"admin","groups":["system:masters"]}],
		"users":[{"arn":"arn:aws:iam::123456789012:user/ci","username":"ci","groups":["ci-deployers"]}]}`
	rec, _ := runProgram(t, cfg)
	cm := rec.ByType("kubernetes:core/v1:ConfigMap")[0]
	data := map[string]string{}
	for k, v := range cm.Inputs["data"].ObjectValue() {
		data[string(k)] = v.StringValue()
	}
	users, roles, _, err := configmap.ParseMap(data)
	if err != nil {
		t.Fatalf("ParseMap: %v\n%v", err, data)
	}
	if len(roles) != 2 || len(users) != 1 {
		t.Fatalf("roles %+v users %+v", roles, users)
	}
	node := roles[0]
	if node.RoleARN != rec.Fakes().ARN("iam", "", "role/demo-eks-oidc-test-node") || node.Username != k8s.NodeUsername ||
		strings.Join(node.Groups, ",") != k8s.BootstrappersGroup+","+k8s.NodesGroup {
		t.Errorf("node mapping = %+v", node)
	}
	if roles[1].RoleARN != "arn:aws:iam::123456789012:role/admin" || users[0].UserARN != "arn:aws:iam::123456789012:user/ci" {
		t.Errorf("extra mappings = %+v %+v", roles[1], users[0])
	}
}

func TestServiceAccountBindingsFollowConfig(t *testing.T) {
	rec, _ := runProgram(t, testConfig(t))
	patch := rec.ByType("kubernetes:core/v1:ServiceAccountPatch")[0]
	meta := patch.Inputs["metadata"].ObjectValue()
	if meta["name"].StringValue() != "aws-node" || meta["namespace"].StringValue() != "kube-system" {
		t.Errorf("patch targets %v", meta)
	}
	ann := meta["annotations"].ObjectValue()[irsa.RoleARNAnnotation].StringValue()
	if ann != rec.Fakes().ARN("iam", "", "role/demo-eks-oidc-test-aws-node") {
		t.Errorf("aws-node annotation = %s", ann)
	}
	for _, sa := range rec.ByType("kubernetes:core/v1:ServiceAccount") {
		m := sa.Inputs["metadata"].ObjectValue()
		want := rec.Fakes().ARN("iam", "", "role/demo-eks-oidc-test-"+m["name"].StringValue())
		if got := m["annotations"].ObjectValue()[irsa.RoleARNAnnotation].StringValue(); got != want {
			t.Errorf("%s annotation = %s, want %s", m["name"].StringValue(), got, want)
		}
	}
	// Every Kubernetes object uses one of the providers made from the cluster: what we create
	// the Create provider, so an account or namespace that exists fails instead of being
	// taken over; aws-auth and the patches the Apply provider.
	var apply, create recorder.Registration
	for _, p := range rec.ByType("pulumi:providers:kubernetes") {
		if strings.HasSuffix(p.Name, k8s.CreateProviderSuffix) {
			create = p
		} else {
			apply = p
		}
	}
	if apply.URN == "" || create.URN == "" {
		t.Fatalf("want an Apply and a Create provider; have %v", rec.ByType("pulumi:providers:kubernetes"))
	}
	for _, reg := range rec.Registrations() {
		if !strings.HasPrefix(reg.Type, "kubernetes:") {
			continue
		}
		want := apply
		if reg.Type == "kubernetes:core/v1:Namespace" || reg.Type == "kubernetes:core/v1:ServiceAccount" {
			want = create
		}
		if !strings.HasPrefix(reg.Provider, want.URN+"::") {
			t.Errorf("%s %s uses provider %q, not %s", reg.Type, reg.Name, reg.Provider, want.URN)
		}
	}
	cluster := rec.ByType("aws:eks/cluster:Cluster")[0]
	for _, p := range []recorder.Registration{apply, create} {
		if !rec.DependsOn(p.URN, cluster.URN) {
			t.Errorf("the Kubernetes provider %s is not built from the cluster's outputs", p.Name)
		}
		if got, want := p.Inputs["clusterIdentifier"], cluster.Outputs["arn"]; !got.IsString() || got.StringValue() != want.StringValue() {
			t.Errorf("provider %s: clusterIdentifier = %v, want the cluster ARN %v", p.Name, got, want)
		}
	}
}

func TestInlinePoliciesReachIAMUnchanged(t *testing.T) {
	rec, _ := runProgram(t, testConfig(t))
	for _, rp := range rec.ByType("aws:iam/rolePolicy:RolePolicy") {
		if !strings.HasSuffix(rp.Name, "-inline") {
			continue
		}
		var doc struct {
			Version   string
			Statement []map[string]any
		}
		if err := json.Unmarshal([]byte(rp.Inputs["policy"].StringValue()), &doc); err != nil || doc.Version != "2012-10-17" || len(doc.Statement) == 0 {
			t.Errorf("%s policy = %s (%v)", rp.Name, rp.Inputs["policy"].StringValue(), err)
		}
		if strings.Contains(rp.Name, "cluster-autoscaler") &&
			!strings.Contains(rp.Inputs["policy"].StringValue(), `"aws:ResourceTag/kubernetes.io/cluster/demo-eks-oidc-test":"owned"`) {
			t.Errorf("autoscaler may scale groups that are not this cluster's: %s", rp.Inputs["policy"].StringValue())
		}
	}
}

func TestRestartAnnotationChangesOnlyWithTheRole(t *testing.T) {
	restart := func(cfg map[string]string) string {
		rec, _ := runProgram(t, cfg)
		ds := rec.ByType("kubernetes:apps/v1:DaemonSetPatch")[0]
		b, _ := json.Marshal(ds.Inputs["spec"].ObjectValue()["template"].ObjectValue()["metadata"].Mappable())
		return string(b)
	}
	first, second := restart(testConfig(t)), restart(testConfig(t))
	if first != second {
		t.Errorf("same role, different restart annotation:\n%s\n%s", first, second)
	}
	renamed := testConfig(t)
	renamed["eks-irsa:clusterName"] = "demo-eks-oidc-test2"
	if third := restart(renamed); third == first {
		t.Errorf("role changed, restart annotation did not: %s", third)
	}
}
