package verify

import (
	"context"
	"errors"
	"fmt"
	"path"
	"strings"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"

	"github.com/eks-irsa/eks-irsa/internal/rollout"
	"github.com/eks-irsa/eks-irsa/irsa"
)

// Check names, as reported and as accepted by tests and the CLI.
const (
	CheckClusterAccess      = "cluster-access"
	CheckNodesReady         = "nodes-ready"
	CheckAWSNodeRollout     = "aws-node-rollout"
	CheckAWSNodeAnnotation  = "aws-node-annotation"
	CheckAWSNodeCredentials = "aws-node-credentials"
	CheckCoreDNSReady       = "coredns-ready"
	CheckIRSAAccounts       = "irsa-service-accounts"
)

// Checks returns the IRSA health checks in the order they are reported: who the cluster takes
// verify for, then the order in which the walkthrough found its problems (nodes, the CNI's
// rollout and credentials, coredns).
func Checks() []Check {
	return []Check{
		{Name: CheckClusterAccess, Eval: clusterAccess},
		{Name: CheckNodesReady, Eval: nodesReady, NeedsAccess: true},
		{Name: CheckAWSNodeRollout, Eval: awsNodeRollout, NeedsAccess: true},
		{Name: CheckAWSNodeAnnotation, Eval: awsNodeAnnotation, NeedsAccess: true},
		{Name: CheckAWSNodeCredentials, Eval: awsNodeCredentials, NeedsAccess: true},
		{Name: CheckCoreDNSReady, Eval: coreDNSReady, NeedsAccess: true},
		{Name: CheckIRSAAccounts, Eval: irsaAccounts, NeedsAccess: true},
	}
}

// clusterAccess asks the cluster who verify's credentials are (SelfSubjectReview,
// authentication.k8s.io/v1, GA in Kubernetes 1.28: every version EKS still creates; any
// authenticated user may ask, through the system:basic-user ClusterRole). It shows which
// principal and groups aws-auth or an access entry gave the caller, and when the cluster
// refuses the credentials it is the one failure worth reading: every other read would be
// refused the same way, each after the client has run its credential plugin again.
func clusterAccess(ctx context.Context, client kubernetes.Interface, _ Expectations) (string, error) {
	review, err := client.AuthenticationV1().SelfSubjectReviews().Create(ctx, &authenticationv1.SelfSubjectReview{}, metav1.CreateOptions{})
	if err != nil {
		return "", fmt.Errorf("ask the cluster who verify is (SelfSubjectReview): %w", err)
	}
	u := review.Status.UserInfo
	if u.Username == "" {
		return "", errors.New("the cluster's SelfSubjectReview names no user for verify's credentials")
	}
	return fmt.Sprintf("verify's credentials are user %s in groups [%s]", u.Username, strings.Join(u.Groups, " ")), nil
}

func nodesReady(ctx context.Context, client kubernetes.Interface, want Expectations) (string, error) {
	nodes, err := client.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	if err != nil {
		return "", fmt.Errorf("list nodes: %w", err)
	}
	ready := 0
	var notReady []string
	for _, n := range nodes.Items {
		cond := nodeCondition(n, corev1.NodeReady)
		if cond != nil && cond.Status == corev1.ConditionTrue {
			ready++
			continue
		}
		why := "no Ready condition"
		if cond != nil {
			why = fmt.Sprintf("Ready=%s %s", cond.Status, cond.Reason)
		}
		notReady = append(notReady, fmt.Sprintf("%s (%s)", n.Name, strings.TrimSpace(why)))
	}
	// The group's size is cluster-autoscaler's to choose within [min, max]; a node that has
	// registered but is not Ready (a kubelet or CNI fault, or a replacement still joining)
	// fails the check, so --wait waits for it.
	seen := fmt.Sprintf("%d of %d nodes Ready", ready, len(nodes.Items))
	bounds := fmt.Sprintf("want every node Ready and %d to %d of them (nodes.min to nodes.max)", want.MinNodes, want.MaxNodes)
	if len(notReady) > 0 || ready < want.MinNodes || ready > want.MaxNodes {
		if len(notReady) > 0 {
			seen += "; not ready: " + strings.Join(notReady, ", ")
		}
		return "", fmt.Errorf("%s; %s", seen, bounds)
	}
	return fmt.Sprintf("%s, within %d to %d", seen, want.MinNodes, want.MaxNodes), nil
}

func nodeCondition(n corev1.Node, t corev1.NodeConditionType) *corev1.NodeCondition {
	for i := range n.Status.Conditions {
		if n.Status.Conditions[i].Type == t {
			return &n.Status.Conditions[i]
		}
	}
	return nil
}

// awsNodeRollout passes when the DaemonSet has rolled out by kubectl's rule (rollout.DaemonSet:
// its controller has acted on the latest spec, the restart annotation, and every scheduled pod
// is updated and available) onto at least one node.
func awsNodeRollout(ctx context.Context, client kubernetes.Interface, _ Expectations) (string, error) {
	ds, err := client.AppsV1().DaemonSets(KubeSystem).Get(ctx, AWSNode, metav1.GetOptions{})
	if err != nil {
		return "", fmt.Errorf("get daemonset %s/%s: %w", KubeSystem, AWSNode, err)
	}
	s := ds.Status
	seen := fmt.Sprintf("generation %d observed %d, desired %d updated %d available %d",
		ds.Generation, s.ObservedGeneration, s.DesiredNumberScheduled, s.UpdatedNumberScheduled, s.NumberAvailable)
	if why := rollout.DaemonSet(*ds); why != "" {
		return "", fmt.Errorf("%s: not rolled out, %s", seen, why)
	}
	if s.DesiredNumberScheduled == 0 {
		return "", fmt.Errorf("%s: no node runs it", seen)
	}
	return seen, nil
}

func awsNodeAnnotation(ctx context.Context, client kubernetes.Interface, want Expectations) (string, error) {
	sa := types.NamespacedName{Namespace: KubeSystem, Name: AWSNode}
	if err := annotated(ctx, client, sa, want.AWSNodeRoleARN); err != nil {
		return "", err
	}
	return fmt.Sprintf("%s %s=%s", sa, irsa.RoleARNAnnotation, want.AWSNodeRoleARN), nil
}

func irsaAccounts(ctx context.Context, client kubernetes.Interface, want Expectations) (string, error) {
	accounts := sortedAccounts(want.ServiceAccounts)
	if len(accounts) == 0 {
		return "no other IRSA service accounts configured", nil
	}
	var problems []string
	for _, sa := range accounts {
		if err := annotated(ctx, client, sa, want.ServiceAccounts[sa]); err != nil {
			problems = append(problems, err.Error())
		}
	}
	if len(problems) > 0 {
		return "", fmt.Errorf("%d of %d service accounts wrong: %s", len(problems), len(accounts), strings.Join(problems, "; "))
	}
	return fmt.Sprintf("%d service accounts annotated with their role ARNs", len(accounts)), nil
}

// annotated checks one service account's role-ARN annotation.
func annotated(ctx context.Context, client kubernetes.Interface, name types.NamespacedName, arn string) error {
	sa, err := client.CoreV1().ServiceAccounts(name.Namespace).Get(ctx, name.Name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return fmt.Errorf("service account %s not found, want it annotated %s=%s", name, irsa.RoleARNAnnotation, arn)
	}
	if err != nil {
		return fmt.Errorf("get service account %s: %w", name, err)
	}
	got, ok := sa.Annotations[irsa.RoleARNAnnotation]
	if !ok {
		return fmt.Errorf("%s has no %s annotation, want %s", name, irsa.RoleARNAnnotation, arn)
	}
	if got != arn {
		return fmt.Errorf("%s %s=%s, want %s", name, irsa.RoleARNAnnotation, got, arn)
	}
	return nil
}

// awsNodeCredentials checks what the pod identity webhook injects into the aws-node
// container at admission: it only does so for pods created after the annotation, which is
// why the DaemonSet must be restarted.
func awsNodeCredentials(ctx context.Context, client kubernetes.Interface, want Expectations) (string, error) {
	pods, err := livePods(ctx, client, AWSNodeSelector)
	if err != nil {
		return "", err
	}
	if len(pods) == 0 {
		return "", fmt.Errorf("no %s pods in %s (selector %s), want one per node with %s=%s", AWSNode, KubeSystem, AWSNodeSelector, irsa.EnvRoleARN, want.AWSNodeRoleARN)
	}
	var problems []string
	for _, p := range pods {
		if err := podCredentials(p, want.AWSNodeRoleARN); err != nil {
			problems = append(problems, fmt.Sprintf("pod %s: %v", p.Name, err))
		}
	}
	if len(problems) > 0 {
		return "", fmt.Errorf("%d of %d %s pods lack IRSA credentials: %s", len(problems), len(pods), AWSNode, strings.Join(problems, "; "))
	}
	return fmt.Sprintf("%d %s pods carry %s=%s, %s=%s and the %s token volume",
		len(pods), AWSNode, irsa.EnvRoleARN, want.AWSNodeRoleARN, irsa.EnvTokenFile, irsa.TokenFile, irsa.Audience), nil
}

// podCredentials checks the aws-node container's env and that the token file the env names
// is a projected service-account token for STS.
func podCredentials(p corev1.Pod, arn string) error {
	c := awsNodeContainer(p)
	if c == nil {
		return fmt.Errorf("no container named %s", AWSNode)
	}
	var problems []string
	for _, e := range []corev1.EnvVar{{Name: irsa.EnvRoleARN, Value: arn}, {Name: irsa.EnvTokenFile, Value: irsa.TokenFile}} {
		got, ok := envValue(c.Env, e.Name)
		switch {
		case !ok:
			problems = append(problems, fmt.Sprintf("%s missing, want %s", e.Name, e.Value))
		case got != e.Value:
			problems = append(problems, fmt.Sprintf("%s=%s, want %s", e.Name, got, e.Value))
		}
	}
	if err := tokenVolume(p, c); err != nil {
		problems = append(problems, err.Error())
	}
	if len(problems) > 0 {
		return errors.New(strings.Join(problems, ", "))
	}
	return nil
}

// awsNodeContainer is the pod's aws-node container, nil when it has none.
func awsNodeContainer(p corev1.Pod) *corev1.Container {
	for i := range p.Spec.Containers {
		if p.Spec.Containers[i].Name == AWSNode {
			return &p.Spec.Containers[i]
		}
	}
	return nil
}

// AWSNodeRoleARN is the AWS_ROLE_ARN the pod identity webhook gave the pod's aws-node
// container; empty when it gave none.
func AWSNodeRoleARN(p corev1.Pod) string {
	if c := awsNodeContainer(p); c != nil {
		arn, _ := envValue(c.Env, irsa.EnvRoleARN)
		return arn
	}
	return ""
}

func envValue(env []corev1.EnvVar, name string) (string, bool) {
	for _, e := range env {
		if e.Name == name {
			return e.Value, true
		}
	}
	return "", false
}

func tokenVolume(p corev1.Pod, c *corev1.Container) error {
	var mount *corev1.VolumeMount
	for i := range c.VolumeMounts {
		if c.VolumeMounts[i].MountPath == irsa.TokenDir {
			mount = &c.VolumeMounts[i]
		}
	}
	if mount == nil {
		return fmt.Errorf("nothing mounted at %s, want a projected %s token", irsa.TokenDir, irsa.Audience)
	}
	for _, v := range p.Spec.Volumes {
		if v.Name != mount.Name {
			continue
		}
		if v.Projected == nil {
			return fmt.Errorf("volume %s at %s is not projected, want a projected %s token", v.Name, irsa.TokenDir, irsa.Audience)
		}
		var audiences []string
		for _, src := range v.Projected.Sources {
			t := src.ServiceAccountToken
			if t == nil {
				continue
			}
			if t.Audience == irsa.Audience && path.Join(irsa.TokenDir, t.Path) == irsa.TokenFile {
				return nil
			}
			audiences = append(audiences, fmt.Sprintf("%s at %s", t.Audience, path.Join(irsa.TokenDir, t.Path)))
		}
		return fmt.Errorf("volume %s projects tokens [%s], want audience %s at %s", v.Name, strings.Join(audiences, ", "), irsa.Audience, irsa.TokenFile)
	}
	return fmt.Errorf("mount %s at %s names no volume of the pod", mount.Name, irsa.TokenDir)
}

func coreDNSReady(ctx context.Context, client kubernetes.Interface, _ Expectations) (string, error) {
	pods, err := livePods(ctx, client, CoreDNSSelector)
	if err != nil {
		return "", err
	}
	if len(pods) == 0 {
		return "", fmt.Errorf("no coredns pods in %s (selector %s), want at least one Running and Ready", KubeSystem, CoreDNSSelector)
	}
	var problems []string
	for _, p := range pods {
		if p.Status.Phase == corev1.PodRunning && podReady(p) {
			continue
		}
		problems = append(problems, fmt.Sprintf("%s %s%s", p.Name, p.Status.Phase, waitingReasons(p)))
	}
	if len(problems) > 0 {
		return "", fmt.Errorf("%d of %d coredns pods not Running and Ready: %s", len(problems), len(pods), strings.Join(problems, ", "))
	}
	return fmt.Sprintf("%d coredns pods Running and Ready", len(pods)), nil
}

func podReady(p corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// waitingReasons names why containers wait, such as the ContainerCreating of a CNI without
// credentials.
func waitingReasons(p corev1.Pod) string {
	var reasons []string
	for _, s := range p.Status.ContainerStatuses {
		if s.State.Waiting != nil && s.State.Waiting.Reason != "" {
			reasons = append(reasons, s.State.Waiting.Reason)
		}
	}
	if len(reasons) == 0 {
		return ""
	}
	return " (" + strings.Join(reasons, ", ") + ")"
}

// livePods lists kube-system pods matching selector, leaving out terminating ones: during a
// rollout the old pods, created before the annotation, are on their way out.
func livePods(ctx context.Context, client kubernetes.Interface, selector string) ([]corev1.Pod, error) {
	list, err := client.CoreV1().Pods(KubeSystem).List(ctx, metav1.ListOptions{LabelSelector: selector})
	if err != nil {
		return nil, fmt.Errorf("list pods %s in %s: %w", selector, KubeSystem, err)
	}
	var pods []corev1.Pod
	for _, p := range list.Items {
		if p.DeletionTimestamp == nil {
			pods = append(pods, p)
		}
	}
	return pods, nil
}
