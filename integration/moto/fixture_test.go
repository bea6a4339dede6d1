package moto_test

import (
	"os"
	"os/exec"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eks"
	ekstypes "github.com/aws/aws-sdk-go-v2/service/eks/types"
	authv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/eks-irsa/eks-irsa/integration/moto"
	"github.com/eks-irsa/eks-irsa/integration/testcluster"
)

// startWithControlPlanes starts moto with the test's control-plane service on a loopback
// cluster seeded as EKS seeds one: each EKS cluster moto creates gets a control plane of its
// own, the first one base's.
func startWithControlPlanes(t *testing.T) (*moto.Server, *testcluster.Cluster, *testcluster.ControlPlanes) {
	t.Helper()
	base := testcluster.Start(t)
	testcluster.SeedEKS(t, base)
	s := moto.Start(t)
	planes := testcluster.ServeControlPlanes(t, base)
	if err := s.UseControlPlanes(planes.URL); err != nil {
		t.Fatal(err)
	}
	return s, base, planes
}

// demoCluster is moto's EKS cluster "demo" on base's control plane (startWithControlPlanes),
// with namespace apps and its service accounts there.
type demoCluster struct {
	s       *moto.Server
	base    *testcluster.Cluster
	eks     *eks.Client
	cluster *ekstypes.Cluster // as DescribeCluster answers
}

func startDemoCluster(t *testing.T, accounts ...string) demoCluster {
	t.Helper()
	s, base, _ := startWithControlPlanes(t)
	ctx := t.Context()
	c := eks.NewFromConfig(s.Config(s.Region))
	createCluster(t, c, "demo", "")
	got, err := c.DescribeCluster(ctx, &eks.DescribeClusterInput{Name: aws.String("demo")})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := base.Client.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "apps"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	for _, name := range accounts {
		if _, err := base.Client.CoreV1().ServiceAccounts("apps").Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	return demoCluster{s: s, base: base, eks: c, cluster: got.Cluster}
}

// token is a token the cluster's apiserver issues to apps/account for audience.
func (d demoCluster) token(t *testing.T, account, audience string) string {
	t.Helper()
	got, err := d.base.Client.CoreV1().ServiceAccounts("apps").CreateToken(t.Context(), account,
		&authv1.TokenRequest{Spec: authv1.TokenRequestSpec{Audiences: []string{audience}}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return got.Status.Token
}

// cli runs the aws CLI against moto, with a HOME of its own and env added.
func (d demoCluster) cli(t *testing.T) func(env []string, args ...string) (string, error) {
	t.Helper()
	if _, err := exec.LookPath("aws"); err != nil {
		t.Fatalf("aws CLI not on PATH: %v", err)
	}
	home := t.TempDir()
	return func(env []string, args ...string) (string, error) {
		cmd := exec.Command("aws", args...)
		cmd.Env = append(d.s.Environ([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + home}), env...)
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
}
