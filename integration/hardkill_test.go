package integration

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/auto"
	"github.com/pulumi/pulumi/sdk/v3/go/auto/events"
	"github.com/pulumi/pulumi/sdk/v3/go/auto/optrefresh"
	"github.com/pulumi/pulumi/sdk/v3/go/auto/optup"

	"github.com/eks-irsa/eks-irsa/integration/testcluster"
	"github.com/eks-irsa/eks-irsa/internal/statelock"
	"github.com/eks-irsa/eks-irsa/irsa"
	"github.com/eks-irsa/eks-irsa/k8s"
)

// children returns the pids of pid's child processes whose command name is comm (any when
// comm is empty), read from /proc.
func children(pid int, comm string) []int {
	stats, _ := filepath.Glob("/proc/[0-9]*/stat")
	var pids []int
	for _, path := range stats {
		data, err := os.ReadFile(path)
		if err != nil {
			continue
		}
		// pid (comm) state ppid ...
		s := string(data)
		open, closing := strings.IndexByte(s, '('), strings.LastIndexByte(s, ')')
		if open < 0 || closing < open {
			continue
		}
		fields := strings.Fields(s[closing+1:])
		if len(fields) < 2 || fields[1] != strconv.Itoa(pid) || (comm != "" && s[open+1:closing] != comm) {
			continue
		}
		if child, err := strconv.Atoi(strings.TrimSpace(s[:open])); err == nil {
			pids = append(pids, child)
		}
	}
	return pids
}

// killCLI SIGKILLs the pulumi CLI this test binary runs and the plugins it started (the
// Automation API does not give the CLI a process group of its own on Unix).
func killCLI(t *testing.T) bool {
	killed := false
	for _, cli := range children(os.Getpid(), "pulumi") {
		plugins := children(cli, "")
		for _, pid := range append([]int{cli}, plugins...) {
			if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
				t.Logf("SIGKILL %d: %v", pid, err)
			}
		}
		t.Logf("SIGKILLed pulumi %d and its %d plugin processes", cli, len(plugins))
		killed = true
	}
	return killed
}

// TestKilledUp complements TestPlainUpCompletesAfterACancelledUp with the interruption a graceful cancel cannot
// cover: the CLI and its provider SIGKILLed while the DaemonSet restart is in flight (a
// second Ctrl-C, an OOM kill, a CI runner timing out). It records what the state holds
// afterwards (a lock and a pending create) and that the recovery `eksirsa up` performs by
// itself, pulumi cancel, refresh --clear-pending-creates, then up, completes.
func TestKilledUp(t *testing.T) {
	e, l, net := newStalledEnv(t, layer{nodeRoleARN: nodeRoleARN, awsNodeRoleARN: awsNodeRoleARN})
	e.stack.Workspace().SetProgram(l.program())

	ctx, cancel := context.WithTimeout(t.Context(), upTimeout)
	defer cancel()
	ch := make(chan events.EngineEvent)
	done := make(chan struct{})
	killed := false
	go func() {
		defer close(done)
		for ev := range ch {
			if killed || ev.ResourcePreEvent == nil || !strings.HasSuffix(ev.ResourcePreEvent.Metadata.Type, "DaemonSetPatch") {
				continue
			}
			killed = killCLI(t)
		}
	}()
	start := time.Now()
	_, err := e.stack.Up(ctx, optup.EventStreams(ch))
	streamEnded(t, done) // a kill breaks the stream, which closes it
	t.Logf("killed up returned after %s", time.Since(start).Round(time.Millisecond))
	if !killed {
		t.Fatal("no pulumi child process found to kill")
	}
	if err == nil {
		t.Fatal("up succeeded although its CLI was killed")
	}
	t.Logf("killed up: %s", firstLine(err.Error()))

	dep := e.state("kill")
	t.Logf("state after kill: pending operations %+v", dep.PendingOperations)
	pendingRestart := false
	for _, op := range dep.PendingOperations {
		pendingRestart = pendingRestart || (op.Type == "creating" && strings.HasSuffix(string(op.Resource.URN), "::"+awsNodeResource("restart")))
	}
	if !pendingRestart {
		t.Errorf("the restart in flight is not a pending create after the kill: %+v", dep.PendingOperations)
	}

	net.holdAWSNode.Store(false) // the node's CNI can start now: the rollout completes

	// Observed: the dead CLI's lock stays in the file backend, so a plain up fails at once
	// with the error auto.IsConcurrentUpdateError recognises (the driver's cue for --cancel).
	_, _, _, plainErr := e.up(l)
	if plainErr == nil || !auto.IsConcurrentUpdateError(plainErr) {
		t.Fatalf("plain up after a kill: %v, want the stack-locked error", plainErr)
	}
	t.Logf("plain up after kill: %s", lockLine(plainErr.Error()))

	// The driver tells that lock from a live update's: the real CLI's lock file names this
	// host and a pid that is gone, so `eksirsa up` cancels it without being asked.
	locks, err := statelock.Read(t.Context(), e.stack.Workspace().GetEnvVars()["PULUMI_BACKEND_URL"], project, stack)
	if err != nil || len(locks) != 1 || !locks[0].Dead() {
		t.Errorf("locks after the kill = %+v, %v; want the dead CLI's one", locks, err)
	}

	// The recovery `eksirsa up` performs: release the lock (pulumi cancel), clear the pending
	// create by a refresh, then up.
	if err := e.stack.Cancel(t.Context()); err != nil {
		t.Fatalf("cancel: %v", err)
	}
	if _, err := e.stack.Refresh(t.Context(), optrefresh.ClearPendingCreates()); err != nil {
		t.Fatalf("refresh --clear-pending-creates: %v", err)
	}
	ops, took := e.mustUp(l)
	t.Logf("up after cancel and refresh --clear-pending-creates: %s (%v)", took.Round(time.Millisecond), ops)
	if got := ops["kubernetes:apps/v1:DaemonSetPatch::"+awsNodeResource("restart")]; got != "create" {
		t.Errorf("recovery up: restart step %q, want create", got)
	}

	sa := e.serviceAccount(testcluster.AWSNodeName)
	if got := sa.Annotations[irsa.RoleARNAnnotation]; got != awsNodeRoleARN {
		t.Errorf("annotation after recovery = %q, want %q", got, awsNodeRoleARN)
	}
	ds := e.daemonSet(testcluster.AWSNodeName)
	if got, want := ds.Spec.Template.Annotations[k8s.RestartAnnotation], k8s.RestartToken(awsNodeRoleARN); got != want {
		t.Errorf("restart token after recovery = %q, want %q", got, want)
	}
	ops, _ = e.mustUp(l)
	onlyOps(t, "up after recovery", ops, "same")
}

// lockLine picks the backend's "stack is currently locked" line out of a CLI error.
func lockLine(s string) string {
	for _, line := range strings.Split(s, "\n") {
		if strings.Contains(line, "locked") {
			return strings.TrimSpace(line)
		}
	}
	return firstLine(s)
}
