package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/eks-irsa/eks-irsa/stack"
)

// writeStack writes the real Pulumi.yaml and a stack "v" asking for a Kubernetes version.
func writeStack(t *testing.T, version string) string {
	t.Helper()
	return writeProject(t, "v", `config:
  aws:region: us-west-2
  eks-irsa:network:
    availabilityZones: [us-west-2a, us-west-2b]
    publicSubnets: [10.0.1.0/24, 10.0.2.0/24]
    privateSubnets: [10.0.101.0/24, 10.0.102.0/24]
  eks-irsa:cluster:
    version: "`+version+`"
`)
}

// writeProject writes the repository's real Pulumi.yaml and Pulumi.<stack>.yaml holding
// stackFile into a new directory, and returns it.
func writeProject(t *testing.T, stackName, stackFile string) string {
	t.Helper()
	dir := t.TempDir()
	project, err := os.ReadFile(filepath.Join(projectDir, "Pulumi.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	for name, b := range map[string][]byte{"Pulumi.yaml": project, "Pulumi." + stackName + ".yaml": []byte(stackFile)} {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// plan says where the cluster's Kubernetes version stands in the EKS calendar: standard
// support with its dates, extended support as a warning, and a version EKS no longer
// creates as a config error (exit 2).
func TestPlanPrintsVersionSupport(t *testing.T) {
	now := stack.Now
	stack.Now = func() time.Time { return time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC) }
	t.Cleanup(func() { stack.Now = now })

	code, stdout, stderr := runCLI(t, "plan", "-C", writeStack(t, "1.35"), "-s", "v")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if want := "\nKubernetes 1.35: standard support until 2027-03-27, then extended support (at a higher price) until 2028-03-27 (EKS release calendar checked 2026-12-06)\n"; !strings.Contains(stdout, want) {
		t.Errorf("plan lacks %q:\n%s", want, stdout[:min(len(stdout), 400)])
	}
	if strings.Contains(stdout, "\nWarnings\n") {
		t.Errorf("warnings for a version in standard support:\n%s", stdout[:min(len(stdout), 600)])
	}

	dir := writeStack(t, "1.33")
	code, stdout, stderr = runCLI(t, "plan", "-C", dir, "-s", "v")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	for _, want := range []string{
		"\nKubernetes 1.33: extended support since 2026-07-29 (billed at the extended-support rate) until 2027-07-29",
		"\nWarnings\n  eks-irsa:cluster.version = \"1.33\": in extended support since 2026-07-29",
	} {
		if !strings.Contains(stdout, want) {
			t.Errorf("plan lacks %q:\n%s", want, stdout[:min(len(stdout), 600)])
		}
	}
	code, stdout, stderr = runCLI(t, "plan", "-C", dir, "-s", "v", "--format", "json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var p struct {
		Kubernetes struct{ Version, Status, EndOfStandardSupport, EndOfExtendedSupport string }
		Warnings   []string
	}
	if err := json.Unmarshal([]byte(stdout), &p); err != nil {
		t.Fatal(err)
	}
	if p.Kubernetes.Status != "extended support" || p.Kubernetes.EndOfExtendedSupport != "2027-07-29" || len(p.Warnings) != 1 {
		t.Errorf("json kubernetes %+v warnings %q", p.Kubernetes, p.Warnings)
	}

	code, stdout, stderr = runCLI(t, "plan", "-C", writeStack(t, "1.31"), "-s", "v")
	if code != exitConfig || stdout != "" {
		t.Errorf("1.31: exit %d stdout %q, want %d and nothing", code, stdout, exitConfig)
	}
	if want := `eks-irsa:cluster.version = "1.31": EKS no longer creates it: extended support ended 2026-11-26`; !strings.Contains(stderr, want) {
		t.Errorf("stderr lacks %q:\n%s", want, stderr)
	}
}
