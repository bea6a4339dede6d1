package infra

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// Readiness bounds the wait for a new cluster's API server: EKS reports a cluster ACTIVE
// before its endpoint always answers (its DNS name may not resolve yet, or the load balancer
// in front of the API servers may not pass traffic), and the first Kubernetes apply would
// then fail. pulumi-eks (nodejs/eks/cluster/cluster.ts) waits on /healthz for the same
// reason, trusting any certificate and going on after five minutes whatever happened; this
// gate trusts only the cluster's own CA and fails when the time is up.
type Readiness struct {
	// Timeout is how long to wait in all; Interval the pause between attempts, each of which
	// may take up to Interval too.
	Timeout, Interval time.Duration
}

// DefaultReadiness is the wait `up` uses: pulumi-eks's five minutes, an attempt every 5 s.
var DefaultReadiness = Readiness{Timeout: 5 * time.Minute, Interval: 5 * time.Second}

// ReadyzPath is the API server's readiness endpoint. EKS, like kube-apiserver's defaults,
// lets anonymous clients read it (system:public-info-viewer), so no token is needed.
const ReadyzPath = "/readyz"

// WaitReady polls endpoint's /readyz until it answers 200 over TLS verified against caPEM.
// Connection failures and other statuses (a 503 while the API server's post-start hooks
// run) are retried until r.Timeout; a certificate the CA did not sign fails at once, since
// waiting cannot fix it.
func WaitReady(ctx context.Context, endpoint string, caPEM []byte, r Readiness) error {
	if r.Timeout <= 0 || r.Interval <= 0 {
		return fmt.Errorf("API readiness of %s: timeout %s and interval %s must be positive", endpoint, r.Timeout, r.Interval)
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(caPEM) {
		return fmt.Errorf("API readiness of %s: the cluster's certificate authority data holds no PEM certificate", endpoint)
	}
	client := &http.Client{
		Timeout: r.Interval,
		Transport: &http.Transport{
			Proxy:           http.ProxyFromEnvironment,
			TLSClientConfig: &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12},
		},
	}
	defer client.CloseIdleConnections()
	url := strings.TrimSuffix(endpoint, "/") + ReadyzPath

	ctx, cancel := context.WithTimeout(ctx, r.Timeout)
	defer cancel()
	ticker := time.NewTicker(r.Interval)
	defer ticker.Stop()
	var last string // the last answer, for the error that ends the wait
	for {
		seen, err := readyz(ctx, client, url)
		if err == nil {
			return nil
		}
		if last == "" || ctx.Err() == nil { // an attempt cut short by the deadline says nothing
			last = seen
		}
		var unknownCA x509.UnknownAuthorityError
		var hostname x509.HostnameError
		if errors.As(err, &unknownCA) || errors.As(err, &hostname) {
			return fmt.Errorf("API server %s does not present a certificate for it signed by the cluster's certificate authority: %w", endpoint, err)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("API server %s not ready after %s (last answer: %s)", endpoint, r.Timeout, last)
		case <-ticker.C:
		}
	}
}

// readyz makes one attempt and returns what it saw.
func readyz(ctx context.Context, client *http.Client, url string) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err.Error(), err
	}
	resp, err := client.Do(req)
	if err != nil {
		return err.Error(), err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	seen := fmt.Sprintf("%s %s", resp.Status, strings.TrimSpace(string(body)))
	if resp.StatusCode != http.StatusOK {
		return seen, errors.New(seen)
	}
	return seen, nil
}

// readyKubeconfig resolves to kubeconfig only once the API server at endpoint is ready, so
// a Kubernetes provider built from it applies nothing before then. Nothing is created here:
// the wait is an apply over plain values. A preview never waits (the endpoint of a cluster
// about to be created is unknown anyway, and a preview must not block on the network).
func readyKubeconfig(ctx *pulumi.Context, kubeconfig, endpoint, caData pulumi.StringOutput, r Readiness) pulumi.StringOutput {
	return pulumi.ToSecret(allStrings(func(v ...string) (string, error) {
		if ctx.DryRun() {
			return v[0], nil
		}
		ca, err := base64.StdEncoding.DecodeString(v[2])
		if err != nil {
			return "", fmt.Errorf("API readiness of %s: certificate authority data is not base64: %w", v[1], err)
		}
		if err := WaitReady(ctx.Context(), v[1], ca, r); err != nil {
			return "", err
		}
		return v[0], nil
	}, kubeconfig, endpoint, caData)).(pulumi.StringOutput)
}
