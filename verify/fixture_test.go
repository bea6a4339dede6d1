package verify

import (
	"fmt"

	appsv1 "k8s.io/api/apps/v1"
	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"

	"github.com/eks-irsa/eks-irsa/irsa"
)

const (
	testAWSNodeARN    = "arn:aws:iam::123456789012:role/test-aws-node"
	testAutoscalerARN = "arn:aws:iam::123456789012:role/test-cluster-autoscaler"
	testSecretsARN    = "arn:aws:iam::123456789012:role/test-external-secrets"
)

var (
	autoscalerSA = types.NamespacedName{Namespace: KubeSystem, Name: "cluster-autoscaler"}
	secretsSA    = types.NamespacedName{Namespace: "external-secrets", Name: "external-secrets"}
)

func testExpectations() Expectations {
	return Expectations{
		MinNodes:       1,
		MaxNodes:       3,
		AWSNodeRoleARN: testAWSNodeARN,
		ServiceAccounts: map[types.NamespacedName]string{
			autoscalerSA: testAutoscalerARN,
			secretsSA:    testSecretsARN,
		},
	}
}

// cluster is a healthy IRSA cluster as the checks should see it after `eksirsa up`: each
// test breaks one thing.
type cluster struct {
	nodes   []*corev1.Node
	ds      *appsv1.DaemonSet
	sas     []*corev1.ServiceAccount
	awsNode []*corev1.Pod
	coreDNS []*corev1.Pod
}

func healthy() *cluster {
	c := &cluster{}
	for i := range 2 {
		c.nodes = append(c.nodes, &corev1.Node{
			ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("ip-10-0-%d-10.us-west-2.compute.internal", i)},
			Status: corev1.NodeStatus{Conditions: []corev1.NodeCondition{
				{Type: corev1.NodeMemoryPressure, Status: corev1.ConditionFalse},
				{Type: corev1.NodeReady, Status: corev1.ConditionTrue, Reason: "KubeletReady"},
			}},
		})
		c.awsNode = append(c.awsNode, awsNodePod(fmt.Sprintf("aws-node-%d", i), testAWSNodeARN))
		c.coreDNS = append(c.coreDNS, coreDNSPod(fmt.Sprintf("coredns-%d", i), corev1.PodRunning, true))
	}
	c.ds = &appsv1.DaemonSet{
		ObjectMeta: metav1.ObjectMeta{Name: AWSNode, Namespace: KubeSystem, Generation: 2},
		Status: appsv1.DaemonSetStatus{
			ObservedGeneration: 2, DesiredNumberScheduled: 2, CurrentNumberScheduled: 2,
			UpdatedNumberScheduled: 2, NumberAvailable: 2, NumberReady: 2,
		},
	}
	c.sas = []*corev1.ServiceAccount{
		serviceAccount(types.NamespacedName{Namespace: KubeSystem, Name: AWSNode}, testAWSNodeARN),
		serviceAccount(autoscalerSA, testAutoscalerARN),
		serviceAccount(secretsSA, testSecretsARN),
		serviceAccount(types.NamespacedName{Namespace: KubeSystem, Name: "coredns"}, ""),
	}
	return c
}

func (c *cluster) objects() []runtime.Object {
	var objs []runtime.Object
	for _, n := range c.nodes {
		objs = append(objs, n)
	}
	if c.ds != nil {
		objs = append(objs, c.ds)
	}
	for _, sa := range c.sas {
		objs = append(objs, sa)
	}
	for _, p := range append(c.awsNode, c.coreDNS...) {
		objs = append(objs, p)
	}
	return objs
}

func (c *cluster) sa(name types.NamespacedName) *corev1.ServiceAccount {
	for _, sa := range c.sas {
		if sa.Namespace == name.Namespace && sa.Name == name.Name {
			return sa
		}
	}
	panic("fixture has no service account " + name.String())
}

func serviceAccount(name types.NamespacedName, arn string) *corev1.ServiceAccount {
	sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: name.Name, Namespace: name.Namespace}}
	if arn != "" {
		sa.Annotations = map[string]string{irsa.RoleARNAnnotation: arn}
	}
	return sa
}

// awsNodePod is an aws-node pod as the EKS pod identity webhook mutates it.
func awsNodePod(name, arn string) *corev1.Pod {
	expiry := int64(86400)
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: KubeSystem, Labels: map[string]string{"k8s-app": AWSNode}},
		Spec: corev1.PodSpec{
			ServiceAccountName: AWSNode,
			Containers: []corev1.Container{{
				Name: AWSNode,
				Env: []corev1.EnvVar{
					{Name: "AWS_VPC_K8S_CNI_LOGLEVEL", Value: "DEBUG"},
					{Name: "AWS_STS_REGIONAL_ENDPOINTS", Value: "regional"},
					{Name: irsa.EnvRoleARN, Value: arn},
					{Name: irsa.EnvTokenFile, Value: irsa.TokenFile},
				},
				VolumeMounts: []corev1.VolumeMount{
					{Name: "kube-api-access-x1", MountPath: "/var/run/secrets/kubernetes.io/serviceaccount", ReadOnly: true},
					{Name: "aws-iam-token", MountPath: irsa.TokenDir, ReadOnly: true},
				},
			}},
			Volumes: []corev1.Volume{
				{Name: "aws-iam-token", VolumeSource: corev1.VolumeSource{Projected: &corev1.ProjectedVolumeSource{
					Sources: []corev1.VolumeProjection{{ServiceAccountToken: &corev1.ServiceAccountTokenProjection{
						Audience: irsa.Audience, ExpirationSeconds: &expiry, Path: "token",
					}}},
				}}},
				{Name: "kube-api-access-x1", VolumeSource: corev1.VolumeSource{Projected: &corev1.ProjectedVolumeSource{
					Sources: []corev1.VolumeProjection{{ServiceAccountToken: &corev1.ServiceAccountTokenProjection{
						ExpirationSeconds: &expiry, Path: "token",
					}}},
				}}},
			},
		},
		Status: corev1.PodStatus{Phase: corev1.PodRunning},
	}
}

func coreDNSPod(name string, phase corev1.PodPhase, ready bool) *corev1.Pod {
	status := corev1.ConditionFalse
	if ready {
		status = corev1.ConditionTrue
	}
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: KubeSystem, Labels: map[string]string{"k8s-app": "kube-dns"}},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "coredns"}}},
		Status: corev1.PodStatus{
			Phase:      phase,
			Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: status}},
		},
	}
}

// testUser is who newClientset's cluster says verify is.
var testUser = authenticationv1.UserInfo{Username: "kubernetes-admin", Groups: []string{"system:masters", "system:authenticated"}}

// newClientset is a fake cluster holding objs that answers SelfSubjectReview as kube-apiserver
// does (the fake's tracker cannot store one): with the caller, here testUser.
func newClientset(objs ...runtime.Object) *fake.Clientset {
	c := fake.NewClientset(objs...)
	c.PrependReactor("create", "selfsubjectreviews", func(k8stesting.Action) (bool, runtime.Object, error) {
		return true, &authenticationv1.SelfSubjectReview{Status: authenticationv1.SelfSubjectReviewStatus{UserInfo: testUser}}, nil
	})
	return c
}
