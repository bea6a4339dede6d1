package integration

import (
	"encoding/json"
	"maps"
	"net/url"
	"path/filepath"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eks"
	ekstypes "github.com/aws/aws-sdk-go-v2/service/eks/types"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/eks-irsa/eks-irsa/integration/stackfile"
)

// podIdentityEntry is a serviceAccountRoles entry with identity podIdentity, for
// checkPodIdentityEntry.
var podIdentityEntry = map[string]any{
	"namespace": "apps", "serviceAccount": "reports", "identity": "podIdentity",
	"managedPolicyArns": []string{"arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess"},
}

// checkPodIdentityEntry checks, on a stack that is up with podIdentityEntry among its
// serviceAccountRoles, what eksirsa made of it through the AWS plugin in moto: the role trusted
// by pods.eks.amazonaws.com (moto's CreatePodIdentityAssociation holds it to EKS's trust
// check), the association for the account and the agent add-on, ACTIVE; nothing annotated or
// created in the cluster for the account; the association in the stack's outputs.
func (e *emulated) checkPodIdentityEntry() {
	t := e.t
	t.Helper()
	ctx := t.Context()
	c := eks.NewFromConfig(e.aws)
	list, err := c.ListPodIdentityAssociations(ctx, &eks.ListPodIdentityAssociationsInput{ClusterName: aws.String(e.name)})
	if err != nil || len(list.Associations) != 1 || aws.ToString(list.Associations[0].Namespace) != "apps" || aws.ToString(list.Associations[0].ServiceAccount) != "reports" {
		t.Fatalf("associations: %+v, %v; want apps/reports only", list, err)
	}
	a, err := c.DescribePodIdentityAssociation(ctx, &eks.DescribePodIdentityAssociationInput{ClusterName: aws.String(e.name), AssociationId: list.Associations[0].AssociationId})
	if err != nil {
		t.Fatal(err)
	}
	roleName := aws.ToString(a.Association.RoleArn)[strings.LastIndex(aws.ToString(a.Association.RoleArn), "/")+1:]
	role, err := iam.NewFromConfig(e.aws).GetRole(ctx, &iam.GetRoleInput{RoleName: aws.String(roleName)})
	if err != nil {
		t.Fatal(err)
	}
	doc, _ := url.QueryUnescape(aws.ToString(role.Role.AssumeRolePolicyDocument))
	var trust struct {
		Statement []struct {
			Principal map[string]any
			Action    []string
			Condition map[string]map[string]string
		}
	}
	cluster, err := c.DescribeCluster(ctx, &eks.DescribeClusterInput{Name: aws.String(e.name)})
	if err != nil {
		t.Fatal(err)
	}
	// Narrowed to the session tags EKS sets for this cluster, namespace and account.
	tags := map[string]string{"aws:RequestTag/eks-cluster-arn": aws.ToString(cluster.Cluster.Arn),
		"aws:RequestTag/kubernetes-namespace": "apps", "aws:RequestTag/kubernetes-service-account": "reports"}
	if err := json.Unmarshal([]byte(doc), &trust); err != nil || len(trust.Statement) != 1 || trust.Statement[0].Principal["Service"] != "pods.eks.amazonaws.com" ||
		!slices.Equal(trust.Statement[0].Action, []string{"sts:AssumeRole", "sts:TagSession"}) || !maps.Equal(trust.Statement[0].Condition["StringEquals"], tags) {
		t.Errorf("the role's trust in IAM: %s (%v), want pods.eks.amazonaws.com for the session tags %v", doc, err, tags)
	}
	addon, err := c.DescribeAddon(ctx, &eks.DescribeAddonInput{ClusterName: aws.String(e.name), AddonName: aws.String("eks-pod-identity-agent")})
	if err != nil || addon.Addon.Status != ekstypes.AddonStatusActive {
		t.Errorf("the agent add-on: %+v, %v; want ACTIVE", addon, err)
	}
	if _, err := e.cluster.Client.CoreV1().ServiceAccounts("apps").Get(ctx, "reports", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("the stack touched the Pod Identity account apps/reports: %v", err)
	}
	if out, err := e.eksirsa("outputs", "--json"); err != nil || !strings.Contains(out, `"podIdentityAssociations"`) || !strings.Contains(out, aws.ToString(a.Association.AssociationId)) {
		t.Errorf("eksirsa outputs: no podIdentityAssociations naming %s: %v\n%s", aws.ToString(a.Association.AssociationId), err, out)
	}
}

// checkIdentitySwitch moves default/external-secrets, an account the stack creates, through
// the migration's configs, one word each: identity both, then podIdentity. With both, up's
// verify --identities proves the account's IRSA token against a trust of two statements, the
// annotation stays and the association is made; with podIdentity the trust keeps only the Pod
// Identity statement, the association stays, and the account is the same object (its UID),
// without the annotation: the switch never deletes the account its pods run as.
func (e *emulated) checkIdentitySwitch() {
	t := e.t
	t.Helper()
	ctx := t.Context()
	const namespace, account = "default", "external-secrets"
	setIdentity := func(identity string) {
		t.Helper()
		roles, err := stackfile.Get(filepath.Join(e.dir, "Pulumi.test.yaml"), "eks-irsa:serviceAccountRoles")
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range roles.([]any) {
			if m := r.(map[string]any); m["namespace"] == namespace && m["serviceAccount"] == account {
				m["identity"] = identity
			}
		}
		e.setConfig("eks-irsa:serviceAccountRoles", roles)
		if out, err := e.eksirsa("up", "--yes", "--verify-wait", "3m"); err != nil {
			t.Fatalf("eksirsa up with identity %s for %s/%s: %v\n%s", identity, namespace, account, err, out)
		}
	}
	state := func() (uid, annotation, roleARN string, statements []string) {
		t.Helper()
		sa, err := e.cluster.Client.CoreV1().ServiceAccounts(namespace).Get(ctx, account, metav1.GetOptions{})
		if err != nil {
			t.Fatalf("the account %s/%s: %v", namespace, account, err)
		}
		c := eks.NewFromConfig(e.aws)
		list, err := c.ListPodIdentityAssociations(ctx, &eks.ListPodIdentityAssociationsInput{ClusterName: aws.String(e.name),
			Namespace: aws.String(namespace), ServiceAccount: aws.String(account)})
		if err != nil || len(list.Associations) != 1 {
			t.Fatalf("associations of %s/%s: %+v, %v; want one", namespace, account, list, err)
		}
		a, err := c.DescribePodIdentityAssociation(ctx, &eks.DescribePodIdentityAssociationInput{ClusterName: aws.String(e.name), AssociationId: list.Associations[0].AssociationId})
		if err != nil {
			t.Fatal(err)
		}
		roleARN = aws.ToString(a.Association.RoleArn)
		role, err := iam.NewFromConfig(e.aws).GetRole(ctx, &iam.GetRoleInput{RoleName: aws.String(roleARN[strings.LastIndex(roleARN, "/")+1:])})
		if err != nil {
			t.Fatal(err)
		}
		doc, _ := url.QueryUnescape(aws.ToString(role.Role.AssumeRolePolicyDocument))
		var trust struct {
			Statement []struct{ Principal map[string]string }
		}
		if err := json.Unmarshal([]byte(doc), &trust); err != nil {
			t.Fatal(err)
		}
		for _, s := range trust.Statement {
			for kind := range s.Principal {
				statements = append(statements, kind)
			}
		}
		return string(sa.UID), sa.Annotations["eks.amazonaws.com/role-arn"], roleARN, statements
	}

	setIdentity("both")
	uid, annotation, roleARN, statements := state()
	if annotation != roleARN || !slices.Equal(statements, []string{"Federated", "Service"}) {
		t.Errorf("identity both: annotation %q, association's role %s, trust statements %v; want the annotation kept and the OIDC statement then the Pod Identity one", annotation, roleARN, statements)
	}
	setIdentity("podIdentity")
	uid2, annotation, roleARN2, statements := state()
	if uid2 != uid || annotation != "" || roleARN2 != roleARN || !slices.Equal(statements, []string{"Service"}) {
		t.Errorf("identity podIdentity: account UID %s (was %s), annotation %q, role %s (was %s), trust statements %v; want the same account without the annotation, the same role, the Pod Identity statement only",
			uid2, uid, annotation, roleARN2, roleARN, statements)
	}
	if out, err := e.eksirsa("drift"); err != nil || strings.Contains(out, "DRIFT") || !strings.Contains(out, "OK    pod-identity-association "+namespace+"/"+account) {
		t.Errorf("eksirsa drift after the switch: %v\n%s", err, out)
	}
}
