package verify

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eks"
	ekstypes "github.com/aws/aws-sdk-go-v2/service/eks/types"
	"github.com/aws/aws-sdk-go-v2/service/iam"

	"github.com/eks-irsa/eks-irsa/integration/moto"
	"github.com/eks-irsa/eks-irsa/podidentity"
)

const (
	testPodsRole  = "arn:aws:iam::123456789012:role/web-pods"
	testOtherRole = "arn:aws:iam::123456789012:role/other-pods"
	// A Pod Identity role's trust as EKS accepts it (EKS User Guide, pod-id-role).
	testPodsTrust = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"pods.eks.amazonaws.com"},"Action":["sts:AssumeRole","sts:TagSession"]}]}`
)

// podIdentityCluster makes, in moto (integration/moto/eks_pod_identity.py and eks_addons.py,
// written from the EKS API reference), a cluster with the agent add-on ACTIVE and apps/web
// associated as `up` makes them, then lets edit change them by hand. It returns the declared
// association.
func podIdentityCluster(t *testing.T, c *eks.Client, name string, edit func(t *testing.T, c *eks.Client, cluster, id string)) podidentity.Association {
	t.Helper()
	ctx := t.Context()
	mustDo(t, errOf(c.CreateCluster(ctx, &eks.CreateClusterInput{Name: aws.String(name), RoleArn: aws.String("arn:aws:iam::123456789012:role/cluster"),
		ResourcesVpcConfig: &ekstypes.VpcConfigRequest{}})))
	mustDo(t, errOf(c.CreateAddon(ctx, &eks.CreateAddonInput{ClusterName: aws.String(name), AddonName: aws.String(podidentity.AgentAddon)})))
	w := eks.NewAddonActiveWaiter(c, func(o *eks.AddonActiveWaiterOptions) {
		o.MinDelay, o.MaxDelay = 10*time.Millisecond, 20*time.Millisecond
	})
	mustDo(t, w.Wait(ctx, &eks.DescribeAddonInput{ClusterName: aws.String(name), AddonName: aws.String(podidentity.AgentAddon)}, time.Minute))
	got, err := c.CreatePodIdentityAssociation(ctx, &eks.CreatePodIdentityAssociationInput{ClusterName: aws.String(name),
		Namespace: aws.String("apps"), ServiceAccount: aws.String("web"), RoleArn: aws.String(testPodsRole)})
	mustDo(t, err)
	id := aws.ToString(got.Association.AssociationId)
	if edit != nil {
		edit(t, c, name, id)
	}
	return podidentity.Association{Namespace: "apps", ServiceAccount: "web", RoleARN: testPodsRole, ID: id}
}

// verify reads the agent add-on and each declared association from EKS: one line each,
// passing as `up` makes them, failing by name with what differs after a hand edit.
func TestPodIdentityChecks(t *testing.T) {
	m := moto.Start(t)
	c := eks.NewFromConfig(m.Config("us-west-2"))
	roles := iam.NewFromConfig(m.Config("us-west-2"))
	for _, name := range []string{"web-pods", "other-pods"} {
		mustDo(t, errOf(roles.CreateRole(t.Context(), &iam.CreateRoleInput{RoleName: aws.String(name), AssumeRolePolicyDocument: aws.String(testPodsTrust)})))
	}
	webCheck := CheckPodIdentityAssociation + " apps/web"
	for i, tc := range []struct {
		name   string
		edit   func(t *testing.T, c *eks.Client, cluster, id string)
		failed string // the check that fails; "" when all pass
		saying string // what its error says
	}{
		{"as up makes them", nil, "", ""},
		{"the association's role changed", func(t *testing.T, c *eks.Client, cluster, id string) {
			mustDo(t, errOf(c.UpdatePodIdentityAssociation(t.Context(), &eks.UpdatePodIdentityAssociationInput{ClusterName: aws.String(cluster), AssociationId: aws.String(id), RoleArn: aws.String(testOtherRole)})))
		}, webCheck, "role " + testOtherRole + ", the stack's is " + testPodsRole},
		{"session tags turned off", func(t *testing.T, c *eks.Client, cluster, id string) {
			mustDo(t, errOf(c.UpdatePodIdentityAssociation(t.Context(), &eks.UpdatePodIdentityAssociationInput{ClusterName: aws.String(cluster), AssociationId: aws.String(id), DisableSessionTags: aws.Bool(true)})))
		}, webCheck, "session tags disabled"},
		{"the association deleted", func(t *testing.T, c *eks.Client, cluster, id string) {
			mustDo(t, errOf(c.DeletePodIdentityAssociation(t.Context(), &eks.DeletePodIdentityAssociationInput{ClusterName: aws.String(cluster), AssociationId: aws.String(id)})))
		}, webCheck, "no pod identity association for apps/web"},
		{"the agent add-on deleted", func(t *testing.T, c *eks.Client, cluster, _ string) {
			mustDo(t, errOf(c.DeleteAddon(t.Context(), &eks.DeleteAddonInput{ClusterName: aws.String(cluster), AddonName: aws.String(podidentity.AgentAddon)})))
		}, CheckPodIdentityAgent, podidentity.AgentAddon},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cluster := "pods-" + string(rune('a'+i))
			declared := podIdentityCluster(t, c, cluster, tc.edit)
			want := testExpectations()
			want.PodIdentity = &PodIdentity{ClusterName: cluster, Associations: []podidentity.Association{declared}, EKS: c}
			rec := &recording{}
			err := Run(t.Context(), newClientset(healthy().objects()...), want, rec)
			var lines []string
			for _, r := range rec.results {
				if r.Check == CheckPodIdentityAgent || strings.HasPrefix(r.Check, CheckPodIdentityAssociation+" ") {
					lines = append(lines, r.Check)
				}
				if r.Check == tc.failed {
					if r.Err == nil || !strings.Contains(r.Err.Error(), tc.saying) {
						t.Errorf("%s: %v, want an error saying %q", r.Check, r.Err, tc.saying)
					}
				} else if r.Err != nil {
					t.Errorf("%s failed: %v", r.Check, r.Err)
				} else if r.Check == webCheck && !strings.Contains(r.Summary, "structural") {
					t.Errorf("%s: %q does not say the check is structural", r.Check, r.Summary)
				}
			}
			slices.Sort(lines)
			if want := []string{CheckPodIdentityAgent, webCheck}; !slices.Equal(lines, want) {
				t.Errorf("pod identity lines %q, want %q", lines, want)
			}
			if (err != nil) != (tc.failed != "") {
				t.Errorf("Run: %v, want failure %v", err, tc.failed != "")
			}
		})
	}
	if got := podIdentityChecks(nil); len(got) != 0 {
		t.Errorf("podIdentityChecks(nil) = %d checks, want none", len(got))
	}
}
