package drift

import (
	"slices"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eks"
	ekstypes "github.com/aws/aws-sdk-go-v2/service/eks/types"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

const (
	devRole    = "arn:aws:iam::123456789012:role/dev"
	viewPolicy = "arn:aws:eks::aws:cluster-access-policy/AmazonEKSViewPolicy"
	editPolicy = "arn:aws:eks::aws:cluster-access-policy/AmazonEKSEditPolicy"
)

// createEntry makes an entry in moto with the given policies (cluster scope).
func createEntry(t *testing.T, f *fixture, principal, typ string, groups []string, policies ...string) {
	t.Helper()
	ctx := t.Context()
	if _, err := f.eks.CreateAccessEntry(ctx, &eks.CreateAccessEntryInput{ClusterName: aws.String("demo"), PrincipalArn: aws.String(principal),
		Type: aws.String(typ), KubernetesGroups: groups}); err != nil {
		t.Fatal(err)
	}
	for _, p := range policies {
		if _, err := f.eks.AssociateAccessPolicy(ctx, &eks.AssociateAccessPolicyInput{ClusterName: aws.String("demo"), PrincipalArn: aws.String(principal),
			PolicyArn: aws.String(p), AccessScope: &ekstypes.AccessScope{Type: ekstypes.AccessScopeTypeCluster}}); err != nil {
			t.Fatal(err)
		}
	}
}

var devEntry = AccessEntry{PrincipalARN: devRole, Type: "STANDARD", Groups: []string{"devs"},
	Policies: []AccessPolicy{{ARN: viewPolicy, Scope: "cluster"}}}

// The stack's declared entries: matched as declared, named when changed or gone; in API mode
// the node entry and the mode are the stack's, and an aws-auth there is a finding.
func TestDriftComparesTheStacksAccessEntries(t *testing.T) {
	for _, tc := range []struct {
		name     string
		declAPI  bool // the stack declares API mode (no aws-auth, the node entry)
		liveAPI  bool // the cluster is in API mode
		keepAuth bool // aws-auth stays on the cluster
		edit     func(t *testing.T, f *fixture)
		want     []string
	}{
		{"declared and live alike", false, false, true, func(t *testing.T, f *fixture) {
			createEntry(t, f, devRole, "STANDARD", []string{"devs"}, viewPolicy)
		}, nil},
		{"a declared entry's policy changed by hand", false, false, true, func(t *testing.T, f *fixture) {
			createEntry(t, f, devRole, "STANDARD", []string{"devs"}, editPolicy)
		}, []string{CheckAccessEntry + " " + devRole}},
		{"a declared entry's groups changed by hand", false, false, true, func(t *testing.T, f *fixture) {
			createEntry(t, f, devRole, "STANDARD", []string{"devs", "admins"}, viewPolicy)
		}, []string{CheckAccessEntry + " " + devRole}},
		{"a declared entry deleted by hand", false, false, true, func(*testing.T, *fixture) {}, []string{CheckAccessEntry + " " + devRole}},
		{"API mode, as the stack makes it", true, true, false, func(t *testing.T, f *fixture) {
			createEntry(t, f, devRole, "STANDARD", []string{"devs"}, viewPolicy)
		}, nil},
		{"API mode with an aws-auth left behind", true, true, true, func(t *testing.T, f *fixture) {
			createEntry(t, f, devRole, "STANDARD", []string{"devs"}, viewPolicy)
		}, []string{CheckAWSAuth + " kube-system/aws-auth"}},
		{"API mode declared, the cluster still in API_AND_CONFIG_MAP", true, false, false, func(t *testing.T, f *fixture) {
			createEntry(t, f, devRole, "STANDARD", []string{"devs"}, viewPolicy)
		}, []string{CheckAccessConfig + " cluster demo"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			f.decl.AccessEntries = []AccessEntry{devEntry}
			if tc.declAPI {
				f.decl.AuthenticationMode, f.decl.MapRoles = "API", ""
				createEntry(t, f, nodeRoleARN, "EC2_LINUX", nil)
				f.decl.AccessEntries = append([]AccessEntry{{PrincipalARN: nodeRoleARN, Type: "EC2_LINUX"}}, f.decl.AccessEntries...)
			}
			if !tc.keepAuth {
				f.objects = slices.DeleteFunc(f.objects, func(o runtime.Object) bool { _, ok := o.(*corev1.ConfigMap); return ok })
			}
			if tc.liveAPI {
				if _, err := f.eks.UpdateClusterConfig(t.Context(), &eks.UpdateClusterConfigInput{Name: aws.String("demo"),
					AccessConfig: &ekstypes.UpdateAccessConfigRequest{AuthenticationMode: ekstypes.AuthenticationModeApi}}); err != nil {
					t.Fatal(err)
				}
			}
			tc.edit(t, f)
			if got := f.detect(t); !slices.Equal(got, tc.want) {
				t.Errorf("findings %q, want exactly %q", got, tc.want)
			}
		})
	}
}
