package main

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"gocloud.dev/blob/fileblob"
)

func TestBackendURL(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name, flag, env, want string
	}{
		{name: "flag wins", flag: "s3://bucket", env: "https://api.pulumi.com", want: "s3://bucket"},
		{name: "environment", env: "https://api.pulumi.com", want: "https://api.pulumi.com"},
		{name: "file backend in the project", want: "file://" + filepath.Join(dir, stateDir)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv(envBackendURL, tc.env)
			got, err := (&options{dir: dir, backend: tc.flag}).backendURL()
			if err != nil || got != tc.want {
				t.Errorf("backendURL = %q, %v; want %q", got, err, tc.want)
			}
		})
	}
}

// TestFileBackendNeedsPassphrase: the driver says what to set instead of letting the CLI
// wait for a prompt nobody answers.
func TestFileBackendNeedsPassphrase(t *testing.T) {
	t.Setenv(envBackendURL, "")
	t.Setenv(envPassphrase, "")
	t.Setenv(envPassphraseFile, "")
	_, err := openAutoStack(t.Context(), &options{dir: t.TempDir(), stack: "test"})
	if err == nil || !strings.Contains(err.Error(), "set PULUMI_CONFIG_PASSPHRASE (or PULUMI_CONFIG_PASSPHRASE_FILE)") {
		t.Fatalf("openAutoStack without a passphrase = %v, want the variables to set", err)
	}
}

// A checkpoint whose attributes file a SIGKILL left empty cannot be read through fileblob (as
// the Pulumi CLI reads it: "EOF"); with the empty file removed it reads again, and attributes
// with content are kept.
func TestRemoveTornAttributes(t *testing.T) {
	dir := t.TempDir()
	ctx := t.Context()
	bucket, err := fileblob.OpenBucket(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer bucket.Close()
	const key = ".pulumi/stacks/eks-irsa/test.json"
	for _, k := range []string{key, ".pulumi/stacks/eks-irsa/other.json"} {
		if err := bucket.WriteAll(ctx, k, []byte(`{"version":3}`), nil); err != nil {
			t.Fatal(err)
		}
	}
	attrs := filepath.Join(dir, key+".attrs")
	if err := os.Truncate(attrs, 0); err != nil {
		t.Fatal(err)
	}
	if _, err := bucket.Exists(ctx, key); err == nil || !strings.Contains(err.Error(), "EOF") {
		t.Fatalf("an empty attributes file: Exists = %v, want fileblob's EOF", err)
	}
	var out strings.Builder
	if err := removeTornAttributes(dir, &out); err != nil {
		t.Fatal(err)
	}
	if ok, err := bucket.Exists(ctx, key); err != nil || !ok {
		t.Errorf("after the repair: Exists = %v, %v", ok, err)
	}
	if data, err := bucket.ReadAll(ctx, key); err != nil || string(data) != `{"version":3}` {
		t.Errorf("after the repair: %q, %v", data, err)
	}
	if _, err := os.Stat(filepath.Join(dir, ".pulumi/stacks/eks-irsa/other.json.attrs")); err != nil {
		t.Errorf("a whole attributes file was removed: %v", err)
	}
	if !strings.Contains(out.String(), "Removed "+attrs) {
		t.Errorf("the repair said %q", out.String())
	}
}

// recordingPulumi stands in for the Pulumi CLI on PATH: it appends its arguments to
// $FAKE_PULUMI_LOG and answers what the Automation API reads (sdk/go/auto, v3.274.1): the
// version (NewPulumiCommand), a deployment (ExportStack), outputs (Outputs) and a history
// (History), each empty.
const recordingPulumi = `#!/bin/sh
echo "$*" >> "$FAKE_PULUMI_LOG"
case "$*" in
version) echo v3.274.1 ;;
*"stack export"*) echo '{"version":3,"deployment":{}}' ;;
*"stack output"*) echo '{}' ;;
*"stack history"*) echo '[]' ;;
esac
`

// recordingProject puts recordingPulumi first on PATH for the test and returns a project
// directory (a file backend, a passphrase) and the file the CLI's calls are logged in.
func recordingProject(t *testing.T) (dir, calls string) {
	t.Helper()
	bin := t.TempDir()
	if err := os.WriteFile(filepath.Join(bin, "pulumi"), []byte(recordingPulumi), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", bin+string(os.PathListSeparator)+os.Getenv("PATH"))
	calls = filepath.Join(t.TempDir(), "calls")
	t.Setenv("FAKE_PULUMI_LOG", calls)
	t.Setenv(envBackendURL, "")
	t.Setenv(envPassphrase, "test")
	dir = t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "Pulumi.yaml"), []byte("name: eks-irsa\nruntime: go\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir, calls
}

// The CLI runs around an update decrypt only where eksirsa reads a secret: the update itself
// and Outputs' `stack output --show-secrets` (the kubeconfig). Each run that decrypts derives
// the passphrase's key first (0.2 s of CPU), so the history auto.Stack reads after Up,
// Refresh and Destroy and the state Export reads stay encrypted.
func TestStackDecryptsOnlyWhatEksirsaReads(t *testing.T) {
	dir, calls := recordingProject(t)
	ctx := t.Context()
	s, err := openAutoStack(ctx, &options{dir: dir, stack: "test"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Export(ctx); err != nil {
		t.Fatalf("Export: %v", err)
	}
	if _, err := s.Up(ctx); err != nil {
		t.Fatalf("Up: %v", err)
	}
	if _, err := s.Refresh(ctx); err != nil {
		t.Fatalf("Refresh: %v", err)
	}
	if _, err := s.Destroy(ctx); err != nil {
		t.Fatalf("Destroy: %v", err)
	}
	raw, err := os.ReadFile(calls)
	if err != nil {
		t.Fatal(err)
	}
	ran := map[string]int{}
	for _, line := range strings.Split(strings.TrimSpace(string(raw)), "\n") {
		args := strings.Fields(strings.TrimPrefix(line, "--non-interactive "))
		if len(args) > 1 && args[0] == "stack" {
			ran["stack "+args[1]]++
		}
		if slices.Contains(args, "--show-secrets") && !slices.Equal(args[:2], []string{"stack", "output"}) {
			t.Errorf("pulumi %s: decrypts what eksirsa does not read", line)
		}
	}
	// The runs checked are there: one export, a history after each operation.
	if ran["stack export"] != 1 || ran["stack history"] != 3 {
		t.Errorf("CLI runs %v, want 1 stack export and 3 stack history:\n%s", ran, raw)
	}
}

// An eksirsa run opens its stack once however many times its phases ask for it: each open is
// `pulumi version` and `stack select`.
func TestStackOpenedOncePerRun(t *testing.T) {
	dir, calls := recordingProject(t)
	opts := realOptions()
	opts.dir, opts.stack = dir, "test"
	for range 3 {
		if _, err := stackOutputs(t.Context(), opts); err == nil || !errors.Is(err, errNoStack) {
			t.Fatalf("stackOutputs of a stack without outputs = %v, want errNoStack", err)
		}
	}
	raw, err := os.ReadFile(calls)
	if err != nil {
		t.Fatal(err)
	}
	var versions, selects, outputs int
	for _, line := range strings.Split(strings.TrimSpace(string(raw)), "\n") {
		switch {
		case line == "version":
			versions++
		case strings.Contains(line, "stack select"):
			selects++
		case strings.Contains(line, "stack output"):
			outputs++
		}
	}
	if versions != 1 || selects != 1 || outputs != 6 {
		t.Errorf("three reads of the outputs ran version %d, stack select %d, stack output %d times; want 1, 1 and 6:\n%s", versions, selects, outputs, raw)
	}
}
