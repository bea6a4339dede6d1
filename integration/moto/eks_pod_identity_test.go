package moto_test

import (
	"context"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eks"
	"github.com/aws/aws-sdk-go-v2/service/iam"

	"github.com/eks-irsa/eks-irsa/integration/moto"
)

// The trust policies CreatePodIdentityAssociation is held to (EKS User Guide, pod-id-role).
const (
	podsTrust        = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"pods.eks.amazonaws.com"},"Action":["sts:AssumeRole","sts:TagSession"]}]}`
	podsTrustNoTags  = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"pods.eks.amazonaws.com"},"Action":"sts:AssumeRole"}]}`
	irsaOnlyTrust    = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Federated":"arn:aws:iam::123456789012:oidc-provider/oidc.eks.us-east-1.amazonaws.com/id/ABC"},"Action":"sts:AssumeRoleWithWebIdentity"}]}`
	podIdentityRoles = "arn:aws:iam::123456789012:role/"
)

// The SDK and the aws CLI see EKS Pod Identity associations on moto as the EKS API reference
// describes them: each action, the list's filters, and each refusal at create.
func TestEKSPodIdentityAssociations(t *testing.T) {
	s := moto.Start(t)
	ctx := context.Background()
	c := eks.NewFromConfig(s.Config(""))
	iamc := iam.NewFromConfig(s.Config(""))
	for name, doc := range map[string]string{"cluster": trust, "app": podsTrust, "app2": podsTrust, "notags": podsTrustNoTags, "irsa": irsaOnlyTrust} {
		if _, err := iamc.CreateRole(ctx, &iam.CreateRoleInput{RoleName: aws.String(name), AssumeRolePolicyDocument: aws.String(doc)}); err != nil {
			t.Fatal(err)
		}
	}
	createCluster(t, c, "demo", "")

	created, err := c.CreatePodIdentityAssociation(ctx, &eks.CreatePodIdentityAssociationInput{ClusterName: aws.String("demo"),
		Namespace: aws.String("apps"), ServiceAccount: aws.String("web"), RoleArn: aws.String(podIdentityRoles + "app")})
	if err != nil {
		t.Fatal(err)
	}
	a := created.Association
	id := aws.ToString(a.AssociationId)
	if !strings.HasPrefix(id, "a-") || len(id) != 19 || aws.ToString(a.AssociationArn) != "arn:aws:eks:"+s.Region+":123456789012:podidentityassociation/demo/"+id ||
		aws.ToString(a.RoleArn) != podIdentityRoles+"app" || aws.ToString(a.Namespace) != "apps" || aws.ToString(a.ServiceAccount) != "web" {
		t.Errorf("created association %s %s role %s in %s/%s", id, aws.ToString(a.AssociationArn), aws.ToString(a.RoleArn), aws.ToString(a.Namespace), aws.ToString(a.ServiceAccount))
	}
	if _, err := c.CreatePodIdentityAssociation(ctx, &eks.CreatePodIdentityAssociationInput{ClusterName: aws.String("demo"),
		Namespace: aws.String("jobs"), ServiceAccount: aws.String("web"), RoleArn: aws.String(podIdentityRoles + "app")}); err != nil {
		t.Fatalf("the same role for another namespace: %v", err)
	}

	listed, err := c.ListPodIdentityAssociations(ctx, &eks.ListPodIdentityAssociationsInput{ClusterName: aws.String("demo"), Namespace: aws.String("apps")})
	if err != nil || len(listed.Associations) != 1 || aws.ToString(listed.Associations[0].AssociationId) != id {
		t.Errorf("associations in apps: %+v, %v; want %s only", listed, err, id)
	}
	all, err := c.ListPodIdentityAssociations(ctx, &eks.ListPodIdentityAssociationsInput{ClusterName: aws.String("demo")})
	if err != nil || len(all.Associations) != 2 {
		t.Errorf("all associations: %+v, %v; want two", all, err)
	}

	updated, err := c.UpdatePodIdentityAssociation(ctx, &eks.UpdatePodIdentityAssociationInput{ClusterName: aws.String("demo"), AssociationId: aws.String(id), RoleArn: aws.String(podIdentityRoles + "app2")})
	if err != nil || aws.ToString(updated.Association.RoleArn) != podIdentityRoles+"app2" {
		t.Errorf("UpdatePodIdentityAssociation: %+v, %v", updated, err)
	}
	described, err := c.DescribePodIdentityAssociation(ctx, &eks.DescribePodIdentityAssociationInput{ClusterName: aws.String("demo"), AssociationId: aws.String(id)})
	if err != nil || aws.ToString(described.Association.RoleArn) != podIdentityRoles+"app2" || aws.ToString(described.Association.Namespace) != "apps" {
		t.Errorf("DescribePodIdentityAssociation after the update: %+v, %v", described, err)
	}

	// Tags by the association's ARN (API_TagResource), as terraform-provider-aws tags it.
	arn := a.AssociationArn
	if _, err := c.TagResource(ctx, &eks.TagResourceInput{ResourceArn: arn, Tags: map[string]string{"team": "web"}}); err != nil {
		t.Fatalf("TagResource on the association: %v", err)
	}
	if _, err := c.UntagResource(ctx, &eks.UntagResourceInput{ResourceArn: arn, TagKeys: []string{"none"}}); err != nil {
		t.Fatalf("UntagResource on the association: %v", err)
	}
	if tags, err := c.ListTagsForResource(ctx, &eks.ListTagsForResourceInput{ResourceArn: arn}); err != nil || tags.Tags["team"] != "web" {
		t.Errorf("the association's tags: %+v, %v", tags, err)
	}

	create := func(cluster, ns, sa, role string, noTags bool) func() error {
		return func() error {
			in := &eks.CreatePodIdentityAssociationInput{ClusterName: aws.String(cluster), Namespace: aws.String(ns), ServiceAccount: aws.String(sa), RoleArn: aws.String(podIdentityRoles + role)}
			if noTags {
				in.DisableSessionTags = aws.Bool(true)
			}
			_, err := c.CreatePodIdentityAssociation(ctx, in)
			return err
		}
	}
	for _, tc := range []struct {
		name string
		call func() error
		want string
	}{
		{"a second association for the account", create("demo", "apps", "web", "app", false), "ResourceInUseException"},
		{"a role trusting only the OIDC provider", create("demo", "apps", "api", "irsa", false), "InvalidParameterException"},
		{"a role without sts:TagSession, session tags on", create("demo", "apps", "api", "notags", false), "InvalidParameterException"},
		{"a role that does not exist", create("demo", "apps", "api", "nobody", false), "InvalidParameterException"},
		{"an unknown cluster", create("nope", "apps", "api", "app", false), "ResourceNotFoundException"},
		{"an update to a role trusting only the OIDC provider", func() error {
			_, err := c.UpdatePodIdentityAssociation(ctx, &eks.UpdatePodIdentityAssociationInput{ClusterName: aws.String("demo"), AssociationId: aws.String(id), RoleArn: aws.String(podIdentityRoles + "irsa")})
			return err
		}, "InvalidParameterException"},
		{"an unknown association", func() error {
			_, err := c.DescribePodIdentityAssociation(ctx, &eks.DescribePodIdentityAssociationInput{ClusterName: aws.String("demo"), AssociationId: aws.String("a-00000000000000000")})
			return err
		}, "ResourceNotFoundException"},
	} {
		if got := errorCode(tc.call()); got != tc.want {
			t.Errorf("%s: error %q, want %s", tc.name, got, tc.want)
		}
	}
	// Without session tags, sts:AssumeRole alone is enough (the tags are what sts:TagSession allows).
	if err := create("demo", "apps", "api", "notags", true)(); err != nil {
		t.Errorf("a role without sts:TagSession, session tags off: %v", err)
	}

	deleted, err := c.DeletePodIdentityAssociation(ctx, &eks.DeletePodIdentityAssociationInput{ClusterName: aws.String("demo"), AssociationId: aws.String(id)})
	if err != nil || aws.ToString(deleted.Association.AssociationId) != id {
		t.Fatalf("DeletePodIdentityAssociation: %+v, %v", deleted, err)
	}
	if err := create("demo", "apps", "web", "app", false)(); err != nil {
		t.Errorf("the account's association again after the delete: %v", err)
	}

	// The aws CLI sees the same service, and EKS's refusal by name.
	if _, err := exec.LookPath("aws"); err != nil {
		t.Fatalf("aws CLI not on PATH: %v", err)
	}
	cli := func(args ...string) (string, error) {
		cmd := exec.Command("aws", append([]string{"eks"}, args...)...)
		cmd.Env = s.Environ([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir()})
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	out, err := cli("list-pod-identity-associations", "--cluster-name", "demo", "--service-account", "web", "--output", "text", "--query", "associations[].namespace")
	if err != nil || strings.Fields(out) == nil || len(strings.Fields(out)) != 2 {
		t.Errorf("aws eks list-pod-identity-associations --service-account web: %v\n%s", err, out)
	}
	out, err = cli("create-pod-identity-association", "--cluster-name", "demo", "--namespace", "apps", "--service-account", "cli", "--role-arn", podIdentityRoles+"irsa")
	if err == nil || !strings.Contains(out, "Trust policy of the role provided is invalid") {
		t.Errorf("aws eks create-pod-identity-association with an IRSA-only role: %v\n%s", err, out)
	}
}
