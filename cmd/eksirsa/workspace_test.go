package main

import (
	"os"
	"path/filepath"
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
