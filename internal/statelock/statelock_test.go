package statelock_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/eks-irsa/eks-irsa/internal/statelock"
	"github.com/eks-irsa/eks-irsa/internal/statelock/statelocktest"
)

func TestStale(t *testing.T) {
	host, _ := os.Hostname()
	dead := statelocktest.DeadPid(t)
	tests := []struct {
		name      string
		pid       int
		host      string
		url       func(string) string
		wantStale bool
	}{
		{"killed update on this host", dead, host, nil, true},
		{"live update on this host", os.Getpid(), host, nil, false},
		{"update on another host", dead, "build-agent-7", nil, false},
		{"a backend that locks on its server", dead, host, func(string) string { return "s3://bucket/state" }, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			url := statelocktest.WriteLock(t, t.TempDir(), "eks-irsa", "test", tc.pid, tc.host)
			if tc.url != nil {
				url = tc.url(url)
			}
			stale, err := statelock.Stale(url, "eks-irsa", "test")
			if err != nil {
				t.Fatal(err)
			}
			if got := len(stale) > 0; got != tc.wantStale {
				t.Errorf("stale = %v, want %v", stale, tc.wantStale)
			}
			if tc.wantStale && (stale[0].Pid != tc.pid || !stale[0].Timestamp.Equal(time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC))) {
				t.Errorf("lock read as %+v", stale[0])
			}
		})
	}
	if stale, err := statelock.Stale("file://"+t.TempDir(), "eks-irsa", "test"); err != nil || len(stale) != 0 {
		t.Errorf("no locks: %v, %v", stale, err)
	}
	dir := t.TempDir()
	url := statelocktest.WriteLock(t, dir, "eks-irsa", "test", dead, host)
	_ = os.WriteFile(filepath.Join(dir, ".pulumi", "locks", "organization", "eks-irsa", "test", "a1b2.json"), []byte("{"), 0o600)
	if _, err := statelock.Stale(url, "eks-irsa", "test"); err == nil || !strings.Contains(err.Error(), "a1b2.json") {
		t.Errorf("a torn lock file: err = %v, want it named", err)
	}
}
