package awsemu

import (
	"encoding/base64"
	"os"
	"path/filepath"
	gostrings "strings"
	"testing"
)

const testPEM = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"

func TestClusterFromEnv(t *testing.T) {
	dir := t.TempDir()
	ca := filepath.Join(dir, "ca.crt")
	if err := os.WriteFile(ca, []byte(testPEM), 0o600); err != nil {
		t.Fatal(err)
	}
	notPEM := filepath.Join(dir, "ca.txt")
	if err := os.WriteFile(notPEM, []byte("hello"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name                 string
		endpoint, caFile, is string
		want                 ClusterOverride
		wantErr              []string
	}{
		{name: "none: moto's own values", want: ClusterOverride{}},
		{name: "all three", endpoint: "https://127.0.0.1:6443", caFile: ca, is: "https://127.0.0.1:6443",
			want: ClusterOverride{Endpoint: "https://127.0.0.1:6443", CAData: base64.StdEncoding.EncodeToString([]byte(testPEM)), Issuer: "https://127.0.0.1:6443"}},
		{name: "partial", endpoint: "https://127.0.0.1:6443",
			wantErr: []string{ClusterIssuerEnv + `=""`, ClusterCAFileEnv + " is empty"}},
		{name: "plain http and a missing file", endpoint: "http://127.0.0.1:6443", caFile: filepath.Join(dir, "nope"), is: "https://x",
			wantErr: []string{ClusterEndpointEnv + `="http://127.0.0.1:6443"`, "no such file"}},
		{name: "not PEM", endpoint: "https://127.0.0.1:6443", caFile: notPEM, is: "https://x",
			wantErr: []string{"no PEM certificate"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv(ClusterEndpointEnv, tc.endpoint)
			t.Setenv(ClusterCAFileEnv, tc.caFile)
			t.Setenv(ClusterIssuerEnv, tc.is)
			got, err := ClusterFromEnv()
			if len(tc.wantErr) > 0 {
				for _, w := range tc.wantErr {
					if err == nil || !gostrings.Contains(err.Error(), w) {
						t.Errorf("err = %v, want it to name %q", err, w)
					}
				}
				return
			}
			if err != nil || got != tc.want {
				t.Errorf("ClusterFromEnv() = %+v, %v; want %+v", got, err, tc.want)
			}
		})
	}
}
