package integration

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/eks-irsa/eks-irsa/integration/testcluster"
	"github.com/eks-irsa/eks-irsa/internal/recorder"
	program "github.com/eks-irsa/eks-irsa/stack"
)

// launchTemplateType is the worker launch template's type token.
const launchTemplateType = "aws:ec2/launchTemplate:LaunchTemplate"

// launchTemplateUserData runs the real program (stack.Program, the test stack's config)
// under the recorder's mocks and returns the user data its launch template registers,
// decoded from the base64 EC2 takes.
func launchTemplateUserData(t *testing.T) string {
	t.Helper()
	cfg, err := program.LoadStackFiles("..", "test")
	if err != nil {
		t.Fatalf("load test stack: %v", err)
	}
	rec := recorder.New(program.ProjectName, "test")
	// Build, not Program: Program waits for the cluster's API server, which mocks do not have.
	if err := rec.Run(cfg, func(ctx *pulumi.Context) error { _, err := program.Build(ctx); return err }); err != nil {
		t.Fatalf("program: %v", err)
	}
	lts := rec.ByType(launchTemplateType)
	if len(lts) != 1 {
		t.Fatalf("%d launch templates registered, want 1", len(lts))
	}
	v, ok := lts[0].Inputs["userData"]
	if !ok || !v.IsString() {
		t.Fatalf("launch template %s: userData = %v, want a string", lts[0].Name, v)
	}
	raw, err := base64.StdEncoding.DecodeString(v.StringValue())
	if err != nil {
		t.Fatalf("launch template %s: userData is not base64: %v", lts[0].Name, err)
	}
	return string(raw)
}

// The IMDSv2 protocol the stub speaks, from the EC2 user guide's "Use the Instance Metadata
// Service to access instance metadata" (IMDSv2): a session token from PUT /latest/api/token
// with a TTL header of 1-21600 s (400 without one), echoed in the response; every GET
// carries the token, 401 without a valid one; /latest/user-data answers the raw bytes.
const (
	imdsTokenPath    = "/latest/api/token"
	imdsUserDataPath = "/latest/user-data"
	imdsTTLHeader    = "X-Aws-Ec2-Metadata-Token-Ttl-Seconds"
	imdsTokenHeader  = "X-Aws-Ec2-Metadata-Token"
	imdsMaxTTL       = 21600
	imdsEndpointEnv  = "AWS_EC2_METADATA_SERVICE_ENDPOINT"
)

// imdsStub serves userData to IMDSv2 clients on 127.0.0.1 and counts the user-data reads
// that presented a valid token.
type imdsStub struct {
	*httptest.Server
	token string

	mu    sync.Mutex
	reads int
}

func newIMDSStub(t *testing.T, userData string) *imdsStub {
	t.Helper()
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	s := &imdsStub{token: hex.EncodeToString(b)}
	mux := http.NewServeMux()
	mux.HandleFunc("PUT "+imdsTokenPath, func(w http.ResponseWriter, r *http.Request) {
		ttl, err := strconv.Atoi(r.Header.Get(imdsTTLHeader))
		if err != nil || ttl < 1 || ttl > imdsMaxTTL {
			http.Error(w, "missing or invalid "+imdsTTLHeader, http.StatusBadRequest)
			return
		}
		w.Header().Set(imdsTTLHeader, strconv.Itoa(ttl))
		_, _ = w.Write([]byte(s.token))
	})
	mux.HandleFunc("GET "+imdsUserDataPath, func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get(imdsTokenHeader) != s.token {
			http.Error(w, "Unauthorized", http.StatusUnauthorized)
			return
		}
		s.mu.Lock()
		s.reads++
		s.mu.Unlock()
		_, _ = w.Write([]byte(userData))
	})
	s.Server = httptest.NewServer(mux)
	t.Cleanup(s.Close)
	return s
}

func (s *imdsStub) userDataReads() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.reads
}

// AWS's own consumer of the user data: `nodeadm config check` reads it from IMDS
// (imds://user-data, its default source) and decodes the NodeConfig as a node would at boot.
// At the pinned version check decodes (MIME parts, apiVersion, kind) but does not validate
// fields: a NodeConfig without a cluster name passes check and fails only `nodeadm init`,
// so the refusals below are the ones check itself makes.
func TestNodeadmAcceptsTheLaunchTemplateUserData(t *testing.T) {
	t.Parallel() // its own cluster and Pulumi environment: see testcluster.NewPulumi
	nodeadm := testcluster.Tool(t, testcluster.ToolNodeadm)
	userData := launchTemplateUserData(t)
	const (
		apiVersion = "apiVersion: node.eks.aws/v1alpha1"
		kind       = "kind: NodeConfig"
		mediaType  = "Content-Type: application/node.eks.aws"
	)
	for _, want := range []string{apiVersion, kind, mediaType} {
		if !strings.Contains(userData, want) {
			t.Fatalf("user data lacks %q; the mutations below would test nothing:\n%s", want, userData)
		}
	}

	cases := []struct {
		name     string
		userData string
		accepted bool
		output   string // nodeadm's output contains it
	}{
		{name: "as the program renders it", userData: userData, accepted: true, output: "Configuration is valid"},
		{name: "apiVersion node.eks.aws/v9", userData: strings.Replace(userData, apiVersion, "apiVersion: node.eks.aws/v9", 1),
			output: "v9"},
		{name: "kind misspelled", userData: strings.Replace(userData, kind, "kind: NodeConfg", 1), output: "NodeConfg"},
		{name: "NodeConfig part under another media type", userData: strings.Replace(userData, mediaType, "Content-Type: text/x-shellscript", 1),
			output: "Could not find NodeConfig"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			imds := newIMDSStub(t, tc.userData)
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			cmd := exec.CommandContext(ctx, nodeadm, "config", "check")
			cmd.Env = append(os.Environ(), imdsEndpointEnv+"="+imds.URL)
			out, err := cmd.CombinedOutput()
			if imds.userDataReads() == 0 {
				t.Fatalf("nodeadm never read the user data from the IMDS stub (err %v):\n%s", err, out)
			}
			if tc.accepted && err != nil {
				t.Fatalf("nodeadm config check refused the program's user data: %v\n%s\nuser data:\n%s", err, out, tc.userData)
			}
			if !tc.accepted && err == nil {
				t.Fatalf("nodeadm config check accepted a mutated user data:\n%s\nuser data:\n%s", out, tc.userData)
			}
			if !strings.Contains(string(out), tc.output) {
				t.Errorf("nodeadm output lacks %q:\n%s", tc.output, out)
			}
		})
	}
}
