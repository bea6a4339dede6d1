package awsemu

import (
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eks"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource/plugin"
)

// TestPodIdentityAssociationsAgainstMoto makes a Pod Identity association in moto's
// association API: the role changes in place (UpdatePodIdentityAssociation), the cluster,
// namespace and service account replace (pod_identity_association.go's RequiresReplace), a
// refresh finds it, a delete leaves moto without it and deleting it again is no error.
func TestPodIdentityAssociationsAgainstMoto(t *testing.T) {
	h := newHarness(t)
	subnets := testSubnets(t, h)
	h.create("aws:eks/cluster:Cluster", "demo", map[string]any{
		"name": "demo", "roleArn": "arn:aws:iam::123456789012:role/demo-cluster", "version": "1.33",
		"vpcConfig": map[string]any{"subnetIds": subnets},
	})
	// EKS User Guide, pod-id-role: the trust a Pod Identity role needs.
	const podsTrust = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"pods.eks.amazonaws.com"},"Action":["sts:AssumeRole","sts:TagSession"]}]}`
	for _, name := range []string{"web", "web2"} {
		if _, err := h.c.IAM.CreateRole(t.Context(), &iam.CreateRoleInput{RoleName: aws.String(name), AssumeRolePolicyDocument: aws.String(podsTrust)}); err != nil {
			t.Fatal(err)
		}
	}
	const token = "aws:eks/podIdentityAssociation:PodIdentityAssociation"
	in := map[string]any{"clusterName": "demo", "namespace": "apps", "serviceAccount": "web", "roleArn": "arn:aws:iam::123456789012:role/web", "tags": map[string]any{"team": "a"}}
	a := h.create(token, "web", in)
	if string(a.id) != str(a, "associationId") || str(a, "associationArn") == "" || str(a, "roleArn") != "arn:aws:iam::123456789012:role/web" {
		t.Errorf("association %s: %v", a.id, a.outputs)
	}
	h.expectDiff(a, in, plugin.DiffNone, nil)
	for _, key := range []string{"clusterName", "namespace", "serviceAccount"} {
		changed := map[string]any{}
		for k, v := range in {
			changed[k] = v
		}
		changed[key] = "other"
		h.expectDiff(a, changed, plugin.DiffSome, []string{key})
	}
	in["roleArn"] = "arn:aws:iam::123456789012:role/web2"
	in["tags"] = map[string]any{"team": "b"}
	h.update(a, in)
	got, err := h.c.EKS.DescribePodIdentityAssociation(t.Context(), &eks.DescribePodIdentityAssociationInput{ClusterName: aws.String("demo"), AssociationId: aws.String(string(a.id))})
	if err != nil || aws.ToString(got.Association.RoleArn) != "arn:aws:iam::123456789012:role/web2" {
		t.Fatalf("moto's association after the update: %+v, %v", got, err)
	}
	if resp, err := h.refresh(a); err != nil || resp.Outputs == nil {
		t.Errorf("refresh: %v, %v", resp.Outputs, err)
	}
	h.delete(a)
	left, err := h.c.EKS.ListPodIdentityAssociations(t.Context(), &eks.ListPodIdentityAssociationsInput{ClusterName: aws.String("demo")})
	if err != nil || len(left.Associations) != 0 {
		t.Errorf("associations left in moto: %+v, %v", left, err)
	}
}
