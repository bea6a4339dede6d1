package awsemu

import (
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eks"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource/plugin"
)

// TestAddonAgainstMoto makes the eks-pod-identity-agent add-on in moto's add-on API: created
// once ACTIVE with the version EKS chose (addon_version Optional+Computed, so the next run
// without one changes nothing), the version and the tags changed in place (UpdateAddon waited
// on through DescribeUpdate), the cluster or the add-on's name replace (addon.go's ForceNew),
// and a delete waits until moto has none.
func TestAddonAgainstMoto(t *testing.T) {
	h := newHarness(t)
	subnets := testSubnets(t, h)
	h.create("aws:eks/cluster:Cluster", "demo", map[string]any{
		"name": "demo", "roleArn": "arn:aws:iam::123456789012:role/demo-cluster", "version": "1.33",
		"vpcConfig": map[string]any{"subnetIds": subnets},
	})
	const token = "aws:eks/addon:Addon"
	in := map[string]any{"clusterName": "demo", "addonName": "eks-pod-identity-agent", "tags": map[string]any{"team": "a"}}
	a := h.create(token, "agent", in)
	if a.id != "demo:eks-pod-identity-agent" || str(a, "addonVersion") == "" || str(a, "arn") == "" {
		t.Errorf("add-on %s: %v", a.id, a.outputs)
	}
	h.expectDiff(a, map[string]any{"clusterName": "other", "addonName": "eks-pod-identity-agent", "tags": map[string]any{"team": "a"}}, plugin.DiffSome, []string{"clusterName"})
	h.expectDiff(a, map[string]any{"clusterName": "demo", "addonName": "vpc-cni", "tags": map[string]any{"team": "a"}}, plugin.DiffSome, []string{"addonName"})

	in["addonVersion"] = "v1.3.0-eksbuild.1"
	in["tags"] = map[string]any{"team": "b"}
	h.update(a, in)
	got, err := h.c.EKS.DescribeAddon(t.Context(), &eks.DescribeAddonInput{ClusterName: aws.String("demo"), AddonName: aws.String("eks-pod-identity-agent")})
	if err != nil || aws.ToString(got.Addon.AddonVersion) != "v1.3.0-eksbuild.1" || got.Addon.Tags["team"] != "b" {
		t.Fatalf("moto's add-on after the update: %+v, %v", got, err)
	}
	h.delete(a)
}
