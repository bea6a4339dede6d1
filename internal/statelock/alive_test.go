package statelock

import (
	"os/exec"
	"syscall"
	"testing"
	"time"
)

// A CLI killed together with its parent stays a zombie where PID 1 does not reap orphans; it
// holds no lock. Here the test is the parent and does not reap until the end.
func TestZombieIsNotAlive(t *testing.T) {
	cmd := exec.Command("sleep", "60")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pid := cmd.Process.Pid
	if !processAlive(pid) {
		t.Fatal("a running process is not alive")
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for !zombie(pid) && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if processAlive(pid) {
		t.Errorf("the killed, unreaped process %d counts as alive", pid)
	}
	_ = cmd.Wait()
}
