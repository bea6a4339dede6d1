package tlsemu_test

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha1" //nolint:gosec // the fingerprint under test is SHA-1
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	tlssdk "github.com/pulumi/pulumi-tls/sdk/v5/go/tls"
	"github.com/pulumi/pulumi/sdk/v3/go/auto"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource/plugin"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/types/known/emptypb"

	"github.com/eks-irsa/eks-irsa/infra"
	"github.com/eks-irsa/eks-irsa/integration/testbin"
	"github.com/eks-irsa/eks-irsa/integration/testcluster"
	"github.com/eks-irsa/eks-irsa/integration/tlsemu"
	"github.com/eks-irsa/eks-irsa/internal/recorder"
)

// chain is a two-level PKI: a self-signed root and a leaf for 127.0.0.1 that it signed,
// the shape of a loopback kube-apiserver's serving chain.
type chain struct {
	root, leaf *x509.Certificate
	leafKey    *ecdsa.PrivateKey
	rootPEM    []byte
}

func newChain(t *testing.T) chain {
	t.Helper()
	rootKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().Truncate(time.Second)
	rootTmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1001),
		Subject:               pkix.Name{CommonName: "tlsemu-test-root", Organization: []string{"eks-irsa"}},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		MaxPathLen:            1,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	rootDER, err := x509.CreateCertificate(rand.Reader, rootTmpl, rootTmpl, &rootKey.PublicKey, rootKey)
	if err != nil {
		t.Fatal(err)
	}
	root, _ := x509.ParseCertificate(rootDER)
	leafKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	leafTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2002),
		Subject:      pkix.Name{CommonName: "kube-apiserver"},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(12 * time.Hour),
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1")},
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	leafDER, err := x509.CreateCertificate(rand.Reader, leafTmpl, root, &leafKey.PublicKey, rootKey)
	if err != nil {
		t.Fatal(err)
	}
	leaf, _ := x509.ParseCertificate(leafDER)
	return chain{root: root, leaf: leaf, leafKey: leafKey,
		rootPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: rootDER})}
}

// serve starts a loopback HTTPS server that sends the given certificates, leaf first, as
// a TLS server does.
func serve(t *testing.T, c chain, sent ...*x509.Certificate) *httptest.Server {
	t.Helper()
	raw := make([][]byte, len(sent))
	for i, cert := range sent {
		raw[i] = cert.Raw
	}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write([]byte(`{"issuer":"loopback"}`))
	}))
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{{Certificate: raw, PrivateKey: c.leafKey}}}
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return srv
}

func sha1Hex(c *x509.Certificate) string {
	sum := sha1.Sum(c.Raw) //nolint:gosec // see the import
	return hex.EncodeToString(sum[:])
}

// invoke runs getCertificate through the Provider the plugin serves.
func invoke(t *testing.T, args resource.PropertyMap) (plugin.InvokeResponse, error) {
	t.Helper()
	return (&tlsemu.Provider{}).Invoke(context.Background(), plugin.InvokeRequest{Tok: tlsemu.GetCertificateToken, Args: args})
}

// subjects lists the certificates' subjects, in order.
func subjects(t *testing.T, props resource.PropertyMap) []string {
	t.Helper()
	var out []string
	for _, v := range props["certificates"].ArrayValue() {
		out = append(out, v.ObjectValue()["subject"].StringValue())
	}
	return out
}

func TestGetCertificateChainOrder(t *testing.T) {
	c := newChain(t)
	full := serve(t, c, c.leaf, c.root)
	leafOnly := serve(t, c, c.leaf)
	tlsURL := "tls://" + strings.TrimPrefix(full.URL, "https://")

	cases := []struct {
		name string
		url  string
		want []*x509.Certificate
	}{
		{"https, leaf and root sent: root first", full.URL + "/id/ABC", []*x509.Certificate{c.root, c.leaf}},
		{"tls scheme, same chain", tlsURL, []*x509.Certificate{c.root, c.leaf}},
		// The data source reverses what the server sent and adds nothing: a server that
		// sends only its leaf gives a one-element list, and certificates[0] is the leaf.
		{"https, only the leaf sent", leafOnly.URL, []*x509.Certificate{c.leaf}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			resp, err := invoke(t, resource.PropertyMap{
				"url":         resource.NewProperty(tc.url),
				"verifyChain": resource.NewProperty(false),
			})
			if err != nil || len(resp.Failures) > 0 {
				t.Fatalf("invoke: %v %v", err, resp.Failures)
			}
			certs := resp.Properties["certificates"].ArrayValue()
			if len(certs) != len(tc.want) {
				t.Fatalf("got %d certificates %v, want %d", len(certs), subjects(t, resp.Properties), len(tc.want))
			}
			for i, want := range tc.want {
				got := certs[i].ObjectValue()
				if fp := got["sha1Fingerprint"].StringValue(); fp != sha1Hex(want) {
					t.Errorf("certificates[%d].sha1Fingerprint = %s, want sha1 of %s's DER %s", i, fp, want.Subject, sha1Hex(want))
				}
			}
			if got := resp.Properties["url"].StringValue(); got != tc.url {
				t.Errorf("url = %q, want %q", got, tc.url)
			}
		})
	}
}

// Every field of the SDK's GetCertificateCertificate, with the data source's rendering.
func TestGetCertificateFields(t *testing.T) {
	c := newChain(t)
	srv := serve(t, c, c.leaf, c.root)
	resp, err := invoke(t, resource.PropertyMap{"url": resource.NewProperty(srv.URL), "verifyChain": resource.NewProperty(false)})
	if err != nil {
		t.Fatal(err)
	}
	root := resp.Properties["certificates"].ArrayValue()[0].ObjectValue()
	want := map[string]any{
		"certPem":            string(c.rootPEM),
		"isCa":               true,
		"issuer":             "CN=tlsemu-test-root,O=eks-irsa",
		"subject":            "CN=tlsemu-test-root,O=eks-irsa",
		"maxPathLength":      float64(1),
		"serialNumber":       "1001",
		"sha1Fingerprint":    sha1Hex(c.root),
		"signatureAlgorithm": "ECDSA-SHA256",
		"publicKeyAlgorithm": "ECDSA",
		"notBefore":          c.root.NotBefore.UTC().Format(time.RFC3339),
		"notAfter":           c.root.NotAfter.UTC().Format(time.RFC3339),
		"version":            float64(3),
	}
	for key, w := range want {
		v, ok := root[resource.PropertyKey(key)]
		if !ok {
			t.Errorf("certificates[0] lacks %s", key)
			continue
		}
		if v.V != w {
			t.Errorf("certificates[0].%s = %#v, want %#v", key, v.V, w)
		}
	}
	if len(root) != len(want) {
		t.Errorf("certificates[0] has %d fields, want the SDK's %d: %v", len(root), len(want), root.StableKeys())
	}
	leaf := resp.Properties["certificates"].ArrayValue()[1].ObjectValue()
	if leaf["isCa"].BoolValue() || leaf["issuer"].StringValue() != root["subject"].StringValue() {
		t.Errorf("certificates[1] = %v, want the leaf the root issued", leaf)
	}
}

func TestGetCertificateRefusals(t *testing.T) {
	c := newChain(t)
	srv := serve(t, c, c.leaf, c.root)
	cases := []struct {
		name    string
		args    resource.PropertyMap
		failure string // a CheckFailure's reason contains it
		err     string // or the error contains it
	}{
		{name: "neither url nor content", args: resource.PropertyMap{}, failure: "exactly one of url and content"},
		{name: "both url and content", args: resource.PropertyMap{
			"url": resource.NewProperty(srv.URL), "content": resource.NewProperty(string(c.rootPEM)),
		}, failure: "exactly one of url and content"},
		{name: "http scheme", args: resource.PropertyMap{"url": resource.NewProperty("http://127.0.0.1:1")}, failure: `scheme "http" is not accepted`},
		// verifyChain defaults to true: an untrusted loopback CA fails the dial, as with the
		// real provider.
		{name: "verifyChain default against an untrusted CA", args: resource.PropertyMap{"url": resource.NewProperty(srv.URL)}, err: "certificate signed by unknown authority"},
		{name: "tls scheme without a port", args: resource.PropertyMap{"url": resource.NewProperty("tls://127.0.0.1")}, err: "port missing"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			resp, err := invoke(t, tc.args)
			var reasons []string
			for _, f := range resp.Failures {
				reasons = append(reasons, f.Reason)
			}
			switch {
			case tc.failure != "":
				if !slices.ContainsFunc(reasons, func(r string) bool { return strings.Contains(r, tc.failure) }) {
					t.Errorf("failures %q (err %v), want one containing %q", reasons, err, tc.failure)
				}
			case err == nil || !strings.Contains(err.Error(), tc.err):
				t.Errorf("err = %v (failures %q), want one containing %q", err, reasons, tc.err)
			}
		})
	}
}

func TestGetCertificateContent(t *testing.T) {
	c := newChain(t)
	resp, err := invoke(t, resource.PropertyMap{"content": resource.NewProperty(string(c.rootPEM))})
	if err != nil || len(resp.Failures) > 0 {
		t.Fatalf("invoke: %v %v", err, resp.Failures)
	}
	if got := subjects(t, resp.Properties); !slices.Equal(got, []string{c.root.Subject.String()}) {
		t.Errorf("subjects = %v, want the one certificate", got)
	}
}

// pluginClient starts cmd/pulumi-resource-tls (built by testbin) as the engine would minus the
// engine address (the SDK's attach mode: it prints its port and serves), and dials it.
// env is added to the plugin's environment.
func pluginClient(t *testing.T, env ...string) pulumirpc.ResourceProviderClient {
	t.Helper()
	cmd := exec.Command(testbin.Path(t, "pulumi-resource-tls"))
	cmd.Env = append(os.Environ(), env...)
	cmd.Stderr = os.Stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGINT) // the engine stops a plugin with SIGINT
		_ = cmd.Wait()
	})
	port, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		t.Fatalf("reading the plugin's port: %v", err)
	}
	conn, err := grpc.NewClient("127.0.0.1:"+strings.TrimSpace(port), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	return pulumirpc.NewResourceProviderClient(conn)
}

// linkPlugin puts cmd/pulumi-resource-tls, built by testbin, at bin.
func linkPlugin(t *testing.T, bin string) {
	t.Helper()
	if err := os.Symlink(testbin.Path(t, "pulumi-resource-tls"), bin); err != nil {
		t.Fatal(err)
	}
}

func rpcInvoke(ctx context.Context, client pulumirpc.ResourceProviderClient, args resource.PropertyMap) (resource.PropertyMap, error) {
	opts := plugin.MarshalOptions{KeepUnknowns: true, KeepSecrets: true}
	s, err := plugin.MarshalProperties(args, opts)
	if err != nil {
		return nil, err
	}
	resp, err := client.Invoke(ctx, &pulumirpc.InvokeRequest{Tok: tlsemu.GetCertificateToken, Args: s})
	if err != nil {
		return nil, err
	}
	if len(resp.GetFailures()) > 0 {
		return nil, &failuresError{resp.GetFailures()}
	}
	return plugin.UnmarshalProperties(resp.GetReturn(), opts)
}

type failuresError struct{ f []*pulumirpc.CheckFailure }

func (e *failuresError) Error() string {
	var s []string
	for _, f := range e.f {
		s = append(s, f.GetProperty()+": "+f.GetReason())
	}
	return "check failures: " + strings.Join(s, "; ")
}

// The built plugin, over gRPC: it reports the version the SDK asks for, and with
// SSL_CERT_FILE naming the loopback CA (as the emulated tier sets it) the default
// verifyChain = true verifies the chain and succeeds. The program's OIDCProvider then
// pins the root: its certificates[0].
func TestPluginServesProgramThumbprint(t *testing.T) {
	c := newChain(t)
	srv := serve(t, c, c.leaf, c.root)
	caFile := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(caFile, c.rootPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	client := pluginClient(t, "SSL_CERT_FILE="+caFile)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	info, err := client.GetPluginInfo(ctx, &emptypb.Empty{})
	if err != nil {
		t.Fatal(err)
	}
	if info.GetVersion() != tlsemu.Version {
		t.Errorf("plugin version = %q, want %q", info.GetVersion(), tlsemu.Version)
	}

	rec := recorder.New("eks-irsa", "test")
	rec.OnInvoke(tlsemu.GetCertificateToken, func(args resource.PropertyMap) (resource.PropertyMap, error) {
		return rpcInvoke(ctx, client, args)
	})
	issuer := srv.URL + "/id/EXAMPLED539D4633E53DE1B71EXAMPLE"
	err = rec.Run(map[string]string{"aws:region": "us-west-2"}, func(ctx *pulumi.Context) error {
		_, err := infra.NewOIDCProvider(ctx, "oidc", &infra.OIDCProviderArgs{IssuerURL: pulumi.String(issuer)})
		return err
	})
	if err != nil {
		t.Fatalf("program: %v", err)
	}
	invokes := rec.Invokes()
	if len(invokes) != 1 || invokes[0].Args["url"].StringValue() != issuer {
		t.Fatalf("invokes = %v, want one getCertificate of %s", invokes, issuer)
	}
	if v, ok := invokes[0].Args["verifyChain"]; ok && !v.IsNull() {
		t.Fatalf("the program set verifyChain = %v; this test proves the default verifies", v)
	}
	regs := rec.ByType("aws:iam/openIdConnectProvider:OpenIdConnectProvider")
	if len(regs) != 1 {
		t.Fatalf("%d OpenIdConnectProviders registered, want 1", len(regs))
	}
	var got []string
	for _, v := range regs[0].Inputs["thumbprintLists"].ArrayValue() {
		got = append(got, v.StringValue())
	}
	if want := []string{sha1Hex(c.root)}; !slices.Equal(got, want) {
		t.Errorf("thumbprintLists = %v, want the root's %v (leaf is %s)", got, want, sha1Hex(c.leaf))
	}
}

// The real engine (the toolchain's CLI, an Automation API inline program) finds the built
// plugin on PATH, configures it and routes the SDK's tls.GetCertificateOutput to it: the
// program sees the root first, verified against the CA named by SSL_CERT_FILE.
func TestEngineRoutesGetCertificateToThePlugin(t *testing.T) {
	pulumiCLI := testcluster.Tool(t, testcluster.ToolPulumi)
	c := newChain(t)
	srv := serve(t, c, c.leaf, c.root)
	root := t.TempDir()
	pluginDir, home, state, work := filepath.Join(root, "plugins"), filepath.Join(root, "home"), filepath.Join(root, "state"), filepath.Join(root, "work")
	for _, d := range []string{pluginDir, home, state, work} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	linkPlugin(t, filepath.Join(pluginDir, "pulumi-resource-tls"))
	caFile := filepath.Join(root, "ca.pem")
	if err := os.WriteFile(caFile, c.rootPEM, 0o600); err != nil {
		t.Fatal(err)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	// PulumiCommandOptions.Root is the directory holding bin/pulumi, as tools/build lays it out.
	cmd, err := auto.NewPulumiCommand(&auto.PulumiCommandOptions{Root: filepath.Dir(filepath.Dir(pulumiCLI))})
	if err != nil {
		t.Fatalf("pulumi CLI %s: %v", pulumiCLI, err)
	}
	program := func(ctx *pulumi.Context) error {
		chain := tlssdk.GetCertificateOutput(ctx, tlssdk.GetCertificateOutputArgs{Url: pulumi.String(srv.URL)})
		ctx.Export("fingerprints", chain.Certificates().ApplyT(func(certs []tlssdk.GetCertificateCertificate) []string {
			var fps []string
			for _, c := range certs {
				fps = append(fps, c.Sha1Fingerprint)
			}
			return fps
		}))
		return nil
	}
	s, err := auto.UpsertStackInlineSource(ctx, "dev", "tlsemu-engine", program,
		auto.Pulumi(cmd), auto.PulumiHome(home), auto.WorkDir(work),
		auto.EnvVars(map[string]string{
			"PATH":                     pluginDir + string(os.PathListSeparator) + os.Getenv("PATH"),
			"SSL_CERT_FILE":            caFile,
			"PULUMI_BACKEND_URL":       "file://" + state,
			"PULUMI_CONFIG_PASSPHRASE": testcluster.Passphrase,
			"PULUMI_SKIP_UPDATE_CHECK": "true",
			"PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION": "true",
		}))
	if err != nil {
		t.Fatal(err)
	}
	res, err := s.Up(ctx)
	if err != nil {
		t.Fatalf("up: %v", err)
	}
	got, _ := res.Outputs["fingerprints"].Value.([]any)
	want := []any{sha1Hex(c.root), sha1Hex(c.leaf)}
	if !slices.Equal(got, want) {
		t.Errorf("fingerprints the program saw = %v, want root then leaf %v", got, want)
	}
}
