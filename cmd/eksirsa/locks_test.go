package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"k8s.io/client-go/kubernetes/fake"
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

// writeLock leaves the lock a killed CLI leaves in a file backend; it returns the backend URL.
func writeLock(t *testing.T, dir string, pid int, host string) string {
	t.Helper()
	lockDir := filepath.Join(dir, ".pulumi", "locks", "organization", "eks-irsa", "test")
	body := `{"pid":` + strconv.Itoa(pid) + `,"hostname":"` + host + `","timestamp":"2026-11-26T10:00:00Z"}`
	if err := os.MkdirAll(lockDir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(lockDir, "a1b2.json"), []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return "file://" + dir
}

// A CLI killed mid-update leaves the file backend locked; the next up cancels that lock by
// itself, saying why, instead of failing with "locked" and a manual step.
func TestUpCancelsALockItsDeadProcessLeft(t *testing.T) {
	host, _ := os.Hostname()
	url := writeLock(t, t.TempDir(), deadPid(t), host)
	c := &cli{
		stack:  &fakeStack{outputs: testStackOutputs()},
		client: fake.NewClientset(healthyCluster()...),
	}
	code, stdout, stderr := c.runWithInput(t, "", "--backend", url, "up", "-y", "--no-verify")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if want := []string{"cancel", "export", "up"}; !slices.Equal(c.stack.calls, want) {
		t.Errorf("calls %q, want %q", c.stack.calls, want)
	}
	if !strings.Contains(stdout, "no longer running) left stack test locked") {
		t.Errorf("stdout does not say why it cancelled:\n%s", stdout)
	}
}
