package testcluster

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"github.com/eks-irsa/eks-irsa/integration/keptlog"
)

// Identities in the apiserver's token file. Both are in system:masters: the admin is who the
// tests and the Pulumi provider act as (EKS's cluster creator is an admin too); giving the
// controller manager the same group spares the per-controller service-account credentials
// that a real cluster uses, which nothing here tests.
const (
	// AdminUser is the identity of Token.
	AdminUser    = "eks-irsa-admin"
	kcmUser      = "system:kube-controller-manager"
	mastersGroup = "system:masters"

	// ServiceCIDR is the cluster's service range (EKS's default).
	ServiceCIDR = "10.100.0.0/16"

	startTimeout = 90 * time.Second
)

// controllers are the kube-controller-manager loops the k8s layer's objects need: DaemonSet
// rollouts (the restart patch waits on status.observedGeneration), coredns's Deployment and
// ReplicaSet, namespace deletion, owner-reference garbage collection and service accounts;
// StatefulSets for the workloads the Pod Identity migration restarts.
var controllers = []string{
	"daemonset-controller",
	"deployment-controller",
	"replicaset-controller",
	"statefulset-controller",
	"namespace-controller",
	"garbage-collector-controller",
	"serviceaccount-controller",
	"serviceaccount-token-controller",
	"root-ca-certificate-publisher-controller",
}

// Cluster is a running loopback control plane. Everything is stopped in t.Cleanup.
type Cluster struct {
	// Server is the apiserver URL (https://127.0.0.1:<port>).
	Server string
	// Token is the admin bearer token (user AdminUser, group system:masters).
	Token string
	// CAData is the PEM CA that signed the apiserver's serving certificate.
	CAData []byte
	// Kubeconfig is an admin kubeconfig (token auth, CA embedded); KubeconfigPath holds a copy.
	Kubeconfig     []byte
	KubeconfigPath string
	// ServiceAccountIssuer is the apiserver's --service-account-issuer.
	ServiceAccountIssuer string
	// Config and Client act as the admin.
	Config *rest.Config
	Client kubernetes.Interface
	// Dir holds certificates, kubeconfigs, the etcd data and every process's log.
	Dir string
	// StartTime is how long Start took until the apiserver and the controller manager were ready.
	StartTime time.Duration
	// Associated, when set, tells the pod identity webhook stand-in whether an account has an
	// EKS Pod Identity association (a test asks moto's EKS): its pods then get the Pod
	// Identity variables and token besides IRSA's.
	Associated func(ctx context.Context, namespace, account string) (bool, error)
	// PodIdentityAgentURL, when set, is the AWS_CONTAINER_CREDENTIALS_FULL_URI the webhook
	// stand-in writes (a PodIdentityAgent on loopback) instead of the agent's
	// http://169.254.170.23/v1/credentials, which nothing here listens on.
	PodIdentityAgentURL string

	procs []*process
	ca    *authority
	// etcd is the cluster's own etcd: nil for one ControlPlanes minted on another's.
	etcd *process
	// What serve ran with, so that ControlPlanes can mint another control plane like it.
	bin     string
	opts    Options
	etcdURL string
	// deleting closes when ControlPlanes deletes the cluster, before its processes stop:
	// the watches of its kubelets end then, since kube-apiserver's graceful shutdown waits
	// for open watch streams (a SIGTERMed apiserver with one open lived until killed 10 s
	// later, 2026-12-07).
	deleting     chan struct{}
	deletingOnce sync.Once
}

// markDeleting says the control plane is going away (closes c.deleting once).
func (c *Cluster) markDeleting() {
	c.deletingOnce.Do(func() { close(c.deleting) })
}

// PIDs returns the process id of each control-plane process, by name.
func (c *Cluster) PIDs() map[string]int {
	pids := make(map[string]int, len(c.procs))
	for _, p := range c.procs {
		pids[p.name] = p.cmd.Process.Pid
	}
	return pids
}

// LogPath returns the log file of a control-plane process ("etcd", "kube-apiserver",
// "kube-controller-manager").
func (c *Cluster) LogPath(name string) string {
	return filepath.Join(c.Dir, name+".log")
}

// Start runs etcd, kube-apiserver and kube-controller-manager from EKSIRSA_TOOLS_BIN on free
// loopback ports and returns once the apiserver's /readyz and the controller manager's
// /healthz answer ok. It skips or fails the test per ToolsBin when the tools are missing.
// A port taken by someone else between its reservation and the bind is retried with new ports.
func Start(t testing.TB) *Cluster {
	t.Helper()
	return StartWith(t, Options{})
}

// Options are what a test can add to the control plane Start runs.
type Options struct {
	// AWSIAM, when set, makes the apiserver also accept `aws eks get-token` tokens, through
	// a webhook token authenticator standing in for EKS's (see AWSIAMAuth).
	AWSIAM *AWSIAMAuth
}

// StartWith is Start with options.
func StartWith(t testing.TB, opts Options) *Cluster {
	t.Helper()
	bin := ToolsBin(t)
	began := time.Now()
	for attempt := 1; ; attempt++ {
		c, err := start(t, bin, opts)
		if err == nil {
			c.StartTime = time.Since(began)
			t.Logf("testcluster: control plane ready at %s in %s (dir %s)", c.Server, c.StartTime.Round(time.Millisecond), c.Dir)
			return c
		}
		if c != nil {
			for i := len(c.procs) - 1; i >= 0; i-- {
				c.procs[i].stop(t)
			}
		}
		if !errors.Is(err, errPortInUse) || attempt == 3 {
			t.Fatalf("testcluster: %v", err)
		}
		t.Logf("testcluster: attempt %d: %v; retrying with other ports", attempt, err)
	}
}

// errPortInUse marks a start that failed because a reserved port was taken meanwhile.
var errPortInUse = errors.New("a reserved port was taken before the process bound it")

// start is one attempt of Start. On error the returned Cluster, if any, holds the processes
// started so far.
func start(t testing.TB, bin string, opts Options) (*Cluster, error) {
	ports, err := freePorts(2)
	if err != nil {
		return nil, err
	}
	c, pki, err := newCluster(t)
	if err != nil {
		return nil, err
	}
	// etcd: plain HTTP is enough on loopback; fsync off because the data dies with the test.
	etcdURL := "http://127.0.0.1:" + strconv.Itoa(ports[0])
	peerURL := "http://127.0.0.1:" + strconv.Itoa(ports[1])
	etcd, err := startProcess(t, c.Dir, toolEtcd, filepath.Join(bin, toolEtcd),
		"--name=default",
		"--data-dir="+filepath.Join(c.Dir, "etcd-data"),
		"--listen-client-urls="+etcdURL,
		"--advertise-client-urls="+etcdURL,
		"--listen-peer-urls="+peerURL,
		"--initial-advertise-peer-urls="+peerURL,
		"--initial-cluster=default="+peerURL,
		"--unsafe-no-fsync",
	)
	if err != nil {
		return c, err
	}
	c.procs = append(c.procs, etcd)
	c.etcd = etcd
	plain := &http.Client{Timeout: 2 * time.Second}
	if err := waitHealthy(t.Context(), []*process{etcd}, func(ctx context.Context) error {
		body, err := get(ctx, plain, etcdURL+"/health", "")
		if err == nil && !strings.Contains(body, `"health":"true"`) {
			err = fmt.Errorf("etcd /health: %s", body)
		}
		return err
	}); err != nil {
		return c, fmt.Errorf("etcd not healthy: %w", err)
	}
	return c, c.serve(t, bin, opts, pki, etcdURL, "")
}

// newCluster makes a control plane's directory, certificates and admin token.
func newCluster(t testing.TB) (*Cluster, *pki, error) {
	dir := t.TempDir()
	pki, err := newPKI(dir)
	if err != nil {
		return nil, nil, fmt.Errorf("certificates: %w", err)
	}
	return &Cluster{Dir: dir, CAData: pki.ca.pem, Token: randomToken(t), ca: pki.ca, deleting: make(chan struct{})}, pki, nil
}

// serve runs c's kube-apiserver on etcdURL, its objects under etcdPrefix (empty: the
// apiserver's default, /registry), and its kube-controller-manager, and waits until both answer.
func (c *Cluster) serve(t testing.TB, bin string, opts Options, pki *pki, etcdURL, etcdPrefix string) error {
	ctx := t.Context()
	dir := c.Dir
	c.bin, c.opts, c.etcdURL = bin, opts, etcdURL
	kcmToken := randomToken(t)
	ports, err := freePorts(2)
	if err != nil {
		return err
	}

	// kube-apiserver.
	c.Server = "https://127.0.0.1:" + strconv.Itoa(ports[0])
	c.ServiceAccountIssuer = c.Server
	tokenFile := filepath.Join(dir, "tokens.csv")
	tokens := fmt.Sprintf("%s,%s,%s,%q\n%s,%s,%s,%q\n",
		c.Token, AdminUser, AdminUser, mastersGroup,
		kcmToken, kcmUser, kcmUser, mastersGroup)
	if err := os.WriteFile(tokenFile, []byte(tokens), 0o600); err != nil {
		return err
	}
	var extraFlags []string
	if etcdPrefix != "" {
		extraFlags = append(extraFlags, "--etcd-prefix="+etcdPrefix)
	}
	if opts.AWSIAM != nil {
		config, err := opts.AWSIAM.startTokenWebhook(t, dir, pki.ca)
		if err != nil {
			return fmt.Errorf("aws-iam authenticator: %w", err)
		}
		extraFlags = append(extraFlags,
			"--authentication-token-webhook-config-file="+config,
			"--authentication-token-webhook-version=v1")
	}
	api, err := startProcess(t, dir, toolAPIServer, filepath.Join(bin, toolAPIServer), append([]string{
		"--etcd-servers=" + etcdURL,
		"--bind-address=127.0.0.1",
		"--advertise-address=127.0.0.1",
		"--secure-port=" + strconv.Itoa(ports[0]),
		"--cert-dir=" + filepath.Join(dir, "apiserver-certs"),
		"--tls-cert-file=" + pki.servingCert,
		"--tls-private-key-file=" + pki.servingKey,
		"--client-ca-file=" + pki.caFile,
		"--token-auth-file=" + tokenFile,
		"--authorization-mode=Node,RBAC",
		"--service-account-issuer=" + c.ServiceAccountIssuer,
		"--service-account-key-file=" + pki.saVerifyingKey,
		"--service-account-signing-key-file=" + pki.saSigningKey,
		"--service-cluster-ip-range=" + ServiceCIDR,
		"--allow-privileged=true",
		// The default reconciler publishes the advertise address as the kubernetes Service's
		// endpoint and refuses a loopback one; nothing here routes to that Service.
		"--endpoint-reconciler-type=none",
		"--profiling=false",
	}, extraFlags...)...,
	)
	if err != nil {
		return err
	}
	c.procs = append(c.procs, api)

	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(pki.ca.pem)
	verified := &http.Client{
		Timeout:   5 * time.Second,
		Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots}},
	}
	if err := waitHealthy(ctx, c.procs, func(ctx context.Context) error {
		_, err := get(ctx, verified, c.Server+"/readyz", c.Token)
		return err
	}); err != nil {
		return fmt.Errorf("kube-apiserver not ready: %w", err)
	}

	c.Kubeconfig = kubeconfig(c.Server, pki.ca.pem, AdminUser, c.Token)
	c.KubeconfigPath = filepath.Join(dir, "admin.kubeconfig")
	kcmKubeconfigPath := filepath.Join(dir, "kube-controller-manager.kubeconfig")
	for path, data := range map[string][]byte{
		c.KubeconfigPath:  c.Kubeconfig,
		kcmKubeconfigPath: kubeconfig(c.Server, pki.ca.pem, kcmUser, kcmToken),
	} {
		if err := os.WriteFile(path, data, 0o600); err != nil {
			return err
		}
	}
	if c.Config, err = clientcmd.RESTConfigFromKubeConfig(c.Kubeconfig); err != nil {
		return fmt.Errorf("admin kubeconfig: %w", err)
	}
	// client-go's default 5 QPS would throttle the emulated kubelets and the tests' polls.
	c.Config.QPS, c.Config.Burst = 200, 400
	if c.Client, err = kubernetes.NewForConfig(c.Config); err != nil {
		return fmt.Errorf("client: %w", err)
	}

	// kube-controller-manager, serving /healthz with the CA-signed loopback certificate.
	kcmURL := "https://127.0.0.1:" + strconv.Itoa(ports[1])
	kcm, err := startProcess(t, dir, toolKCM, filepath.Join(bin, toolKCM),
		"--kubeconfig="+kcmKubeconfigPath,
		"--authentication-kubeconfig="+kcmKubeconfigPath,
		"--authorization-kubeconfig="+kcmKubeconfigPath,
		"--bind-address=127.0.0.1",
		"--secure-port="+strconv.Itoa(ports[1]),
		"--tls-cert-file="+pki.servingCert,
		"--tls-private-key-file="+pki.servingKey,
		"--leader-elect=false",
		"--controllers="+strings.Join(controllers, ","),
		"--use-service-account-credentials=false",
		"--service-account-private-key-file="+pki.saSigningKey,
		"--root-ca-file="+pki.caFile,
		"--profiling=false",
	)
	if err != nil {
		return err
	}
	c.procs = append(c.procs, kcm)
	if err := waitHealthy(ctx, c.procs, func(ctx context.Context) error {
		_, err := get(ctx, verified, kcmURL+"/healthz", c.Token)
		return err
	}); err != nil {
		return fmt.Errorf("kube-controller-manager not healthy: %w", err)
	}
	return nil
}

// waitHealthy polls check (failures print the logs from the processes' cleanups) until it succeeds, a watched process exits, or startTimeout passes.
func waitHealthy(ctx context.Context, watched []*process, check func(context.Context) error) error {
	ctx, cancel := context.WithTimeout(ctx, startTimeout)
	defer cancel()
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	var last error
	for {
		for _, p := range watched {
			if done, err := p.exited(); done {
				if strings.Contains(keptlog.Tail(p.logPath, 20), "address already in use") {
					return fmt.Errorf("%s exited (%v): %w", p.name, err, errPortInUse)
				}
				return fmt.Errorf("%s exited (%v)", p.name, err)
			}
		}
		if last = check(ctx); last == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w; last check: %v", ctx.Err(), last)
		case <-tick.C:
		}
	}
}

// get fetches url and returns the body, or an error unless the status is 200.
func get(ctx context.Context, client *http.Client, url, token string) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return "", err
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := client.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode != http.StatusOK {
		return string(body), fmt.Errorf("GET %s: %s: %s", url, resp.Status, body)
	}
	return string(body), nil
}

// kubeconfig renders a single-context kubeconfig with token auth and the CA embedded.
func kubeconfig(server string, caPEM []byte, user, token string) []byte {
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters["testcluster"] = &clientcmdapi.Cluster{Server: server, CertificateAuthorityData: caPEM}
	cfg.AuthInfos[user] = &clientcmdapi.AuthInfo{Token: token}
	cfg.Contexts["testcluster"] = &clientcmdapi.Context{Cluster: "testcluster", AuthInfo: user}
	cfg.CurrentContext = "testcluster"
	data, err := clientcmd.Write(*cfg)
	if err != nil {
		panic(fmt.Sprintf("testcluster: encode kubeconfig: %v", err)) // only a programming error gets here
	}
	return data
}

// freePorts reserves n distinct loopback ports by listening on port 0, then releases them
// for the processes to bind. Holding all listeners until every port is chosen keeps the n
// distinct; someone else may still take one before its process binds (Start retries that).
func freePorts(n int) ([]int, error) {
	ports := make([]int, 0, n)
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("free port: %w", err)
		}
		defer l.Close()
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

func randomToken(t testing.TB) string {
	b := make([]byte, 24)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}
