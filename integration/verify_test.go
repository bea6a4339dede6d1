package integration

import (
	"context"
	"errors"
	"maps"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"

	"github.com/eks-irsa/eks-irsa/integration/testcluster"
	"github.com/eks-irsa/eks-irsa/irsa"
	"github.com/eks-irsa/eks-irsa/verify"
)

var nodes = []string{"ip-10-0-1-10.us-west-2.compute.internal", "ip-10-0-2-20.us-west-2.compute.internal"}

// cni models the walkthrough's failure: a node's pod network comes up only once that node's
// aws-node pod runs with IRSA credentials, so pods that are not on the host network (coredns)
// stay ContainerCreating until then. The hold flags stall new pods on purpose.
type cni struct {
	holdAWSNode atomic.Bool
	holdCoreDNS atomic.Bool
}

func (n *cni) gate(ctx context.Context, c *testcluster.Cluster, pod *corev1.Pod) string {
	const creating = "ContainerCreating"
	switch pod.Labels["k8s-app"] {
	case testcluster.AWSNodeName:
		if n.holdAWSNode.Load() {
			return creating
		}
		return ""
	case "kube-dns":
		if n.holdCoreDNS.Load() {
			return creating
		}
	}
	if pod.Spec.HostNetwork {
		return ""
	}
	pods, err := c.Client.CoreV1().Pods(testcluster.KubeSystem).List(ctx, metav1.ListOptions{
		LabelSelector: "k8s-app=" + testcluster.AWSNodeName,
		FieldSelector: "spec.nodeName=" + pod.Spec.NodeName,
	})
	if err != nil {
		return creating
	}
	for _, p := range pods.Items {
		if p.Status.Phase == corev1.PodRunning && p.DeletionTimestamp == nil && hasEnv(p, irsa.EnvRoleARN) {
			return ""
		}
	}
	return creating
}

func hasEnv(p corev1.Pod, name string) bool {
	for _, c := range p.Spec.Containers {
		for _, e := range c.Env {
			if e.Name == name {
				return true
			}
		}
	}
	return false
}

// failed runs the checks once and returns the names of the failing ones, sorted.
func failed(t *testing.T, c *testcluster.Cluster, want verify.Expectations) []string {
	t.Helper()
	var out strings.Builder
	err := verify.Run(t.Context(), c.Client, want, verify.TextReporter{W: &out})
	t.Logf("verify:\n%s", out.String())
	if err == nil {
		return nil
	}
	var verr *verify.Error
	if !errors.As(err, &verr) {
		t.Fatalf("verify.Run: %v", err)
	}
	var names []string
	for _, r := range verr.Failed {
		names = append(names, r.Check)
	}
	slices.Sort(names)
	return names
}

// settle waits until the checks give exactly want (nil: all pass). An error that is not a
// failed check (bad expectations, a dead apiserver) ends the wait at once.
func settle(t *testing.T, c *testcluster.Cluster, exp verify.Expectations, want []string) {
	t.Helper()
	var got []string
	err := wait.PollUntilContextTimeout(t.Context(), 200*time.Millisecond, time.Minute, true, func(ctx context.Context) (bool, error) {
		var err error
		got, err = failedQuiet(ctx, c, exp)
		return err == nil && slices.Equal(got, want), err
	})
	if err != nil && !wait.Interrupted(err) {
		t.Fatalf("verify: %v", err)
	}
	if err != nil {
		failed(t, c, exp) // log the details
		t.Fatalf("failing checks = %v, want %v", got, want)
	}
}

// failedQuiet runs the checks once and returns the names of the failing ones, sorted, or the
// error when verify could not run them.
func failedQuiet(ctx context.Context, c *testcluster.Cluster, want verify.Expectations) ([]string, error) {
	err := verify.Run(ctx, c.Client, want, verify.TextReporter{W: discard{}})
	if err == nil {
		return nil, nil
	}
	var verr *verify.Error
	if !errors.As(err, &verr) {
		return nil, err
	}
	var names []string
	for _, r := range verr.Failed {
		names = append(names, r.Check)
	}
	slices.Sort(names)
	return names, nil
}

// failures runs the checks once and returns each failing check's error.
func failures(t *testing.T, c *testcluster.Cluster, want verify.Expectations) map[string]error {
	t.Helper()
	err := verify.Run(t.Context(), c.Client, want, verify.TextReporter{W: discard{}})
	out := map[string]error{}
	var verr *verify.Error
	if errors.As(err, &verr) {
		for _, r := range verr.Failed {
			out[r.Check] = r.Err
		}
	}
	return out
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }

// TestVerifyChecksFollowTheClusterThroughTheWalkthrough: the verify checks against a real apiserver whose nodes and
// pods get their statuses through the status subresource, and whose pods get IRSA
// credentials from a stand-in for EKS's pod identity webhook. It follows the walkthrough:
// before the k8s layer coredns is stuck and aws-node has no credentials; after one up
// everything passes; then each check is broken on its own.
func TestVerifyChecksFollowTheClusterThroughTheWalkthrough(t *testing.T) {
	t.Parallel() // its own cluster and Pulumi environment: see testcluster.NewPulumi
	testcluster.ToolsBin(t)
	c := testcluster.Start(t)
	c.StartPodIdentityWebhook(t)
	testcluster.SeedEKS(t, c)
	net := &cni{}
	kubelets := c.StartKubelets(t, net.gate, nodes...)
	p := testcluster.NewPulumi(t)
	l := layer{kubeconfig: string(c.Kubeconfig), nodeRoleARN: nodeRoleARN, awsNodeRoleARN: awsNodeRoleARN}
	e := &env{t: t, cluster: c, stack: p.InlineStack(t.Context(), t, project, stack, l.program())}
	want := verify.Expectations{MinNodes: len(nodes), MaxNodes: len(nodes), AWSNodeRoleARN: awsNodeRoleARN}

	t.Run("fresh EKS: no credentials, coredns stuck", func(t *testing.T) {
		settle(t, c, want, []string{verify.CheckAWSNodeAnnotation, verify.CheckAWSNodeCredentials, verify.CheckCoreDNSReady})
		// The walkthrough's symptoms, not merely missing pods.
		errs := failures(t, c, want)
		for check, wantText := range map[string]string{
			verify.CheckCoreDNSReady:       "ContainerCreating",
			verify.CheckAWSNodeCredentials: irsa.EnvRoleARN + " missing",
		} {
			if err := errs[check]; err == nil || !strings.Contains(err.Error(), wantText) {
				t.Errorf("%s: %v, want it to say %q", check, err, wantText)
			}
		}
	})

	t.Run("after up every check passes", func(t *testing.T) {
		ops, took := e.mustUp(l)
		t.Logf("up with %d nodes: %s (%v)", len(nodes), took.Round(time.Millisecond), ops)
		var out strings.Builder
		if err := verify.Wait(t.Context(), c.Client, want, verify.TextReporter{W: &out}, verify.Poll{Timeout: time.Minute, Interval: 200 * time.Millisecond}); err != nil {
			t.Fatalf("verify.Wait after up: %v\n%s", err, out.String())
		}
		t.Logf("verify:\n%s", out.String())
	})

	t.Run("a node not ready", func(t *testing.T) {
		if err := kubelets.SetNodeReady(t.Context(), nodes[1], corev1.ConditionFalse, "KubeletNotReady"); err != nil {
			t.Fatal(err)
		}
		settle(t, c, want, []string{verify.CheckNodesReady})
		if err := kubelets.SetNodeReady(t.Context(), nodes[1], corev1.ConditionTrue, "KubeletReady"); err != nil {
			t.Fatal(err)
		}
		settle(t, c, want, nil)
	})

	t.Run("fewer nodes joined than the group's minimum", func(t *testing.T) {
		w := want
		w.MinNodes, w.MaxNodes = len(nodes)+1, len(nodes)+1
		settle(t, c, w, []string{verify.CheckNodesReady})
	})

	t.Run("aws-node annotated with another role", func(t *testing.T) {
		w := want
		w.AWSNodeRoleARN = awsNodeRoleARN2
		settle(t, c, w, []string{verify.CheckAWSNodeAnnotation, verify.CheckAWSNodeCredentials})
	})

	t.Run("a configured IRSA account missing", func(t *testing.T) {
		w := want
		w.ServiceAccounts = map[types.NamespacedName]string{{Namespace: testcluster.KubeSystem, Name: "cluster-autoscaler"}: adminRoleARN}
		settle(t, c, w, []string{verify.CheckIRSAAccounts})
	})

	t.Run("aws-node rollout stalled", func(t *testing.T) {
		net.holdAWSNode.Store(true)
		restart(t, c)
		settle(t, c, want, []string{verify.CheckAWSNodeRollout})
		net.holdAWSNode.Store(false)
		settle(t, c, want, nil)
	})

	t.Run("a no-op up leaves the pods alone; a role change rolls each once onto the new role", func(t *testing.T) {
		before := awsNodePods(t, c)
		ops, _ := e.mustUp(l)
		onlyOps(t, "no-op up", ops, "same")
		if after := awsNodePods(t, c); !maps.Equal(after, before) {
			t.Errorf("a no-op up replaced aws-node pods: %v -> %v", before, after)
		}

		generation := e.daemonSet(testcluster.AWSNodeName).Generation
		l.awsNodeRoleARN = awsNodeRoleARN2
		ops, took := e.mustUp(l)
		t.Logf("role change with %d nodes: %s (%v)", len(nodes), took.Round(time.Millisecond), ops)
		w := want
		w.AWSNodeRoleARN = awsNodeRoleARN2
		var out strings.Builder
		if err := verify.Wait(t.Context(), c.Client, w, verify.TextReporter{W: &out}, verify.Poll{Timeout: time.Minute, Interval: 200 * time.Millisecond}); err != nil {
			t.Fatalf("verify after the role change: %v\n%s", err, out.String())
		}
		if g := e.daemonSet(testcluster.AWSNodeName).Generation; g != generation+1 {
			t.Errorf("aws-node generation %d -> %d over the role change, want one rollout", generation, g)
		}
		after := awsNodePods(t, c)
		if len(after) != len(nodes) {
			t.Errorf("%d aws-node pods after the role change, want one per node (%d)", len(after), len(nodes))
		}
		for uid, role := range after {
			if _, old := before[uid]; old {
				t.Errorf("pod %s survived the role change", uid)
			}
			if role != awsNodeRoleARN2 {
				t.Errorf("pod %s carries %s=%q, want %q", uid, irsa.EnvRoleARN, role, awsNodeRoleARN2)
			}
		}
		l.awsNodeRoleARN = awsNodeRoleARN
		e.mustUp(l) // back to the role the other cases expect
		settle(t, c, want, nil)
	})

	t.Run("coredns not ready", func(t *testing.T) {
		net.holdCoreDNS.Store(true)
		if err := c.Client.CoreV1().Pods(testcluster.KubeSystem).DeleteCollection(t.Context(), metav1.DeleteOptions{},
			metav1.ListOptions{LabelSelector: "k8s-app=kube-dns"}); err != nil {
			t.Fatal(err)
		}
		settle(t, c, want, []string{verify.CheckCoreDNSReady})
		net.holdCoreDNS.Store(false)
		settle(t, c, want, nil)
	})
}

// awsNodePods returns the live aws-node pods' UIDs and the role each one's container carries.
func awsNodePods(t *testing.T, c *testcluster.Cluster) map[types.UID]string {
	t.Helper()
	pods, err := c.Client.CoreV1().Pods(testcluster.KubeSystem).List(t.Context(), metav1.ListOptions{LabelSelector: "k8s-app=" + testcluster.AWSNodeName})
	if err != nil {
		t.Fatal(err)
	}
	out := map[types.UID]string{}
	for _, p := range pods.Items {
		if p.DeletionTimestamp != nil {
			continue
		}
		role := ""
		for _, e := range p.Spec.Containers[0].Env {
			if e.Name == irsa.EnvRoleARN {
				role = e.Value
			}
		}
		out[p.UID] = role
	}
	return out
}

// restart rolls aws-node's pods the way `kubectl rollout restart` does (another field manager).
func restart(t *testing.T, c *testcluster.Cluster) {
	t.Helper()
	patch := `{"spec":{"template":{"metadata":{"annotations":{"kubectl.kubernetes.io/restartedAt":"` + time.Now().Format(time.RFC3339Nano) + `"}}}}}`
	if _, err := c.Client.AppsV1().DaemonSets(testcluster.KubeSystem).Patch(t.Context(), testcluster.AWSNodeName,
		types.StrategicMergePatchType, []byte(patch), metav1.PatchOptions{FieldManager: "kubectl-rollout"}); err != nil {
		t.Fatal(err)
	}
}
