// Package tlsemu is a test-only Pulumi resource provider named "tls" that answers the one
// invoke the program uses, tls:index/getCertificate:getCertificate, by dialing the URL for
// real and reporting the chain the server sent, root first. It mirrors the real provider,
// pulumi/pulumi-tls v5.3.1, which bridges hashicorp/terraform-provider-tls: the data source
// internal/provider/data_source_certificate.go (read at commit
// 1586a221aaba508fd9a4726d09f9c84ca6c58f19) — its Read, fetchPeerCertificatesViaHTTPS,
// fetchPeerCertificatesViaTLS and certificateToStruct are what this file follows.
//
// What it keeps from the real data source:
//   - exactly one of url and content; url schemes https:// (port 443 when absent; HTTP HEAD,
//     then GET) and tls:// (port required; a bare TLS dial);
//   - verifyChain defaults to true and means crypto/tls's own verification against the
//     system roots (InsecureSkipVerify = !verifyChain). Both binaries are Go, so the roots
//     are the same: SSL_CERT_FILE / SSL_CERT_DIR name them, which is how a test trusts a
//     loopback CA without turning verification off;
//   - the certificates are the peer certificates exactly as the server sent them, reversed:
//     root first. Nothing completes or trims the chain, so a server that sends only its leaf
//     yields a one-element list holding the leaf;
//   - every field of an element, named as the SDK's GetCertificateCertificate names them.
//
// What it leaves out: the provider's proxy block (the tier is loopback only) and the exact
// bytes of the data source's id (here too a hash of the chain).
package tlsemu

import (
	"context"
	"crypto/sha1" //nolint:gosec // the fingerprint IAM pins is SHA-1 by definition
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"time"

	"github.com/blang/semver"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource/plugin"
)

const (
	// Name is the provider's package name: the plugin binary is pulumi-resource-tls.
	Name = "tls"
	// Version is the provider version the program's SDK (pulumi-tls/sdk/v5 v5.3.1) asks for.
	Version = "5.3.1"
	// GetCertificateToken is the invoke the program's OIDCProvider calls.
	GetCertificateToken = "tls:index/getCertificate:getCertificate"
)

// Input and output property names of getCertificate, as the SDK's GetCertificateArgs,
// GetCertificateResult and GetCertificateCertificate tag them.
const (
	propURL          = "url"
	propContent      = "content"
	propVerifyChain  = "verifyChain"
	propID           = "id"
	propCertificates = "certificates"
)

// dialTimeout bounds one connection attempt; the real provider has none, but a test
// must not hang on a server that never answers.
const dialTimeout = 30 * time.Second

// Provider serves getCertificate. Every other method is the SDK's "unimplemented".
type Provider struct {
	plugin.UnimplementedProvider
}

var _ plugin.Provider = (*Provider)(nil)

// Pkg is the package this provider serves.
func (p *Provider) Pkg() string { return Name }

// GetPluginInfo reports Version, so the engine matches the SDK's version request.
func (p *Provider) GetPluginInfo(context.Context) (plugin.PluginInfo, error) {
	v := semver.MustParse(Version)
	return plugin.PluginInfo{Version: &v}, nil
}

// CheckConfig accepts the provider configuration as given: the real provider's only
// setting is its proxy block, which does not apply on loopback.
func (p *Provider) CheckConfig(_ context.Context, req plugin.CheckConfigRequest) (plugin.CheckConfigResponse, error) {
	return plugin.CheckConfigResponse{Properties: req.News}, nil
}

// DiffConfig reports no change: nothing in the configuration changes what an invoke returns.
func (p *Provider) DiffConfig(context.Context, plugin.DiffConfigRequest) (plugin.DiffConfigResponse, error) {
	return plugin.DiffResult{Changes: plugin.DiffNone}, nil
}

// Configure has nothing to configure.
func (p *Provider) Configure(context.Context, plugin.ConfigureRequest) (plugin.ConfigureResponse, error) {
	return plugin.ConfigureResponse{}, nil
}

// Invoke answers getCertificate; any other token is an error naming the one it serves.
func (p *Provider) Invoke(ctx context.Context, req plugin.InvokeRequest) (plugin.InvokeResponse, error) {
	if string(req.Tok) != GetCertificateToken {
		return plugin.InvokeResponse{}, fmt.Errorf("tlsemu: unknown invoke %q (this test provider serves only %s)", req.Tok, GetCertificateToken)
	}
	args, failures := parseArgs(req.Args)
	if len(failures) > 0 {
		return plugin.InvokeResponse{Failures: failures}, nil
	}
	certs, err := GetCertificate(ctx, args)
	if err != nil {
		return plugin.InvokeResponse{}, err
	}
	return plugin.InvokeResponse{Properties: result(args, certs)}, nil
}

// Args are getCertificate's inputs.
type Args struct {
	URL         string
	Content     string
	VerifyChain bool
}

// parseArgs applies the data source's schema: exactly one of url and content, an accepted
// scheme, verifyChain defaulting to true and conflicting with content.
func parseArgs(in resource.PropertyMap) (Args, []plugin.CheckFailure) {
	var a Args
	var failures []plugin.CheckFailure
	fail := func(key, format string, args ...any) {
		failures = append(failures, plugin.CheckFailure{Property: resource.PropertyKey(key), Reason: fmt.Sprintf(format, args...)})
	}
	str := func(key string) (string, bool) {
		v, ok := in[resource.PropertyKey(key)]
		if !ok || v.IsNull() {
			return "", false
		}
		if !v.IsString() {
			fail(key, "%s must be a string, got %s", key, v.TypeString())
			return "", false
		}
		return v.StringValue(), true
	}
	rawURL, hasURL := str(propURL)
	content, hasContent := str(propContent)
	a.URL, a.Content, a.VerifyChain = rawURL, content, true
	if v, ok := in[propVerifyChain]; ok && !v.IsNull() {
		if !v.IsBool() {
			fail(propVerifyChain, "verifyChain must be a bool, got %s", v.TypeString())
		} else {
			a.VerifyChain = v.BoolValue()
			if hasContent {
				fail(propVerifyChain, "verifyChain conflicts with content")
			}
		}
	}
	switch {
	case hasURL == hasContent:
		fail(propURL, "exactly one of url and content must be set")
	case hasURL:
		u, err := url.Parse(rawURL)
		if err != nil {
			fail(propURL, "url %q: %v", rawURL, err)
		} else if u.Scheme != "https" && u.Scheme != "tls" {
			fail(propURL, "url %q: scheme %q is not accepted (accepted: https, tls)", rawURL, u.Scheme)
		}
	}
	return a, failures
}

// GetCertificate returns the certificates getCertificate reports for a, root first.
func GetCertificate(ctx context.Context, a Args) ([]*x509.Certificate, error) {
	if a.Content != "" {
		block, _ := pem.Decode([]byte(a.Content))
		if block == nil || block.Type != "CERTIFICATE" {
			return nil, errors.New("content: value is not a valid PEM encoding of a certificate")
		}
		cert, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("content: unable to parse certificate: %w", err)
		}
		return []*x509.Certificate{cert}, nil
	}
	u, err := url.Parse(a.URL)
	if err != nil {
		return nil, fmt.Errorf("url %q: %w", a.URL, err)
	}
	var peers []*x509.Certificate
	switch u.Scheme {
	case "https":
		if u.Port() == "" {
			u.Host += ":443"
		}
		peers, err = viaHTTPS(ctx, u, a.VerifyChain)
	case "tls":
		if u.Port() == "" {
			return nil, fmt.Errorf("url %q: port missing", a.URL)
		}
		peers, err = viaTLS(ctx, u, a.VerifyChain)
	default:
		return nil, fmt.Errorf("url %q: scheme %q not supported", a.URL, u.Scheme)
	}
	if err != nil {
		return nil, fmt.Errorf("failed to fetch peer certificates: %w", err)
	}
	// The server sends its leaf first; the data source reverses the list, so the root-most
	// certificate the server sent comes first.
	out := make([]*x509.Certificate, len(peers))
	for i, c := range peers {
		out[len(peers)-1-i] = c
	}
	return out, nil
}

func viaTLS(ctx context.Context, u *url.URL, verify bool) ([]*x509.Certificate, error) {
	d := tls.Dialer{Config: &tls.Config{InsecureSkipVerify: !verify}} //nolint:gosec // as the real provider, on request
	ctx, cancel := context.WithTimeout(ctx, dialTimeout)
	defer cancel()
	conn, err := d.DialContext(ctx, "tcp", u.Host)
	if err != nil {
		return nil, fmt.Errorf("unable to execute TLS connection towards %s: %w", u.Host, err)
	}
	defer conn.Close()
	return conn.(*tls.Conn).ConnectionState().PeerCertificates, nil
}

func viaHTTPS(ctx context.Context, u *url.URL, verify bool) ([]*x509.Certificate, error) {
	client := &http.Client{
		Timeout: dialTimeout,
		Transport: &http.Transport{
			TLSClientConfig: &tls.Config{InsecureSkipVerify: !verify}, //nolint:gosec // as the real provider, on request
		},
	}
	defer client.CloseIdleConnections()
	// HEAD first, its errors ignored; then GET, whose error is reported.
	if resp, err := do(ctx, client, http.MethodHead, u); err == nil {
		resp.Body.Close()
		if resp.TLS != nil && len(resp.TLS.PeerCertificates) > 0 {
			return resp.TLS.PeerCertificates, nil
		}
	}
	resp, err := do(ctx, client, http.MethodGet, u)
	if err != nil {
		return nil, fmt.Errorf("failed to fetch certificates from URL %q: %w", u.String(), err)
	}
	resp.Body.Close()
	if resp.TLS != nil && len(resp.TLS.PeerCertificates) > 0 {
		return resp.TLS.PeerCertificates, nil
	}
	return nil, fmt.Errorf("got back response (status: %s) with no certificates from URL %q", resp.Status, u.String())
}

func do(ctx context.Context, c *http.Client, method string, u *url.URL) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, method, u.String(), nil)
	if err != nil {
		return nil, err
	}
	return c.Do(req)
}

// CertificateProperties renders one certificate as the data source does
// (certificateToStruct), under the SDK's property names.
func CertificateProperties(c *x509.Certificate) resource.PropertyMap {
	return resource.PropertyMap{
		"signatureAlgorithm": resource.NewProperty(c.SignatureAlgorithm.String()),
		"publicKeyAlgorithm": resource.NewProperty(c.PublicKeyAlgorithm.String()),
		"serialNumber":       resource.NewProperty(c.SerialNumber.String()),
		"isCa":               resource.NewProperty(c.IsCA),
		"maxPathLength":      resource.NewProperty(float64(c.MaxPathLen)),
		"version":            resource.NewProperty(float64(c.Version)),
		"issuer":             resource.NewProperty(c.Issuer.String()),
		"subject":            resource.NewProperty(c.Subject.String()),
		"notBefore":          resource.NewProperty(c.NotBefore.Format(time.RFC3339)),
		"notAfter":           resource.NewProperty(c.NotAfter.Format(time.RFC3339)),
		"sha1Fingerprint":    resource.NewProperty(Fingerprint(c)),
		"certPem":            resource.NewProperty(string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw}))),
	}
}

// Fingerprint is the data source's sha1Fingerprint: lower-case hex SHA-1 of the DER.
func Fingerprint(c *x509.Certificate) string {
	sum := sha1.Sum(c.Raw) //nolint:gosec // see the import
	return hex.EncodeToString(sum[:])
}

func result(a Args, certs []*x509.Certificate) resource.PropertyMap {
	list := make([]resource.PropertyValue, len(certs))
	h := sha256.New()
	for i, c := range certs {
		list[i] = resource.NewProperty(CertificateProperties(c))
		h.Write(c.Raw)
	}
	out := resource.PropertyMap{
		propID:           resource.NewProperty(hex.EncodeToString(h.Sum(nil))),
		propCertificates: resource.NewProperty(list),
	}
	if a.Content != "" {
		out[propContent] = resource.NewProperty(a.Content)
	} else {
		out[propURL] = resource.NewProperty(a.URL)
		out[propVerifyChain] = resource.NewProperty(a.VerifyChain)
	}
	return out
}
