package main

import (
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"

	"k8s.io/client-go/kubernetes/fake"

	"github.com/eks-irsa/eks-irsa/internal/statelock/statelocktest"
)

// A CLI killed mid-update leaves the file backend locked; the next up cancels that lock by
// itself, saying why, instead of failing with "locked" and a manual step.
func TestUpCancelsALockItsDeadProcessLeft(t *testing.T) {
	host, _ := os.Hostname()
	url := statelocktest.WriteLock(t, t.TempDir(), "eks-irsa", "test", statelocktest.DeadPid(t), host)
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

// A second up while an update runs fails at once, naming the running update's lock, and
// neither reads the state (whose pending operations are that update's, not an interrupted
// one's) nor cancels anything.
func TestUpStopsAtALiveUpdatesLock(t *testing.T) {
	host, _ := os.Hostname()
	url := statelocktest.WriteLock(t, t.TempDir(), "eks-irsa", "test", os.Getpid(), host)
	c := &cli{
		stack:  &fakeStack{outputs: testStackOutputs()},
		client: fake.NewClientset(healthyCluster()...),
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
