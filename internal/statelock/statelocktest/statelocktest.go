// Package statelocktest leaves file-backend locks as the Pulumi CLI writes them, for tests of
// code that reads them.
package statelocktest

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
)

// DeadPid is the pid of a process that has exited.
func DeadPid(t testing.TB) int {
	t.Helper()
	cmd := exec.Command("true")
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	return cmd.ProcessState.Pid()
}

// WriteLock leaves in the file backend at dir the lock an update of project/stack by process
// pid on host holds, and returns the backend URL.
func WriteLock(t testing.TB, dir, project, stack string, pid int, host string) string {
	t.Helper()
	lockDir := filepath.Join(dir, ".pulumi", "locks", "organization", project, stack)
	if err := os.MkdirAll(lockDir, 0o755); err != nil {
		t.Fatal(err)
	}
	body := `{"pid":` + strconv.Itoa(pid) + `,"username":"root","hostname":"` + host + `","timestamp":"2026-11-26T10:00:00Z"}`
	if err := os.WriteFile(filepath.Join(lockDir, "a1b2.json"), []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return "file://" + dir
}
