package moto_test

import (
	"context"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eks"
	ekstypes "github.com/aws/aws-sdk-go-v2/service/eks/types"
	"github.com/aws/aws-sdk-go-v2/service/iam"

	"github.com/eks-irsa/eks-irsa/integration/moto"
)

// The SDK's own waiters and the aws CLI see the eks-pod-identity-agent add-on on moto as the
// EKS API reference describes it: created CREATING then ACTIVE, updated with an update
// DescribeUpdate finds by add-on, deleted until DescribeAddon finds none, and EKS's refusals.
func TestEKSAddons(t *testing.T) {
	s := moto.Start(t)
	ctx := context.Background()
	c := eks.NewFromConfig(s.Config(""))
	if _, err := iam.NewFromConfig(s.Config("")).CreateRole(ctx, &iam.CreateRoleInput{RoleName: aws.String("cluster"), AssumeRolePolicyDocument: aws.String(trust)}); err != nil {
		t.Fatal(err)
	}
	createCluster(t, c, "demo", "")
	const agent = "eks-pod-identity-agent"

	created, err := c.CreateAddon(ctx, &eks.CreateAddonInput{ClusterName: aws.String("demo"), AddonName: aws.String(agent)})
	if err != nil {
		t.Fatal(err)
	}
	a := created.Addon
	if a.Status != ekstypes.AddonStatusCreating || aws.ToString(a.AddonVersion) == "" ||
		!strings.HasPrefix(aws.ToString(a.AddonArn), "arn:aws:eks:"+s.Region+":123456789012:addon/demo/"+agent+"/") {
		t.Errorf("created add-on: status %s version %q arn %s", a.Status, aws.ToString(a.AddonVersion), aws.ToString(a.AddonArn))
	}
	// The SDK's own waiter (the one terraform-provider-aws's waitAddonCreated mirrors).
	if err := eks.NewAddonActiveWaiter(c, func(o *eks.AddonActiveWaiterOptions) { o.MinDelay = 10 * time.Millisecond }).Wait(ctx,
		&eks.DescribeAddonInput{ClusterName: aws.String("demo"), AddonName: aws.String(agent)}, time.Minute); err != nil {
		t.Fatalf("waiting for the add-on to be ACTIVE: %v", err)
	}
	if list, err := c.ListAddons(ctx, &eks.ListAddonsInput{ClusterName: aws.String("demo")}); err != nil || len(list.Addons) != 1 || list.Addons[0] != agent {
		t.Errorf("ListAddons: %+v, %v", list, err)
	}

	updated, err := c.UpdateAddon(ctx, &eks.UpdateAddonInput{ClusterName: aws.String("demo"), AddonName: aws.String(agent), AddonVersion: aws.String("v1.3.0-eksbuild.1")})
	if err != nil {
		t.Fatal(err)
	}
	u, err := c.DescribeUpdate(ctx, &eks.DescribeUpdateInput{Name: aws.String("demo"), UpdateId: updated.Update.Id, AddonName: aws.String(agent)})
	if err != nil || u.Update.Status != ekstypes.UpdateStatusSuccessful || u.Update.Type != ekstypes.UpdateTypeAddonUpdate {
		t.Errorf("DescribeUpdate of the add-on's update: %+v, %v", u, err)
	}
	if d, err := c.DescribeAddon(ctx, &eks.DescribeAddonInput{ClusterName: aws.String("demo"), AddonName: aws.String(agent)}); err != nil || aws.ToString(d.Addon.AddonVersion) != "v1.3.0-eksbuild.1" {
		t.Errorf("the add-on after the update: %+v, %v", d, err)
	}

	for _, tc := range []struct {
		name string
		call func() error
		want string
	}{
		{"the add-on twice", func() error {
			_, err := c.CreateAddon(ctx, &eks.CreateAddonInput{ClusterName: aws.String("demo"), AddonName: aws.String(agent)})
			return err
		}, "ResourceInUseException"},
		{"an add-on EKS does not offer", func() error {
			_, err := c.CreateAddon(ctx, &eks.CreateAddonInput{ClusterName: aws.String("demo"), AddonName: aws.String("pod-identity-agent")})
			return err
		}, "InvalidParameterException"},
		{"an unknown cluster", func() error {
			_, err := c.CreateAddon(ctx, &eks.CreateAddonInput{ClusterName: aws.String("nope"), AddonName: aws.String(agent)})
			return err
		}, "ResourceNotFoundException"},
		{"an add-on not installed", func() error {
			_, err := c.DescribeAddon(ctx, &eks.DescribeAddonInput{ClusterName: aws.String("demo"), AddonName: aws.String("vpc-cni")})
			return err
		}, "ResourceNotFoundException"},
	} {
		if got := errorCode(tc.call()); got != tc.want {
			t.Errorf("%s: error %q, want %s", tc.name, got, tc.want)
		}
	}

	// The aws CLI: its own addon-deleted waiter after delete-addon.
	cli := func(args ...string) (string, error) {
		cmd := exec.Command("aws", append([]string{"eks"}, args...)...)
		cmd.Env = s.Environ([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir()})
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	if out, err := cli("delete-addon", "--cluster-name", "demo", "--addon-name", agent, "--query", "addon.status", "--output", "text"); err != nil || strings.TrimSpace(out) != "DELETING" {
		t.Errorf("aws eks delete-addon: %v\n%s", err, out)
	}
	if out, err := cli("wait", "addon-deleted", "--cluster-name", "demo", "--addon-name", agent); err != nil {
		t.Errorf("aws eks wait addon-deleted: %v\n%s", err, out)
	}
}
