package testcluster_test

import (
	"context"
	"errors"
	"fmt"
	"syscall"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"

	"github.com/eks-irsa/eks-irsa/integration/testcluster"
)

// TestStart starts a cluster in a subtest, so that the subtest's cleanup has run when the
// parent checks that no control-plane process is left.
func TestStart(t *testing.T) {
	testcluster.ToolsBin(t)
	var pids map[string]int
	t.Run("cluster", func(t *testing.T) {
		c := testcluster.Start(t)
		pids = c.PIDs()
		testcluster.SeedEKS(t, c)
		ctx := t.Context()

		t.Run("seed objects are owned by the EKS field manager", func(t *testing.T) {
			sa, err := c.Client.CoreV1().ServiceAccounts(testcluster.KubeSystem).Get(ctx, testcluster.AWSNodeName, metav1.GetOptions{})
			if err != nil {
				t.Fatal(err)
			}
			ds, err := c.Client.AppsV1().DaemonSets(testcluster.KubeSystem).Get(ctx, testcluster.AWSNodeName, metav1.GetOptions{})
			if err != nil {
				t.Fatal(err)
			}
			kp, err := c.Client.AppsV1().DaemonSets(testcluster.KubeSystem).Get(ctx, testcluster.KubeProxyName, metav1.GetOptions{})
			if err != nil {
				t.Fatal(err)
			}
			dns, err := c.Client.AppsV1().Deployments(testcluster.KubeSystem).Get(ctx, testcluster.CoreDNSName, metav1.GetOptions{})
			if err != nil {
				t.Fatal(err)
			}
			// The objects are the seed's; the controller manager may already have written what
			// it owns (status, the Deployment's revision annotation): that entry is its own.
			for _, obj := range []metav1.Object{sa, ds, kp, dns} {
				var mf []metav1.ManagedFieldsEntry
				for _, e := range obj.GetManagedFields() {
					if e.Manager != "kube-controller-manager" {
						mf = append(mf, e)
					}
				}
				if len(mf) != 1 || mf[0].Manager != testcluster.SeedFieldManager || mf[0].Operation != metav1.ManagedFieldsOperationUpdate {
					t.Errorf("%s: managedFields besides the controller manager's = %+v, want one Update by %q", obj.GetName(), mf, testcluster.SeedFieldManager)
				}
			}
			if !ds.Spec.Template.Spec.HostNetwork || ds.Spec.Template.Spec.Containers[0].Image != testcluster.AWSNodeImage {
				t.Errorf("aws-node DaemonSet: hostNetwork=%v image=%s", ds.Spec.Template.Spec.HostNetwork, ds.Spec.Template.Spec.Containers[0].Image)
			}
			if got := dns.Labels["k8s-app"]; got != "kube-dns" {
				t.Errorf("coredns label k8s-app = %q, want kube-dns", got)
			}
		})

		t.Run("controller manager runs the DaemonSet and Deployment controllers", func(t *testing.T) {
			err := wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, 60*time.Second, true, func(ctx context.Context) (bool, error) {
				ds, err := c.Client.AppsV1().DaemonSets(testcluster.KubeSystem).Get(ctx, testcluster.AWSNodeName, metav1.GetOptions{})
				if err != nil {
					return false, err
				}
				dns, err := c.Client.AppsV1().Deployments(testcluster.KubeSystem).Get(ctx, testcluster.CoreDNSName, metav1.GetOptions{})
				if err != nil {
					return false, err
				}
				return ds.Status.ObservedGeneration == ds.Generation && dns.Status.ObservedGeneration == dns.Generation, nil
			})
			if err != nil {
				t.Fatalf("status.observedGeneration never caught up: %v", err)
			}
			rs, err := c.Client.AppsV1().ReplicaSets(testcluster.KubeSystem).List(ctx, metav1.ListOptions{LabelSelector: "k8s-app=kube-dns"})
			if err != nil {
				t.Fatal(err)
			}
			if len(rs.Items) != 1 || !ownedBy(rs.Items[0], testcluster.CoreDNSName) {
				t.Errorf("coredns ReplicaSets = %d, want 1 owned by the Deployment", len(rs.Items))
			}
		})

		t.Run("service account controller creates default accounts", func(t *testing.T) {
			err := wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
				_, err := c.Client.CoreV1().ServiceAccounts("default").Get(ctx, "default", metav1.GetOptions{})
				return err == nil, nil
			})
			if err != nil {
				t.Fatalf("default/default ServiceAccount: %v", err)
			}
		})
	})

	if len(pids) != 3 {
		t.Fatalf("PIDs = %v, want etcd, kube-apiserver, kube-controller-manager", pids)
	}
	for name, pid := range pids {
		if err := syscall.Kill(pid, 0); !errors.Is(err, syscall.ESRCH) {
			t.Errorf("%s (pid %d) still exists after cleanup: kill(0) = %v", name, pid, err)
		}
		if err := syscall.Kill(-pid, 0); !errors.Is(err, syscall.ESRCH) {
			t.Errorf("process group of %s (%d) still exists after cleanup: kill(0) = %v", name, pid, err)
		}
	}
}

func ownedBy(rs appsv1.ReplicaSet, deployment string) bool {
	for _, ref := range rs.OwnerReferences {
		if ref.Kind == "Deployment" && ref.Name == deployment {
			return true
		}
	}
	return false
}

// fakeTB records how ToolsBin ends the test; Fatal and Skip unwind like the real ones.
type fakeTB struct {
	testing.TB
	how, msg string
}

func (f *fakeTB) Helper()                   {}
func (f *fakeTB) Fatal(args ...any)         { f.end("fatal", fmt.Sprint(args...)) }
func (f *fakeTB) Fatalf(s string, a ...any) { f.end("fatal", fmt.Sprintf(s, a...)) }
func (f *fakeTB) Skip(args ...any)          { f.end("skip", fmt.Sprint(args...)) }
func (f *fakeTB) end(how, msg string)       { f.how, f.msg = how, msg; panic(f) }

func TestToolsBinUnset(t *testing.T) {
	for _, tc := range []struct {
		ci, want string
	}{
		{ci: "", want: "skip"},
		{ci: "true", want: "fatal"},
	} {
		t.Run("CI="+tc.ci, func(t *testing.T) {
			t.Setenv(testcluster.ToolsBinEnv, "")
			t.Setenv("CI", tc.ci)
			f := &fakeTB{TB: t}
			func() {
				defer func() {
					if r := recover(); r != nil && r != any(f) {
						panic(r)
					}
				}()
				testcluster.ToolsBin(f)
			}()
			if f.how != tc.want {
				t.Fatalf("ToolsBin ended with %q, want %q", f.how, tc.want)
			}
			if want := "EKSIRSA_TOOLS_BIN unset: run tools/build"; len(f.msg) < len(want) || f.msg[:len(want)] != want {
				t.Errorf("message %q does not start with %q", f.msg, want)
			}
		})
	}
}

func TestToolsBinIncomplete(t *testing.T) {
	t.Setenv(testcluster.ToolsBinEnv, t.TempDir())
	f := &fakeTB{TB: t}
	func() {
		defer func() {
			if r := recover(); r != nil && r != any(f) {
				panic(r)
			}
		}()
		testcluster.ToolsBin(f)
	}()
	if f.how != "fatal" {
		t.Fatalf("an empty tools directory ended with %q, want fatal", f.how)
	}
}
