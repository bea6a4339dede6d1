package main

import (
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/eks-irsa/eks-irsa/internal/statelock/statelocktest"
)

// A CLI killed mid-update leaves the file backend locked; the next up releases that lock by
// itself, saying why, instead of failing with "locked" and a manual step: that lock alone, not
// through pulumi cancel (which deletes every lock of the stack).
func TestUpReleasesALockItsDeadProcessLeft(t *testing.T) {
	dir := t.TempDir()
	url := statelocktest.KilledUpdate(t, dir, "eks-irsa", "test", "a1b2.json")
	c := &cli{
		stack:  &fakeStack{outputs: testStackOutputs()},
		client: fakeCluster(healthyCluster()...),
	}
	code, stdout, stderr := c.runWithInput(t, "", "--backend", url, "up", "-y", "--no-verify")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if want := []string{"export", "up"}; !slices.Equal(c.stack.calls, want) {
		t.Errorf("calls %q, want %q", c.stack.calls, want)
	}
	if !strings.Contains(stdout, "no longer running) left stack test locked; releasing that lock") {
		t.Errorf("stdout does not say why it released the lock:\n%s", stdout)
	}
	if left, _ := filepath.Glob(filepath.Join(dir, ".pulumi", "locks", "*", "*", "*", "*")); len(left) != 0 {
		t.Errorf("locks left: %v", left)
	}
}

// A lock with this hostname whose pid is not running here, but which no eksirsa here recorded
// starting (a container elsewhere with the same hostname, a CLI run by hand), may be a live
// update: up stops, says why and prints the command that cancels it, and cancels nothing.
func TestUpStopsAtAnUnprovenLock(t *testing.T) {
	host, _ := os.Hostname()
	url := statelocktest.WriteLock(t, t.TempDir(), "eks-irsa", "test", statelocktest.DeadPid(t), host)
	c := &cli{
		stack:  &fakeStack{outputs: testStackOutputs()},
		client: fakeCluster(healthyCluster()...),
	}
	code, _, stderr := c.runWithInput(t, "", "--backend", url, "up", "-y", "--no-verify")
	if code == 0 {
		t.Fatal("up succeeded past a lock it cannot prove dead")
	}
	if len(c.stack.calls) != 0 {
		t.Errorf("calls %q, want none", c.stack.calls)
	}
	for _, want := range []string{"not provably dead: no eksirsa on this host recorded starting it", "eksirsa up --cancel", "pulumi cancel --stack test"} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr does not say %q:\n%s", want, stderr)
		}
	}
}

// A second up while an update runs fails at once, naming the running update's lock, and
// neither reads the state (whose pending operations are that update's, not an interrupted
// one's) nor cancels anything.
func TestUpStopsAtALiveUpdatesLock(t *testing.T) {
	host, _ := os.Hostname()
	url := statelocktest.WriteLock(t, t.TempDir(), "eks-irsa", "test", os.Getpid(), host)
	c := &cli{
		stack:  &fakeStack{outputs: testStackOutputs()},
		client: fakeCluster(healthyCluster()...),
	}
	code, _, stderr := c.runWithInput(t, "", "--backend", url, "up", "-y", "--no-verify")
	if code == 0 {
		t.Fatal("up succeeded while another update holds the lock")
	}
	if len(c.stack.calls) != 0 {
		t.Errorf("calls %q, want none", c.stack.calls)
	}
	for _, want := range []string{"stack test is locked by an update that may still be running", "pid " + strconv.Itoa(os.Getpid()), "a1b2.json", "eksirsa up --cancel"} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr does not say %q:\n%s", want, stderr)
		}
	}
}
