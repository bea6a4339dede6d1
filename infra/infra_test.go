package infra

import (
	"encoding/base64"
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/yaml"

	"github.com/eks-irsa/eks-irsa/internal/recorder"
	"github.com/eks-irsa/eks-irsa/irsa"
)

var testPartition = Partition{Name: "aws", DNSSuffix: "amazonaws.com", ReverseDNSPrefix: "com.amazonaws"}

var testTags = map[string]string{"ServiceType": "demo-eks-oidc", "Environment": "test"}

// awsLayer is the whole AWS half wired as the stack wires it, with the Kubernetes objects
// replaced by a stand-in component the workers must wait for.
type awsLayer struct {
	network  *Network
	cluster  *Cluster
	oidc     *OIDCProvider
	nodeRole *NodeRole
	awsNode  *IRSARole
	workers  *Workers

	clusterKubeconfig, issuerHost, awsNodeArn string
}

type layerOptions struct {
	nat          NATMode
	flowLogs     bool
	endpoints    bool
	attachCNI    bool
	thumbprints  []string
	extraRoles   int
	extraTPs     []string
	kmsKey       string
	instanceType string
	amiRelease   string
}

func defaultLayer() layerOptions {
	return layerOptions{nat: SingleNAT, flowLogs: true, endpoints: true, instanceType: "t3.medium"}
}

// buildAWSLayer registers the AWS components under rec's mocks.
func buildAWSLayer(t testing.TB, rec *recorder.Recorder, o layerOptions) *awsLayer {
	t.Helper()
	l := &awsLayer{}
	err := rec.Run(map[string]string{"aws:region": "us-west-2"}, func(ctx *pulumi.Context) error {
		var err error
		l.network, err = NewNetwork(ctx, "demo", &NetworkArgs{
			Partition: testPartition, Region: "us-west-2", ClusterName: "demo-eks-oidc-test",
			CIDR:              "10.0.0.0/16",
			AvailabilityZones: []string{"us-west-2a", "us-west-2b", "us-west-2c"},
			PublicSubnets:     []string{"10.0.1.0/24", "10.0.2.0/24", "10.0.3.0/24"},
			PrivateSubnets:    []string{"10.0.101.0/24", "10.0.102.0/24", "10.0.103.0/24"},
			NAT:               o.nat, ECREndpoints: o.endpoints, S3Endpoint: o.endpoints, FlowLogs: o.flowLogs,
			FlowLogRoleName: "demo-eks-oidc-test-flow-logs", LogRetentionDays: 30, Tags: testTags,
		})
		if err != nil {
			return err
		}
		l.cluster, err = NewCluster(ctx, "demo", &ClusterArgs{
			Partition: testPartition, Region: "us-west-2", Name: "demo-eks-oidc-test",
			RoleName: "demo-eks-oidc-test-cluster", Version: "1.33",
			VpcID: l.network.VpcID, SubnetIDs: l.network.SubnetIDs,
			PublicAccessCIDRs: []string{"0.0.0.0/0"}, LogRetentionDays: 30, SecretsKMSKeyARN: o.kmsKey, Tags: testTags,
		})
		if err != nil {
			return err
		}
		l.oidc, err = NewOIDCProvider(ctx, "demo", &OIDCProviderArgs{
			IssuerURL: l.cluster.OIDCIssuer, Thumbprints: o.thumbprints, ExtraThumbprints: o.extraTPs, Tags: testTags,
		})
		if err != nil {
			return err
		}
		l.nodeRole, err = NewNodeRole(ctx, "demo-node", &NodeRoleArgs{
			Partition: testPartition, RoleName: "demo-eks-oidc-test-node", AttachCNIPolicy: o.attachCNI, Tags: testTags,
		})
		if err != nil {
			return err
		}
		irsa := func(name, ns, sa string) (*IRSARole, error) {
			return NewIRSARole(ctx, name, &IRSARoleArgs{
				OIDCProviderARN: l.oidc.Arn, IssuerHost: l.oidc.IssuerHost, Namespace: ns, ServiceAccount: sa,
				RoleName: name, ManagedPolicyARNs: []string{testPartition.ManagedPolicyARN("AmazonEKS_CNI_Policy")}, Tags: testTags,
			})
		}
		if l.awsNode, err = irsa("demo-eks-oidc-test-aws-node", "kube-system", "aws-node"); err != nil {
			return err
		}
		for i := 0; i < o.extraRoles; i++ {
			if _, err := irsa("demo-extra-"+string(rune('a'+i%26))+strings.Repeat("x", i/26), "apps", "app"); err != nil {
				return err
			}
		}
		// A stand-in for the Kubernetes objects nodes must wait for.
		var kube pulumi.CustomResourceState
		if err := ctx.RegisterResource("test:k8s:Object", "kube-object", pulumi.Map{}, &kube); err != nil {
			return err
		}
		l.workers, err = NewWorkers(ctx, "demo-workers", &WorkersArgs{
			ClusterName: "demo-eks-oidc-test", Version: "1.33", AMIReleaseVersion: o.amiRelease,
			Endpoint: l.cluster.Endpoint, CAData: l.cluster.CAData, ServiceCIDR: l.cluster.ServiceCIDR,
			InstanceType: o.instanceType, Desired: 4, Min: 1, Max: 6, DiskGiB: 20,
			InstanceProfileArn: l.nodeRole.InstanceProfileArn,
			SecurityGroupIDs:   pulumi.StringArray{l.cluster.NodeSecurityGroupID},
			SubnetIDs:          l.network.PrivateSubnetIDs,
			JoinAfter:          append([]pulumi.Resource{&kube}, l.network.Egress...),
			Tags:               testTags,
		})
		if err != nil {
			return err
		}
		l.cluster.Kubeconfig.ApplyT(func(s string) string { l.clusterKubeconfig = s; return s })
		l.oidc.IssuerHost.ApplyT(func(s string) string { l.issuerHost = s; return s })
		l.awsNode.Arn.ApplyT(func(s string) string { l.awsNodeArn = s; return s })
		return nil
	})
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	return l
}

func mustGet(t *testing.T, rec *recorder.Recorder, typ, name string) recorder.Registration {
	t.Helper()
	reg, ok := rec.Get(typ, name)
	if !ok {
		t.Fatalf("no %s named %s; registered: %v", typ, name, rec.CountByType())
	}
	return reg
}

func str(m resource.PropertyMap, path ...string) string {
	v := resource.NewObjectProperty(m)
	for _, p := range path {
		if !v.IsObject() {
			return ""
		}
		v = v.ObjectValue()[resource.PropertyKey(p)]
	}
	if v.IsSecret() {
		v = v.SecretValue().Element
	}
	if !v.IsString() {
		return ""
	}
	return v.StringValue()
}

func strs(v resource.PropertyValue) []string {
	var out []string
	if v.IsArray() {
		for _, e := range v.ArrayValue() {
			out = append(out, e.StringValue())
		}
	}
	return out
}

func TestEveryChildIsParentedToItsComponent(t *testing.T) {
	rec := recorder.New("eks-irsa", "test")
	buildAWSLayer(t, rec, defaultLayer())
	components := map[string]string{} // URN → type
	for _, reg := range rec.Registrations() {
		if !reg.Custom {
			components[reg.URN] = reg.Type
		}
	}
	for _, reg := range rec.Registrations() {
		if !reg.Custom || strings.HasPrefix(reg.Type, "pulumi:providers:") || strings.HasPrefix(reg.Type, "test:") {
			continue
		}
		if _, ok := components[reg.Parent]; !ok || strings.HasSuffix(reg.Parent, "::test") {
			t.Errorf("%s %s is parented to %q, not to a component", reg.Type, reg.Name, reg.Parent)
		}
	}
	// Each component registers its own children, not another's.
	want := map[string][]string{
		NetworkType:      {"aws:ec2/vpc:Vpc", "aws:ec2/subnet:Subnet", "aws:ec2/natGateway:NatGateway", "aws:ec2/flowLog:FlowLog"},
		ClusterType:      {"aws:eks/cluster:Cluster", "aws:cloudwatch/logGroup:LogGroup", "aws:ec2/securityGroup:SecurityGroup"},
		OIDCProviderType: {"aws:iam/openIdConnectProvider:OpenIdConnectProvider"},
		IRSARoleType:     {"aws:iam/role:Role", "aws:iam/rolePolicyAttachment:RolePolicyAttachment"},
		NodeRoleType:     {"aws:iam/role:Role", "aws:iam/instanceProfile:InstanceProfile"},
		WorkersType:      {"aws:ec2/launchTemplate:LaunchTemplate", "aws:autoscaling/group:Group"},
	}
	for _, reg := range rec.Registrations() {
		types, ok := want[reg.Type]
		if !ok {
			continue
		}
		got := map[string]bool{}
		for _, child := range rec.Children(reg.URN) {
			got[child.Type] = true
		}
		for _, typ := range types {
			if !got[typ] {
				t.Errorf("%s %s has no child %s (children: %v)", reg.Type, reg.Name, typ, got)
			}
		}
	}
}

func TestIRSATrustPolicyPinsSubjectAndAudience(t *testing.T) {
	rec := recorder.New("eks-irsa", "test")
	l := buildAWSLayer(t, rec, defaultLayer())
	role := mustGet(t, rec, "aws:iam/role:Role", "demo-eks-oidc-test-aws-node")

	doc := trustPolicy(t, role)
	if len(doc.Statement) != 1 {
		t.Fatalf("want one statement, got %d", len(doc.Statement))
	}
	st := doc.Statement[0]
	fakes := rec.Fakes()
	host := strings.TrimPrefix(fakes.Issuer(), "https://")
	if l.issuerHost != host {
		t.Errorf("issuer host output %q, want %q", l.issuerHost, host)
	}
	wantProvider := fakes.ARN("iam", "", "oidc-provider/"+host)
	if st.Effect != "Allow" || !slices.Equal(st.Action, []string{"sts:AssumeRoleWithWebIdentity"}) || st.Principal["Federated"] != wantProvider {
		t.Errorf("statement = %+v, want Allow sts:AssumeRoleWithWebIdentity by %s", st, wantProvider)
	}
	want := map[string]string{
		host + ":sub": "system:serviceaccount:kube-system:aws-node",
		host + ":aud": "sts.amazonaws.com",
	}
	got := st.Condition["StringEquals"]
	if len(st.Condition) != 1 || len(got) != 2 || got[host+":sub"] != want[host+":sub"] || got[host+":aud"] != want[host+":aud"] {
		t.Errorf("condition = %v, want StringEquals %v", st.Condition, want)
	}
	for key := range got {
		if strings.Contains(key, "https://") {
			t.Errorf("condition key %q carries the scheme; IAM matches keys without it", key)
		}
	}
	// The role is tagged with the account it serves.
	tags := role.Inputs["tags"].ObjectValue()
	if tags["ServiceAccountName"].StringValue() != "aws-node" || tags["ServiceAccountNameSpace"].StringValue() != "kube-system" {
		t.Errorf("role tags = %v", tags)
	}
	// The ARN handed on waits for the CNI policy attachment.
	role2 := mustGet(t, rec, "aws:iam/rolePolicyAttachment:RolePolicyAttachment", "demo-eks-oidc-test-aws-node-AmazonEKS_CNI_Policy")
	if str(role2.Inputs, "policyArn") != "arn:aws:iam::aws:policy/AmazonEKS_CNI_Policy" {
		t.Errorf("aws-node policy = %s", str(role2.Inputs, "policyArn"))
	}
	if l.awsNodeArn != fakes.ARN("iam", "", "role/demo-eks-oidc-test-aws-node") {
		t.Errorf("aws-node role ARN output = %q", l.awsNodeArn)
	}
}

func TestThumbprintIsTheChainRootNeverTheLeaf(t *testing.T) {
	cases := []struct {
		name  string
		opts  func(*layerOptions)
		want  []string
		fetch bool
	}{
		{"root of the chain", func(*layerOptions) {}, []string{"9e99a48a9960b14926bb7f3b02e22da2b0ab7280"}, true},
		{"root plus extra", func(o *layerOptions) { o.extraTPs = []string{"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"} },
			[]string{"9e99a48a9960b14926bb7f3b02e22da2b0ab7280", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"}, true},
		{"override skips the chain", func(o *layerOptions) { o.thumbprints = []string{"bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"} },
			[]string{"bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"}, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rec := recorder.New("eks-irsa", "test")
			o := defaultLayer()
			tc.opts(&o)
			buildAWSLayer(t, rec, o)
			p := mustGet(t, rec, "aws:iam/openIdConnectProvider:OpenIdConnectProvider", "demo")
			got := strs(p.Inputs["thumbprintLists"])
			if strings.Join(got, ",") != strings.Join(tc.want, ",") {
				t.Errorf("thumbprints = %v, want %v", got, tc.want)
			}
			leaf := rec.Fakes().Chain[len(rec.Fakes().Chain)-1].SHA1Fingerprint
			if strings.Contains(strings.Join(got, ","), leaf) {
				t.Errorf("thumbprints %v include the leaf %s", got, leaf)
			}
			if c := strs(p.Inputs["clientIdLists"]); len(c) != 1 || c[0] != irsa.Audience {
				t.Errorf("client ids = %v, want [%s]", c, irsa.Audience)
			}
			fetched := false
			for _, inv := range rec.Invokes() {
				if inv.Token == recorder.GetCertificate {
					fetched = true
					if inv.Args["url"].StringValue() != rec.Fakes().Issuer() {
						t.Errorf("fetched chain of %s, want the issuer", inv.Args["url"].StringValue())
					}
				}
			}
			if fetched != tc.fetch {
				t.Errorf("chain fetched = %v, want %v", fetched, tc.fetch)
			}
		})
	}
}

func TestClusterWaitsForItsLogGroupButNotForEgress(t *testing.T) {
	rec := recorder.New("eks-irsa", "test")
	buildAWSLayer(t, rec, defaultLayer())
	cluster := mustGet(t, rec, "aws:eks/cluster:Cluster", "demo")
	logs := mustGet(t, rec, "aws:cloudwatch/logGroup:LogGroup", "demo-logs")
	if !rec.DependsOn(cluster.URN, logs.URN) {
		t.Errorf("cluster does not wait for its log group %s", str(logs.Inputs, "name"))
	}
	if str(logs.Inputs, "name") != "/aws/eks/demo-eks-oidc-test/cluster" || logs.Inputs["retentionInDays"].NumberValue() != 30 {
		t.Errorf("log group = %s retention %v", str(logs.Inputs, "name"), logs.Inputs["retentionInDays"])
	}
	policy := mustGet(t, rec, "aws:iam/rolePolicyAttachment:RolePolicyAttachment", "demo-role-AmazonEKSClusterPolicy")
	if !rec.DependsOn(cluster.URN, policy.URN) {
		t.Error("cluster does not wait for AmazonEKSClusterPolicy")
	}
	for _, typ := range []string{"aws:ec2/natGateway:NatGateway", "aws:ec2/eip:Eip", "aws:ec2/flowLog:FlowLog",
		"aws:ec2/vpcEndpoint:VpcEndpoint", "aws:ec2/route:Route", "aws:cloudwatch/logGroup:LogGroup"} {
		for _, reg := range rec.ByType(typ) {
			if reg.Name == "demo-logs" {
				continue
			}
			if rec.DependsOn(cluster.URN, reg.URN) {
				t.Errorf("cluster waits for %s %s: it should build in parallel", typ, reg.Name)
			}
		}
	}
	in := cluster.Inputs
	if got := strs(in["enabledClusterLogTypes"]); strings.Join(got, ",") != "api,audit,authenticator,controllerManager,scheduler" {
		t.Errorf("log types = %v", got)
	}
	if str(in, "accessConfig", "authenticationMode") != "API_AND_CONFIG_MAP" ||
		!in["accessConfig"].ObjectValue()["bootstrapClusterCreatorAdminPermissions"].BoolValue() {
		t.Errorf("access config = %v", in["accessConfig"])
	}
	vpc := in["vpcConfig"].ObjectValue()
	if !vpc["endpointPrivateAccess"].BoolValue() || !vpc["endpointPublicAccess"].BoolValue() || len(strs(vpc["subnetIds"])) != 6 {
		t.Errorf("vpc config = %v", vpc)
	}
	if _, ok := in["encryptionConfig"]; ok {
		t.Error("envelope encryption set without a key")
	}
}

func TestSecretsEncryptionUsesTheConfiguredKey(t *testing.T) {
	rec := recorder.New("eks-irsa", "test")
	o := defaultLayer()
	o.kmsKey = "arn:aws:kms:us-west-2:123456789012:key/abcd"
	buildAWSLayer(t, rec, o)
	enc := mustGet(t, rec, "aws:eks/cluster:Cluster", "demo").Inputs["encryptionConfig"].ObjectValue()
	if str(enc, "provider", "keyArn") != o.kmsKey || strings.Join(strs(enc["resources"]), ",") != "secrets" {
		t.Errorf("encryption config = %v", enc)
	}
}

func TestSecurityGroupRulesOfTheWalkthrough(t *testing.T) {
	rec := recorder.New("eks-irsa", "test")
	buildAWSLayer(t, rec, defaultLayer())
	cp := mustGet(t, rec, "aws:ec2/securityGroup:SecurityGroup", "demo-control-plane")
	nodes := mustGet(t, rec, "aws:ec2/securityGroup:SecurityGroup", "demo-nodes")
	cpID, _ := recorder.DefaultFakes().Resource(cp.Type, cp.Name, cp.Inputs)
	nodesID, _ := recorder.DefaultFakes().Resource(nodes.Type, nodes.Name, nodes.Inputs)
	want := []struct {
		name, proto, group, source string
		from, to                   float64
	}{
		{"demo-nodes-to-api", "tcp", cpID, nodesID, 443, 443},
		{"demo-api-to-nodes-https", "tcp", nodesID, cpID, 443, 443},
		{"demo-api-to-nodes", "tcp", nodesID, cpID, 1025, 65535},
		{"demo-node-to-node", "-1", nodesID, nodesID, 0, 0},
	}
	if n := len(rec.ByType("aws:ec2/securityGroupRule:SecurityGroupRule")); n != len(want) {
		t.Errorf("%d rules, want %d", n, len(want))
	}
	for _, w := range want {
		r := mustGet(t, rec, "aws:ec2/securityGroupRule:SecurityGroupRule", w.name)
		in := r.Inputs
		if str(in, "type") != "ingress" || str(in, "protocol") != w.proto || str(in, "securityGroupId") != w.group ||
			str(in, "sourceSecurityGroupId") != w.source || in["fromPort"].NumberValue() != w.from || in["toPort"].NumberValue() != w.to {
			t.Errorf("rule %s = %v", w.name, in)
		}
	}
}

func TestNodeRoleLacksCNIPolicyUnlessAsked(t *testing.T) {
	for _, attach := range []bool{false, true} {
		rec := recorder.New("eks-irsa", "test")
		o := defaultLayer()
		o.attachCNI = attach
		buildAWSLayer(t, rec, o)
		var policies []string
		role := mustGet(t, rec, "aws:iam/role:Role", "demo-node")
		for _, child := range rec.Children(mustGet(t, rec, NodeRoleType, "demo-node").URN) {
			if child.Type == "aws:iam/rolePolicyAttachment:RolePolicyAttachment" {
				policies = append(policies, str(child.Inputs, "policyArn"))
			}
		}
		has := strings.Contains(strings.Join(policies, ","), "AmazonEKS_CNI_Policy")
		if has != attach {
			t.Errorf("attachCni=%v: node policies %v", attach, policies)
		}
		if !strings.Contains(strings.Join(policies, ","), "AmazonEKSWorkerNodePolicy") ||
			!strings.Contains(strings.Join(policies, ","), "AmazonEC2ContainerRegistryPullOnly") {
			t.Errorf("node policies %v lack the two node policies", policies)
		}
		// The EKS user guide's node role names PullOnly; ReadOnly also lists and describes
		// every repository.
		if strings.Contains(strings.Join(policies, ","), "AmazonEC2ContainerRegistryReadOnly") {
			t.Errorf("node policies %v still grant ECR ReadOnly", policies)
		}
		if !strings.Contains(str(role.Inputs, "assumeRolePolicy"), `"Service": "ec2.amazonaws.com"`) {
			t.Errorf("node role trust = %s", str(role.Inputs, "assumeRolePolicy"))
		}
	}
}

func TestLaunchTemplateHardening(t *testing.T) {
	rec := recorder.New("eks-irsa", "test")
	buildAWSLayer(t, rec, defaultLayer())
	lt := mustGet(t, rec, "aws:ec2/launchTemplate:LaunchTemplate", "demo-workers").Inputs
	md := lt["metadataOptions"].ObjectValue()
	if str(md, "httpTokens") != "required" || md["httpPutResponseHopLimit"].NumberValue() != 1 || str(md, "httpEndpoint") != "enabled" {
		t.Errorf("metadata options = %v, want IMDSv2 required with hop limit 1", md)
	}
	ebs := lt["blockDeviceMappings"].ArrayValue()[0].ObjectValue()["ebs"].ObjectValue()
	if str(ebs, "volumeType") != "gp3" || str(ebs, "encrypted") != "true" || ebs["volumeSize"].NumberValue() != 20 {
		t.Errorf("root volume = %v", ebs)
	}
	if str(lt, "imageId") != rec.Fakes().AMI {
		t.Errorf("image = %s, want the SSM parameter's %s", str(lt, "imageId"), rec.Fakes().AMI)
	}
	var asked []string
	for _, inv := range rec.Invokes() {
		if inv.Token == recorder.GetSSMParameter {
			asked = append(asked, inv.Args["name"].StringValue())
		}
	}
	if len(asked) != 1 || asked[0] != "/aws/service/eks/optimized-ami/1.33/amazon-linux-2023/x86_64/standard/recommended/image_id" {
		t.Errorf("SSM parameters read: %v", asked)
	}

	raw, err := base64.StdEncoding.DecodeString(str(lt, "userData"))
	if err != nil {
		t.Fatalf("user data is not base64: %v", err)
	}
	if !strings.Contains(string(raw), "Content-Type: application/node.eks.aws") {
		t.Fatalf("user data has no NodeConfig part:\n%s", raw)
	}
	doc := string(raw)[strings.Index(string(raw), "---\n"):]
	doc = doc[:strings.Index(doc, "\r\n--")]
	var nc nodeConfig
	if err := yaml.UnmarshalStrict([]byte(doc), &nc); err != nil {
		t.Fatalf("NodeConfig: %v\n%s", err, doc)
	}
	c := nc.Spec.Cluster
	if nc.Kind != "NodeConfig" || c.Name != "demo-eks-oidc-test" || c.APIServerEndpoint != rec.Fakes().Endpoint() ||
		c.CertificateAuthority != rec.Fakes().CAData() || c.CIDR != "172.20.0.0/16" {
		t.Errorf("NodeConfig = %+v", nc)
	}
}

func TestAMIParameterFollowsArchitectureAndAccelerator(t *testing.T) {
	const prefix = "/aws/service/eks/optimized-ami/1.33/amazon-linux-2023/"
	cases := []struct {
		instanceType, want string
	}{
		{"t3.medium", "x86_64/standard"},
		{"m7i.large", "x86_64/standard"},
		{"m7g.large", "arm64/standard"},
		{"c7gn.xlarge", "arm64/standard"},
		{"t4g.small", "arm64/standard"},
		{"x2gd.large", "arm64/standard"},
		{"g4dn.xlarge", "x86_64/nvidia"},
		{"g5.xlarge", "x86_64/nvidia"},
		{"g6e.2xlarge", "x86_64/nvidia"},
		{"gr6.4xlarge", "x86_64/nvidia"},
		{"p4d.24xlarge", "x86_64/nvidia"},
		{"p5.48xlarge", "x86_64/nvidia"},
		{"g5g.xlarge", "arm64/nvidia"},      // Graviton2 with NVIDIA T4G
		{"g4ad.xlarge", "x86_64/standard"},  // AMD Radeon: no NVIDIA driver
		{"inf1.xlarge", "x86_64/neuron"},    // Inferentia
		{"inf2.8xlarge", "x86_64/neuron"},   // Inferentia2
		{"trn1.32xlarge", "x86_64/neuron"},  // Trainium
		{"trn1n.32xlarge", "x86_64/neuron"}, // Trainium, more network
		{"trn2.48xlarge", "x86_64/neuron"},
	}
	for _, tc := range cases {
		got, err := AMIParameter("1.33", tc.instanceType, "")
		if want := prefix + tc.want + "/recommended/image_id"; err != nil || got != want {
			t.Errorf("%s: %s, %v; want %s", tc.instanceType, got, err, want)
		}
	}
}

func TestAMIParameterOfAPinnedRelease(t *testing.T) {
	cases := []struct {
		name, instanceType, release, want, wantErr string
	}{
		{"standard", "t3.medium", "1.33.5-20251120",
			"/aws/service/eks/optimized-ami/1.33/amazon-linux-2023/x86_64/standard/amazon-eks-node-al2023-x86_64-standard-1.33-v20251120/image_id", ""},
		{"graviton", "m7g.large", "1.33.5-20251120",
			"/aws/service/eks/optimized-ami/1.33/amazon-linux-2023/arm64/standard/amazon-eks-node-al2023-arm64-standard-1.33-v20251120/image_id", ""},
		{"nvidia", "g5.xlarge", "1.33.5-20251120",
			"/aws/service/eks/optimized-ami/1.33/amazon-linux-2023/x86_64/nvidia/amazon-eks-node-al2023-x86_64-nvidia-1.33-v20251120/image_id", ""},
		{"neuron", "inf2.xlarge", "1.33.5-20251120",
			"/aws/service/eks/optimized-ami/1.33/amazon-linux-2023/x86_64/neuron/amazon-eks-node-al2023-x86_64-neuron-1.33-v20251120/image_id", ""},
		{"another minor", "t3.medium", "1.32.9-20251120", "", "built for Kubernetes 1.32, not the cluster's 1.33"},
		{"AMI name instead of release", "t3.medium", "amazon-eks-node-al2023-x86_64-standard-1.33-v20251120", "", "want <kubernetes version>-<date>"},
		{"no patch", "t3.medium", "1.33-20251120", "", "want <kubernetes version>-<date>"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := AMIParameter("1.33", tc.instanceType, tc.release)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Errorf("got %s, %v; want %s", got, err, tc.want)
			}
		})
	}
}

// Without a pinned release the image read at create is kept, so a new AMI release does not
// change the launch template; a pinned release is applied, so bumping it rolls the nodes.
func TestLaunchTemplateImageIsPinned(t *testing.T) {
	cases := []struct {
		release, parameter string
		ignored            bool
	}{
		{"", "/aws/service/eks/optimized-ami/1.33/amazon-linux-2023/x86_64/standard/recommended/image_id", true},
		{"1.33.5-20251120", "/aws/service/eks/optimized-ami/1.33/amazon-linux-2023/x86_64/standard/amazon-eks-node-al2023-x86_64-standard-1.33-v20251120/image_id", false},
	}
	for _, tc := range cases {
		t.Run("release "+tc.release, func(t *testing.T) {
			rec := recorder.New("eks-irsa", "test")
			o := defaultLayer()
			o.amiRelease = tc.release
			buildAWSLayer(t, rec, o)
			lt := mustGet(t, rec, "aws:ec2/launchTemplate:LaunchTemplate", "demo-workers")
			if got := slices.Contains(lt.IgnoreChanges, "imageId"); got != tc.ignored {
				t.Errorf("imageId ignored = %v (ignoreChanges %v), want %v", got, lt.IgnoreChanges, tc.ignored)
			}
			var asked []string
			for _, inv := range rec.Invokes() {
				if inv.Token == recorder.GetSSMParameter {
					asked = append(asked, inv.Args["name"].StringValue())
				}
			}
			if len(asked) != 1 || asked[0] != tc.parameter {
				t.Errorf("SSM parameters read: %v, want [%s]", asked, tc.parameter)
			}
			// Any launch-template change rolls the nodes: a new version, an instance refresh.
			asg := mustGet(t, rec, "aws:autoscaling/group:Group", "demo-workers")
			if str(asg.Inputs, "instanceRefresh", "strategy") != "Rolling" {
				t.Errorf("instance refresh = %v, want a Rolling one", asg.Inputs["instanceRefresh"])
			}
			if !rec.DependsOn(asg.URN, lt.URN) || asg.Inputs["launchTemplate"].ObjectValue()["version"].StringValue() != "1" {
				t.Errorf("ASG launch template = %v, want the template's latest version", asg.Inputs["launchTemplate"])
			}
		})
	}
}

func TestWorkersJoinOnlyAfterKubernetesObjectsAndEgress(t *testing.T) {
	rec := recorder.New("eks-irsa", "test")
	buildAWSLayer(t, rec, defaultLayer())
	asg := mustGet(t, rec, "aws:autoscaling/group:Group", "demo-workers")
	child := mustGet(t, rec, "test:k8s:Object", "kube-object")
	if !rec.DependsOn(asg.URN, child.URN) {
		t.Error("the ASG does not wait for the Kubernetes objects")
	}
	for _, route := range rec.ByType("aws:ec2/route:Route") {
		if strings.Contains(route.Name, "private") && !rec.DependsOn(asg.URN, route.URN) {
			t.Errorf("the ASG does not wait for %s", route.Name)
		}
	}
	profile := mustGet(t, rec, "aws:iam/rolePolicyAttachment:RolePolicyAttachment", "demo-node-AmazonEKSWorkerNodePolicy")
	if !rec.DependsOn(asg.URN, profile.URN) {
		t.Error("nodes may boot before the node role has its policies")
	}
	tags := map[string]string{}
	for _, tag := range asg.Inputs["tags"].ArrayValue() {
		o := tag.ObjectValue()
		if !o["propagateAtLaunch"].BoolValue() {
			t.Errorf("tag %s is not propagated", o["key"].StringValue())
		}
		tags[o["key"].StringValue()] = o["value"].StringValue()
	}
	if tags["kubernetes.io/cluster/demo-eks-oidc-test"] != "owned" || tags["Environment"] != "test" {
		t.Errorf("ASG tags = %v", tags)
	}
	if len(strs(asg.Inputs["vpcZoneIdentifiers"])) != 3 {
		t.Errorf("ASG subnets = %v, want the 3 private", asg.Inputs["vpcZoneIdentifiers"])
	}
	if asg.Inputs["desiredCapacity"].NumberValue() != 4 || asg.Inputs["minSize"].NumberValue() != 1 || asg.Inputs["maxSize"].NumberValue() != 6 {
		t.Errorf("ASG sizes = %v", asg.Inputs)
	}
	// Desired capacity is set at create, then cluster-autoscaler's: an update must not reset it.
	if !slices.Equal(asg.IgnoreChanges, []string{"desiredCapacity"}) {
		t.Errorf("ASG ignoreChanges = %v, want [desiredCapacity]", asg.IgnoreChanges)
	}
	// The cluster does not wait for the capacity or the Kubernetes objects.
	cluster := mustGet(t, rec, "aws:eks/cluster:Cluster", "demo")
	if rec.DependsOn(cluster.URN, asg.URN) || rec.DependsOn(cluster.URN, child.URN) {
		t.Error("the cluster waits for workers or Kubernetes objects")
	}
}

func TestSubnetTagsAndFlowLog(t *testing.T) {
	rec := recorder.New("eks-irsa", "test")
	buildAWSLayer(t, rec, defaultLayer())
	subnets := rec.ByType("aws:ec2/subnet:Subnet")
	if len(subnets) != 6 {
		t.Fatalf("%d subnets, want 6", len(subnets))
	}
	for _, s := range subnets {
		tags := s.Inputs["tags"].ObjectValue()
		role, want := "kubernetes.io/role/internal-elb", false
		if strings.Contains(s.Name, "public") {
			role, want = "kubernetes.io/role/elb", true
		}
		if tags[resource.PropertyKey(role)].StringValue() != "1" || tags["kubernetes.io/cluster/demo-eks-oidc-test"].StringValue() != "shared" {
			t.Errorf("subnet %s tags = %v", s.Name, tags)
		}
		if s.Inputs["mapPublicIpOnLaunch"].IsBool() && s.Inputs["mapPublicIpOnLaunch"].BoolValue() != want {
			t.Errorf("subnet %s mapPublicIpOnLaunch = %v", s.Name, s.Inputs["mapPublicIpOnLaunch"])
		}
	}
	fl := mustGet(t, rec, "aws:ec2/flowLog:FlowLog", "demo-flow-log").Inputs
	group := mustGet(t, rec, "aws:cloudwatch/logGroup:LogGroup", "demo-flow-logs")
	groupARN := group.Outputs["arn"].StringValue()
	if str(fl, "trafficType") != "ALL" || str(fl, "logDestinationType") != "cloud-watch-logs" || str(fl, "logDestination") != groupARN {
		t.Errorf("flow log = %v", fl)
	}
	if group.Inputs["retentionInDays"].NumberValue() != 30 {
		t.Errorf("flow-log retention = %v", group.Inputs["retentionInDays"])
	}
	policy := mustGet(t, rec, "aws:iam/rolePolicy:RolePolicy", "demo-flow-logs")
	var doc struct{ Statement []struct{ Resource []string } }
	if err := json.Unmarshal([]byte(str(policy.Inputs, "policy")), &doc); err != nil {
		t.Fatal(err)
	}
	if len(doc.Statement) != 1 || strings.Join(doc.Statement[0].Resource, ",") != groupARN+","+groupARN+":*" {
		t.Errorf("flow-log policy reaches %v, want only %s", doc.Statement, groupARN)
	}
	if n := len(rec.ByType("aws:ec2/natGateway:NatGateway")); n != 1 {
		t.Errorf("%d NAT gateways with a single NAT", n)
	}
	endpoints := map[string]string{}
	for _, e := range rec.ByType("aws:ec2/vpcEndpoint:VpcEndpoint") {
		endpoints[str(e.Inputs, "serviceName")] = str(e.Inputs, "vpcEndpointType")
	}
	want := map[string]string{"com.amazonaws.us-west-2.ecr.api": "Interface", "com.amazonaws.us-west-2.ecr.dkr": "Interface", "com.amazonaws.us-west-2.s3": "Gateway"}
	for k, v := range want {
		if endpoints[k] != v {
			t.Errorf("endpoints = %v, want %v", endpoints, want)
		}
	}
}

func TestNATPerAZAndNoFlowLogs(t *testing.T) {
	rec := recorder.New("eks-irsa", "test")
	o := defaultLayer()
	o.nat, o.flowLogs, o.endpoints = NATPerAZ, false, false
	buildAWSLayer(t, rec, o)
	counts := rec.CountByType()
	if counts["aws:ec2/natGateway:NatGateway"] != 3 || counts["aws:ec2/eip:Eip"] != 3 {
		t.Errorf("per-AZ NAT: %v", counts)
	}
	if counts["aws:ec2/flowLog:FlowLog"] != 0 || counts["aws:ec2/vpcEndpoint:VpcEndpoint"] != 0 {
		t.Errorf("flow logs/endpoints off but registered: %v", counts)
	}
	// Each private route goes to the NAT gateway of its own AZ.
	for _, az := range []string{"us-west-2a", "us-west-2b", "us-west-2c"} {
		route := mustGet(t, rec, "aws:ec2/route:Route", "demo-private-"+az+"-default")
		nat := mustGet(t, rec, "aws:ec2/natGateway:NatGateway", "demo-nat-"+az)
		if !rec.DependsOn(route.URN, nat.URN) {
			t.Errorf("private route in %s does not use its own NAT gateway", az)
		}
	}
}

func TestKubeconfigIsValidAndUsesGetToken(t *testing.T) {
	rec := recorder.New("eks-irsa", "test")
	l := buildAWSLayer(t, rec, defaultLayer())
	cfg, err := clientcmd.Load([]byte(l.clusterKubeconfig))
	if err != nil {
		t.Fatalf("clientcmd.Load: %v\n%s", err, l.clusterKubeconfig)
	}
	if err := clientcmd.Validate(*cfg); err != nil {
		t.Fatalf("clientcmd.Validate: %v", err)
	}
	ctx := cfg.Contexts[cfg.CurrentContext]
	cluster, user := cfg.Clusters[ctx.Cluster], cfg.AuthInfos[ctx.AuthInfo]
	if cluster.Server != rec.Fakes().Endpoint() {
		t.Errorf("server = %s", cluster.Server)
	}
	ca, _ := base64.StdEncoding.DecodeString(rec.Fakes().CAData())
	if string(cluster.CertificateAuthorityData) != string(ca) {
		t.Error("CA data differs from the cluster's")
	}
	exec := user.Exec
	want := "eks get-token --cluster-name demo-eks-oidc-test --region us-west-2 --output json"
	if exec == nil || exec.APIVersion != "client.authentication.k8s.io/v1beta1" || exec.Command != "aws" || strings.Join(exec.Args, " ") != want {
		t.Errorf("exec = %+v, want aws %s with v1beta1", exec, want)
	}
	if user.Token != "" || len(user.ClientKeyData) > 0 {
		t.Error("kubeconfig carries a credential")
	}
}

func TestArgsAreValidatedBeforeRegistering(t *testing.T) {
	rec := recorder.New("eks-irsa", "test")
	err := rec.Run(nil, func(ctx *pulumi.Context) error {
		_, err := NewNetwork(ctx, "bad", &NetworkArgs{AvailabilityZones: []string{"a"}, PublicSubnets: nil, NAT: "two"})
		return err
	})
	if err == nil || !strings.Contains(err.Error(), "want one of each per zone") || !strings.Contains(err.Error(), `NAT mode "two"`) {
		t.Errorf("err = %v", err)
	}
	if n := len(rec.Registrations()); n != 0 {
		t.Errorf("%d resources registered before validation failed", n)
	}
}

// The flow-log role may be assumed by the service only for this account's flow logs
// (confused deputy, the VPC user guide's flow-log IAM role page).
func TestFlowLogRoleTrustNamesTheSourceAccount(t *testing.T) {
	rec := recorder.New("eks-irsa", "test")
	buildAWSLayer(t, rec, defaultLayer())
	role := mustGet(t, rec, "aws:iam/role:Role", "demo-flow-logs")
	doc := trustPolicy(t, role)
	account := rec.Fakes().AccountID
	want := map[string]map[string]string{
		"StringEquals": {"aws:SourceAccount": account},
		"ArnLike":      {"aws:SourceArn": "arn:aws:ec2:us-west-2:" + account + ":vpc-flow-log/*"},
	}
	if len(doc.Statement) != 1 {
		t.Fatalf("statements = %+v, want one", doc.Statement)
	}
	st := doc.Statement[0]
	if st.Effect != "Allow" || !slices.Equal(st.Action, []string{"sts:AssumeRole"}) || st.Principal["Service"] != "vpc-flow-logs.amazonaws.com" {
		t.Errorf("statement = %+v, want Allow sts:AssumeRole by vpc-flow-logs.amazonaws.com", st)
	}
	if len(st.Condition) != len(want) {
		t.Errorf("conditions = %v, want %v", st.Condition, want)
	}
	for test, vars := range want {
		for k, v := range vars {
			if st.Condition[test][k] != v {
				t.Errorf("condition %s %s = %q, want %q", test, k, st.Condition[test][k], v)
			}
		}
	}
}

// trustPolicy decodes a role's assumeRolePolicy into the program's own document type.
func trustPolicy(t *testing.T, role recorder.Registration) PolicyDocument {
	t.Helper()
	var doc PolicyDocument
	if err := json.Unmarshal([]byte(str(role.Inputs, "assumeRolePolicy")), &doc); err != nil {
		t.Fatalf("trust policy of %s is not a policy document: %v\n%s", role.Name, err, str(role.Inputs, "assumeRolePolicy"))
	}
	return doc
}

// The Kubernetes providers' clusterIdentifier is the cluster's ARN, built without the cluster:
// the same string as the cluster's arn output (so existing stacks see no change), and known
// before the cluster exists (so a delete-first replacement of the cluster does not make the
// providers one too: k8s.ProviderArgs).
func TestClusterIdentifierIsItsARNWithoutWaitingForIt(t *testing.T) {
	rec := recorder.New("eks-irsa", "test")
	err := rec.Run(map[string]string{"aws:region": "us-west-2"}, func(ctx *pulumi.Context) error {
		c, err := NewCluster(ctx, "demo", &ClusterArgs{
			Partition: testPartition, Region: "us-west-2", Name: "demo-eks-oidc-test",
			RoleName: "demo-eks-oidc-test-cluster", Version: "1.33",
			VpcID: pulumi.String("vpc-1"), SubnetIDs: pulumi.ToStringArray([]string{"subnet-1", "subnet-2"}),
			PublicAccessCIDRs: []string{"0.0.0.0/0"}, LogRetentionDays: 30,
		})
		if err != nil {
			return err
		}
		var user pulumi.CustomResourceState
		return ctx.RegisterResource("test:k8s:Provider", "user", pulumi.Map{"identifier": c.Identifier, "arn": c.Arn}, &user)
	})
	if err != nil {
		t.Fatal(err)
	}
	cluster := mustGet(t, rec, "aws:eks/cluster:Cluster", "demo")
	user := mustGet(t, rec, "test:k8s:Provider", "user")
	if got, want := str(user.Inputs, "identifier"), str(cluster.Outputs, "arn"); got == "" || got != want {
		t.Errorf("identifier %q, want the cluster's arn %q", got, want)
	}
	if deps := user.PropertyDependencies["identifier"]; slices.Contains(deps, cluster.URN) {
		t.Errorf("identifier depends on the cluster %v: unknown while it is replaced", deps)
	}
	if deps := user.PropertyDependencies["arn"]; !slices.Contains(deps, cluster.URN) {
		t.Errorf("the check is blind: arn's dependencies %v miss the cluster", deps)
	}
}
