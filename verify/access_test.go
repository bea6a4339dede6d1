package verify

import (
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eks"
	ekstypes "github.com/aws/aws-sdk-go-v2/service/eks/types"

	"github.com/eks-irsa/eks-irsa/accessentry"
	"github.com/eks-irsa/eks-irsa/integration/moto"
)

const (
	testNodeRole  = "arn:aws:iam::123456789012:role/test-node"
	testDevRole   = "arn:aws:iam::123456789012:role/team/dev"
	testViewARN   = "arn:aws:eks::aws:cluster-access-policy/AmazonEKSViewPolicy"
	testEditARN   = "arn:aws:eks::aws:cluster-access-policy/AmazonEKSEditPolicy"
	testDevUser   = "dev:{{SessionName}}"
	testDevsGroup = "devs"
)

// The stack's entries as the accessEntries output declares them: the nodes' first.
var testEntries = []accessentry.Entry{
	{PrincipalARN: testNodeRole, Type: accessentry.TypeEC2Linux},
	{PrincipalARN: testDevRole, Type: accessentry.TypeStandard, Username: testDevUser, Groups: []string{testDevsGroup},
		Policies: []accessentry.Policy{{ARN: testViewARN, Scope: "cluster"}, {ARN: testEditARN, Scope: "namespace", Namespaces: []string{"apps"}}}},
}

// apiCluster makes, in moto (integration/moto/eks_access_entries.py, written from the EKS API
// reference), a cluster in API mode with the stack's entries as `up` makes them, then lets
// edit change them by hand.
func apiCluster(t *testing.T, c *eks.Client, name string, edit func(t *testing.T, c *eks.Client, name string)) {
	t.Helper()
	ctx := t.Context()
	if _, err := c.CreateCluster(ctx, &eks.CreateClusterInput{Name: aws.String(name), RoleArn: aws.String("arn:aws:iam::123456789012:role/cluster"),
		ResourcesVpcConfig: &ekstypes.VpcConfigRequest{},
		AccessConfig:       &ekstypes.CreateAccessConfigRequest{AuthenticationMode: ekstypes.AuthenticationModeApi, BootstrapClusterCreatorAdminPermissions: aws.Bool(true)}}); err != nil {
		t.Fatal(err)
	}
	for _, e := range testEntries {
		in := &eks.CreateAccessEntryInput{ClusterName: aws.String(name), PrincipalArn: aws.String(e.PrincipalARN), Type: aws.String(e.Type), KubernetesGroups: e.Groups}
		if e.Username != "" {
			in.Username = aws.String(e.Username)
		}
		if _, err := c.CreateAccessEntry(ctx, in); err != nil {
			t.Fatal(err)
		}
		for _, p := range e.Policies {
			if _, err := c.AssociateAccessPolicy(ctx, &eks.AssociateAccessPolicyInput{ClusterName: aws.String(name), PrincipalArn: aws.String(e.PrincipalARN),
				PolicyArn: aws.String(p.ARN), AccessScope: &ekstypes.AccessScope{Type: ekstypes.AccessScopeType(p.Scope), Namespaces: p.Namespaces}}); err != nil {
				t.Fatal(err)
			}
		}
	}
	if edit != nil {
		edit(t, c, name)
	}
}

// In API mode verify reads the node role's EC2_LINUX entry and each declared entry from EKS:
// one line each, passing as `up` makes them, failing by name with what differs when an entry
// is changed or deleted by hand.
func TestAccessEntryChecks(t *testing.T) {
	m := moto.Start(t)
	c := eks.NewFromConfig(m.Config("us-west-2"))
	devCheck := CheckAccessEntry + " " + testDevRole
	for i, tc := range []struct {
		name   string
		edit   func(t *testing.T, c *eks.Client, cluster string)
		failed string // the check that fails; "" when all pass
		saying string // what its error says
	}{
		{"as up makes them", nil, "", ""},
		{"the node entry deleted", func(t *testing.T, c *eks.Client, cluster string) {
			mustDo(t, errOf(c.DeleteAccessEntry(t.Context(), &eks.DeleteAccessEntryInput{ClusterName: aws.String(cluster), PrincipalArn: aws.String(testNodeRole)})))
		}, CheckNodeAccessEntry, "has no access entry in cluster"},
		{"the declared entry's groups changed", func(t *testing.T, c *eks.Client, cluster string) {
			mustDo(t, errOf(c.UpdateAccessEntry(t.Context(), &eks.UpdateAccessEntryInput{ClusterName: aws.String(cluster), PrincipalArn: aws.String(testDevRole), KubernetesGroups: []string{"admins"}})))
		}, devCheck, "groups [admins], declared [devs]"},
		{"the declared entry's username changed", func(t *testing.T, c *eks.Client, cluster string) {
			mustDo(t, errOf(c.UpdateAccessEntry(t.Context(), &eks.UpdateAccessEntryInput{ClusterName: aws.String(cluster), PrincipalArn: aws.String(testDevRole), Username: aws.String("other")})))
		}, devCheck, "username other, declared " + testDevUser},
		{"a declared policy's scope changed", func(t *testing.T, c *eks.Client, cluster string) {
			mustDo(t, errOf(c.AssociateAccessPolicy(t.Context(), &eks.AssociateAccessPolicyInput{ClusterName: aws.String(cluster), PrincipalArn: aws.String(testDevRole),
				PolicyArn: aws.String(testEditARN), AccessScope: &ekstypes.AccessScope{Type: ekstypes.AccessScopeTypeCluster}})))
		}, devCheck, "AmazonEKSEditPolicy (cluster )"},
		{"the declared entry deleted", func(t *testing.T, c *eks.Client, cluster string) {
			mustDo(t, errOf(c.DeleteAccessEntry(t.Context(), &eks.DeleteAccessEntryInput{ClusterName: aws.String(cluster), PrincipalArn: aws.String(testDevRole)})))
		}, devCheck, "no access entry for " + testDevRole},
	} {
		t.Run(tc.name, func(t *testing.T) {
			apiCluster(t, c, clusterN(i), tc.edit)
			want := testExpectations()
			want.Access = &Access{ClusterName: clusterN(i), NodeRoleARN: testNodeRole, Entries: testEntries, EKS: c}
			rec := &recording{}
			err := Run(t.Context(), newClientset(healthy().objects()...), want, rec)
			var lines []string
			for _, r := range rec.results {
				if r.Check == CheckNodeAccessEntry || strings.HasPrefix(r.Check, CheckAccessEntry+" ") {
					lines = append(lines, r.Check)
				}
				if r.Check == tc.failed {
					if r.Err == nil || !strings.Contains(r.Err.Error(), tc.saying) {
						t.Errorf("%s: %v, want an error saying %q", r.Check, r.Err, tc.saying)
					}
				} else if r.Err != nil {
					t.Errorf("%s failed: %v", r.Check, r.Err)
				}
			}
			// Failures are reported after the passes, so the order is not compared.
			slices.Sort(lines)
			if want := []string{devCheck, CheckNodeAccessEntry}; !slices.Equal(lines, want) {
				t.Errorf("access lines %q, want %q", lines, want)
			}
			if (err != nil) != (tc.failed != "") {
				t.Errorf("Run: %v, want failure %v", err, tc.failed != "")
			}
			if tc.failed == "" {
				for _, r := range rec.results {
					if r.Check == devCheck && !strings.Contains(r.Summary, "structural") {
						t.Errorf("%s: %q does not say the check is structural", r.Check, r.Summary)
					}
					if r.Check == CheckNodeAccessEntry && !strings.Contains(r.Summary, accessentry.EC2LinuxUsername) {
						t.Errorf("%s: %q, want EKS's node username %s", r.Check, r.Summary, accessentry.EC2LinuxUsername)
					}
				}
			}
		})
	}
}

// A node role whose entry is STANDARD (made by hand for the wrong type) fails the node check:
// a STANDARD entry maps no node into system:nodes.
func TestNodeAccessEntryWrongType(t *testing.T) {
	m := moto.Start(t)
	c := eks.NewFromConfig(m.Config("us-west-2"))
	apiCluster(t, c, "wrong-type", func(t *testing.T, c *eks.Client, _ string) {
		ctx := t.Context()
		mustDo(t, errOf(c.DeleteAccessEntry(ctx, &eks.DeleteAccessEntryInput{ClusterName: aws.String("wrong-type"), PrincipalArn: aws.String(testNodeRole)})))
		mustDo(t, errOf(c.CreateAccessEntry(ctx, &eks.CreateAccessEntryInput{ClusterName: aws.String("wrong-type"), PrincipalArn: aws.String(testNodeRole), Type: aws.String("STANDARD")})))
	})
	want := Expectations{Access: &Access{ClusterName: "wrong-type", NodeRoleARN: testNodeRole, Entries: testEntries, EKS: c}}
	_, err := nodeAccessEntry(t.Context(), nil, want)
	if err == nil || !strings.Contains(err.Error(), "type STANDARD, declared EC2_LINUX") {
		t.Errorf("nodeAccessEntry: %v, want the type named", err)
	}
}

// Outside API mode (no Access) verify runs the IRSA checks only, and a bad Access is refused
// before anything is read.
func TestAccessChecksOnlyInAPIMode(t *testing.T) {
	if got := accessChecks(nil); len(got) != 0 {
		t.Errorf("accessChecks(nil) = %d checks, want none", len(got))
	}
	want := testExpectations()
	want.Access = &Access{ClusterName: "demo", NodeRoleARN: "arn:aws:iam::123456789012:user/not-a-role"}
	err := Run(t.Context(), newClientset(), want, &recording{})
	if err == nil || !strings.Contains(err.Error(), "node role ARN") || !strings.Contains(err.Error(), "no EKS client") {
		t.Errorf("Run with a bad Access: %v, want the node role and the missing client named", err)
	}
}

func clusterN(i int) string { return "api-" + string(rune('a'+i)) }

func errOf[T any](_ T, err error) error { return err }

func mustDo(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
