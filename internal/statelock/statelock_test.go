package statelock

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// deadPid is the pid of a process that has exited.
func deadPid(t *testing.T) int {
	t.Helper()
	cmd := exec.Command("true")
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	return cmd.ProcessState.Pid()
}

// writeLock writes a lock as the Pulumi CLI's file backend does and returns the backend URL.
func writeLock(t *testing.T, dir string, pid int, host string) string {
	t.Helper()
	lockDir := filepath.Join(dir, ".pulumi", "locks", "organization", "eks-irsa", "test")
	if err := os.MkdirAll(lockDir, 0o755); err != nil {
		t.Fatal(err)
	}
	body := `{"pid":` + strconv.Itoa(pid) + `,"username":"root","hostname":"` + host + `","timestamp":"2026-11-26T10:00:00Z"}`
	if err := os.WriteFile(filepath.Join(lockDir, "a1b2.json"), []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return "file://" + dir
}

func TestStale(t *testing.T) {
	host, _ := os.Hostname()
	dead := deadPid(t)
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
			url := writeLock(t, t.TempDir(), tc.pid, tc.host)
			if tc.url != nil {
				url = tc.url(url)
			}
			stale, err := Stale(url, "eks-irsa", "test")
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
	if stale, err := Stale("file://"+t.TempDir(), "eks-irsa", "test"); err != nil || len(stale) != 0 {
		t.Errorf("no locks: %v, %v", stale, err)
	}
	dir := t.TempDir()
	url := writeLock(t, dir, dead, host)
	_ = os.WriteFile(filepath.Join(dir, ".pulumi", "locks", "organization", "eks-irsa", "test", "a1b2.json"), []byte("{"), 0o600)
	if _, err := Stale(url, "eks-irsa", "test"); err == nil || !strings.Contains(err.Error(), "a1b2.json") {
		t.Errorf("a torn lock file: err = %v, want it named", err)
	}
}
