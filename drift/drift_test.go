package drift

import (
	"context"
	"crypto/sha1" //nolint:gosec // IAM's thumbprint
	"encoding/hex"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/eks-irsa/eks-irsa/identity"
	"github.com/eks-irsa/eks-irsa/integration/moto"
	"github.com/eks-irsa/eks-irsa/irsa"
	"github.com/eks-irsa/eks-irsa/k8s"
)

const (
	nodeRoleARN = "arn:aws:iam::123456789012:role/nodes"
	mapRoles    = "- rolearn: " + nodeRoleARN + "\n  username: system:node:{{EC2PrivateDNSName}}\n  groups:\n    - system:bootstrappers\n    - system:nodes\n"
	inline      = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["s3:ListBucket"],"Resource":"*"}]}`
	cniPolicy   = "arn:aws:iam::aws:policy/AmazonEKS_CNI_Policy"
)

// fixture is a stack as declared and as live: the OIDC provider and roles in moto's IAM, an
// httptest TLS server as the issuer's host, and the cluster's objects in a fake clientset.
type fixture struct {
	iam      *iam.Client
	detector *Detector
	decl     Declared
	objects  []runtime.Object
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	ctx := t.Context()
	issuerServer := httptest.NewTLSServer(http.NotFoundHandler())
	t.Cleanup(issuerServer.Close)
	issuer := issuerServer.URL + "/id/EXAMPLE"
	cert := issuerServer.Certificate()
	sum := sha1.Sum(cert.Raw) //nolint:gosec // IAM's thumbprint
	roots := issuerServer.Client().Transport.(*http.Transport).TLSClientConfig.RootCAs

	m := moto.Start(t)
	c := iam.NewFromConfig(m.Config(""))
	provider, err := c.CreateOpenIDConnectProvider(ctx, &iam.CreateOpenIDConnectProviderInput{
		Url: aws.String(issuer), ClientIDList: []string{irsa.Audience}, ThumbprintList: []string{hex.EncodeToString(sum[:])},
	})
	if err != nil {
		t.Fatal(err)
	}
	providerARN := aws.ToString(provider.OpenIDConnectProviderArn)
	host := strings.TrimPrefix(issuer, "https://")
	f := &fixture{iam: c, decl: Declared{Issuer: issuer, ProviderARN: providerARN, MapRoles: mapRoles, Stack: "test"}}
	for _, r := range []struct {
		ns, name, managed, inline string
	}{
		{k8s.KubeSystemNamespace, k8s.AWSNodeName, cniPolicy, ""},
		{"default", "app", "", inline},
	} {
		trust := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Federated":"` + providerARN + `"},"Action":["sts:AssumeRoleWithWebIdentity"],` +
			`"Condition":{"StringEquals":{"` + host + `:sub":"` + irsa.Subject(r.ns, r.name) + `","` + host + `:aud":"sts.amazonaws.com"}}}]}`
		role, err := c.CreateRole(ctx, &iam.CreateRoleInput{RoleName: aws.String(r.name + "-role"), AssumeRolePolicyDocument: aws.String(trust)})
		if err != nil {
			t.Fatal(err)
		}
		declared := Role{Account: identity.Account{Namespace: r.ns, Name: r.name, RoleARN: aws.ToString(role.Role.Arn)}, TrustPolicy: trust, InlinePolicy: r.inline}
		if r.managed != "" {
			if _, err := c.AttachRolePolicy(ctx, &iam.AttachRolePolicyInput{RoleName: aws.String(r.name + "-role"), PolicyArn: aws.String(r.managed)}); err != nil {
				t.Fatal(err)
			}
			declared.ManagedPolicyARNs = []string{r.managed}
		}
		if r.inline != "" {
			if _, err := c.PutRolePolicy(ctx, &iam.PutRolePolicyInput{RoleName: aws.String(r.name + "-role"), PolicyName: aws.String("inline-1"), PolicyDocument: aws.String(r.inline)}); err != nil {
				t.Fatal(err)
			}
		}
		f.decl.Roles = append(f.decl.Roles, declared)
		f.decl.Annotated = append(f.decl.Annotated, declared.Account)
		f.objects = append(f.objects, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{
			Namespace: r.ns, Name: r.name, Annotations: map[string]string{irsa.RoleARNAnnotation: declared.Account.RoleARN},
		}})
	}
	f.objects = append(f.objects,
		awsNodePod("aws-node-1", f.decl.Annotated[0].RoleARN),
		&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: k8s.KubeSystemNamespace, Name: k8s.AWSAuthName}, Data: map[string]string{k8s.MapRolesKey: mapRoles}},
	)
	f.detector = &Detector{AWS: m.Config(""), RootCAs: roots}
	return f
}

func awsNodePod(name, roleARN string) *corev1.Pod {
	env := []corev1.EnvVar{{Name: "AWS_VPC_K8S_CNI_LOGLEVEL", Value: "DEBUG"}}
	if roleARN != "" {
		env = append(env, corev1.EnvVar{Name: irsa.EnvRoleARN, Value: roleARN})
	}
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: k8s.KubeSystemNamespace, Name: name, Labels: map[string]string{"k8s-app": k8s.AWSNodeName}},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: k8s.AWSNodeName, Env: env}}},
	}
}

func (f *fixture) detect(t *testing.T) []string {
	t.Helper()
	f.detector.Kube = fake.NewClientset(f.objects...)
	var lines int
	findings, err := f.detector.Detect(t.Context(), f.decl, func(Line) { lines++ })
	if err != nil {
		t.Fatal(err)
	}
	// 3 per role, 2 for the provider, 1 per account, 1 for aws-node's pods, 1 per mapping.
	if want := 3*len(f.decl.Roles) + 2 + len(f.decl.Annotated) + 1 + 1; lines < want {
		t.Errorf("%d lines reported, want at least %d", lines, want)
	}
	var got []string
	for _, fd := range findings {
		if fd.Repair == "" {
			t.Errorf("finding %s %s says no repair", fd.Check, fd.Subject)
		}
		got = append(got, fd.Check+" "+fd.Subject)
	}
	slices.Sort(got)
	return got
}

func TestNoDriftWhenLiveMatchesDeclared(t *testing.T) {
	f := newFixture(t)
	if got := f.detect(t); len(got) > 0 {
		t.Errorf("findings on a stack that matches: %q", got)
	}
}

// Each hand edit users make is named, once, by the check that owns it.
func TestDriftNamesEachHandEdit(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name string
		edit func(t *testing.T, f *fixture)
		want string
	}{
		{"trust policy widened", func(t *testing.T, f *fixture) {
			doc := strings.Replace(f.decl.Roles[1].TrustPolicy, irsa.Subject("default", "app"), irsa.Subject("default", "*"), 1)
			doc = strings.Replace(doc, "StringEquals", "StringLike", 1)
			if _, err := f.iam.UpdateAssumeRolePolicy(ctx, &iam.UpdateAssumeRolePolicyInput{RoleName: aws.String("app-role"), PolicyDocument: aws.String(doc)}); err != nil {
				t.Fatal(err)
			}
		}, CheckTrust + " default/app (role app-role)"},
		{"managed policy detached", func(t *testing.T, f *fixture) {
			if _, err := f.iam.DetachRolePolicy(ctx, &iam.DetachRolePolicyInput{RoleName: aws.String("aws-node-role"), PolicyArn: aws.String(cniPolicy)}); err != nil {
				t.Fatal(err)
			}
		}, CheckManaged + " kube-system/aws-node (role aws-node-role)"},
		{"inline policy added", func(t *testing.T, f *fixture) {
			if _, err := f.iam.PutRolePolicy(ctx, &iam.PutRolePolicyInput{RoleName: aws.String("aws-node-role"), PolicyName: aws.String("extra"), PolicyDocument: aws.String(inline)}); err != nil {
				t.Fatal(err)
			}
		}, CheckInline + " kube-system/aws-node (role aws-node-role)"},
		{"thumbprint replaced", func(t *testing.T, f *fixture) {
			if _, err := f.iam.UpdateOpenIDConnectProviderThumbprint(ctx, &iam.UpdateOpenIDConnectProviderThumbprintInput{
				OpenIDConnectProviderArn: aws.String(f.decl.ProviderARN), ThumbprintList: []string{strings.Repeat("0", 40)},
			}); err != nil {
				t.Fatal(err)
			}
		}, CheckThumbprint + " " + "PROVIDER"},
		{"annotation removed", func(_ *testing.T, f *fixture) {
			delete(f.objects[1].(*corev1.ServiceAccount).Annotations, irsa.RoleARNAnnotation)
		}, CheckAnnotation + " default/app"},
		{"aws-node pod started before the annotation", func(_ *testing.T, f *fixture) {
			f.objects = append(f.objects, awsNodePod("aws-node-2", ""))
		}, CheckPodRole + " kube-system/aws-node pods"},
		{"foreign aws-auth mapping", func(_ *testing.T, f *fixture) {
			cm := f.objects[len(f.objects)-1].(*corev1.ConfigMap)
			cm.Data[k8s.MapRolesKey] += "- rolearn: arn:aws:iam::123456789012:role/admin\n  username: admin\n  groups:\n    - system:masters\n"
		}, CheckForeign + " arn:aws:iam::123456789012:role/admin"},
		{"node mapping removed", func(_ *testing.T, f *fixture) {
			f.objects[len(f.objects)-1].(*corev1.ConfigMap).Data[k8s.MapRolesKey] = "[]"
		}, CheckAWSAuthOurs + " " + nodeRoleARN},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			tc.edit(t, f)
			want := strings.Replace(tc.want, "PROVIDER", f.decl.ProviderARN, 1)
			if got := f.detect(t); !slices.Equal(got, []string{want}) {
				t.Errorf("findings %q, want exactly %q", got, want)
			}
		})
	}
}
