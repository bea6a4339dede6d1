package awsemu

import (
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource/plugin"
	"github.com/pulumi/pulumi/sdk/v3/go/common/tokens"
)

// TestGroupUpdateKeepsAutoscalerCapacity: cluster-autoscaler scales the group by hand, then
// an AMI bump (a new launch template version) is applied the way the program applies it, with
// IgnoreChanges("desiredCapacity"): the update sends the new version only, the desired capacity
// stays what the autoscaler set, and the instance refresh starts with the program's
// preferences, as moto records them.
func TestGroupUpdateKeepsAutoscalerCapacity(t *testing.T) {
	h := newHarness(t)
	ctx := t.Context()
	subnets := testSubnets(t, h)
	imgs, err := h.c.EC2.DescribeImages(ctx, &ec2.DescribeImagesInput{Owners: []string{"amazon"},
		Filters: []ec2types.Filter{{Name: aws.String("architecture"), Values: []string{"x86_64"}}}})
	if err != nil || len(imgs.Images) < 2 {
		t.Fatalf("images: %v", err)
	}
	lt, err := h.c.EC2.CreateLaunchTemplate(ctx, &ec2.CreateLaunchTemplateInput{LaunchTemplateName: aws.String("workers"),
		LaunchTemplateData: &ec2types.RequestLaunchTemplateData{ImageId: imgs.Images[0].ImageId, InstanceType: ec2types.InstanceTypeT3Medium}})
	if err != nil {
		t.Fatal(err)
	}
	ltID := aws.ToString(lt.LaunchTemplate.LaunchTemplateId)
	in := func(version string) map[string]any {
		return map[string]any{"name": "demo-workers", "minSize": 1, "maxSize": 4, "desiredCapacity": 1,
			"vpcZoneIdentifiers": subnets, "launchTemplate": map[string]any{"id": ltID, "version": version},
			"instanceRefresh": map[string]any{"strategy": "Rolling", "preferences": map[string]any{"minHealthyPercentage": 90, "instanceWarmup": "60"}}}
	}
	g := h.create("aws:autoscaling/group:Group", "workers", in("1"))

	// cluster-autoscaler scales up.
	if _, err := h.c.AutoScaling.SetDesiredCapacity(ctx, &autoscaling.SetDesiredCapacityInput{
		AutoScalingGroupName: aws.String("demo-workers"), DesiredCapacity: aws.Int32(3)}); err != nil {
		t.Fatal(err)
	}
	// The AMI release bump: a new template version.
	if _, err := h.c.EC2.CreateLaunchTemplateVersion(ctx, &ec2.CreateLaunchTemplateVersionInput{LaunchTemplateId: aws.String(ltID),
		LaunchTemplateData: &ec2types.RequestLaunchTemplateData{ImageId: imgs.Images[1].ImageId, InstanceType: ec2types.InstanceTypeT3Medium}}); err != nil {
		t.Fatal(err)
	}
	// The engine sends the old input for an ignored property, and the ignore list.
	ignore := []string{"desiredCapacity"}
	news, err := h.check(g.token, g.name, g.inputs, in("2"))
	if err != nil {
		t.Fatal(err)
	}
	req := plugin.DiffRequest{URN: urn(g.token, g.name), Name: g.name, Type: tokens.Type(g.token), ID: g.id,
		OldInputs: g.inputs, OldOutputs: g.outputs, NewInputs: news, IgnoreChanges: ignore}
	d, err := h.p.Diff(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := d.DetailedDiff["launchTemplate.version"]; d.Changes != plugin.DiffSome || !ok || len(d.DetailedDiff) != 1 {
		t.Fatalf("plan of the AMI bump: %+v, want launchTemplate.version only", d)
	}
	if _, err := h.p.Update(ctx, plugin.UpdateRequest{URN: req.URN, Name: g.name, Type: req.Type, ID: g.id,
		OldInputs: g.inputs, OldOutputs: g.outputs, NewInputs: news, IgnoreChanges: ignore}); err != nil {
		t.Fatalf("update: %v", err)
	}
	group, err := describeGroup(ctx, h.c, "demo-workers")
	if err != nil || group == nil {
		t.Fatalf("group: %v", err)
	}
	if got := aws.ToInt32(group.DesiredCapacity); got != 3 {
		t.Errorf("desired capacity after the AMI bump = %d, want the autoscaler's 3", got)
	}
	if got := aws.ToString(group.LaunchTemplate.Version); got != "2" {
		t.Errorf("launch template version = %q, want 2", got)
	}
	refreshes, err := h.c.AutoScaling.DescribeInstanceRefreshes(ctx, &autoscaling.DescribeInstanceRefreshesInput{AutoScalingGroupName: aws.String("demo-workers")})
	if err != nil {
		t.Fatalf("instance refreshes: %v", err)
	}
	if len(refreshes.InstanceRefreshes) != 1 || refreshes.InstanceRefreshes[0].Preferences == nil ||
		aws.ToInt32(refreshes.InstanceRefreshes[0].Preferences.MinHealthyPercentage) != 90 ||
		aws.ToInt32(refreshes.InstanceRefreshes[0].Preferences.InstanceWarmup) != 60 {
		t.Errorf("instance refreshes in moto: %+v, want one with MinHealthyPercentage 90 and InstanceWarmup 60", refreshes.InstanceRefreshes)
	}
}
