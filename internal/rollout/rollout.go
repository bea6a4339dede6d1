// Package rollout decides whether a workload has rolled out by the rules of `kubectl rollout
// status` (k8s.io/kubectl v0.37.2 pkg/polymorphichelpers/rollout_status.go, the Status methods
// of DeploymentStatusViewer, StatefulSetStatusViewer and DaemonSetStatusViewer): each function
// returns what the controller has yet to do, "" once rolled out. A StatefulSet or DaemonSet with
// the OnDelete strategy counts as rolled out, as kubectl has no status for it: a restart does
// not replace its pods. The one rule for verify's aws-node check and the Pod Identity
// migration's restart.
package rollout

import (
	"fmt"

	appsv1 "k8s.io/api/apps/v1"
)

// Deployment is what d's controller has yet to do.
func Deployment(d appsv1.Deployment) string {
	s := d.Status
	switch {
	case d.Generation > s.ObservedGeneration:
		return "its spec not yet observed"
	case d.Spec.Replicas != nil && s.UpdatedReplicas < *d.Spec.Replicas:
		return fmt.Sprintf("%d of %d new replicas updated", s.UpdatedReplicas, *d.Spec.Replicas)
	case s.Replicas > s.UpdatedReplicas:
		return fmt.Sprintf("%d old replicas pending termination", s.Replicas-s.UpdatedReplicas)
	case s.AvailableReplicas < s.UpdatedReplicas:
		return fmt.Sprintf("%d of %d updated replicas available", s.AvailableReplicas, s.UpdatedReplicas)
	}
	return ""
}

// StatefulSet is what st's controller has yet to do.
func StatefulSet(st appsv1.StatefulSet) string {
	s, spec := st.Status, st.Spec
	switch {
	case spec.UpdateStrategy.Type != "" && spec.UpdateStrategy.Type != appsv1.RollingUpdateStatefulSetStrategyType:
		return ""
	case s.ObservedGeneration == 0 || st.Generation > s.ObservedGeneration:
		return "its spec not yet observed"
	case spec.Replicas != nil && s.ReadyReplicas < *spec.Replicas:
		return fmt.Sprintf("%d of %d pods ready", s.ReadyReplicas, *spec.Replicas)
	case spec.UpdateStrategy.RollingUpdate != nil:
		if spec.Replicas != nil && spec.UpdateStrategy.RollingUpdate.Partition != nil {
			if want := *spec.Replicas - *spec.UpdateStrategy.RollingUpdate.Partition; s.UpdatedReplicas < want {
				return fmt.Sprintf("%d of %d new pods updated", s.UpdatedReplicas, want)
			}
		}
		return ""
	case s.UpdateRevision != s.CurrentRevision:
		return fmt.Sprintf("%d pods at revision %s, the rest not yet", s.UpdatedReplicas, s.UpdateRevision)
	}
	return ""
}

// DaemonSet is what d's controller has yet to do.
func DaemonSet(d appsv1.DaemonSet) string {
	s := d.Status
	switch {
	case d.Spec.UpdateStrategy.Type != "" && d.Spec.UpdateStrategy.Type != appsv1.RollingUpdateDaemonSetStrategyType:
		return ""
	case d.Generation > s.ObservedGeneration:
		return "its spec not yet observed"
	case s.UpdatedNumberScheduled < s.DesiredNumberScheduled:
		return fmt.Sprintf("%d of %d new pods updated", s.UpdatedNumberScheduled, s.DesiredNumberScheduled)
	case s.NumberAvailable < s.DesiredNumberScheduled:
		return fmt.Sprintf("%d of %d updated pods available", s.NumberAvailable, s.DesiredNumberScheduled)
	}
	return ""
}
