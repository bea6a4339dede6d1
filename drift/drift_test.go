package drift

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha1" //nolint:gosec // IAM's thumbprint
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eks"
	ekstypes "github.com/aws/aws-sdk-go-v2/service/eks/types"
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
	eks      *eks.Client
	chain    issuerChain
	detector *Detector
	decl     Declared
	objects  []runtime.Object
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	ctx := t.Context()
	chain := newIssuerChain(t)
	issuerServer := httptest.NewUnstartedServer(http.NotFoundHandler())
	issuerServer.TLS = &tls.Config{Certificates: []tls.Certificate{chain.served}, MinVersion: tls.VersionTLS12}
	issuerServer.StartTLS()
	t.Cleanup(issuerServer.Close)
	issuer := issuerServer.URL + "/id/EXAMPLE"
	roots := x509.NewCertPool()
	roots.AddCert(chain.root)

	m := moto.Start(t)
	c := iam.NewFromConfig(m.Config(""))
	provider, err := c.CreateOpenIDConnectProvider(ctx, &iam.CreateOpenIDConnectProviderInput{
		Url: aws.String(issuer), ClientIDList: []string{irsa.Audience}, ThumbprintList: []string{thumbprint(chain.root)},
	})
	if err != nil {
		t.Fatal(err)
	}
	providerARN := aws.ToString(provider.OpenIDConnectProviderArn)
	host := strings.TrimPrefix(issuer, "https://")
	f := &fixture{iam: c, eks: eks.NewFromConfig(m.Config("")), chain: chain,
		decl: Declared{Issuer: issuer, ProviderARN: providerARN, MapRoles: mapRoles, ClusterName: "demo", Stack: "test"}}
	// The cluster as the stack makes it: API_AND_CONFIG_MAP, the creator an admin (moto gets
	// EKS's access entries from integration/moto/eks_access_entries.py).
	if _, err := c.CreateRole(ctx, &iam.CreateRoleInput{RoleName: aws.String("cluster"), AssumeRolePolicyDocument: aws.String(`{"Version":"2012-10-17","Statement":[]}`)}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.eks.CreateCluster(ctx, &eks.CreateClusterInput{
		Name: aws.String("demo"), RoleArn: aws.String("arn:aws:iam::123456789012:role/cluster"), ResourcesVpcConfig: &ekstypes.VpcConfigRequest{},
		AccessConfig: &ekstypes.CreateAccessConfigRequest{AuthenticationMode: ekstypes.AuthenticationModeApiAndConfigMap, BootstrapClusterCreatorAdminPermissions: aws.Bool(true)},
	}); err != nil {
		t.Fatal(err)
	}
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

// issuerChain is a CA hierarchy as a public issuer has one: a root, an intermediate it signed,
// and the host's leaf; the server sends all three, leaf first, as EKS's issuer does.
type issuerChain struct {
	root, intermediate, leaf *x509.Certificate
	served                   tls.Certificate
}

func newIssuerChain(t *testing.T) issuerChain {
	t.Helper()
	issue := func(tmpl, parent *x509.Certificate, parentKey *ecdsa.PrivateKey) (*x509.Certificate, *ecdsa.PrivateKey) {
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		if parent == nil {
			parent, parentKey = tmpl, key
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, &key.PublicKey, parentKey)
		if err != nil {
			t.Fatal(err)
		}
		cert, err := x509.ParseCertificate(der)
		if err != nil {
			t.Fatal(err)
		}
		return cert, key
	}
	now := time.Now()
	ca := func(serial int64, cn string, years int) *x509.Certificate {
		return &x509.Certificate{SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: cn}, NotBefore: now.Add(-time.Hour), NotAfter: now.AddDate(years, 0, 0),
			IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature}
	}
	root, rootKey := issue(ca(1, "eks-irsa test root", 20), nil, nil)
	intermediate, intermediateKey := issue(ca(2, "eks-irsa test intermediate", 5), root, rootKey)
	leaf, leafKey := issue(&x509.Certificate{SerialNumber: big.NewInt(3), Subject: pkix.Name{CommonName: "127.0.0.1"}, NotBefore: now.Add(-time.Hour), NotAfter: now.AddDate(0, 3, 0),
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}, intermediate, intermediateKey)
	return issuerChain{root: root, intermediate: intermediate, leaf: leaf,
		served: tls.Certificate{Certificate: [][]byte{leaf.Raw, intermediate.Raw, root.Raw}, PrivateKey: leafKey}}
}

func thumbprint(c *x509.Certificate) string {
	sum := sha1.Sum(c.Raw) //nolint:gosec // IAM's thumbprint
	return hex.EncodeToString(sum[:])
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
	// 3 per role, 2 for the provider, 1 per account, 1 for aws-node's pods, 1 per mapping, the
	// authentication mode and 1 per access entry.
	if want := 3*len(f.decl.Roles) + 2 + len(f.decl.Annotated) + 1 + 1 + 2; lines < want {
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
	// The lines name what matched: the chain's root (not the leaf or intermediate the server
	// also sends), and the creator's access entry EKS made with the cluster.
	summaries := map[string]string{}
	if _, err := f.detector.Detect(t.Context(), f.decl, func(l Line) { summaries[l.Check+" "+l.Subject] = l.Summary }); err != nil {
		t.Fatal(err)
	}
	if got := summaries[CheckThumbprint+" "+f.decl.ProviderARN]; !strings.HasPrefix(got, thumbprint(f.chain.root)+" is the issuer chain's root") || !strings.Contains(got, "eks-irsa test root") {
		t.Errorf("thumbprint line %q, want the root's %s", got, thumbprint(f.chain.root))
	}
	if got := summaries[CheckAccessEntry+" "+motoCreator]; !strings.Contains(got, "cluster creator's entry") {
		t.Errorf("the creator's access entry: %q (lines %q)", got, summaries)
	}
}

// motoCreator is the IAM principal moto's STS names for the dummy keys, so the cluster's
// creator.
const motoCreator = "arn:aws:iam::123456789012:user/moto"

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
		{"thumbprint pinned to the leaf", func(t *testing.T, f *fixture) {
			if _, err := f.iam.UpdateOpenIDConnectProviderThumbprint(ctx, &iam.UpdateOpenIDConnectProviderThumbprintInput{
				OpenIDConnectProviderArn: aws.String(f.decl.ProviderARN), ThumbprintList: []string{thumbprint(f.chain.leaf)},
			}); err != nil {
				t.Fatal(err)
			}
		}, CheckThumbprint + " " + "PROVIDER"},
		{"thumbprint pinned to the intermediate", func(t *testing.T, f *fixture) {
			if _, err := f.iam.UpdateOpenIDConnectProviderThumbprint(ctx, &iam.UpdateOpenIDConnectProviderThumbprintInput{
				OpenIDConnectProviderArn: aws.String(f.decl.ProviderARN), ThumbprintList: []string{thumbprint(f.chain.intermediate)},
			}); err != nil {
				t.Fatal(err)
			}
		}, CheckThumbprint + " " + "PROVIDER"},
		{"cluster admin access entry added by hand", func(t *testing.T, f *fixture) {
			const admin = "arn:aws:iam::123456789012:role/break-glass"
			if _, err := f.eks.CreateAccessEntry(ctx, &eks.CreateAccessEntryInput{ClusterName: aws.String("demo"), PrincipalArn: aws.String(admin)}); err != nil {
				t.Fatal(err)
			}
			if _, err := f.eks.AssociateAccessPolicy(ctx, &eks.AssociateAccessPolicyInput{ClusterName: aws.String("demo"), PrincipalArn: aws.String(admin),
				PolicyArn: aws.String("arn:aws:eks::aws:cluster-access-policy/" + ClusterAdminPolicy), AccessScope: &ekstypes.AccessScope{Type: ekstypes.AccessScopeTypeCluster}}); err != nil {
				t.Fatal(err)
			}
		}, CheckAccessEntry + " arn:aws:iam::123456789012:role/break-glass"},
		{"view access entry added by hand", func(t *testing.T, f *fixture) {
			const viewer = "arn:aws:iam::123456789012:user/viewer"
			if _, err := f.eks.CreateAccessEntry(ctx, &eks.CreateAccessEntryInput{ClusterName: aws.String("demo"), PrincipalArn: aws.String(viewer), KubernetesGroups: []string{"viewers"}}); err != nil {
				t.Fatal(err)
			}
		}, CheckAccessEntry + " arn:aws:iam::123456789012:user/viewer"},
		{"the creator's entry given a second policy", func(t *testing.T, f *fixture) {
			if _, err := f.eks.AssociateAccessPolicy(ctx, &eks.AssociateAccessPolicyInput{ClusterName: aws.String("demo"), PrincipalArn: aws.String(motoCreator),
				PolicyArn: aws.String("arn:aws:eks::aws:cluster-access-policy/AmazonEKSViewPolicy"), AccessScope: &ekstypes.AccessScope{Type: ekstypes.AccessScopeTypeCluster}}); err != nil {
				t.Fatal(err)
			}
		}, CheckAccessEntry + " " + motoCreator},
		{"node role mapped again to system:masters", func(_ *testing.T, f *fixture) {
			cm := f.objects[len(f.objects)-1].(*corev1.ConfigMap)
			cm.Data[k8s.MapRolesKey] += "- rolearn: " + nodeRoleARN + "\n  username: admin\n  groups:\n    - system:masters\n"
		}, CheckAWSAuthDuplicate + " " + nodeRoleARN},
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

// IAM returns documents URL-encoded, as they were written: keys in any order, and single
// values as strings where the stack writes lists. Such a document is the same policy.
func TestSameJSONReadsPoliciesAsIAMReturnsThem(t *testing.T) {
	const declared = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["s3:GetObject","s3:ListBucket"],"Resource":["arn:aws:s3:::b","arn:aws:s3:::b/*"],"Condition":{"StringEquals":{"aws:SourceVpc":["vpc-1"]}}}]}`
	for _, tc := range []struct {
		name, live string
		same       bool
	}{
		{"as written", declared, true},
		{"URL-encoded", url.QueryEscape(declared), true},
		{"keys reordered, lists reordered", `{"Statement":[{"Resource":["arn:aws:s3:::b/*","arn:aws:s3:::b"],"Condition":{"StringEquals":{"aws:SourceVpc":"vpc-1"}},"Action":["s3:ListBucket","s3:GetObject"],"Effect":"Allow"}],"Version":"2012-10-17"}`, true},
		{"Statement an object, URL-encoded", url.QueryEscape(`{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":["s3:ListBucket","s3:GetObject"],"Resource":["arn:aws:s3:::b","arn:aws:s3:::b/*"],"Condition":{"StringEquals":{"aws:SourceVpc":"vpc-1"}}}}`), true},
		{"an action added", strings.Replace(declared, `"s3:ListBucket"`, `"s3:ListBucket","s3:PutObject"`, 1), false},
		{"Deny", strings.Replace(declared, "Allow", "Deny", 1), false},
		{"another VPC", url.QueryEscape(strings.Replace(declared, "vpc-1", "vpc-2", 1)), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := sameJSON(tc.live, declared); got != tc.same {
				t.Errorf("sameJSON = %v, want %v for\n%s", got, tc.same, tc.live)
			}
		})
	}
}

// The same policies, written back to IAM in the shapes IAM accepts and returns, are no drift.
func TestNoDriftOnEquivalentDocuments(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	host := strings.TrimPrefix(f.decl.Issuer, "https://")
	trust := `{"Statement":{"Condition":{"StringEquals":{"` + host + `:aud":"sts.amazonaws.com","` + host + `:sub":"` + irsa.Subject("default", "app") + `"}},` +
		`"Action":"sts:AssumeRoleWithWebIdentity","Principal":{"Federated":"` + f.decl.ProviderARN + `"},"Effect":"Allow"},"Version":"2012-10-17"}`
	if _, err := f.iam.UpdateAssumeRolePolicy(ctx, &iam.UpdateAssumeRolePolicyInput{RoleName: aws.String("app-role"), PolicyDocument: aws.String(trust)}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.iam.PutRolePolicy(ctx, &iam.PutRolePolicyInput{RoleName: aws.String("app-role"), PolicyName: aws.String("inline-1"),
		PolicyDocument: aws.String(`{"Statement":{"Resource":"*","Action":"s3:ListBucket","Effect":"Allow"},"Version":"2012-10-17"}`)}); err != nil {
		t.Fatal(err)
	}
	got, err := f.iam.GetRolePolicy(ctx, &iam.GetRolePolicyInput{RoleName: aws.String("app-role"), PolicyName: aws.String("inline-1")})
	if err != nil {
		t.Fatal(err)
	}
	if doc := aws.ToString(got.PolicyDocument); strings.HasPrefix(doc, "{") {
		t.Fatalf("IAM (moto) returned the document unencoded, the test means the encoded form: %s", doc)
	}
	if got := f.detect(t); len(got) > 0 {
		t.Errorf("findings on equivalent documents: %q", got)
	}
}
