package drift

import (
	"crypto/sha1" //nolint:gosec // IAM's thumbprint
	"encoding/hex"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
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

	"github.com/eks-irsa/eks-irsa/awsaccess"
	"github.com/eks-irsa/eks-irsa/identity"
	"github.com/eks-irsa/eks-irsa/integration/moto"
	"github.com/eks-irsa/eks-irsa/irsa"
	"github.com/eks-irsa/eks-irsa/k8s"
)

// benchRoles is the size of a platform stack: a hundred IRSA roles.
const benchRoles = 100

// platformStack is a stack of n IRSA roles in moto (the first aws-node's), each with its
// trust policy, a managed policy and an inline policy, matching the cluster, and a Detector
// with the AWS configuration eksirsa uses (awsaccess: adaptive retry, aws:endpoints) whose
// calls are counted.
type platformStack struct {
	moto     *moto.Server
	decl     Declared
	detector *Detector
	calls    *moto.Calls
}

func newPlatformStack(tb testing.TB, n int) *platformStack {
	tb.Helper()
	m := moto.Start(tb)
	for _, kv := range m.Env() {
		k, v, _ := strings.Cut(kv, "=")
		tb.Setenv(k, v)
	}
	tb.Setenv("AWS_CONFIG_FILE", filepath.Join(tb.TempDir(), "none"))
	tb.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(tb.TempDir(), "none"))
	tb.Setenv("AWS_PROFILE", "")
	os.Unsetenv("AWS_PROFILE") // tb.Setenv restores it afterwards
	ctx := tb.Context()

	issuerServer := httptest.NewTLSServer(http.NotFoundHandler())
	tb.Cleanup(issuerServer.Close)
	issuer := issuerServer.URL + "/id/EXAMPLE"
	sum := sha1.Sum(issuerServer.Certificate().Raw) //nolint:gosec // IAM's thumbprint
	seed := iam.NewFromConfig(m.Config(""))
	provider, err := seed.CreateOpenIDConnectProvider(ctx, &iam.CreateOpenIDConnectProviderInput{
		Url: aws.String(issuer), ClientIDList: []string{irsa.Audience}, ThumbprintList: []string{hex.EncodeToString(sum[:])},
	})
	if err != nil {
		tb.Fatal(err)
	}
	decl := Declared{Issuer: issuer, ProviderARN: aws.ToString(provider.OpenIDConnectProviderArn), MapRoles: mapRoles, ClusterName: "demo", Stack: "test"}
	// The cluster as the stack makes it, whose access entries drift reads too.
	if _, err := eks.NewFromConfig(m.Config("")).CreateCluster(ctx, &eks.CreateClusterInput{
		Name: aws.String("demo"), RoleArn: aws.String("arn:aws:iam::123456789012:role/cluster"), ResourcesVpcConfig: &ekstypes.VpcConfigRequest{},
		AccessConfig: &ekstypes.CreateAccessConfigRequest{AuthenticationMode: ekstypes.AuthenticationModeApiAndConfigMap, BootstrapClusterCreatorAdminPermissions: aws.Bool(true)},
	}); err != nil {
		tb.Fatal(err)
	}
	host := strings.TrimPrefix(issuer, "https://")
	var objects []runtime.Object
	for i := range n {
		ns, name := "team", fmt.Sprintf("app-%03d", i)
		if i == 0 {
			ns, name = k8s.KubeSystemNamespace, k8s.AWSNodeName
		}
		trust := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Federated":"` + decl.ProviderARN + `"},"Action":["sts:AssumeRoleWithWebIdentity"],` +
			`"Condition":{"StringEquals":{"` + host + `:sub":"` + irsa.Subject(ns, name) + `","` + host + `:aud":"sts.amazonaws.com"}}}]}`
		roleName := name + "-role"
		role, err := seed.CreateRole(ctx, &iam.CreateRoleInput{RoleName: aws.String(roleName), AssumeRolePolicyDocument: aws.String(trust)})
		if err != nil {
			tb.Fatal(err)
		}
		if _, err := seed.AttachRolePolicy(ctx, &iam.AttachRolePolicyInput{RoleName: aws.String(roleName), PolicyArn: aws.String(cniPolicy)}); err != nil {
			tb.Fatal(err)
		}
		if _, err := seed.PutRolePolicy(ctx, &iam.PutRolePolicyInput{RoleName: aws.String(roleName), PolicyName: aws.String("inline-1"), PolicyDocument: aws.String(inline)}); err != nil {
			tb.Fatal(err)
		}
		account := identity.Account{Namespace: ns, Name: name, RoleARN: aws.ToString(role.Role.Arn)}
		decl.Roles = append(decl.Roles, Role{Account: account, TrustPolicy: trust, ManagedPolicyARNs: []string{cniPolicy}, InlinePolicy: inline})
		decl.Annotated = append(decl.Annotated, account)
		objects = append(objects, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{
			Namespace: ns, Name: name, Annotations: map[string]string{irsa.RoleARNAnnotation: account.RoleARN},
		}})
	}
	objects = append(objects, awsNodePod("aws-node-1", decl.Annotated[0].RoleARN),
		&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: k8s.KubeSystemNamespace, Name: k8s.AWSAuthName}, Data: map[string]string{k8s.MapRolesKey: mapRoles}})

	cfg := map[string]string{
		awsaccess.RegionKey:    m.Region,
		awsaccess.EndpointsKey: `[{"iam":"` + m.URL + `","sts":"` + m.URL + `","eks":"` + m.URL + `"}]`,
	}
	access, err := awsaccess.Read(func(k string) string { return cfg[k] })
	if err != nil {
		tb.Fatal(err)
	}
	awsCfg, err := access.Config(ctx)
	if err != nil {
		tb.Fatal(err)
	}
	calls := moto.CountCalls(&awsCfg)
	d := &Detector{AWS: awsCfg, Kube: fake.NewClientset(objects...), RootCAs: issuerServer.Client().Transport.(*http.Transport).TLSClientConfig.RootCAs}

	return &platformStack{moto: m, decl: decl, detector: d, calls: calls}
}

// BenchmarkDrift100Roles runs drift's checks (Detector.Detect, what `eksirsa drift` does
// after reading the outputs) over a stack of 100 IRSA roles in moto, each with its trust
// policy, a managed policy and an inline policy, with the AWS configuration eksirsa uses
// (awsaccess: adaptive retry, aws:endpoints), and reports the AWS calls per identity.
//
//	PATH=$HOME/.pyenv/shims:$PATH go test ./drift -run '^$' -bench Drift100Roles -benchtime 3x
func BenchmarkDrift100Roles(b *testing.B) {
	p := newPlatformStack(b, benchRoles)
	ctx := b.Context()
	p.calls.Reset()
	b.ResetTimer()
	start := time.Now()
	for b.Loop() {
		findings, err := p.detector.Detect(ctx, p.decl, nil)
		if err != nil {
			b.Fatal(err)
		}
		if len(findings) > 0 {
			b.Fatalf("findings on a stack that matches: %+v", findings[0])
		}
	}
	elapsed := time.Since(start)
	runs := float64(b.N)
	b.ReportMetric(float64(p.calls.Total())/runs/benchRoles, "AWScalls/identity")
	b.ReportMetric(elapsed.Seconds()/runs, "s/run")
	b.Logf("%d roles, concurrency %d: %v per run; calls per run by operation: %v", benchRoles, awsaccess.Concurrency, elapsed/time.Duration(b.N), perRun(p.calls.ByOperation(), b.N))
}

// perRun divides each count by the number of runs.
func perRun(byOp map[string]int, n int) map[string]int {
	out := map[string]int{}
	for k, v := range byOp {
		out[k] = v / n
	}
	return out
}

// When IAM throttles (moto made to refuse with 400 Throttling past a token bucket, as IAM
// does), drift slows down and finishes: the adaptive retryer waits and retries each
// refused call instead of failing the run.
func TestDriftRidesOutIAMThrottling(t *testing.T) {
	p := newPlatformStack(t, 20)
	if err := p.moto.ThrottleIAM(5, 20); err != nil {
		t.Fatal(err)
	}
	p.calls.Reset()
	start := time.Now()
	findings, err := p.detector.Detect(t.Context(), p.decl, nil)
	if err != nil {
		t.Fatalf("drift under IAM throttling: %v", err)
	}
	t.Logf("20 roles under IAM throttling (burst 5, 20/s): %v, %d requests %v", time.Since(start).Round(time.Millisecond), p.calls.Total(), p.calls.ByOperation())
	if len(findings) > 0 {
		t.Errorf("findings on a stack that matches: %+v", findings)
	}
	// 20 roles at 4 IAM calls each, plus the OIDC provider: more than that were sent, so
	// IAM refused some and they were retried.
	if min := 20*4 + 1; p.calls.Total() <= min {
		t.Errorf("%d IAM calls, want more than %d: the throttle never refused one (%v)", p.calls.Total(), min, p.calls.ByOperation())
	}
}
