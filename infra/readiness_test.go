package infra

import (
	"context"
	"encoding/base64"
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/eks-irsa/eks-irsa/internal/recorder"
)

// apiServer is a loopback TLS server answering /readyz as kube-apiserver does: 503 with the
// failing checks while it starts, then 200 "ok". notReady is how many requests get a 503.
func apiServer(t *testing.T, notReady int64) (srv *httptest.Server, caPEM []byte, calls *atomic.Int64) {
	t.Helper()
	calls = &atomic.Int64{}
	srv = httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != ReadyzPath {
			http.NotFound(w, r)
			return
		}
		if calls.Add(1) <= notReady {
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = w.Write([]byte("[-]poststarthook/rbac/bootstrap-roles failed: not finished\nreadyz check failed"))
			return
		}
		_, _ = w.Write([]byte("ok"))
	}))
	t.Cleanup(srv.Close)
	caPEM = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})
	return srv, caPEM, calls
}

var fastPoll = Readiness{Timeout: 10 * time.Second, Interval: 20 * time.Millisecond}

func TestWaitReady(t *testing.T) {
	otherCA, _ := base64.StdEncoding.DecodeString(recorder.DefaultFakes().CAData()) // a real CA, not the server's

	cases := []struct {
		name      string
		notReady  int64
		wrongCA   bool
		poll      Readiness
		wantErr   []string
		wantCalls int64 // at least
	}{
		{name: "ready at once", wantCalls: 1},
		{name: "503 while starting, then ready", notReady: 3, wantCalls: 4},
		{name: "wrong CA fails at once", wrongCA: true,
			wantErr: []string{"does not present a certificate for it signed by the cluster's certificate authority", "unknown authority"}},
		{name: "never ready", notReady: 1 << 30, poll: Readiness{Timeout: 300 * time.Millisecond, Interval: 20 * time.Millisecond},
			wantErr: []string{"not ready after 300ms", "503 Service Unavailable", "readyz check failed"}, wantCalls: 2},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			srv, ca, calls := apiServer(t, tc.notReady)
			if tc.wrongCA {
				ca = otherCA
			}
			poll := tc.poll
			if poll.Timeout == 0 {
				poll = fastPoll
			}
			start := time.Now()
			err := WaitReady(t.Context(), srv.URL, ca, poll)
			if len(tc.wantErr) == 0 && err != nil {
				t.Fatalf("WaitReady: %v", err)
			}
			for _, w := range tc.wantErr {
				if err == nil || !strings.Contains(err.Error(), w) {
					t.Errorf("err = %v, want it to contain %q", err, w)
				}
			}
			if got := calls.Load(); got < tc.wantCalls {
				t.Errorf("%d /readyz requests, want at least %d", got, tc.wantCalls)
			}
			if tc.wrongCA && time.Since(start) > poll.Timeout/2 {
				t.Errorf("a wrong CA took %s to fail: waiting cannot fix it", time.Since(start))
			}
		})
	}
}

// The kubeconfig a Kubernetes provider is built from resolves only once the API server is
// ready; a preview never waits.
func TestKubeconfigWaitsForTheAPIServer(t *testing.T) {
	for _, dryRun := range []bool{false, true} {
		t.Run(map[bool]string{false: "update", true: "preview"}[dryRun], func(t *testing.T) {
			srv, ca, calls := apiServer(t, 2)
			rec := recorder.New("eks-irsa", "test")
			ctx, err := pulumi.NewContext(context.Background(), pulumi.RunInfo{Project: "eks-irsa", Stack: "test", Mocks: rec, DryRun: dryRun})
			if err != nil {
				t.Fatal(err)
			}
			var got atomic.Value
			err = pulumi.RunWithContext(ctx, func(ctx *pulumi.Context) error {
				kc := readyKubeconfig(ctx, pulumi.String("kubeconfig").ToStringOutput(), pulumi.String(srv.URL).ToStringOutput(),
					pulumi.String(base64.StdEncoding.EncodeToString(ca)).ToStringOutput(), fastPoll)
				// Exported, so the run waits for it as the engine waits for a provider's input.
				ctx.Export("kubeconfig", kc.ApplyT(func(s string) string { got.Store(s); return s }))
				return nil
			})
			if err != nil {
				t.Fatalf("run: %v", err)
			}
			if got.Load() != "kubeconfig" {
				t.Errorf("kubeconfig resolved to %v", got.Load())
			}
			want := int64(3) // two 503s, then ready
			if dryRun {
				want = 0
			}
			if n := calls.Load(); n != want {
				t.Errorf("%d /readyz requests, want %d", n, want)
			}
		})
	}
}

// Cluster.Kubeconfig carries the gate when ClusterArgs.Readiness is set: the fake EKS
// endpoint answers nothing, so the update fails naming it instead of applying objects to a
// cluster that is not there.
func TestClusterKubeconfigIsGated(t *testing.T) {
	rec := recorder.New("eks-irsa", "test")
	err := rec.Run(map[string]string{"aws:region": "us-west-2"}, func(ctx *pulumi.Context) error {
		c, err := NewCluster(ctx, "demo", &ClusterArgs{
			Partition: testPartition, Region: "us-west-2", Name: "demo-eks-oidc-test", RoleName: "demo-eks-oidc-test-cluster",
			Version: "1.33", VpcID: pulumi.String("vpc-1"), SubnetIDs: pulumi.ToStringArray([]string{"subnet-1", "subnet-2"}),
			PublicAccessCIDRs: []string{"0.0.0.0/0"}, LogRetentionDays: 30,
			Readiness: &Readiness{Timeout: 200 * time.Millisecond, Interval: 50 * time.Millisecond},
		})
		if err != nil {
			return err
		}
		c.Kubeconfig.ApplyT(func(s string) string { return s })
		return nil
	})
	if err == nil || !strings.Contains(err.Error(), "API server "+rec.Fakes().Endpoint()+" not ready after 200ms") {
		t.Errorf("err = %v, want the gate to refuse the unreachable endpoint", err)
	}
}
