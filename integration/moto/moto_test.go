package moto_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"

	"github.com/eks-irsa/eks-irsa/infra"
	"github.com/eks-irsa/eks-irsa/integration/moto"
)

const trust = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"}]}`

// A fresh server has nothing of the stack's kinds; what the SDK creates is listed by kind and
// id; after it is deleted the audit is empty again.
func TestLeftovers(t *testing.T) {
	s := moto.Start(t)
	ctx := context.Background()
	assertLeftovers(t, s, nil)

	cfg := s.Config("")
	ec2c := ec2.NewFromConfig(cfg)
	iamc := iam.NewFromConfig(cfg)
	logs := cloudwatchlogs.NewFromConfig(cfg)

	vpc, err := ec2c.CreateVpc(ctx, &ec2.CreateVpcInput{CidrBlock: aws.String("10.0.0.0/16")})
	if err != nil {
		t.Fatal(err)
	}
	vpcID := aws.ToString(vpc.Vpc.VpcId)
	subnet, err := ec2c.CreateSubnet(ctx, &ec2.CreateSubnetInput{VpcId: vpc.Vpc.VpcId, CidrBlock: aws.String("10.0.1.0/24")})
	if err != nil {
		t.Fatal(err)
	}
	sg, err := ec2c.CreateSecurityGroup(ctx, &ec2.CreateSecurityGroupInput{VpcId: vpc.Vpc.VpcId, GroupName: aws.String("nodes"), Description: aws.String("nodes")})
	if err != nil {
		t.Fatal(err)
	}
	rt, err := ec2c.CreateRouteTable(ctx, &ec2.CreateRouteTableInput{VpcId: vpc.Vpc.VpcId})
	if err != nil {
		t.Fatal(err)
	}
	igw, err := ec2c.CreateInternetGateway(ctx, &ec2.CreateInternetGatewayInput{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := iamc.CreateRole(ctx, &iam.CreateRoleInput{RoleName: aws.String("node"), AssumeRolePolicyDocument: aws.String(trust)}); err != nil {
		t.Fatal(err)
	}
	if _, err := logs.CreateLogGroup(ctx, &cloudwatchlogs.CreateLogGroupInput{LogGroupName: aws.String("/aws/eks/demo/cluster")}); err != nil {
		t.Fatal(err)
	}
	if _, err := iamc.CreateInstanceProfile(ctx, &iam.CreateInstanceProfileInput{InstanceProfileName: aws.String("node")}); err != nil {
		t.Fatal(err)
	}
	oidc, err := iamc.CreateOpenIDConnectProvider(ctx, &iam.CreateOpenIDConnectProviderInput{
		Url: aws.String("https://oidc.eks.us-west-2.amazonaws.com/id/ABC"), ClientIDList: []string{"sts.amazonaws.com"},
		ThumbprintList: []string{"9e99a48a9960b14926bb7f3b02e22da2b0ab7280"},
	})
	if err != nil {
		t.Fatal(err)
	}
	lt, err := ec2c.CreateLaunchTemplate(ctx, &ec2.CreateLaunchTemplateInput{LaunchTemplateName: aws.String("workers"),
		LaunchTemplateData: &ec2types.RequestLaunchTemplateData{InstanceType: ec2types.InstanceTypeT3Medium}})
	if err != nil {
		t.Fatal(err)
	}
	eip, err := ec2c.AllocateAddress(ctx, &ec2.AllocateAddressInput{Domain: ec2types.DomainTypeVpc})
	if err != nil {
		t.Fatal(err)
	}

	assertLeftovers(t, s, []string{
		"eip " + aws.ToString(eip.AllocationId),
		"iam-instance-profile node",
		"iam-oidc-provider " + aws.ToString(oidc.OpenIDConnectProviderArn),
		"iam-role node",
		"internet-gateway " + aws.ToString(igw.InternetGateway.InternetGatewayId),
		"launch-template " + aws.ToString(lt.LaunchTemplate.LaunchTemplateId),
		"log-group /aws/eks/demo/cluster",
		"route-table " + aws.ToString(rt.RouteTable.RouteTableId),
		"security-group " + aws.ToString(sg.GroupId),
		"subnet " + aws.ToString(subnet.Subnet.SubnetId),
		"vpc " + vpcID,
	})

	for _, del := range []func() error{
		func() error {
			_, err := ec2c.ReleaseAddress(ctx, &ec2.ReleaseAddressInput{AllocationId: eip.AllocationId})
			return err
		},
		func() error {
			_, err := ec2c.DeleteLaunchTemplate(ctx, &ec2.DeleteLaunchTemplateInput{LaunchTemplateId: lt.LaunchTemplate.LaunchTemplateId})
			return err
		},
		func() error {
			_, err := iamc.DeleteOpenIDConnectProvider(ctx, &iam.DeleteOpenIDConnectProviderInput{OpenIDConnectProviderArn: oidc.OpenIDConnectProviderArn})
			return err
		},
		func() error {
			_, err := iamc.DeleteInstanceProfile(ctx, &iam.DeleteInstanceProfileInput{InstanceProfileName: aws.String("node")})
			return err
		},
		func() error {
			_, err := ec2c.DeleteInternetGateway(ctx, &ec2.DeleteInternetGatewayInput{InternetGatewayId: igw.InternetGateway.InternetGatewayId})
			return err
		},
		func() error {
			_, err := ec2c.DeleteRouteTable(ctx, &ec2.DeleteRouteTableInput{RouteTableId: rt.RouteTable.RouteTableId})
			return err
		},
		func() error {
			_, err := ec2c.DeleteSecurityGroup(ctx, &ec2.DeleteSecurityGroupInput{GroupId: sg.GroupId})
			return err
		},
		func() error {
			_, err := ec2c.DeleteSubnet(ctx, &ec2.DeleteSubnetInput{SubnetId: subnet.Subnet.SubnetId})
			return err
		},
		func() error {
			_, err := ec2c.DeleteVpc(ctx, &ec2.DeleteVpcInput{VpcId: vpc.Vpc.VpcId})
			return err
		},
		func() error {
			_, err := iamc.DeleteRole(ctx, &iam.DeleteRoleInput{RoleName: aws.String("node")})
			return err
		},
		func() error {
			_, err := logs.DeleteLogGroup(ctx, &cloudwatchlogs.DeleteLogGroupInput{LogGroupName: aws.String("/aws/eks/demo/cluster")})
			return err
		},
	} {
		if err := del(); err != nil {
			t.Fatal(err)
		}
	}
	assertLeftovers(t, s, nil)
}

func assertLeftovers(t *testing.T, s *moto.Server, want []string) {
	t.Helper()
	got, err := s.Leftovers(context.Background())
	if err != nil {
		t.Fatalf("Leftovers: %v", err)
	}
	if !slices.Equal(got, want) {
		t.Fatalf("Leftovers:\n got  %q\n want %q", got, want)
	}
}

// The seeded parameters are the names the program reads, served through the SSM API, and
// name an image moto's EC2 has, of the parameter's architecture.
func TestSeedEKSAMIParameters(t *testing.T) {
	s := moto.Start(t)
	ctx := context.Background()
	seeded, err := s.SeedEKSAMIParameters(ctx, "", "1.33", "1.34")
	if err != nil {
		t.Fatal(err)
	}
	ec2c := ec2.NewFromConfig(s.Config(""))
	for _, tc := range []struct{ version, instanceType, arch string }{
		{"1.33", "t3.medium", "x86_64"},
		{"1.33", "m7g.large", "arm64"},
		{"1.34", "t3.medium", "x86_64"},
	} {
		name, err := infra.AMIParameter(tc.version, tc.instanceType, "")
		if err != nil {
			t.Fatal(err)
		}
		ami, ok := seeded[name]
		if !ok {
			t.Errorf("%s not seeded; seeded %v", name, seeded)
			continue
		}
		out, err := ec2c.DescribeImages(ctx, &ec2.DescribeImagesInput{ImageIds: []string{ami}})
		if err != nil || len(out.Images) != 1 {
			t.Errorf("%s = %s: DescribeImages: %v %v", name, ami, out, err)
			continue
		}
		if got := string(out.Images[0].Architecture); got != tc.arch {
			t.Errorf("%s = %s: architecture %s, want %s", name, ami, got, tc.arch)
		}
	}
	// Parameters are per region, as in AWS: another region has none until seeded there.
	name, err := infra.AMIParameter("1.33", "t3.medium", "")
	if err != nil {
		t.Fatal(err)
	}
	_, err = ssm.NewFromConfig(s.Config("eu-west-1")).GetParameter(ctx, &ssm.GetParameterInput{Name: aws.String(name)})
	var notFound *ssmtypes.ParameterNotFound
	if !errors.As(err, &notFound) {
		t.Fatalf("GetParameter %s in eu-west-1 before seeding it there: %v, want ParameterNotFound", name, err)
	}
}

// Environ points the aws CLI at the server even when the caller's environment names a
// profile and carries a session token of its own.
func TestEnvironDrivesTheCLI(t *testing.T) {
	s := moto.Start(t)
	if _, err := exec.LookPath("aws"); err != nil {
		t.Skip("aws CLI not on PATH")
	}
	cmd := exec.Command("aws", "sts", "get-caller-identity", "--query", "Arn", "--output", "text")
	cmd.Env = s.Environ([]string{
		"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir(),
		"AWS_PROFILE=real-account", "AWS_SESSION_TOKEN=real-token", "AWS_ENDPOINT_URL=https://sts.amazonaws.com",
	})
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("aws sts get-caller-identity: %v\n%s", err, out)
	}
	if got := strings.TrimSpace(string(out)); !strings.HasPrefix(got, "arn:aws:sts::") {
		t.Fatalf("caller ARN = %q", got)
	}
}

// moto keeps accounts apart by the credentials its STS AssumeRole hands out: the keys it
// returns for a role in account 222222222222 act in that account (whether or not the role
// exists there), and what they create is not in the caller's account, nor the caller's in
// theirs. eksirsa's tests of aws:assumeRole (a stack in a second account) stand on this; it
// was first seen with the aws CLI, and is checked here with the CLI.
func TestAssumedCredentialsAreAnotherAccount(t *testing.T) {
	s := moto.Start(t)
	if _, err := exec.LookPath("aws"); err != nil {
		t.Fatalf("aws CLI not on PATH: %v", err)
	}
	base := s.Environ([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir()})
	awsCLI := func(env []string, args ...string) string {
		t.Helper()
		cmd := exec.Command("aws", append(args, "--output", "text")...)
		cmd.Env = env
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("aws %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return strings.TrimSpace(string(out))
	}
	if got := awsCLI(base, "sts", "get-caller-identity", "--query", "Account"); got != "123456789012" {
		t.Fatalf("moto's default account = %s", got)
	}
	awsCLI(base, "iam", "create-role", "--role-name", "caller-only", "--assume-role-policy-document", trust)
	creds := strings.Fields(awsCLI(base, "sts", "assume-role", "--role-arn", "arn:aws:iam::222222222222:role/deployer",
		"--role-session-name", "s1", "--query", "Credentials.[AccessKeyId,SecretAccessKey,SessionToken]"))
	if len(creds) != 3 {
		t.Fatalf("assume-role returned %q", creds)
	}
	var assumed []string
	for _, kv := range base {
		if !strings.HasPrefix(kv, "AWS_ACCESS_KEY_ID=") && !strings.HasPrefix(kv, "AWS_SECRET_ACCESS_KEY=") {
			assumed = append(assumed, kv)
		}
	}
	assumed = append(assumed, "AWS_ACCESS_KEY_ID="+creds[0], "AWS_SECRET_ACCESS_KEY="+creds[1], "AWS_SESSION_TOKEN="+creds[2])
	if got := awsCLI(assumed, "sts", "get-caller-identity", "--query", "Arn"); got != "arn:aws:sts::222222222222:assumed-role/deployer/s1" {
		t.Errorf("assumed credentials act as %s", got)
	}
	if got := awsCLI(assumed, "iam", "list-roles", "--query", "Roles[].RoleName"); got != "" {
		t.Errorf("the second account sees the caller's roles: %q", got)
	}
	if got := awsCLI(assumed, "iam", "create-role", "--role-name", "second-only", "--assume-role-policy-document", trust, "--query", "Role.Arn"); got != "arn:aws:iam::222222222222:role/second-only" {
		t.Errorf("role created with assumed credentials: %s", got)
	}
	if got := awsCLI(base, "iam", "list-roles", "--query", "Roles[].RoleName"); got != "caller-only" {
		t.Errorf("the caller's account holds %q, want only caller-only", got)
	}
}

// The token `aws eks get-token --role-arn` makes with moto as its STS is answered, when sent
// to that STS with the cluster header as EKS's authenticator sends it (aws-iam-authenticator
// v0.7.2 pkg/token Verify: GET, x-k8s-aws-id, accept: application/json), with the identity
// of the role's session that signed it, in the role's account: the stand-in authenticator of
// a stack reached through aws:assumeRole (testcluster.AWSIAMAuth.STSEndpoint) stands on this.
func TestPresignedCallerIdentityIsTheSigners(t *testing.T) {
	s := moto.Start(t)
	if _, err := exec.LookPath("aws"); err != nil {
		t.Fatalf("aws CLI not on PATH: %v", err)
	}
	env := append(s.Environ([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir()}), "AWS_ENDPOINT_URL_STS="+s.URL)
	cmd := exec.Command("aws", "eks", "get-token", "--cluster-name", "demo", "--role-arn", "arn:aws:iam::222222222222:role/deployer", "--output", "json")
	cmd.Env = env
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("aws eks get-token: %v\n%s", err, out)
	}
	var cred struct {
		Status struct {
			Token string `json:"token"`
		} `json:"status"`
	}
	if err := json.Unmarshal(out, &cred); err != nil {
		t.Fatal(err)
	}
	presigned, err := base64.RawURLEncoding.DecodeString(strings.TrimPrefix(cred.Status.Token, "k8s-aws-v1."))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(string(presigned), s.URL+"/?") {
		t.Fatalf("presigned for %s, want this STS %s", presigned, s.URL)
	}
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, string(presigned), nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("x-k8s-aws-id", "demo")
	req.Header.Set("accept", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	t.Logf("STS answered %d: %s", resp.StatusCode, body)
	if want := "arn:aws:sts::222222222222:assumed-role/deployer/EKSGetTokenAuth"; resp.StatusCode != http.StatusOK || !strings.Contains(string(body), want) {
		t.Errorf("STS answered %d %s, want %s", resp.StatusCode, body, want)
	}
}
