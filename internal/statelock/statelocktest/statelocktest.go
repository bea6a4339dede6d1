// Package statelocktest leaves file-backend locks as the Pulumi CLI writes them, for tests of
// code that reads them.
package statelocktest

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/eks-irsa/eks-irsa/internal/statelock"
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

// WriteLockAs leaves in the file backend at dir a lock of project/stack named name (the CLI
// names it <uuid>.json) and returns its path.
func WriteLockAs(t testing.TB, dir, project, stack, name string, pid int, host string) string {
	t.Helper()
	lockDir := filepath.Join(dir, ".pulumi", "locks", "organization", project, stack)
	if err := os.MkdirAll(lockDir, 0o755); err != nil {
		t.Fatal(err)
	}
	body := `{"pid":` + strconv.Itoa(pid) + `,"username":"root","hostname":"` + host + `","timestamp":"2026-11-26T10:00:00Z"}`
	file := filepath.Join(lockDir, name)
	if err := os.WriteFile(file, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return file
}

// WriteLock leaves in the file backend at dir the lock an update of project/stack by process
// pid on host holds, and returns the backend URL.
func WriteLock(t testing.TB, dir, project, stack string, pid int, host string) string {
	t.Helper()
	WriteLockAs(t, dir, project, stack, "a1b2.json", pid, host)
	return "file://" + dir
}

// KilledUpdate leaves in the file backend at dir what an update of project/stack whose CLI
// eksirsa started on this host, and which was then SIGKILLed, leaves: its lock, named name, and
// eksirsa's record of the CLI process (statelock.RecordOwner, as eksirsa records it right after
// starting the CLI). It returns the backend URL.
func KilledUpdate(t testing.TB, dir, project, stack, name string) string {
	t.Helper()
	url := "file://" + dir
	cli := exec.Command("sleep", "60")
	if err := cli.Start(); err != nil {
		t.Fatal(err)
	}
	if _, err := statelock.RecordOwner(context.Background(), url, project, stack, cli.Process.Pid); err != nil {
		t.Fatal(err)
	}
	host, _ := os.Hostname()
	WriteLockAs(t, dir, project, stack, name, cli.Process.Pid, host)
	_ = cli.Process.Kill()
	_ = cli.Wait()
	return url
}
