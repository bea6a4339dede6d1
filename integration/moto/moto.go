// Package moto runs moto_server, the AWS emulator, for the emulated test tier: one server
// per test on a free loopback port, stopped when the test ends, with the environment that
// points AWS clients (the aws CLI, aws-sdk-go-v2, the awsemu provider) at it, the public SSM
// parameters the program reads and moto lacks, and an audit of what a stack left behind.
package moto

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/eks-irsa/eks-irsa/awsaccess"
	"github.com/eks-irsa/eks-irsa/integration/keptlog"
	"github.com/eks-irsa/eks-irsa/integration/testcluster"
)

// python holds sitecustomize.py, the hook moto_server's Python runs at start, and the
// modules it imports: what moto lacks (the seeded public SSM parameters, APIs it does not
// serve), added to moto itself so the aws CLI and the SDK see the same service as the plugin.
//
//go:embed *.py
var python embed.FS

// publicParametersEnv names the JSON file sitecustomize.py reads the seeded parameters from.
const publicParametersEnv = "EKSIRSA_MOTO_PUBLIC_PARAMETERS"

// iamRateEnv names the file sitecustomize.py reads IAM's throttling from (ThrottleIAM).
const iamRateEnv = "EKSIRSA_MOTO_IAM_RATE"

// controlPlanesEnv names the file eks_control_planes.py reads the control-plane service's
// URL from (UseControlPlanes).
const controlPlanesEnv = "EKSIRSA_MOTO_CONTROL_PLANES"

const (
	// Binary is the emulator's executable, looked up on PATH.
	Binary = "moto_server"
	// DefaultRegion is the test stack's aws:region (Pulumi.test.yaml).
	DefaultRegion = "us-west-2"

	// Dummy credentials: moto checks no signature, but the SDKs refuse to sign without keys.
	accessKeyID     = "testing"
	secretAccessKey = "testing"

	// startTimeout bounds moto_server's start (Flask imports take a few seconds on a busy machine).
	startTimeout = 60 * time.Second
)

// Server is one running moto_server.
type Server struct {
	// URL is the endpoint, http://127.0.0.1:PORT.
	URL string
	// Region is the region Env, Config and the helpers use.
	Region string

	pid        int // forked by the zygote (zygote.go)
	logPath    string
	paramsPath string        // the JSON file of seeded public parameters
	paramsMu   sync.Mutex    // serialises writes of paramsPath
	iamRate    string        // the file ThrottleIAM writes
	planes     string        // the file UseControlPlanes writes
	done       chan struct{} // closed once the server's process is gone
	once       sync.Once
}

// Start runs moto_server on a free loopback port with the AWS managed policies loaded, waits
// until it answers and stops it (its whole process group) in t.Cleanup. The server is a fork
// of the test process's warmed-up moto_server (zygote.go), holding nothing another test did. Without moto_server
// on PATH the test is skipped, or fails when CI is set: CI must not pass by skipping.
func Start(t testing.TB) *Server {
	t.Helper()
	bin, err := exec.LookPath(Binary)
	if err != nil {
		msg := fmt.Sprintf("moto: %s is not on PATH (moto 5.x with its server extra, e.g. the image's pyenv copy): %v", Binary, err)
		if os.Getenv("CI") != "" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	var lastErr error
	// A port found free can be taken before moto binds it: try a few.
	for attempt := 0; attempt < 3; attempt++ {
		s, err := start(t, bin)
		if err == nil {
			return s
		}
		lastErr = err
	}
	t.Fatalf("moto: %v", lastErr)
	return nil
}

func start(t testing.TB, bin string) (*Server, error) {
	z, err := sharedZygote(bin)
	if err != nil {
		return nil, err
	}
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	dir := t.TempDir()
	s := &Server{
		URL:        "http://127.0.0.1:" + strconv.Itoa(port),
		Region:     DefaultRegion,
		logPath:    filepath.Join(dir, "moto.log"),
		paramsPath: filepath.Join(dir, "public-parameters.json"),
		iamRate:    filepath.Join(dir, "iam-rate"),
		planes:     filepath.Join(dir, "control-planes"),
		done:       make(chan struct{}),
	}
	s.pid, err = z.fork(port, s.logPath, map[string]string{
		publicParametersEnv: s.paramsPath,
		iamRateEnv:          s.iamRate,
		controlPlanesEnv:    s.planes,
	})
	if err != nil {
		return nil, err
	}
	go watchExit(s.pid, s.done)
	t.Cleanup(func() {
		s.stop(t)
		keptlog.OnFailure(t, Binary, s.logPath)
	})
	if err := s.waitReady(); err != nil {
		s.stop(t)
		return nil, fmt.Errorf("%w\n--- %s log ---\n%s", err, Binary, keptlog.Tail(s.logPath, 40))
	}
	return s, nil
}

// waitReady polls moto's dashboard until it answers 200 or the process exits. (Not
// /moto-api/data.json: it serialises every backend, 14 MB and 4 s once IAM's managed
// policies are loaded, as they are in a server forked from the zygote.)
func (s *Server) waitReady() error {
	client := &http.Client{Timeout: 2 * time.Second}
	deadline := time.Now().Add(startTimeout)
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		resp, err := client.Get(s.URL + "/moto-api/")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			err = fmt.Errorf("GET /moto-api/: %s", resp.Status)
		}
		select {
		case <-s.done:
			return fmt.Errorf("%s on %s exited before answering", Binary, s.URL)
		case <-tick.C:
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s on %s did not answer within %s: %v", Binary, s.URL, startTimeout, err)
		}
	}
}

// stop sends SIGTERM to the process group, escalates to SIGKILL after 10s, and returns once
// the process is reaped.
func (s *Server) stop(t testing.TB) {
	s.once.Do(func() {
		pgid := s.pid // zygote.py makes each server its own process group
		select {
		case <-s.done:
		default:
			_ = syscall.Kill(-pgid, syscall.SIGTERM)
			select {
			case <-s.done:
			case <-time.After(10 * time.Second):
				t.Logf("moto: %s ignored SIGTERM for 10s, killing", Binary)
				_ = syscall.Kill(-pgid, syscall.SIGKILL)
				<-s.done
			}
		}
		if err := syscall.Kill(-pgid, syscall.SIGKILL); err != nil && !errors.Is(err, syscall.ESRCH) {
			t.Logf("moto: kill group of %s: %v", Binary, err)
		}
	})
}

// ThrottleIAM makes the server throttle IAM from now on as IAM does: a token bucket of burst
// requests refilled at perSecond, a request finding it empty refused with 400 Throttling
// "Rate exceeded" (sitecustomize.py has the sources).
func (s *Server) ThrottleIAM(burst, perSecond float64) error {
	return os.WriteFile(s.iamRate, []byte(strconv.FormatFloat(burst, 'f', -1, 64)+","+strconv.FormatFloat(perSecond, 'f', -1, 64)), 0o600)
}

// HoldIAM makes the server answer each IAM request for action (UpdateAssumeRolePolicy, say)
// d later than it would, from now on; d = 0 ends the hold. A test that must stop a client in
// the middle of that call (a killed update) gets a window instead of a race.
func (s *Server) HoldIAM(action string, d time.Duration) error {
	path := filepath.Join(filepath.Dir(s.iamRate), "iam-hold") // sitecustomize.py reads it there
	if d <= 0 {
		if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		return nil
	}
	return os.WriteFile(path, []byte(action+","+strconv.FormatFloat(d.Seconds(), 'f', -1, 64)), 0o600)
}

// UseControlPlanes makes every EKS cluster created from now on get its endpoint, CA and OIDC
// issuer from the control-plane service at url (testcluster.ServeControlPlanes), and every
// cluster deleted give its control plane back (eks_control_planes.py has the sources).
func (s *Server) UseControlPlanes(url string) error {
	return os.WriteFile(s.planes, []byte(url), 0o600)
}

// Env is the environment that points an AWS client at this server: endpoint, dummy keys,
// region, and no instance-metadata lookups (there is no IMDS here). A variable set to empty
// is not "unset" to every client (the aws CLI looks for a profile named ""), so a caller
// building a child's environment from its own uses Environ, which drops the rest of AWS_*.
func (s *Server) Env() []string {
	return []string{
		"AWS_ENDPOINT_URL=" + s.URL,
		// What the emulator plugin (integration/awsemu, EndpointEnv) reads.
		"EKSIRSA_EMU_AWS_ENDPOINT=" + s.URL,
		"AWS_ACCESS_KEY_ID=" + accessKeyID,
		"AWS_SECRET_ACCESS_KEY=" + secretAccessKey,
		"AWS_REGION=" + s.Region,
		"AWS_DEFAULT_REGION=" + s.Region,
		"AWS_EC2_METADATA_DISABLED=true",
	}
}

// Environ is base without any AWS_* variable (a profile, a session token, a real endpoint),
// plus Env: the environment for a child process that must reach this server and nothing else.
func (s *Server) Environ(base []string) []string {
	return append(testcluster.WithoutAWSEnv(base), s.Env()...)
}

// Config is an aws-sdk-go-v2 configuration for this server in region (Server.Region if empty).
func (s *Server) Config(region string) aws.Config {
	if region == "" {
		region = s.Region
	}
	return aws.Config{
		Region:       region,
		BaseEndpoint: aws.String(s.URL),
		HTTPClient:   awsaccess.PlainBodies(nil),
		Credentials: aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
			return aws.Credentials{AccessKeyID: accessKeyID, SecretAccessKey: secretAccessKey, Source: "moto"}, nil
		}),
	}
}

// freePort asks the kernel for a free loopback port and releases it.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
