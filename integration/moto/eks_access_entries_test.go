package moto_test

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eks"
	ekstypes "github.com/aws/aws-sdk-go-v2/service/eks/types"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/smithy-go"

	"github.com/eks-irsa/eks-irsa/integration/moto"
)

const (
	clusterAdmin = "arn:aws:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy"
	viewPolicy   = "arn:aws:eks::aws:cluster-access-policy/AmazonEKSViewPolicy"
	// motoCreator is the principal moto's STS names for the dummy keys: the cluster's creator.
	motoCreator = "arn:aws:iam::123456789012:user/moto"
)

func createCluster(t *testing.T, c *eks.Client, name string, mode ekstypes.AuthenticationMode) {
	t.Helper()
	in := &eks.CreateClusterInput{Name: aws.String(name), RoleArn: aws.String("arn:aws:iam::123456789012:role/cluster"), ResourcesVpcConfig: &ekstypes.VpcConfigRequest{}}
	if mode != "" {
		in.AccessConfig = &ekstypes.CreateAccessConfigRequest{AuthenticationMode: mode, BootstrapClusterCreatorAdminPermissions: aws.Bool(true)}
	}
	got, err := c.CreateCluster(context.Background(), in)
	if err != nil {
		t.Fatal(err)
	}
	want := mode
	if want == "" {
		want = ekstypes.AuthenticationModeConfigMap // API_CreateAccessConfigRequest: the API's default
	}
	if ac := got.Cluster.AccessConfig; ac == nil || ac.AuthenticationMode != want || !aws.ToBool(ac.BootstrapClusterCreatorAdminPermissions) {
		t.Fatalf("CreateCluster returned accessConfig %+v, want %s with the creator's admin", got.Cluster.AccessConfig, want)
	}
}

// errorCode is the API error's code, as the SDK reads it from the response.
func errorCode(err error) string {
	var api smithy.APIError
	if errors.As(err, &api) {
		return api.ErrorCode()
	}
	return ""
}

// The SDK sees EKS's access entries on moto as the EKS API reference describes them: the
// creator's admin entry made at CreateCluster, each action, and each refusal.
func TestEKSAccessEntries(t *testing.T) {
	s := moto.Start(t)
	ctx := context.Background()
	c := eks.NewFromConfig(s.Config(""))
	if _, err := iam.NewFromConfig(s.Config("")).CreateRole(ctx, &iam.CreateRoleInput{RoleName: aws.String("cluster"), AssumeRolePolicyDocument: aws.String(trust)}); err != nil {
		t.Fatal(err)
	}
	createCluster(t, c, "demo", ekstypes.AuthenticationModeApiAndConfigMap)
	createCluster(t, c, "legacy", "")

	// The creator's entry, with cluster-admin at cluster scope, made with the cluster.
	list, err := c.ListAccessEntries(ctx, &eks.ListAccessEntriesInput{ClusterName: aws.String("demo")})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(list.AccessEntries, []string{motoCreator}) {
		t.Fatalf("access entries %q, want the creator's only", list.AccessEntries)
	}
	creator, err := c.DescribeAccessEntry(ctx, &eks.DescribeAccessEntryInput{ClusterName: aws.String("demo"), PrincipalArn: aws.String(motoCreator)})
	if err != nil {
		t.Fatal(err)
	}
	if e := creator.AccessEntry; aws.ToString(e.Type) != "STANDARD" || aws.ToString(e.Username) != motoCreator || len(e.KubernetesGroups) != 0 {
		t.Errorf("creator's entry %+v, want STANDARD, username its ARN, no groups", e)
	}
	policies, err := c.ListAssociatedAccessPolicies(ctx, &eks.ListAssociatedAccessPoliciesInput{ClusterName: aws.String("demo"), PrincipalArn: aws.String(motoCreator)})
	if err != nil {
		t.Fatal(err)
	}
	if len(policies.AssociatedAccessPolicies) != 1 || aws.ToString(policies.AssociatedAccessPolicies[0].PolicyArn) != clusterAdmin ||
		policies.AssociatedAccessPolicies[0].AccessScope.Type != ekstypes.AccessScopeTypeCluster {
		t.Errorf("creator's policies %+v, want %s at cluster scope", policies.AssociatedAccessPolicies, clusterAdmin)
	}
	if legacy, err := c.ListAccessEntries(ctx, &eks.ListAccessEntriesInput{ClusterName: aws.String("legacy")}); errorCode(err) != "InvalidRequestException" {
		t.Errorf("ListAccessEntries on a CONFIG_MAP cluster: %v, %v; want InvalidRequestException", legacy, err)
	}

	// A role with a path: its default username drops the path and names the session.
	const role = "arn:aws:iam::123456789012:role/team/deployer"
	created, err := c.CreateAccessEntry(ctx, &eks.CreateAccessEntryInput{ClusterName: aws.String("demo"), PrincipalArn: aws.String(role), KubernetesGroups: []string{"deployers"}})
	if err != nil {
		t.Fatal(err)
	}
	if got := aws.ToString(created.AccessEntry.Username); got != "arn:aws:sts::123456789012:assumed-role/deployer/{{SessionName}}" {
		t.Errorf("default username %q", got)
	}
	if _, err := c.AssociateAccessPolicy(ctx, &eks.AssociateAccessPolicyInput{ClusterName: aws.String("demo"), PrincipalArn: aws.String(role), PolicyArn: aws.String(viewPolicy),
		AccessScope: &ekstypes.AccessScope{Type: ekstypes.AccessScopeTypeNamespace, Namespaces: []string{"apps"}}}); err != nil {
		t.Fatal(err)
	}
	admins, err := c.ListAccessEntries(ctx, &eks.ListAccessEntriesInput{ClusterName: aws.String("demo"), AssociatedPolicyArn: aws.String(clusterAdmin)})
	if err != nil || !slices.Equal(admins.AccessEntries, []string{motoCreator}) {
		t.Errorf("entries with cluster-admin: %v, %v", admins, err)
	}
	updated, err := c.UpdateAccessEntry(ctx, &eks.UpdateAccessEntryInput{ClusterName: aws.String("demo"), PrincipalArn: aws.String(role), KubernetesGroups: []string{"ops"}})
	if err != nil || !slices.Equal(updated.AccessEntry.KubernetesGroups, []string{"ops"}) {
		t.Errorf("UpdateAccessEntry: %v, %v", updated, err)
	}
	all, err := c.ListAccessPolicies(ctx, &eks.ListAccessPoliciesInput{})
	if err != nil || !slices.ContainsFunc(all.AccessPolicies, func(p ekstypes.AccessPolicy) bool { return aws.ToString(p.Arn) == clusterAdmin }) {
		t.Errorf("ListAccessPolicies: %v, %v", all, err)
	}

	for _, tc := range []struct {
		name string
		call func() error
		want string
	}{
		{"the same principal twice", func() error {
			_, err := c.CreateAccessEntry(ctx, &eks.CreateAccessEntryInput{ClusterName: aws.String("demo"), PrincipalArn: aws.String(role)})
			return err
		}, "ResourceInUseException"},
		{"an unknown type", func() error {
			_, err := c.CreateAccessEntry(ctx, &eks.CreateAccessEntryInput{ClusterName: aws.String("demo"), PrincipalArn: aws.String("arn:aws:iam::123456789012:role/x"), Type: aws.String("EC2_LINUX_GPU")})
			return err
		}, "InvalidParameterException"},
		{"a reserved username", func() error {
			_, err := c.CreateAccessEntry(ctx, &eks.CreateAccessEntryInput{ClusterName: aws.String("demo"), PrincipalArn: aws.String("arn:aws:iam::123456789012:role/x"), Username: aws.String("eks:admin")})
			return err
		}, "InvalidParameterException"},
		{"a system: group", func() error {
			_, err := c.CreateAccessEntry(ctx, &eks.CreateAccessEntryInput{ClusterName: aws.String("demo"), PrincipalArn: aws.String("arn:aws:iam::123456789012:role/x"), KubernetesGroups: []string{"system:masters"}})
			return err
		}, "InvalidParameterException"},
		{"a node entry with groups", func() error {
			_, err := c.CreateAccessEntry(ctx, &eks.CreateAccessEntryInput{ClusterName: aws.String("demo"), PrincipalArn: aws.String("arn:aws:iam::123456789012:role/nodes"), Type: aws.String("EC2_LINUX"), KubernetesGroups: []string{"nodes"}})
			return err
		}, "InvalidParameterException"},
		{"a node entry for a user", func() error {
			_, err := c.CreateAccessEntry(ctx, &eks.CreateAccessEntryInput{ClusterName: aws.String("demo"), PrincipalArn: aws.String("arn:aws:iam::123456789012:user/bob"), Type: aws.String("EC2_LINUX")})
			return err
		}, "InvalidParameterException"},
		{"an STS session", func() error {
			_, err := c.CreateAccessEntry(ctx, &eks.CreateAccessEntryInput{ClusterName: aws.String("demo"), PrincipalArn: aws.String("arn:aws:sts::123456789012:assumed-role/x/s")})
			return err
		}, "InvalidParameterException"},
		{"a policy for a node entry", func() error {
			if _, err := c.CreateAccessEntry(ctx, &eks.CreateAccessEntryInput{ClusterName: aws.String("demo"), PrincipalArn: aws.String("arn:aws:iam::123456789012:role/nodes"), Type: aws.String("EC2_LINUX")}); err != nil {
				return err
			}
			_, err := c.AssociateAccessPolicy(ctx, &eks.AssociateAccessPolicyInput{ClusterName: aws.String("demo"), PrincipalArn: aws.String("arn:aws:iam::123456789012:role/nodes"),
				PolicyArn: aws.String(viewPolicy), AccessScope: &ekstypes.AccessScope{Type: ekstypes.AccessScopeTypeCluster}})
			return err
		}, "InvalidParameterException"},
		{"an unknown entry", func() error {
			_, err := c.DescribeAccessEntry(ctx, &eks.DescribeAccessEntryInput{ClusterName: aws.String("demo"), PrincipalArn: aws.String("arn:aws:iam::123456789012:role/nobody")})
			return err
		}, "ResourceNotFoundException"},
		{"an unknown cluster", func() error {
			_, err := c.ListAccessEntries(ctx, &eks.ListAccessEntriesInput{ClusterName: aws.String("nope")})
			return err
		}, "ResourceNotFoundException"},
		{"a policy not associated", func() error {
			_, err := c.DisassociateAccessPolicy(ctx, &eks.DisassociateAccessPolicyInput{ClusterName: aws.String("demo"), PrincipalArn: aws.String(role), PolicyArn: aws.String(clusterAdmin)})
			return err
		}, "ResourceNotFoundException"},
	} {
		if got := errorCode(tc.call()); got != tc.want {
			t.Errorf("%s: error %q, want %s", tc.name, got, tc.want)
		}
	}

	// Deleting an entry deletes its associations: a new entry for the principal has none.
	if _, err := c.DeleteAccessEntry(ctx, &eks.DeleteAccessEntryInput{ClusterName: aws.String("demo"), PrincipalArn: aws.String(role)}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.CreateAccessEntry(ctx, &eks.CreateAccessEntryInput{ClusterName: aws.String("demo"), PrincipalArn: aws.String(role)}); err != nil {
		t.Fatal(err)
	}
	again, err := c.ListAssociatedAccessPolicies(ctx, &eks.ListAssociatedAccessPoliciesInput{ClusterName: aws.String("demo"), PrincipalArn: aws.String(role)})
	if err != nil || len(again.AssociatedAccessPolicies) != 0 {
		t.Errorf("a re-created entry's policies: %v, %v", again, err)
	}

	// The aws CLI sees the same service: the SDK's entry, and EKS's refusal by name.
	if _, err := exec.LookPath("aws"); err != nil {
		t.Fatalf("aws CLI not on PATH: %v", err)
	}
	cli := func(args ...string) (string, error) {
		cmd := exec.Command("aws", append([]string{"eks"}, args...)...)
		cmd.Env = s.Environ([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir()})
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	out, err := cli("list-access-entries", "--cluster-name", "demo", "--output", "text", "--query", "accessEntries")
	if err != nil || !strings.Contains(out, role) || !strings.Contains(out, motoCreator) {
		t.Errorf("aws eks list-access-entries: %v\n%s", err, out)
	}
	out, err = cli("create-access-entry", "--cluster-name", "demo", "--principal-arn", "arn:aws:iam::123456789012:role/y", "--username", "system:admin")
	if err == nil || !strings.Contains(out, "InvalidParameterException") {
		t.Errorf("aws eks create-access-entry with a system: username: %v\n%s", err, out)
	}

	// An SSO role's path holds "sso.amazonaws.com/<region>": the principal in the URL is not
	// the region (moto took it for one and answered 500).
	const sso = "arn:aws:iam::123456789012:role/aws-reserved/sso.amazonaws.com/us-west-2/AWSReservedSSO_Admin_0123"
	if _, err := c.DescribeAccessEntry(ctx, &eks.DescribeAccessEntryInput{ClusterName: aws.String("demo"), PrincipalArn: aws.String(sso)}); !errors.As(err, new(*ekstypes.ResourceNotFoundException)) {
		t.Errorf("DescribeAccessEntry of an SSO role with no entry: %v, want ResourceNotFoundException", err)
	}
	if _, err := c.CreateAccessEntry(ctx, &eks.CreateAccessEntryInput{ClusterName: aws.String("demo"), PrincipalArn: aws.String(sso)}); err != nil {
		t.Fatal(err)
	}
	if got, err := c.DescribeAccessEntry(ctx, &eks.DescribeAccessEntryInput{ClusterName: aws.String("demo"), PrincipalArn: aws.String(sso)}); err != nil || aws.ToString(got.AccessEntry.PrincipalArn) != sso {
		t.Errorf("DescribeAccessEntry of an SSO role: %+v, %v", got, err)
	}
}
