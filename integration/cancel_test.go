package integration

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/auto/events"
	"github.com/pulumi/pulumi/sdk/v3/go/auto/optup"

	"github.com/eks-irsa/eks-irsa/integration/testcluster"
	"github.com/eks-irsa/eks-irsa/irsa"
	"github.com/eks-irsa/eks-irsa/k8s"
)

// TestPlainUpCompletesAfterACancelledUp: an up cancelled while the DaemonSet restart waits for
// its rollout (held by the emulated node), as Ctrl-C in the driver cancels its context; then
// a plain up, with no manual step in between, completes and leaves the cluster as a clean
// first up would.
func TestPlainUpCompletesAfterACancelledUp(t *testing.T) {
	e, l, net := newStalledEnv(t, layer{nodeRoleARN: nodeRoleARN, awsNodeRoleARN: awsNodeRoleARN})
	e.stack.Workspace().SetProgram(l.program())

	ctx, cancel := context.WithTimeout(t.Context(), upTimeout)
	defer cancel()
	ch := make(chan events.EngineEvent)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for ev := range ch {
			if ev.ResourcePreEvent != nil && strings.HasSuffix(ev.ResourcePreEvent.Metadata.Type, "DaemonSetPatch") {
				cancel()
			}
		}
	}()
	start := time.Now()
	res, err := e.stack.Up(ctx, optup.EventStreams(ch))
	streamEnded(t, done) // it was opened: an event triggered the cancel
	if err == nil {
		t.Fatalf("the up finished before the cancel reached it; stdout:\n%s", res.StdOut)
	}
	t.Logf("cancelled up returned after %s: %s", time.Since(start).Round(time.Millisecond), firstLine(err.Error()))

	dep := e.state("cancel")
	t.Logf("state after cancel: %d resources, pending operations %+v", len(dep.Resources), dep.PendingOperations)
	// Observed with v3.274.1: the provider's Cancel ends the restart's await, the step fails
	// and the engine records no pending operation, so nothing needs clearing before the next up.
	if len(dep.PendingOperations) != 0 {
		t.Errorf("pending operations after a cancelled up: %+v", dep.PendingOperations)
	}
	for _, r := range dep.Resources {
		if strings.HasSuffix(string(r.URN), "::"+awsNodeResource("restart")) {
			t.Errorf("the cancelled restart is in the state: %s", r.URN)
		}
	}

	net.holdAWSNode.Store(false) // the node's CNI can start now: the rollout completes
	ops, took := e.mustUp(l)
	t.Logf("up after cancel: %s (%v)", took.Round(time.Millisecond), ops)

	sa := e.serviceAccount(testcluster.AWSNodeName)
	if got := sa.Annotations[irsa.RoleARNAnnotation]; got != awsNodeRoleARN {
		t.Errorf("annotation after recovery = %q, want %q", got, awsNodeRoleARN)
	}
	ds := e.daemonSet(testcluster.AWSNodeName)
	if got, want := ds.Spec.Template.Annotations[k8s.RestartAnnotation], k8s.RestartToken(awsNodeRoleARN); got != want {
		t.Errorf("restart token after recovery = %q, want %q", got, want)
	}
	if ds.Status.ObservedGeneration != ds.Generation {
		t.Errorf("rollout after recovery: observed %d of generation %d", ds.Status.ObservedGeneration, ds.Generation)
	}
	if got := ops["kubernetes:apps/v1:DaemonSetPatch::"+awsNodeResource("restart")]; got != "create" {
		t.Errorf("up after cancel: restart step %q, want create", got)
	}
	ops, _ = e.mustUp(l)
	onlyOps(t, "up after recovery", ops, "same")
}
