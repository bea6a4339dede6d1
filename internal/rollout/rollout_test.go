package rollout

import (
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func ptr[T any](v T) *T { return &v }

// kubectl rollout status's rules (k8s.io/kubectl pkg/polymorphichelpers/rollout_status.go),
// each case one of its messages: the migration's restart phase and verify's aws-node check wait for them.
func TestRolloutStatusRules(t *testing.T) {
	one, zero := ptr(int32(1)), ptr(int32(0))
	onDelete := appsv1.StatefulSetUpdateStrategy{Type: appsv1.OnDeleteStatefulSetStrategyType}
	partitioned := appsv1.StatefulSetUpdateStrategy{Type: appsv1.RollingUpdateStatefulSetStrategyType, RollingUpdate: &appsv1.RollingUpdateStatefulSetStrategy{Partition: zero}}
	meta := metav1.ObjectMeta{Generation: 2}
	for _, c := range []struct {
		name, got, want string
	}{
		{"deployment not observed", Deployment(appsv1.Deployment{ObjectMeta: meta, Status: appsv1.DeploymentStatus{ObservedGeneration: 1}}), "its spec not yet observed"},
		{"deployment updating", Deployment(appsv1.Deployment{ObjectMeta: meta, Spec: appsv1.DeploymentSpec{Replicas: one}, Status: appsv1.DeploymentStatus{ObservedGeneration: 2, Replicas: 2, UpdatedReplicas: 0}}), "0 of 1 new replicas updated"},
		{"deployment old pod left", Deployment(appsv1.Deployment{ObjectMeta: meta, Spec: appsv1.DeploymentSpec{Replicas: one}, Status: appsv1.DeploymentStatus{ObservedGeneration: 2, Replicas: 2, UpdatedReplicas: 1}}), "1 old replicas pending termination"},
		{"deployment unavailable", Deployment(appsv1.Deployment{ObjectMeta: meta, Spec: appsv1.DeploymentSpec{Replicas: one}, Status: appsv1.DeploymentStatus{ObservedGeneration: 2, Replicas: 1, UpdatedReplicas: 1}}), "0 of 1 updated replicas available"},
		{"deployment rolled out", Deployment(appsv1.Deployment{ObjectMeta: meta, Spec: appsv1.DeploymentSpec{Replicas: one}, Status: appsv1.DeploymentStatus{ObservedGeneration: 2, Replicas: 1, UpdatedReplicas: 1, AvailableReplicas: 1}}), ""},
		{"statefulset never observed", StatefulSet(appsv1.StatefulSet{ObjectMeta: meta}), "its spec not yet observed"},
		{"statefulset pod gone", StatefulSet(appsv1.StatefulSet{ObjectMeta: meta, Spec: appsv1.StatefulSetSpec{Replicas: one, UpdateStrategy: partitioned}, Status: appsv1.StatefulSetStatus{ObservedGeneration: 2}}), "0 of 1 pods ready"},
		{"statefulset partition not reached", StatefulSet(appsv1.StatefulSet{ObjectMeta: meta, Spec: appsv1.StatefulSetSpec{Replicas: one, UpdateStrategy: partitioned}, Status: appsv1.StatefulSetStatus{ObservedGeneration: 2, ReadyReplicas: 1}}), "0 of 1 new pods updated"},
		{"statefulset rolled out", StatefulSet(appsv1.StatefulSet{ObjectMeta: meta, Spec: appsv1.StatefulSetSpec{Replicas: one, UpdateStrategy: partitioned}, Status: appsv1.StatefulSetStatus{ObservedGeneration: 2, ReadyReplicas: 1, UpdatedReplicas: 1}}), ""},
		{"statefulset revisions apart", StatefulSet(appsv1.StatefulSet{ObjectMeta: meta, Spec: appsv1.StatefulSetSpec{Replicas: one}, Status: appsv1.StatefulSetStatus{ObservedGeneration: 2, ReadyReplicas: 1, UpdatedReplicas: 0, UpdateRevision: "b", CurrentRevision: "a"}}), "0 pods at revision b, the rest not yet"},
		{"statefulset OnDelete", StatefulSet(appsv1.StatefulSet{ObjectMeta: meta, Spec: appsv1.StatefulSetSpec{Replicas: one, UpdateStrategy: onDelete}}), ""},
		{"daemonset not observed", DaemonSet(appsv1.DaemonSet{ObjectMeta: meta, Status: appsv1.DaemonSetStatus{ObservedGeneration: 1}}), "its spec not yet observed"},
		{"daemonset updating", DaemonSet(appsv1.DaemonSet{ObjectMeta: meta, Status: appsv1.DaemonSetStatus{ObservedGeneration: 2, DesiredNumberScheduled: 1}}), "0 of 1 new pods updated"},
		{"daemonset unavailable", DaemonSet(appsv1.DaemonSet{ObjectMeta: meta, Status: appsv1.DaemonSetStatus{ObservedGeneration: 2, DesiredNumberScheduled: 1, UpdatedNumberScheduled: 1}}), "0 of 1 updated pods available"},
		{"daemonset rolled out", DaemonSet(appsv1.DaemonSet{ObjectMeta: meta, Status: appsv1.DaemonSetStatus{ObservedGeneration: 2, DesiredNumberScheduled: 1, UpdatedNumberScheduled: 1, NumberAvailable: 1}}), ""},
	} {
		if c.got != c.want {
			t.Errorf("%s: %q, want %q", c.name, c.got, c.want)
		}
	}
}
