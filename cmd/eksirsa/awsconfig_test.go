package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/pulumi/pulumi/sdk/v3/go/auto"
	"github.com/pulumi/pulumi/sdk/v3/go/common/apitype"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/common/tokens"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/eks-irsa/eks-irsa/integration/moto"
	"github.com/eks-irsa/eks-irsa/irsa"
	"github.com/eks-irsa/eks-irsa/k8s"
	"github.com/eks-irsa/eks-irsa/stack"
)

// The stack's account when the provider assumes a role: credentials in moto's default
// account (123456789012), the stack in this one.
const (
	stackAccount  = "222222222222"
	deployerRole  = "arn:aws:iam::" + stackAccount + ":role/deployer"
	assumeSession = "eksirsa-test"
	assumedStack  = "assumed"
)

// writeAssumedStack writes the repository's Pulumi.yaml and a stack whose AWS provider
// assumes deployerRole, as a multi-account setup's stack file does.
func writeAssumedStack(t *testing.T, region string) string {
	t.Helper()
	dir := t.TempDir()
	project, err := os.ReadFile(filepath.Join(projectDir, "Pulumi.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	stackFile := "config:\n  aws:region: " + region + "\n  aws:assumeRole:\n    roleArn: " + deployerRole +
		"\n    sessionName: " + assumeSession + "\n    duration: 1h\n"
	for name, data := range map[string]string{"Pulumi.yaml": string(project), "Pulumi." + assumedStack + ".yaml": stackFile} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// stackAccountConfig signs as the stack's account: moto keeps accounts apart by the
// credentials its AssumeRole returns (integration/moto TestAssumedCredentialsAreAnotherAccount).
func stackAccountConfig(t *testing.T, m *moto.Server) aws.Config {
	t.Helper()
	out, err := sts.NewFromConfig(m.Config("")).AssumeRole(t.Context(), &sts.AssumeRoleInput{
		RoleArn: aws.String(deployerRole), RoleSessionName: aws.String("seed"),
	})
	if err != nil {
		t.Fatal(err)
	}
	cfg := m.Config("")
	c := out.Credentials
	cfg.Credentials = credentials.NewStaticCredentialsProvider(aws.ToString(c.AccessKeyId), aws.ToString(c.SecretAccessKey), aws.ToString(c.SessionToken))
	return cfg
}

// Every AWS call eksirsa makes of its own reaches the account the stack's aws:assumeRole
// names, as the principal the provider deploys as: drift reads the role there, verify
// --identities signs there, recovery finds the NAT gateway there, and destroy's log-group
// check deletes the group there. With the credentials' own account (aws:profile only) each
// would see nothing: the role gone, no NAT gateway (so a second one), the log group missed.
func TestOwnAWSCallsReachTheAssumedRolesAccount(t *testing.T) {
	m := startMotoAsEnv(t)
	ctx := t.Context()
	dir := writeAssumedStack(t, m.Region)
	second := stackAccountConfig(t, m)

	// The stack's resources, in the stack's account only.
	const roleName = "demo-eks-oidc-test-aws-node"
	issuer := "https://oidc.eks." + m.Region + ".amazonaws.com/id/EXAMPLE"
	providerARN := "arn:aws:iam::" + stackAccount + ":oidc-provider/" + strings.TrimPrefix(issuer, "https://")
	host := strings.TrimPrefix(issuer, "https://")
	trust := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Federated":"` + providerARN + `"},"Action":"sts:AssumeRoleWithWebIdentity",` +
		`"Condition":{"StringEquals":{"` + host + `:sub":"` + irsa.Subject(k8s.KubeSystemNamespace, k8s.AWSNodeName) + `","` + host + `:aud":"` + irsa.Audience + `"}}}]}`
	role, err := iam.NewFromConfig(second).CreateRole(ctx, &iam.CreateRoleInput{RoleName: aws.String(roleName), AssumeRolePolicyDocument: aws.String(trust)})
	if err != nil {
		t.Fatal(err)
	}
	roleARN := aws.ToString(role.Role.Arn)
	if !strings.Contains(roleARN, stackAccount) {
		t.Fatalf("seeded role %s is not in account %s", roleARN, stackAccount)
	}
	ec2c := ec2.NewFromConfig(second)
	vpc, err := ec2c.CreateVpc(ctx, &ec2.CreateVpcInput{CidrBlock: aws.String("10.0.0.0/16")})
	if err != nil {
		t.Fatal(err)
	}
	subnet, err := ec2c.CreateSubnet(ctx, &ec2.CreateSubnetInput{VpcId: vpc.Vpc.VpcId, CidrBlock: aws.String("10.0.1.0/24")})
	if err != nil {
		t.Fatal(err)
	}
	eip, err := ec2c.AllocateAddress(ctx, &ec2.AllocateAddressInput{})
	if err != nil {
		t.Fatal(err)
	}
	natTags := map[string]any{"Name": "demo-eks-oidc-test-nat-us-west-2a", "Environment": "test"}
	nat, err := ec2c.CreateNatGateway(ctx, &ec2.CreateNatGatewayInput{SubnetId: subnet.Subnet.SubnetId, AllocationId: eip.AllocationId,
		TagSpecifications: []ec2types.TagSpecification{{ResourceType: ec2types.ResourceTypeNatgateway, Tags: []ec2types.Tag{
			{Key: aws.String("Name"), Value: aws.String(natTags["Name"].(string))}, {Key: aws.String("Environment"), Value: aws.String("test")},
		}}}})
	if err != nil {
		t.Fatal(err)
	}
	logs := cloudwatchlogs.NewFromConfig(second)
	if _, err := logs.CreateLogGroup(ctx, &cloudwatchlogs.CreateLogGroupInput{LogGroupName: aws.String(testLogGroup)}); err != nil {
		t.Fatal(err)
	}

	outs := testStackOutputs()
	outs[stack.OutRegion] = auto.OutputValue{Value: m.Region}
	outs[stack.OutClusterLogGroup] = auto.OutputValue{Value: testLogGroup}
	outs[stack.OutOIDCIssuer] = auto.OutputValue{Value: issuer}
	outs[stack.OutOIDCProviderARN] = auto.OutputValue{Value: providerARN}
	outs[stack.OutAWSNodeRoleARN] = auto.OutputValue{Value: roleARN}
	outs[stack.OutServiceAccountRoles] = auto.OutputValue{Value: map[string]any{"kube-system/aws-node": roleARN}}
	outs[stack.OutServiceAccounts] = auto.OutputValue{Value: map[string]any{
		"kube-system/aws-node": map[string]any{k8s.AccountRoleARNKey: roleARN, k8s.AccountModeKey: string(k8s.AnnotateServiceAccount)},
	}}
	outs[stack.OutIRSARoles] = auto.OutputValue{Value: map[string]any{
		"kube-system/aws-node": map[string]any{stack.IRSARoleARNKey: roleARN, stack.IRSATrustPolicyKey: trust},
	}}
	outs[stack.OutAWSAuth] = auto.OutputValue{Value: map[string]any{k8s.MapRolesKey: ""}}
	cluster := fake.NewClientset(&corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{
		Namespace: k8s.KubeSystemNamespace, Name: k8s.AWSNodeName, Annotations: map[string]string{irsa.RoleARNAnnotation: roleARN},
	}})
	opts := &options{
		stack: assumedStack, dir: dir,
		open:       func(context.Context, *options) (stackAPI, error) { return &fakeStack{outputs: outs}, nil },
		kubeClient: func([]byte) (kubernetes.Interface, error) { return cluster, nil },
		logGroups:  cloudWatchLogs,
	}

	t.Run("drift reads the role in the stack's account", func(t *testing.T) {
		var out, errOut bytes.Buffer
		root := newRootCommandWith(&out, &errOut, opts)
		code := runWith(ctx, root, []string{"drift", "-s", assumedStack, "-C", dir}, &errOut)
		subject := "kube-system/aws-node (role " + roleName + ")"
		for _, want := range []string{
			"OK    trust-policy " + subject + ": admits only " + irsa.Subject(k8s.KubeSystemNamespace, k8s.AWSNodeName),
			"OK    managed-policies " + subject,
		} {
			if !strings.Contains(out.String(), want) {
				t.Errorf("drift (exit %d) does not say %q:\n%s%s", code, want, out.String(), errOut.String())
			}
		}
		if strings.Contains(out.String(), "the role is gone from IAM") {
			t.Errorf("drift looked in another account:\n%s", out.String())
		}
	})

	t.Run("verify --identities signs in the stack's account", func(t *testing.T) {
		checker, _, err := identityChecker(ctx, opts, outs, cluster)
		if err != nil {
			t.Fatal(err)
		}
		id, err := sts.NewFromConfig(checker.AWS).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
		if err != nil {
			t.Fatal(err)
		}
		if want := "arn:aws:sts::" + stackAccount + ":assumed-role/deployer/" + assumeSession; aws.ToString(id.Arn) != want {
			t.Errorf("verify --identities signs as %s, want %s", aws.ToString(id.Arn), want)
		}
		if _, err := iam.NewFromConfig(checker.AWS).GetRole(ctx, &iam.GetRoleInput{RoleName: aws.String(roleName)}); err != nil {
			t.Errorf("verify --identities cannot read the role's trust policy: %v", err)
		}
	})

	t.Run("recovery finds the NAT gateway in the stack's account", func(t *testing.T) {
		op := apitype.OperationV2{Type: apitype.OperationTypeCreating, Resource: apitype.ResourceV3{
			Type:   tokens.Type("aws:ec2/natGateway:NatGateway"),
			URN:    resource.URN("urn:pulumi:" + assumedStack + "::eks-irsa::aws:ec2/natGateway:NatGateway::demo-eks-oidc-test-nat-us-west-2a"),
			Inputs: map[string]any{"subnetId": aws.ToString(subnet.Subnet.SubnetId), "tags": natTags},
		}}
		ids, err := findInStackAccount(opts)(ctx, op)
		if err != nil {
			t.Fatal(err)
		}
		if want := aws.ToString(nat.NatGateway.NatGatewayId); len(ids) != 1 || ids[0] != want {
			t.Errorf("recovery found %q, want [%s]", ids, want)
		}
	})

	t.Run("destroy deletes the re-created log group in the stack's account", func(t *testing.T) {
		var out, errOut strings.Builder
		if err := removeRecreatedLogGroup(ctx, &out, &errOut, opts, outs); err != nil {
			t.Fatal(err)
		}
		if want := "EKS re-created the control-plane log group " + testLogGroup + " while the cluster shut down; deleted it.\n"; out.String() != want {
			t.Errorf("stdout %q, want %q (stderr %q)", out.String(), want, errOut.String())
		}
		left, err := logs.DescribeLogGroups(ctx, &cloudwatchlogs.DescribeLogGroupsInput{})
		if err != nil {
			t.Fatal(err)
		}
		if len(left.LogGroups) != 0 {
			t.Errorf("log groups left in account %s: %d", stackAccount, len(left.LogGroups))
		}
	})
}
