package main

import (
	"path/filepath"
	"strings"
	"testing"
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
