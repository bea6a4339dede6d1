package integration

import (
	"reflect"
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/aws-iam-authenticator/pkg/config"

	"github.com/eks-irsa/eks-irsa/integration/testcluster"
	"github.com/eks-irsa/eks-irsa/irsa"
	"github.com/eks-irsa/eks-irsa/k8s"
)

// foreignManager writes the pre-existing aws-auth, as eksctl or a console user would.
const foreignManager = "eksctl"

// TestForeignAWSAuthFailsUntouchedUntilAdopted: aws-auth already holds an admin mapping written by
// another field manager. The designed behaviour (k8s package documentation): a plain up fails
// with a conflict that ExplainAWSAuthConflict turns into instructions, leaving the ConfigMap
// untouched; after the mappings are copied into the config and adoption is set, up takes it
// over keeping the admin mapping, and destroy retains it.
func TestForeignAWSAuthFailsUntouchedUntilAdopted(t *testing.T) {
	t.Parallel() // its own cluster and Pulumi environment: see testcluster.NewPulumi
	e, l := newEnv(t, layer{nodeRoleARN: nodeRoleARN, awsNodeRoleARN: awsNodeRoleARN})
	ctx := t.Context()

	adminYAML := "- rolearn: " + adminRoleARN + "\n  username: admin\n  groups:\n    - system:masters\n"
	existing, err := e.cluster.Client.CoreV1().ConfigMaps(testcluster.KubeSystem).Create(ctx, &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Name: k8s.AWSAuthName, Namespace: testcluster.KubeSystem},
		Data:       map[string]string{k8s.MapRolesKey: adminYAML},
	}, metav1.CreateOptions{FieldManager: foreignManager})
	if err != nil {
		t.Fatal(err)
	}
	admin := config.RoleMapping{RoleARN: adminRoleARN, Username: "admin", Groups: []string{"system:masters"}}

	t.Run("plain up fails and leaves aws-auth untouched", func(t *testing.T) {
		res, ops, took, err := e.up(l)
		t.Logf("conflicting up: %s, steps %v", took, ops)
		if err == nil {
			t.Fatalf("up succeeded over another manager's aws-auth; stdout:\n%s", res.StdOut)
		}
		if !strings.Contains(err.Error(), "Server-Side Apply field conflict detected") {
			t.Errorf("up failed, but not with a field conflict: %v", err)
		}
		if explained := k8s.ExplainAWSAuthConflict(err); !strings.Contains(explained.Error(), k8s.AWSAuthConflictHelp) {
			t.Errorf("ExplainAWSAuthConflict did not recognise the failure: %v", explained)
		}
		cm, err := e.awsAuth()
		if err != nil {
			t.Fatal(err)
		}
		if cm.ResourceVersion != existing.ResourceVersion || !reflect.DeepEqual(cm.Data, existing.Data) {
			t.Errorf("aws-auth changed by a failed up: data %v (resourceVersion %s -> %s)", cm.Data, existing.ResourceVersion, cm.ResourceVersion)
		}
		if got := managers(cm); !slices.Equal(got, []string{foreignManager + "/Update"}) {
			t.Errorf("aws-auth managers after the failed up = %v", got)
		}
		// The rest of the layer is not rolled back: whatever ran beside the failed ConfigMap
		// stays (the annotation usually does; the restart, which waits for it, usually not).
		t.Logf("after the failed up: aws-node annotation %q, restart token %q",
			e.serviceAccount(testcluster.AWSNodeName).Annotations[irsa.RoleARNAnnotation],
			e.daemonSet(testcluster.AWSNodeName).Spec.Template.Annotations[k8s.RestartAnnotation])
	})

	t.Run("adopting with the admin mapping copied keeps it", func(t *testing.T) {
		l.adopt = true
		l.roles = []k8s.RoleMapping{{RoleARN: pulumiString(adminRoleARN), Username: "admin", Groups: []string{"system:masters"}}}
		ops, took := e.mustUp(l)
		t.Logf("adopting up: %s (%v)", took, ops)
		cm, err := e.awsAuth()
		if err != nil {
			t.Fatal(err)
		}
		if got, want := parseAWSAuth(t, cm), []config.RoleMapping{nodeMapping(), admin}; !reflect.DeepEqual(got, want) {
			t.Errorf("adopted aws-auth = %+v, want %+v", got, want)
		}
		t.Logf("adopted aws-auth managers: %v", managers(cm))

		ops, _ = e.mustUp(l)
		onlyOps(t, "up after adoption", ops, "same")
	})

	t.Run("destroy retains the adopted aws-auth", func(t *testing.T) {
		ops, took := e.destroy(l)
		t.Logf("destroy: %s (%v)", took, ops)
		cm, err := e.awsAuth()
		if err != nil {
			t.Fatalf("adopted aws-auth gone after destroy: %v", err)
		}
		if got, want := parseAWSAuth(t, cm), []config.RoleMapping{nodeMapping(), admin}; !reflect.DeepEqual(got, want) {
			t.Errorf("aws-auth after destroy = %+v, want %+v", got, want)
		}
	})
}
