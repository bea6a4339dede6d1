package integration

import (
	"context"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/common/apitype"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"sigs.k8s.io/aws-iam-authenticator/pkg/config"

	"github.com/eks-irsa/eks-irsa/integration/testcluster"
	"github.com/eks-irsa/eks-irsa/irsa"
	"github.com/eks-irsa/eks-irsa/k8s"
)

// TestUpIsStableRollsOnRoleChangeAndDestroyGivesBackOnlyOurFields runs, in order on one
// cluster and one stack: first up, no-op up and preview, role change, destroy.
func TestUpIsStableRollsOnRoleChangeAndDestroyGivesBackOnlyOurFields(t *testing.T) {
	t.Parallel() // its own cluster and Pulumi environment: see testcluster.NewPulumi
	e, l := newEnv(t, layer{nodeRoleARN: nodeRoleARN, awsNodeRoleARN: awsNodeRoleARN})
	ctx := t.Context()
	seeded := e.daemonSet(testcluster.AWSNodeName)

	// 1. First up: aws-auth maps the node role, aws-node is annotated, the DaemonSet rolled.
	ops, firstUp := e.mustUp(l)
	t.Logf("first up: %s (%v)", firstUp.Round(time.Millisecond), ops)
	onlyOps(t, "first up", ops, apitype.OpCreate)

	cm, err := e.awsAuth()
	if err != nil {
		t.Fatalf("aws-auth after up: %v", err)
	}
	if got, want := parseAWSAuth(t, cm), []config.RoleMapping{nodeMapping()}; !reflect.DeepEqual(got, want) {
		t.Errorf("aws-auth role mappings = %+v, want %+v", got, want)
	}
	if got := managers(cm); !slices.Equal(got, []string{k8s.FieldManager + "/Apply"}) {
		t.Errorf("aws-auth managers = %v, want only %s/Apply", got, k8s.FieldManager)
	}

	sa := e.serviceAccount(testcluster.AWSNodeName)
	if got := sa.Annotations[irsa.RoleARNAnnotation]; got != awsNodeRoleARN {
		t.Errorf("aws-node annotation %s = %q, want %q", irsa.RoleARNAnnotation, got, awsNodeRoleARN)
	}
	if got, want := managers(sa), []string{k8s.FieldManager + "/Apply", testcluster.SeedFieldManager + "/Update"}; !slices.Equal(got, want) {
		t.Errorf("aws-node ServiceAccount managers = %v, want %v", got, want)
	}

	ds := e.daemonSet(testcluster.AWSNodeName)
	if got, want := ds.Spec.Template.Annotations[k8s.RestartAnnotation], k8s.RestartToken(awsNodeRoleARN); got != want {
		t.Errorf("aws-node pod-template %s = %q, want %q", k8s.RestartAnnotation, got, want)
	}
	if ds.Generation != seeded.Generation+1 {
		t.Errorf("aws-node generation = %d, want %d (one rollout)", ds.Generation, seeded.Generation+1)
	}
	if ds.Status.ObservedGeneration != ds.Generation {
		t.Errorf("aws-node status.observedGeneration = %d, want %d: up returned before the rollout", ds.Status.ObservedGeneration, ds.Generation)
	}
	if !reflect.DeepEqual(ds.Spec.Template.Spec.Containers, seeded.Spec.Template.Spec.Containers) || !ds.Spec.Template.Spec.HostNetwork {
		t.Errorf("the restart patch changed EKS's pod spec")
	}
	afterFirst := ds.Generation

	// 2. A second up changes nothing, and a preview says so.
	ops, noopUp := e.mustUp(l)
	t.Logf("no-op up: %s (%v)", noopUp.Round(time.Millisecond), ops)
	onlyOps(t, "second up", ops, apitype.OpSame)
	if len(ops) == 0 {
		t.Errorf("second up reported no steps at all")
	}
	pre, err := e.preview(l)
	if err != nil {
		t.Fatalf("preview: %v", err)
	}
	for op, n := range pre.ChangeSummary {
		if op != apitype.OpSame {
			t.Errorf("preview after up: %d %q, want only same (%v)", n, op, pre.ChangeSummary)
		}
	}
	if g := e.daemonSet(testcluster.AWSNodeName).Generation; g != afterFirst {
		t.Errorf("no-op up moved aws-node generation %d -> %d", afterFirst, g)
	}

	// 3. A new role: the annotation and the restart token change once, the pods roll once.
	l.awsNodeRoleARN = awsNodeRoleARN2
	ops, changeUp := e.mustUp(l)
	t.Logf("role-change up: %s (%v)", changeUp.Round(time.Millisecond), ops)
	var updated []string
	for res, op := range ops {
		if op == apitype.OpUpdate {
			updated = append(updated, res)
		}
	}
	slices.Sort(updated)
	if want := []string{
		"kubernetes:apps/v1:DaemonSetPatch::" + awsNodeResource("restart"),
		"kubernetes:core/v1:ServiceAccountPatch::" + awsNodeResource("service-account"),
	}; !slices.Equal(updated, want) {
		t.Errorf("role change updated %v, want %v", updated, want)
	}
	onlyOps(t, "role change", ops, apitype.OpSame, apitype.OpUpdate)
	if got := e.serviceAccount(testcluster.AWSNodeName).Annotations[irsa.RoleARNAnnotation]; got != awsNodeRoleARN2 {
		t.Errorf("annotation after role change = %q, want %q", got, awsNodeRoleARN2)
	}
	ds = e.daemonSet(testcluster.AWSNodeName)
	if got, want := ds.Spec.Template.Annotations[k8s.RestartAnnotation], k8s.RestartToken(awsNodeRoleARN2); got != want {
		t.Errorf("restart token after role change = %q, want %q", got, want)
	}
	if ds.Generation != afterFirst+1 || ds.Status.ObservedGeneration != ds.Generation {
		t.Errorf("after role change generation = %d (observed %d), want %d", ds.Generation, ds.Status.ObservedGeneration, afterFirst+1)
	}
	ops, _ = e.mustUp(l)
	onlyOps(t, "up after role change", ops, apitype.OpSame)
	afterChange := e.daemonSet(testcluster.AWSNodeName).Generation

	// 5. Destroy leaves EKS's objects; our fields go.
	ops, destroyTook := e.destroy(l)
	t.Logf("destroy: %s (%v)", destroyTook.Round(time.Millisecond), ops)
	onlyOps(t, "destroy", ops, apitype.OpDelete)

	sa = e.serviceAccount(testcluster.AWSNodeName)
	if v, ok := sa.Annotations[irsa.RoleARNAnnotation]; ok {
		t.Errorf("aws-node still annotated after destroy: %q", v)
	}
	for _, m := range managers(sa) {
		if m == k8s.FieldManager+"/Apply" {
			t.Errorf("aws-node ServiceAccount still managed by %s after destroy", k8s.FieldManager)
		}
	}
	// Observed: deleting the DaemonSetPatch relinquishes the pod-template annotation too, so
	// the template changes once more and the pods roll a last time (back to no role).
	ds = e.daemonSet(testcluster.AWSNodeName)
	t.Logf("aws-node after destroy: generation %d, pod-template annotations %v, managers %v",
		ds.Generation, ds.Spec.Template.Annotations, managers(ds))
	if v, ok := ds.Spec.Template.Annotations[k8s.RestartAnnotation]; ok {
		t.Errorf("restart annotation still on the pod template after destroy: %q", v)
	}
	if ds.Generation != afterChange+1 {
		t.Errorf("destroy moved aws-node generation %d -> %d, want one rollout", afterChange, ds.Generation)
	}
	for _, m := range managers(ds) {
		if m == k8s.FieldManager+"/Apply" {
			t.Errorf("aws-node DaemonSet still managed by %s after destroy", k8s.FieldManager)
		}
	}
	if !reflect.DeepEqual(ds.Spec.Template.Spec.Containers, seeded.Spec.Template.Spec.Containers) {
		t.Errorf("aws-node containers differ from what EKS wrote after destroy")
	}
	e.daemonSet(testcluster.KubeProxyName)
	if _, err := e.cluster.Client.AppsV1().Deployments(testcluster.KubeSystem).Get(ctx, testcluster.CoreDNSName, metav1.GetOptions{}); err != nil {
		t.Errorf("coredns after destroy: %v", err)
	}
	// aws-auth was created by the stack, so destroy deletes it (the default, non-adopting mode).
	if err := wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, 10*time.Second, true, func(context.Context) (bool, error) {
		_, err := e.awsAuth()
		return apierrors.IsNotFound(err), nil
	}); err != nil {
		t.Errorf("aws-auth created by the stack still exists after destroy")
	}

	t.Logf("wall times: first up %s, no-op up %s, role change %s, destroy %s, cluster start %s",
		firstUp.Round(time.Millisecond), noopUp.Round(time.Millisecond), changeUp.Round(time.Millisecond),
		destroyTook.Round(time.Millisecond), e.cluster.StartTime.Round(time.Millisecond))
}
