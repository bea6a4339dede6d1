package awsemu

import (
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eks"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource/plugin"
)

// TestAccessEntriesAgainstMoto makes the program's entries and associations in moto's access
// entry API: what replaces is access_entry.go's and access_policy_association.go's ForceNew
// attributes, a second run with the same inputs changes nothing, and each delete leaves moto
// without it.
func TestAccessEntriesAgainstMoto(t *testing.T) {
	h := newHarness(t)
	subnets := testSubnets(t, h)
	h.create("aws:eks/cluster:Cluster", "demo", map[string]any{
		"name": "demo", "roleArn": "arn:aws:iam::123456789012:role/demo-cluster", "version": "1.33",
		"vpcConfig":    map[string]any{"subnetIds": subnets},
		"accessConfig": map[string]any{"authenticationMode": "API", "bootstrapClusterCreatorAdminPermissions": true},
	})
	const (
		entryToken = "aws:eks/accessEntry:AccessEntry"
		assocToken = "aws:eks/accessPolicyAssociation:AccessPolicyAssociation"
		nodeRole   = "arn:aws:iam::123456789012:role/demo-node"
		devRole    = "arn:aws:iam::123456789012:role/dev"
		editPolicy = "arn:aws:eks::aws:cluster-access-policy/AmazonEKSEditPolicy"
	)
	node := h.create(entryToken, "nodes", map[string]any{"clusterName": "demo", "principalArn": nodeRole, "type": "EC2_LINUX"})
	if node.id != "demo:"+nodeRole || str(node, "userName") != "system:node:{{EC2PrivateDNSName}}" || str(node, "type") != "EC2_LINUX" {
		t.Errorf("node entry %s: %v", node.id, node.outputs)
	}
	dev := map[string]any{"clusterName": "demo", "principalArn": devRole, "userName": "dev:{{SessionName}}", "kubernetesGroups": []any{"devs", "ops"}}
	entry := h.create(entryToken, "dev", dev)
	if str(entry, "type") != "STANDARD" {
		t.Errorf("type %q, want the default STANDARD", str(entry, "type"))
	}
	// Groups and username change in place (UpdateAccessEntry); principal and type replace.
	dev["kubernetesGroups"] = []any{"devs"}
	h.update(entry, dev)
	got, err := h.c.EKS.DescribeAccessEntry(t.Context(), &eks.DescribeAccessEntryInput{ClusterName: aws.String("demo"), PrincipalArn: aws.String(devRole)})
	if err != nil || len(got.AccessEntry.KubernetesGroups) != 1 {
		t.Fatalf("moto's entry after the update: %+v, %v", got, err)
	}
	h.expectDiff(entry, map[string]any{"clusterName": "demo", "principalArn": devRole, "type": "EC2_LINUX"}, plugin.DiffSome, []string{"type"})
	h.expectDiff(entry, map[string]any{"clusterName": "demo", "principalArn": devRole + "2", "userName": "dev:{{SessionName}}", "kubernetesGroups": []any{"devs"}},
		plugin.DiffSome, []string{"principalArn"})

	cluster := h.create(assocToken, "dev-view", map[string]any{"clusterName": "demo", "principalArn": devRole,
		"policyArn": "arn:aws:eks::aws:cluster-access-policy/AmazonEKSViewPolicy", "accessScope": map[string]any{"type": "cluster"}})
	if cluster.id != "demo#"+devRole+"#arn:aws:eks::aws:cluster-access-policy/AmazonEKSViewPolicy" {
		t.Errorf("association id %q", cluster.id)
	}
	scoped := map[string]any{"clusterName": "demo", "principalArn": devRole, "policyArn": editPolicy,
		"accessScope": map[string]any{"type": "namespace", "namespaces": []any{"apps", "web"}}}
	edit := h.create(assocToken, "dev-edit", scoped)
	// Every argument replaces; the namespaces are a set.
	h.expectDiff(edit, map[string]any{"clusterName": "demo", "principalArn": devRole, "policyArn": editPolicy,
		"accessScope": map[string]any{"type": "namespace", "namespaces": []any{"web", "apps"}}}, plugin.DiffNone, nil)
	h.expectDiff(edit, map[string]any{"clusterName": "demo", "principalArn": devRole, "policyArn": editPolicy,
		"accessScope": map[string]any{"type": "namespace", "namespaces": []any{"apps"}}}, plugin.DiffSome, []string{"accessScope"})

	// Deleting an entry deletes its associations (API_DeleteAccessEntry): a refresh finds them gone.
	h.delete(entry)
	for _, a := range []*live{cluster, edit} {
		resp, err := h.refresh(a)
		if err != nil || resp.Outputs != nil {
			t.Errorf("association %s after its entry's delete: %v, %v; want gone", a.name, resp.Outputs, err)
		}
		if err := h.tryDelete(a); err != nil {
			t.Errorf("delete association %s whose entry is gone: %v", a.name, err)
		}
	}
	h.delete(node)
	left, err := h.c.EKS.ListAccessEntries(t.Context(), &eks.ListAccessEntriesInput{ClusterName: aws.String("demo")})
	if err != nil {
		t.Fatal(err)
	}
	for _, arn := range left.AccessEntries {
		if arn == nodeRole || arn == devRole {
			t.Errorf("entry %s left in moto", arn)
		}
	}
}
