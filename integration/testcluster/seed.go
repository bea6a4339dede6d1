package testcluster

import (
	"context"
	"fmt"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/wait"

	"github.com/eks-irsa/eks-irsa/k8s"
)

// What a fresh EKS cluster carries in kube-system, as the add-on manager writes it.
const (
	// SeedFieldManager owns every seeded object, so that server-side apply by the program
	// meets a foreign manager exactly as on EKS.
	SeedFieldManager = "eks"

	KubeSystem       = k8s.KubeSystemNamespace
	AWSNodeName      = k8s.AWSNodeName
	KubeProxyName    = "kube-proxy"
	CoreDNSName      = "coredns"
	AWSNodeImage     = "602401143452.dkr.ecr.us-west-2.amazonaws.com/amazon-k8s-cni:v1.19.0"
	KubeProxyImage   = "602401143452.dkr.ecr.us-west-2.amazonaws.com/eks/kube-proxy:v1.33.0-eksbuild.2"
	CoreDNSImage     = "602401143452.dkr.ecr.us-west-2.amazonaws.com/eks/coredns:v1.12.1-eksbuild.2"
	k8sAppLabel      = "k8s-app"
	kubeDNSLabelName = "kube-dns"
)

// SeedEKS creates kube-system's aws-node ServiceAccount and DaemonSet, the kube-proxy
// ServiceAccount and DaemonSet and the coredns ServiceAccount and Deployment, each with
// field manager SeedFieldManager. It first waits for the apiserver to create kube-system.
func SeedEKS(t testing.TB, c *Cluster) {
	t.Helper()
	if err := seedEKS(t.Context(), c); err != nil {
		t.Fatalf("testcluster: %v", err)
	}
}

// seedEKS is SeedEKS for callers that are not the test goroutine (ControlPlanes).
func seedEKS(ctx context.Context, c *Cluster) error {
	if err := wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, 30*time.Second, true,
		func(ctx context.Context) (bool, error) {
			_, err := c.Client.CoreV1().Namespaces().Get(ctx, KubeSystem, metav1.GetOptions{})
			if apierrors.IsNotFound(err) {
				return false, nil
			}
			return err == nil, err
		}); err != nil {
		return fmt.Errorf("namespace %s never appeared: %w", KubeSystem, err)
	}

	create := metav1.CreateOptions{FieldManager: SeedFieldManager}
	for _, name := range []string{AWSNodeName, KubeProxyName, CoreDNSName} {
		sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{
			Name: name, Namespace: KubeSystem, Labels: map[string]string{k8sAppLabel: name},
		}}
		if _, err := c.Client.CoreV1().ServiceAccounts(KubeSystem).Create(ctx, sa, create); err != nil {
			return fmt.Errorf("seed ServiceAccount %s: %w", name, err)
		}
	}
	for _, ds := range []*appsv1.DaemonSet{awsNodeDaemonSet(), kubeProxyDaemonSet()} {
		if _, err := c.Client.AppsV1().DaemonSets(KubeSystem).Create(ctx, ds, create); err != nil {
			return fmt.Errorf("seed DaemonSet %s: %w", ds.Name, err)
		}
	}
	if _, err := c.Client.AppsV1().Deployments(KubeSystem).Create(ctx, coreDNSDeployment(), create); err != nil {
		return fmt.Errorf("seed Deployment %s: %w", CoreDNSName, err)
	}
	// EKS serves each cluster's issuer discovery document and keys publicly (IAM and STS
	// fetch them unauthenticated); a kube-apiserver serves them to system:serviceaccounts
	// only until this binding, the one its docs give for a public issuer, opens them.
	discovery := &rbacv1.ClusterRoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: "service-account-issuer-discovery-public"},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "system:service-account-issuer-discovery"},
		Subjects:   []rbacv1.Subject{{APIGroup: rbacv1.GroupName, Kind: rbacv1.GroupKind, Name: "system:unauthenticated"}},
	}
	if _, err := c.Client.RbacV1().ClusterRoleBindings().Create(ctx, discovery, create); err != nil {
		return fmt.Errorf("make the issuer's discovery public: %w", err)
	}
	return nil
}

func awsNodeDaemonSet() *appsv1.DaemonSet {
	labels := map[string]string{k8sAppLabel: AWSNodeName}
	maxUnavailable := intstr.FromString("10%")
	privileged := true
	return &appsv1.DaemonSet{
		ObjectMeta: metav1.ObjectMeta{Name: AWSNodeName, Namespace: KubeSystem, Labels: labels},
		Spec: appsv1.DaemonSetSpec{
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			UpdateStrategy: appsv1.DaemonSetUpdateStrategy{
				Type:          appsv1.RollingUpdateDaemonSetStrategyType,
				RollingUpdate: &appsv1.RollingUpdateDaemonSet{MaxUnavailable: &maxUnavailable},
			},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{
					ServiceAccountName: AWSNodeName,
					HostNetwork:        true,
					PriorityClassName:  "system-node-critical",
					Tolerations:        []corev1.Toleration{{Operator: corev1.TolerationOpExists}},
					InitContainers: []corev1.Container{{
						Name:            "aws-vpc-cni-init",
						Image:           "602401143452.dkr.ecr.us-west-2.amazonaws.com/amazon-k8s-cni-init:v1.19.0",
						SecurityContext: &corev1.SecurityContext{Privileged: &privileged},
					}},
					Containers: []corev1.Container{{
						Name:  AWSNodeName,
						Image: AWSNodeImage,
						Env: []corev1.EnvVar{
							{Name: "AWS_VPC_K8S_CNI_LOGLEVEL", Value: "DEBUG"},
							{Name: "MY_NODE_NAME", ValueFrom: &corev1.EnvVarSource{
								FieldRef: &corev1.ObjectFieldSelector{FieldPath: "spec.nodeName"}}},
						},
						Ports: []corev1.ContainerPort{{Name: "metrics", ContainerPort: 61678}},
					}},
				},
			},
		},
	}
}

func kubeProxyDaemonSet() *appsv1.DaemonSet {
	labels := map[string]string{k8sAppLabel: KubeProxyName}
	privileged := true
	return &appsv1.DaemonSet{
		ObjectMeta: metav1.ObjectMeta{Name: KubeProxyName, Namespace: KubeSystem, Labels: labels},
		Spec: appsv1.DaemonSetSpec{
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{
					ServiceAccountName: KubeProxyName,
					HostNetwork:        true,
					PriorityClassName:  "system-node-critical",
					Tolerations:        []corev1.Toleration{{Operator: corev1.TolerationOpExists}},
					Containers: []corev1.Container{{
						Name:            KubeProxyName,
						Image:           KubeProxyImage,
						Command:         []string{"kube-proxy", "--v=2", "--config=/var/lib/kube-proxy-config/config"},
						SecurityContext: &corev1.SecurityContext{Privileged: &privileged},
					}},
				},
			},
		},
	}
}

func coreDNSDeployment() *appsv1.Deployment {
	labels := map[string]string{k8sAppLabel: kubeDNSLabelName, "eks.amazonaws.com/component": CoreDNSName}
	replicas := int32(2)
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: CoreDNSName, Namespace: KubeSystem, Labels: labels},
		Spec: appsv1.DeploymentSpec{
			Replicas: &replicas,
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{
					ServiceAccountName: CoreDNSName,
					PriorityClassName:  "system-cluster-critical",
					Containers: []corev1.Container{{
						Name:  CoreDNSName,
						Image: CoreDNSImage,
						Args:  []string{"-conf", "/etc/coredns/Corefile"},
						Ports: []corev1.ContainerPort{
							{Name: "dns", ContainerPort: 53, Protocol: corev1.ProtocolUDP},
							{Name: "dns-tcp", ContainerPort: 53, Protocol: corev1.ProtocolTCP},
						},
					}},
				},
			},
		},
	}
}
