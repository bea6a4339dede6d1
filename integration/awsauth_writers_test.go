package integration

import (
	"reflect"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/aws-iam-authenticator/pkg/config"

	"github.com/eks-irsa/eks-irsa/integration/testcluster"
	"github.com/eks-irsa/eks-irsa/k8s"
)

// TestExistingAWSAuthWriters records, for each way an aws-auth with an admin mapping can
// already be in the cluster, what a plain (non-adopting) up does to it. The requirement is
// that someone else's mappings are never dropped silently: every writer must end in the
// conflict, with the ConfigMap untouched.
//
// Observed with the built provider: all four writers conflict, including an aws-auth with no
// managedFields at all (the apiserver attributes its fields to "before-first-apply"). The
// provider's force-on-no-managedFields rule applies only when it already has the object in
// its state and reads it live; on a first up it creates without reading, so it does not fire.
func TestExistingAWSAuthWriters(t *testing.T) {
	t.Parallel() // its own cluster and Pulumi environment: see testcluster.NewPulumi
	e, l := newEnv(t, layer{nodeRoleARN: nodeRoleARN, awsNodeRoleARN: awsNodeRoleARN})
	cms := e.cluster.Client.CoreV1().ConfigMaps(testcluster.KubeSystem)
	adminYAML := "- rolearn: " + adminRoleARN + "\n  username: admin\n  groups:\n    - system:masters\n"
	admin := []config.RoleMapping{{RoleARN: adminRoleARN, Username: "admin", Groups: []string{"system:masters"}}}
	object := func() *corev1.ConfigMap {
		return &corev1.ConfigMap{
			TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "ConfigMap"},
			ObjectMeta: metav1.ObjectMeta{Name: k8s.AWSAuthName, Namespace: testcluster.KubeSystem},
			Data:       map[string]string{k8s.MapRolesKey: adminYAML},
		}
	}

	for _, tc := range []struct {
		name  string
		write func(t *testing.T)
	}{
		{"eksctl (update)", func(t *testing.T) {
			if _, err := cms.Create(t.Context(), object(), metav1.CreateOptions{FieldManager: "eksctl"}); err != nil {
				t.Fatal(err)
			}
		}},
		{"kubectl apply, client-side (the walkthrough)", func(t *testing.T) {
			cm := object()
			cm.Annotations = map[string]string{"kubectl.kubernetes.io/last-applied-configuration": `{"apiVersion":"v1","data":{"mapRoles":"..."},"kind":"ConfigMap","metadata":{"name":"aws-auth","namespace":"kube-system"}}`}
			if _, err := cms.Create(t.Context(), cm, metav1.CreateOptions{FieldManager: "kubectl-client-side-apply"}); err != nil {
				t.Fatal(err)
			}
		}},
		{"kubectl apply --server-side", func(t *testing.T) {
			body := `{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"aws-auth","namespace":"kube-system"},"data":{"mapRoles":` + jsonString(adminYAML) + `}}`
			if _, err := cms.Patch(t.Context(), k8s.AWSAuthName, types.ApplyPatchType, []byte(body), metav1.PatchOptions{FieldManager: "kubectl"}); err != nil {
				t.Fatal(err)
			}
		}},
		{"no managedFields (an object older than server-side apply)", func(t *testing.T) {
			cm, err := cms.Create(t.Context(), object(), metav1.CreateOptions{FieldManager: "eksctl"})
			if err != nil {
				t.Fatal(err)
			}
			cm.ManagedFields = []metav1.ManagedFieldsEntry{{}} // the API's way to strip them
			if cm, err = cms.Update(t.Context(), cm, metav1.UpdateOptions{}); err != nil {
				t.Fatal(err)
			}
			if len(cm.ManagedFields) != 0 {
				t.Fatalf("managedFields not stripped: %v", managers(cm))
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.write(t)
			before, err := e.awsAuth()
			if err != nil {
				t.Fatal(err)
			}
			_, ops, _, upErr := e.up(l)
			after, err := e.awsAuth()
			if err != nil {
				t.Fatalf("aws-auth gone after up: %v", err)
			}
			t.Logf("writer %v: up error %v; managers after %v", managers(before), upErr != nil, managers(after))
			if upErr == nil {
				t.Errorf("up over aws-auth written by %v succeeded (steps %v): mapRoles now %q", managers(before), ops, after.Data[k8s.MapRolesKey])
			} else if !strings.Contains(upErr.Error(), "Server-Side Apply field conflict detected") {
				t.Errorf("up failed, but not with a field conflict: %v", upErr)
			}
			if after.ResourceVersion != before.ResourceVersion {
				t.Errorf("aws-auth was changed (resourceVersion %s -> %s)", before.ResourceVersion, after.ResourceVersion)
			}
			if got := parseAWSAuth(t, after); !reflect.DeepEqual(got, admin) {
				t.Errorf("aws-auth mappings after up = %+v, want the admin's %+v", got, admin)
			}
			// Back to a fresh cluster for the next writer.
			e.destroy(l)
			if err := cms.Delete(t.Context(), k8s.AWSAuthName, metav1.DeleteOptions{}); err != nil {
				t.Fatal(err)
			}
		})
	}
}
