package testcluster

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// PodGate decides whether the emulated kubelet starts a bound pod. It returns "" to start it
// (Running and Ready) or a container waiting reason (e.g. "ContainerCreating") to hold it
// Pending; it is asked again on every pass until the pod starts, so a held pod starts once
// the gate opens. A started pod is never asked again.
type PodGate func(ctx context.Context, c *Cluster, pod *corev1.Pod) string

// Kubelets stands in for the nodes of a node group, which this control plane has no real
// kubelet or scheduler for. On every pass it registers its Nodes as Ready, binds unscheduled
// pods (a DaemonSet pod to the node its affinity names, others round-robin), reports bound
// pods Running and Ready unless the gate holds them, and finishes the deletion of terminating
// pods as a kubelet does once containers stop. That is enough for DaemonSet and Deployment
// rollouts to complete and for pod and node statuses to be set through the status subresource.
type Kubelets struct {
	c     *Cluster
	nodes []string
	gate  PodGate

	mu      sync.Mutex
	next    int
	lastErr error
}

// StartKubelets registers nodes and runs the emulation until the test ends.
func (c *Cluster) StartKubelets(t testing.TB, gate PodGate, nodes ...string) *Kubelets {
	t.Helper()
	k := &Kubelets{c: c, nodes: nodes, gate: gate}
	ctx, cancel := context.WithCancel(context.Background())
	stopped := make(chan struct{})
	for _, n := range nodes {
		if err := k.register(t.Context(), n); err != nil {
			t.Fatalf("testcluster: register node %s: %v", n, err)
		}
	}
	go func() {
		defer close(stopped)
		// A pass lists every pod: 100 ms apart while a pod is on its way (unbound, held by
		// the gate, terminating), else on the next pod event or after a second. Before, a
		// pass every 100 ms for a test's whole life was most of the apiserver's and this
		// process's work in an emulated scenario that had long settled.
		changed := k.watchPods(ctx)
		for {
			wait := time.Second
			if k.pass(ctx) {
				wait = 100 * time.Millisecond
			}
			select {
			case <-ctx.Done():
				return
			case <-changed:
			case <-time.After(wait):
			}
		}
	}()
	// Registered after Start's cleanups, so it runs before the apiserver stops.
	t.Cleanup(func() {
		cancel()
		<-stopped
		if err := k.Err(); err != nil && t.Failed() {
			t.Logf("testcluster: kubelets' last error: %v", err)
		}
	})
	return k
}

// Err is the last error a pass met (conflicts are retried on the next pass).
func (k *Kubelets) Err() error {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.lastErr
}

func (k *Kubelets) fail(err error) {
	if err == nil || apierrors.IsConflict(err) || apierrors.IsNotFound(err) {
		return
	}
	k.mu.Lock()
	k.lastErr = err
	k.mu.Unlock()
}

// Join registers one more node, as the kubelet of a new instance does when it boots, unless
// a node of that name is already registered.
func (k *Kubelets) Join(ctx context.Context, name string) error {
	k.mu.Lock()
	joined := slices.Contains(k.nodes, name)
	k.mu.Unlock()
	if joined {
		return nil
	}
	if err := k.register(ctx, name); err != nil && !apierrors.IsAlreadyExists(err) {
		return err
	}
	k.mu.Lock()
	k.nodes = append(k.nodes, name)
	k.mu.Unlock()
	return nil
}

// Nodes returns the names of the registered nodes.
func (k *Kubelets) Nodes() []string {
	k.mu.Lock()
	defer k.mu.Unlock()
	return slices.Clone(k.nodes)
}

// register creates a Node and reports it Ready, as a kubelet does on its first boot.
func (k *Kubelets) register(ctx context.Context, name string) error {
	node, err := k.c.Client.CoreV1().Nodes().Create(ctx, &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{
			"kubernetes.io/hostname": name, "kubernetes.io/os": "linux",
		}},
	}, metav1.CreateOptions{FieldManager: "kubelet"})
	if err != nil {
		return err
	}
	return k.SetNodeReady(ctx, node.Name, corev1.ConditionTrue, "KubeletReady")
}

// SetNodeReady writes the node's Ready condition through the status subresource.
func (k *Kubelets) SetNodeReady(ctx context.Context, name string, status corev1.ConditionStatus, reason string) error {
	node, err := k.c.Client.CoreV1().Nodes().Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return err
	}
	now := metav1.Now()
	node.Status.Conditions = []corev1.NodeCondition{{
		Type: corev1.NodeReady, Status: status, Reason: reason,
		LastHeartbeatTime: now, LastTransitionTime: now,
	}}
	node.Status.Addresses = []corev1.NodeAddress{{Type: corev1.NodeInternalIP, Address: "127.0.0.1"}, {Type: corev1.NodeHostName, Address: name}}
	_, err = k.c.Client.CoreV1().Nodes().UpdateStatus(ctx, node, metav1.UpdateOptions{FieldManager: "kubelet"})
	return err
}

// watchPods signals on the returned channel (one signal holds any number of events) whenever
// a pod changes, until ctx ends or the control plane is being deleted.
func (k *Kubelets) watchPods(ctx context.Context) <-chan struct{} {
	changed := make(chan struct{}, 1)
	ctx, cancel := context.WithCancel(ctx)
	go func() {
		select {
		case <-ctx.Done():
		case <-k.c.deleting:
		}
		cancel()
	}()
	go func() {
		for ctx.Err() == nil {
			w, err := k.c.Client.CoreV1().Pods(metav1.NamespaceAll).Watch(ctx, metav1.ListOptions{})
			if err != nil {
				select {
				case <-ctx.Done():
				case <-time.After(100 * time.Millisecond):
				}
				continue
			}
			for range w.ResultChan() {
				select {
				case changed <- struct{}{}:
				default:
				}
			}
			w.Stop()
		}
	}()
	return changed
}

// pass does a kubelet's work for every pod once and says whether a pod is still on its way to
// Running (or was acted on), so the next pass should come soon.
func (k *Kubelets) pass(ctx context.Context) (busy bool) {
	pods, err := k.c.Client.CoreV1().Pods(metav1.NamespaceAll).List(ctx, metav1.ListOptions{})
	if err != nil {
		k.fail(err)
		return true
	}
	for i := range pods.Items {
		pod := &pods.Items[i]
		busy = busy || pod.DeletionTimestamp != nil || pod.Status.Phase != corev1.PodRunning
		switch {
		case pod.DeletionTimestamp != nil:
			zero := int64(0)
			k.fail(k.c.Client.CoreV1().Pods(pod.Namespace).Delete(ctx, pod.Name, metav1.DeleteOptions{GracePeriodSeconds: &zero}))
		case pod.Spec.NodeName == "":
			k.fail(k.bind(ctx, pod))
		default:
			k.fail(k.report(ctx, pod))
		}
	}
	return busy
}

func (k *Kubelets) bind(ctx context.Context, pod *corev1.Pod) error {
	node := daemonSetNode(pod)
	if node == "" {
		k.mu.Lock()
		if len(k.nodes) > 0 {
			node = k.nodes[k.next%len(k.nodes)]
			k.next++
		}
		k.mu.Unlock()
		if node == "" {
			return nil // no node yet: the pod stays Pending, as with a scheduler and no nodes
		}
	}
	return k.c.Client.CoreV1().Pods(pod.Namespace).Bind(ctx, &corev1.Binding{
		ObjectMeta: metav1.ObjectMeta{Name: pod.Name, Namespace: pod.Namespace, UID: pod.UID},
		Target:     corev1.ObjectReference{Kind: "Node", Name: node},
	}, metav1.CreateOptions{})
}

// daemonSetNode is the node a DaemonSet pod's required affinity pins it to.
func daemonSetNode(pod *corev1.Pod) string {
	a := pod.Spec.Affinity
	if a == nil || a.NodeAffinity == nil || a.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution == nil {
		return ""
	}
	for _, term := range a.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution.NodeSelectorTerms {
		for _, f := range term.MatchFields {
			if f.Key == "metadata.name" && len(f.Values) == 1 {
				return f.Values[0]
			}
		}
	}
	return ""
}

// report writes the pod's status as its kubelet would: Running and Ready, or Pending with
// the gate's waiting reason. It writes only when the status would change.
func (k *Kubelets) report(ctx context.Context, pod *corev1.Pod) error {
	if pod.Status.Phase == corev1.PodRunning {
		return nil // a started pod stays started
	}
	reason := ""
	if k.gate != nil {
		reason = k.gate(ctx, k.c, pod)
	}
	running := reason == ""
	if !running && pod.Status.Phase == corev1.PodPending && len(pod.Status.ContainerStatuses) > 0 &&
		pod.Status.ContainerStatuses[0].State.Waiting != nil && pod.Status.ContainerStatuses[0].State.Waiting.Reason == reason {
		return nil
	}
	now := metav1.Now()
	st := corev1.PodStatus{Phase: corev1.PodPending, HostIP: "127.0.0.1", StartTime: &now}
	ready := corev1.ConditionFalse
	if running {
		st.Phase, ready = corev1.PodRunning, corev1.ConditionTrue
		st.PodIP = "127.0.0.1"
	}
	st.Conditions = []corev1.PodCondition{
		{Type: corev1.PodScheduled, Status: corev1.ConditionTrue, LastTransitionTime: now},
		{Type: corev1.PodInitialized, Status: corev1.ConditionTrue, LastTransitionTime: now},
		{Type: corev1.ContainersReady, Status: ready, LastTransitionTime: now},
		{Type: corev1.PodReady, Status: ready, LastTransitionTime: now},
	}
	for _, c := range pod.Spec.Containers {
		cs := corev1.ContainerStatus{Name: c.Name, Image: c.Image, ImageID: c.Image, Ready: running, Started: &running}
		if running {
			cs.State.Running = &corev1.ContainerStateRunning{StartedAt: now}
			cs.ContainerID = fmt.Sprintf("containerd://%s-%s", pod.UID, c.Name)
		} else {
			cs.State.Waiting = &corev1.ContainerStateWaiting{Reason: reason}
		}
		st.ContainerStatuses = append(st.ContainerStatuses, cs)
	}
	pod.Status = st
	_, err := k.c.Client.CoreV1().Pods(pod.Namespace).UpdateStatus(ctx, pod, metav1.UpdateOptions{FieldManager: "kubelet"})
	return err
}
