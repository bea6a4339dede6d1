package integration

import (
	"encoding/json"
	"fmt"
	"maps"
	"net/url"
	"path/filepath"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eks"
	ekstypes "github.com/aws/aws-sdk-go-v2/service/eks/types"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	corev1 "k8s.io/api/core/v1"
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

// createPodIdentityAccount makes podIdentityEntry's namespace and account as its workload's
// chart would, before the stack's up: the stack leaves a podIdentity account to whoever runs
// its pods, and verify --identities proves it with a token of that account. It returns the
// account's resource version, which any write of the stack's would change.
func (e *emulated) createPodIdentityAccount() string {
	t := e.t
	t.Helper()
	ctx := t.Context()
	ns, name := podIdentityEntry["namespace"].(string), podIdentityEntry["serviceAccount"].(string)
	if _, err := e.cluster.Client.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
	sa, err := e.cluster.Client.CoreV1().ServiceAccounts(ns).Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return sa.ResourceVersion
}

// checkPodIdentityEntry checks, on a stack that is up with podIdentityEntry among its
// serviceAccountRoles (its account made by createPodIdentityAccount), what eksirsa made of it
// through the AWS plugin in moto: the role trusted by pods.eks.amazonaws.com (moto's
// CreatePodIdentityAssociation holds it to EKS's trust check), the association for the account
// and the agent add-on, ACTIVE; the account in the cluster left as its chart made it (its
// resource version, no annotation); the association in the stack's outputs.
func (e *emulated) checkPodIdentityEntry(version string) {
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
	if sa, err := e.cluster.Client.CoreV1().ServiceAccounts("apps").Get(ctx, "reports", metav1.GetOptions{}); err != nil || len(sa.Annotations) > 0 || sa.ResourceVersion != version {
		t.Errorf("the stack touched the Pod Identity account apps/reports: %v, %+v", err, sa)
	}
	if out, err := e.eksirsa("outputs", "--json"); err != nil || !strings.Contains(out, `"podIdentityAssociations"`) || !strings.Contains(out, aws.ToString(a.Association.AssociationId)) {
		t.Errorf("eksirsa outputs: no podIdentityAssociations naming %s: %v\n%s", aws.ToString(a.Association.AssociationId), err, out)
	}
}

// checkIdentitySwitch moves default/external-secrets, an account the stack creates and
// checkMigratePodIdentity left on podIdentity, by config, one word each: identity both (the
// OIDC statement and the annotation back), then podIdentity again. With both, up's
// verify --identities proves the account's IRSA token against a trust of two statements, the
// annotation stays and the association is made; with podIdentity the trust keeps only the Pod
// Identity statement, the association stays, and the account is the same object (its UID),
// without the annotation: the switch never deletes the account its pods run as.
func (e *emulated) checkIdentitySwitch() {
	t := e.t
	t.Helper()
	ctx := t.Context()
	const namespace, account = "default", "external-secrets"
	setIdentity := func(identity string) string {
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
		out, err := e.eksirsa("up", "--yes", "--verify-wait", "3m")
		if err != nil {
			t.Fatalf("eksirsa up with identity %s for %s/%s: %v\n%s", identity, namespace, account, err, out)
		}
		return out
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

	// The up's verify --identities proves both paths of a both account, and Pod Identity's alone
	// once it is podIdentity.
	const irsaLine = "PASS identity " + namespace + "/" + account + ": token iss/sub/aud and signature verified"
	out := setIdentity("both")
	e.checkPodIdentityProof(out, namespace+"/"+account, "apps/reports")
	if !strings.Contains(out, irsaLine) {
		t.Errorf("identity both: the up's verify has no line %q:\n%s", irsaLine, out)
	}
	uid, annotation, roleARN, statements := state()
	if annotation != roleARN || !slices.Equal(statements, []string{"Federated", "Service"}) {
		t.Errorf("identity both: annotation %q, association's role %s, trust statements %v; want the annotation kept and the OIDC statement then the Pod Identity one", annotation, roleARN, statements)
	}
	out = setIdentity("podIdentity")
	e.checkPodIdentityProof(out, namespace+"/"+account, "apps/reports")
	if strings.Contains(out, irsaLine) {
		t.Errorf("identity podIdentity: the up's verify still proves IRSA for %s/%s:\n%s", namespace, account, out)
	}
	uid2, annotation, roleARN2, statements := state()
	if uid2 != uid || annotation != "" || roleARN2 != roleARN || !slices.Equal(statements, []string{"Service"}) {
		t.Errorf("identity podIdentity: account UID %s (was %s), annotation %q, role %s (was %s), trust statements %v; want the same account without the annotation, the same role, the Pod Identity statement only",
			uid2, uid, annotation, roleARN2, roleARN, statements)
	}
	if out, err := e.eksirsa("drift"); err != nil || strings.Contains(out, "DRIFT") || !strings.Contains(out, "OK    pod-identity-association "+namespace+"/"+account) {
		t.Errorf("eksirsa drift after the switch: %v\n%s", err, out)
	}
	// --format json: a result per proof, the Pod Identity ones named so, with their tags.
	out, err := e.eksirsa("verify", "--identities", "--format", "json")
	var report identityReport
	jsonAfter(t, out, &report)
	proven := map[string]bool{}
	for _, r := range report.Identities {
		if r.Identity != "podIdentity" {
			continue
		}
		ns, name, _ := strings.Cut(r.Account, "/")
		if !r.Passed || r.SessionTags["kubernetes-namespace"] != ns || r.SessionTags["kubernetes-service-account"] != name || r.SessionTags["eks-cluster-name"] != e.name ||
			r.AssociationID == "" || !strings.Contains(r.AssumedRoleARN, ":assumed-role/") || !strings.Contains(r.ForeignRefused, "ResourceNotFoundException") {
			t.Errorf("verify --identities --format json, %s: %+v", r.Account, r)
		}
		proven[r.Account] = true
	}
	// Each account the config puts on Pod Identity (podIdentity or both), and no other.
	roles, cerr := stackfile.Get(filepath.Join(e.dir, "Pulumi.test.yaml"), "eks-irsa:serviceAccountRoles")
	if cerr != nil {
		t.Fatal(cerr)
	}
	want := map[string]bool{}
	for _, r := range roles.([]any) {
		if m := r.(map[string]any); m["identity"] == "podIdentity" || m["identity"] == "both" {
			want[fmt.Sprint(m["namespace"], "/", m["serviceAccount"])] = true
		}
	}
	if err != nil || !report.Passed || !maps.Equal(proven, want) || !want[namespace+"/"+account] || !want["apps/reports"] {
		t.Errorf("verify --identities --format json: %v, proven through Pod Identity %v, want %v (with %s/%s and apps/reports):\n%s", err, proven, want, namespace, account, out)
	}
}

// checkPodIdentityProof checks that verify --identities' output out proves each Pod Identity
// account as the stack's association in moto has it: a line per account naming its token for
// pods.eks.amazonaws.com, the session tags of this cluster and account, the association's id and
// a session of its role that GetCallerIdentity named, and another account's token refused by
// the trust policy and by moto's EKS Auth (no association for it).
func (e *emulated) checkPodIdentityProof(out string, accounts ...string) {
	t := e.t
	t.Helper()
	ctx := t.Context()
	c := eks.NewFromConfig(e.aws)
	cluster, err := c.DescribeCluster(ctx, &eks.DescribeClusterInput{Name: aws.String(e.name)})
	if err != nil {
		t.Fatal(err)
	}
	for _, key := range accounts {
		namespace, account, _ := strings.Cut(key, "/")
		list, err := c.ListPodIdentityAssociations(ctx, &eks.ListPodIdentityAssociationsInput{ClusterName: aws.String(e.name),
			Namespace: aws.String(namespace), ServiceAccount: aws.String(account)})
		if err != nil || len(list.Associations) != 1 {
			t.Fatalf("associations of %s: %+v, %v; want one", key, list, err)
		}
		a, err := c.DescribePodIdentityAssociation(ctx, &eks.DescribePodIdentityAssociationInput{ClusterName: aws.String(e.name), AssociationId: list.Associations[0].AssociationId})
		if err != nil {
			t.Fatal(err)
		}
		roleARN := aws.ToString(a.Association.RoleArn)
		prefix := "PASS identity " + key + " (Pod Identity): "
		var line string
		for l := range strings.Lines(out) {
			if strings.HasPrefix(l, prefix) {
				line = l
			}
		}
		for _, want := range []string{
			"token iss/sub/aud pods.eks.amazonaws.com and signature verified",
			"the trust policy admits the session tags EKS sets (eks-cluster-arn=" + aws.ToString(cluster.Cluster.Arn) + ", eks-cluster-name=" + e.name +
				", kubernetes-namespace=" + namespace + ", kubernetes-service-account=" + account + ")",
			"EKS Auth gave association " + aws.ToString(a.Association.AssociationId) + " a session GetCallerIdentity names arn:aws:sts::123456789012:assumed-role/" +
				roleARN[strings.LastIndex(roleARN, "/")+1:] + "/eks-" + e.name + "-",
			"'s token refused by the trust policy (", "and by EKS Auth (ResourceNotFoundException)",
		} {
			if !strings.Contains(line, want) {
				t.Errorf("verify --identities for %s: want a line %q… with %q in\n%s", key, prefix, want, out)
			}
		}
	}
}
