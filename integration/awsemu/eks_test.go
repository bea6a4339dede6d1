package awsemu

import (
	"slices"
	gostrings "strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/eks"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource/plugin"
)

// testSubnets makes a VPC with two subnets in moto for kinds that need real ones.
func testSubnets(t *testing.T, h *harness) []any {
	t.Helper()
	ctx := t.Context()
	vpc, err := h.c.EC2.CreateVpc(ctx, &ec2.CreateVpcInput{CidrBlock: aws.String("10.0.0.0/16")})
	if err != nil {
		t.Fatal(err)
	}
	var ids []any
	for i, az := range []string{"us-west-2a", "us-west-2b"} {
		sn, err := h.c.EC2.CreateSubnet(ctx, &ec2.CreateSubnetInput{VpcId: vpc.Vpc.VpcId, AvailabilityZone: aws.String(az),
			CidrBlock: aws.String([]string{"10.0.101.0/24", "10.0.102.0/24"}[i])})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, aws.ToString(sn.Subnet.SubnetId))
	}
	return ids
}

// TestClusterAgainstMoto creates the program's cluster in moto: every output, endpoint, CA and
// issuer included, is what moto's DescribeCluster reports (the control plane behind them is
// moto's business: integration/moto/eks_control_planes.py).
func TestClusterAgainstMoto(t *testing.T) {
	h := newHarness(t)
	subnets := testSubnets(t, h)

	in := func(cidrs []any, logTypes []any, tags map[string]any) map[string]any {
		return map[string]any{
			"name": "demo", "roleArn": "arn:aws:iam::123456789012:role/demo-cluster", "version": "1.33",
			"vpcConfig": map[string]any{"subnetIds": subnets, "securityGroupIds": []any{"sg-12345678"},
				"endpointPrivateAccess": true, "endpointPublicAccess": true, "publicAccessCidrs": cidrs},
			"enabledClusterLogTypes": logTypes,
			"accessConfig":           map[string]any{"authenticationMode": "API_AND_CONFIG_MAP", "bootstrapClusterCreatorAdminPermissions": true},
			"tags":                   tags,
		}
	}
	allLogs := []any{"api", "audit", "authenticator", "controllerManager", "scheduler"}
	cl := h.create("aws:eks/cluster:Cluster", "demo", in([]any{"0.0.0.0/0"}, allLogs, map[string]any{"env": "test"}))

	if str(cl, "arn") != "arn:aws:eks:us-west-2:123456789012:cluster/demo" || str(cl, "status") != "ACTIVE" || str(cl, "version") != "1.33" {
		t.Errorf("cluster outputs from moto: %v", cl.outputs)
	}
	if cidr := cl.outputs["kubernetesNetworkConfig"].ObjectValue()["serviceIpv4Cidr"].StringValue(); cidr == "" {
		t.Errorf("kubernetesNetworkConfig.serviceIpv4Cidr is empty")
	}
	live, err := h.c.EKS.DescribeCluster(t.Context(), &eks.DescribeClusterInput{Name: aws.String("demo")})
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToString(live.Cluster.Endpoint) != str(cl, "endpoint") || len(live.Cluster.Logging.ClusterLogging[0].Types) != 5 {
		t.Errorf("moto's cluster: endpoint %q (outputs %q) logging %+v", aws.ToString(live.Cluster.Endpoint), str(cl, "endpoint"), live.Cluster.Logging)
	}
	if got := cl.outputs["certificateAuthority"].ObjectValue()["data"].StringValue(); got != aws.ToString(live.Cluster.CertificateAuthority.Data) {
		t.Errorf("certificateAuthority.data = %q, want moto's", got)
	}
	issuer := cl.outputs["identities"].ArrayValue()[0].ObjectValue()["oidcs"].ArrayValue()[0].ObjectValue()["issuer"].StringValue()
	if issuer != aws.ToString(live.Cluster.Identity.Oidc.Issuer) {
		t.Errorf("identities[0].oidcs[0].issuer = %q, want moto's %q", issuer, aws.ToString(live.Cluster.Identity.Oidc.Issuer))
	}

	// moto itself holds the access config, as DescribeCluster returns it to any client.
	if ac := live.Cluster.AccessConfig; ac == nil || ac.AuthenticationMode != "API_AND_CONFIG_MAP" || !aws.ToBool(ac.BootstrapClusterCreatorAdminPermissions) {
		t.Errorf("moto's access config: %+v, want API_AND_CONFIG_MAP with the creator admin", ac)
	}
	if len(live.Cluster.Tags) != 1 {
		t.Errorf("moto's cluster tags: %v, want only the program's", live.Cluster.Tags)
	}
	// In place: public CIDRs, log types, tags. Replaced: the name, the role.
	h.update(cl, in([]any{"203.0.113.0/24"}, []any{"api", "audit"}, map[string]any{"env": "prod"}))
	if got := cl.outputs["vpcConfig"].ObjectValue()["publicAccessCidrs"].ArrayValue(); len(got) != 1 || got[0].StringValue() != "203.0.113.0/24" {
		t.Errorf("publicAccessCidrs after update: %v", got)
	}
	// One update per kind of change, each waited on through DescribeUpdate before the next (a
	// second UpdateClusterConfig during the first is refused by moto as by EKS), in
	// terraform-provider-aws's order: logging, then endpoint access.
	if str(cl, "status") != "ACTIVE" {
		t.Errorf("status after the update = %q, want ACTIVE (the update waited for)", str(cl, "status"))
	}
	if got := clusterUpdates(t, h, "demo"); !slices.Equal(got, []string{"LoggingUpdate Successful", "EndpointAccessUpdate Successful"}) {
		t.Errorf("moto's updates of the cluster: %q", got)
	}
	renamed := in([]any{"203.0.113.0/24"}, []any{"api", "audit"}, map[string]any{"env": "prod"})
	renamed["roleArn"] = "arn:aws:iam::123456789012:role/other"
	h.expectDiff(cl, renamed, plugin.DiffSome, []string{"roleArn"})
	// Subnets and security groups change in place (UpdateClusterConfig, terraform-provider-aws
	// since v5.25.0), and moto keeps the rest of the VPC config (integration/moto/eks_cluster.py).
	moved := in([]any{"203.0.113.0/24"}, []any{"api", "audit"}, map[string]any{"env": "prod"})
	moved["vpcConfig"].(map[string]any)["subnetIds"] = subnets[:1]
	h.update(cl, moved)
	live, err = h.c.EKS.DescribeCluster(t.Context(), &eks.DescribeClusterInput{Name: aws.String("demo")})
	if err != nil {
		t.Fatal(err)
	}
	if v := live.Cluster.ResourcesVpcConfig; !slices.Equal(v.SubnetIds, []string{subnets[0].(string)}) ||
		!slices.Equal(v.PublicAccessCidrs, []string{"203.0.113.0/24"}) || !v.EndpointPrivateAccess || !v.EndpointPublicAccess {
		t.Errorf("moto's VPC config after the subnet change: %+v", v)
	}
	// Subnets alone: a VpcConfigUpdate, no endpoint update (it would change nothing, and EKS
	// refuses that).
	if got := clusterUpdates(t, h, "demo"); len(got) != 3 || got[2] != "VpcConfigUpdate Successful" {
		t.Errorf("moto's updates after the subnet change: %q", got)
	}

	h.delete(cl)
	if left := leftovers(t, h.srv); slices.ContainsFunc(left, func(e string) bool { return gostrings.HasPrefix(e, "eks-cluster ") }) {
		t.Errorf("cluster left in moto after delete: %q", left)
	}
}

// clusterUpdates is "<type> <status>" of each update moto keeps for the cluster, in order.
func clusterUpdates(t *testing.T, h *harness, name string) []string {
	t.Helper()
	list, err := h.c.EKS.ListUpdates(t.Context(), &eks.ListUpdatesInput{Name: aws.String(name)})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, id := range list.UpdateIds {
		u, err := h.c.EKS.DescribeUpdate(t.Context(), &eks.DescribeUpdateInput{Name: aws.String(name), UpdateId: aws.String(id)})
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, string(u.Update.Type)+" "+string(u.Update.Status))
	}
	return got
}

// Without the control-plane service the cluster reports moto's own endpoint; Check applies
// bootstrapSelfManagedAddons's default.
func TestClusterWithoutControlPlanes(t *testing.T) {
	h := newHarness(t)
	cl := h.create("aws:eks/cluster:Cluster", "plain", map[string]any{"name": "plain", "roleArn": "arn:aws:iam::123456789012:role/r",
		"vpcConfig": map[string]any{"subnetIds": testSubnets(t, h)}})
	if !gostrings.HasPrefix(str(cl, "endpoint"), "https://") || !gostrings.Contains(str(cl, "endpoint"), ".eks.amazonaws.com") {
		t.Errorf("endpoint = %q, want moto's", str(cl, "endpoint"))
	}
	if v := cl.inputs["bootstrapSelfManagedAddons"]; !v.IsBool() || !v.BoolValue() {
		t.Errorf("bootstrapSelfManagedAddons default not applied: %v", v)
	}
	h.delete(cl)
}

// TestGroupAgainstMoto runs the program's worker group: a launch template in two subnets,
// sized, tagged with propagateAtLaunch; moto starts its instances, and deleting the group
// terminates them.
func TestGroupAgainstMoto(t *testing.T) {
	h := newHarness(t)
	ctx := t.Context()
	subnets := testSubnets(t, h)
	imgs, err := h.c.EC2.DescribeImages(ctx, &ec2.DescribeImagesInput{Owners: []string{"amazon"},
		Filters: []ec2types.Filter{{Name: aws.String("architecture"), Values: []string{"x86_64"}}}})
	if err != nil || len(imgs.Images) == 0 {
		t.Fatalf("images: %v", err)
	}
	lt, err := h.c.EC2.CreateLaunchTemplate(ctx, &ec2.CreateLaunchTemplateInput{LaunchTemplateName: aws.String("workers"),
		LaunchTemplateData: &ec2types.RequestLaunchTemplateData{ImageId: imgs.Images[0].ImageId, InstanceType: ec2types.InstanceTypeT3Medium}})
	if err != nil {
		t.Fatal(err)
	}
	ltID := aws.ToString(lt.LaunchTemplate.LaunchTemplateId)
	tag := func(k, v string) map[string]any {
		return map[string]any{"key": k, "value": v, "propagateAtLaunch": true}
	}
	in := func(desired int, tags ...any) map[string]any {
		return map[string]any{"name": "demo-workers", "minSize": 1, "maxSize": 4, "desiredCapacity": desired,
			"vpcZoneIdentifiers": subnets, "launchTemplate": map[string]any{"id": ltID, "version": "1"}, "tags": tags}
	}
	g := h.create("aws:autoscaling/group:Group", "workers", in(2, tag("kubernetes.io/cluster/demo", "owned"), tag("Name", "demo-node")))
	if !gostrings.HasPrefix(str(g, "arn"), "arn:aws:autoscaling:us-west-2:123456789012:autoScalingGroup:") {
		t.Errorf("group arn = %q", str(g, "arn"))
	}
	if lto := g.outputs["launchTemplate"].ObjectValue(); lto["id"].StringValue() != ltID || lto["version"].StringValue() != "1" {
		t.Errorf("launchTemplate = %v", lto)
	}
	running := func() int {
		t.Helper()
		out, err := h.c.EC2.DescribeInstances(ctx, &ec2.DescribeInstancesInput{Filters: []ec2types.Filter{
			{Name: aws.String("tag:aws:autoscaling:groupName"), Values: []string{"demo-workers"}},
			{Name: aws.String("instance-state-name"), Values: []string{"pending", "running"}}}})
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, r := range out.Reservations {
			n += len(r.Instances)
		}
		return n
	}
	if n := running(); n != 2 {
		t.Errorf("running instances = %d, want 2", n)
	}

	h.update(g, in(3, tag("kubernetes.io/cluster/demo", "owned"), tag("team", "platform")))
	if n := running(); n != 3 {
		t.Errorf("running instances after scaling to 3 = %d", n)
	}
	var keys []string
	for _, tv := range g.outputs["tags"].ArrayValue() {
		keys = append(keys, tv.ObjectValue()["key"].StringValue())
	}
	if gostrings.Join(keys, ",") != "kubernetes.io/cluster/demo,team" {
		t.Errorf("tags after update: %v", keys)
	}
	renamed := in(3, tag("kubernetes.io/cluster/demo", "owned"), tag("team", "platform"))
	renamed["name"] = "other"
	h.expectDiff(g, renamed, plugin.DiffSome, []string{"name"})

	h.delete(g)
	if n := running(); n != 0 {
		t.Errorf("instances still running after the group's delete: %d", n)
	}
	// What the test made itself (VPC, subnets, template) stays; nothing of the group does.
	for _, e := range leftovers(t, h.srv) {
		if kind, _, _ := gostrings.Cut(e, " "); kind != "vpc" && kind != "subnet" && kind != "launch-template" && kind != "route-table" {
			t.Errorf("left in moto after the group's delete: %s", e)
		}
	}
}
