package drift

import (
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eks"
	"github.com/aws/aws-sdk-go-v2/service/iam"

	"github.com/eks-irsa/eks-irsa/identity"
	"github.com/eks-irsa/eks-irsa/podidentity"
)

// podsTrust is a Pod Identity role's trust as EKS accepts it (EKS User Guide, pod-id-role).
const podsTrust = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"pods.eks.amazonaws.com"},"Action":["sts:AssumeRole","sts:TagSession"]}]}`

// withPodIdentity gives the fixture's cluster the stack's Pod Identity: the agent add-on, ACTIVE
// (the SDK's waiter, as the plugin waits), and apps/web associated with role web-pods, declared
// with its id. It returns the roles' ARN prefix.
func withPodIdentity(t *testing.T, f *fixture, waitActive bool) string {
	t.Helper()
	ctx := t.Context()
	for _, name := range []string{"web-pods", "other-pods"} {
		if _, err := f.iam.CreateRole(ctx, &iam.CreateRoleInput{RoleName: aws.String(name), AssumeRolePolicyDocument: aws.String(podsTrust)}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := f.eks.CreateAddon(ctx, &eks.CreateAddonInput{ClusterName: aws.String("demo"), AddonName: aws.String(podidentity.AgentAddon)}); err != nil {
		t.Fatal(err)
	}
	if waitActive {
		w := eks.NewAddonActiveWaiter(f.eks, func(o *eks.AddonActiveWaiterOptions) {
			o.MinDelay, o.MaxDelay = 10*time.Millisecond, 20*time.Millisecond
		})
		if err := w.Wait(ctx, &eks.DescribeAddonInput{ClusterName: aws.String("demo"), AddonName: aws.String(podidentity.AgentAddon)}, time.Minute); err != nil {
			t.Fatal(err)
		}
	}
	roles := "arn:aws:iam::123456789012:role/"
	got, err := f.eks.CreatePodIdentityAssociation(ctx, &eks.CreatePodIdentityAssociationInput{ClusterName: aws.String("demo"),
		Namespace: aws.String("apps"), ServiceAccount: aws.String("web"), RoleArn: aws.String(roles + "web-pods")})
	if err != nil {
		t.Fatal(err)
	}
	f.decl.PodIdentity = []podidentity.Association{{Namespace: "apps", ServiceAccount: "web", RoleARN: roles + "web-pods", ID: aws.ToString(got.Association.AssociationId)}}
	// The account's role, Pod Identity's alone (identity podIdentity): compared with IAM too.
	f.decl.Roles = append(f.decl.Roles, Role{Account: identity.Account{Namespace: "apps", Name: "web", RoleARN: roles + "web-pods"}, TrustPolicy: podsTrust, PodIdentity: true})
	return roles
}

// The stack's associations and the agent add-on: matched as declared; each hand edit named by
// its check, once, with a repair.
func TestDriftComparesPodIdentity(t *testing.T) {
	for _, tc := range []struct {
		name       string
		waitActive bool
		edit       func(t *testing.T, f *fixture, roles string)
		want       []string
	}{
		{"declared and live alike", true, func(*testing.T, *fixture, string) {}, nil},
		{"the association's role changed by hand", true, func(t *testing.T, f *fixture, roles string) {
			update(t, f, &eks.UpdatePodIdentityAssociationInput{RoleArn: aws.String(roles + "other-pods")})
		}, []string{CheckPodIdentityAssociation + " apps/web"}},
		{"session tags turned off by hand", true, func(t *testing.T, f *fixture, _ string) {
			update(t, f, &eks.UpdatePodIdentityAssociationInput{DisableSessionTags: aws.Bool(true)})
		}, []string{CheckPodIdentityAssociation + " apps/web"}},
		{"the association deleted by hand", true, func(t *testing.T, f *fixture, _ string) {
			deleteAssociation(t, f)
		}, []string{CheckPodIdentityAssociation + " apps/web"}},
		{"the association made again by hand", true, func(t *testing.T, f *fixture, roles string) {
			deleteAssociation(t, f)
			associate(t, f, "apps", "web", roles+"web-pods")
		}, []string{CheckPodIdentityAssociation + " apps/web"}},
		{"a foreign association", true, func(t *testing.T, f *fixture, roles string) {
			associate(t, f, "apps", "intruder", roles+"web-pods")
		}, []string{CheckPodIdentityAssociation + " apps/intruder"}},
		{"the Pod Identity role's trust widened by hand", true, func(t *testing.T, f *fixture, _ string) {
			widened := strings.Replace(podsTrust, `"pods.eks.amazonaws.com"`, `["pods.eks.amazonaws.com","ec2.amazonaws.com"]`, 1)
			if _, err := f.iam.UpdateAssumeRolePolicy(t.Context(), &iam.UpdateAssumeRolePolicyInput{RoleName: aws.String("web-pods"), PolicyDocument: aws.String(widened)}); err != nil {
				t.Fatal(err)
			}
		}, []string{CheckTrust + " apps/web (role web-pods)"}},
		{"the agent add-on deleted", true, func(t *testing.T, f *fixture, _ string) {
			if _, err := f.eks.DeleteAddon(t.Context(), &eks.DeleteAddonInput{ClusterName: aws.String("demo"), AddonName: aws.String(podidentity.AgentAddon)}); err != nil {
				t.Fatal(err)
			}
		}, []string{CheckPodIdentityAgent + " cluster demo"}},
		{"the agent add-on not yet ACTIVE", false, func(*testing.T, *fixture, string) {}, []string{CheckPodIdentityAgent + " cluster demo"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			roles := withPodIdentity(t, f, tc.waitActive)
			tc.edit(t, f, roles)
			got := f.detect(t)
			if len(got) != len(tc.want) || (len(got) > 0 && got[0] != tc.want[0]) {
				t.Errorf("findings %q, want %q", got, tc.want)
			}
			if len(tc.want) == 0 {
				summaries := map[string]string{}
				if _, err := f.detector.Detect(t.Context(), f.decl, func(l Line) { summaries[l.Check+" "+l.Subject] = l.Summary }); err != nil {
					t.Fatal(err)
				}
				if got := summaries[CheckTrust+" apps/web (role web-pods)"]; got != "admits only EKS Pod Identity sessions of apps/web in cluster demo" {
					t.Errorf("the Pod Identity role's trust line %q", got)
				}
			}
		})
	}
}

func update(t *testing.T, f *fixture, in *eks.UpdatePodIdentityAssociationInput) {
	t.Helper()
	in.ClusterName, in.AssociationId = aws.String("demo"), aws.String(f.decl.PodIdentity[0].ID)
	if _, err := f.eks.UpdatePodIdentityAssociation(t.Context(), in); err != nil {
		t.Fatal(err)
	}
}

func deleteAssociation(t *testing.T, f *fixture) {
	t.Helper()
	if _, err := f.eks.DeletePodIdentityAssociation(t.Context(), &eks.DeletePodIdentityAssociationInput{ClusterName: aws.String("demo"), AssociationId: aws.String(f.decl.PodIdentity[0].ID)}); err != nil {
		t.Fatal(err)
	}
}

func associate(t *testing.T, f *fixture, namespace, account, role string) {
	t.Helper()
	if _, err := f.eks.CreatePodIdentityAssociation(t.Context(), &eks.CreatePodIdentityAssociationInput{ClusterName: aws.String("demo"),
		Namespace: aws.String(namespace), ServiceAccount: aws.String(account), RoleArn: aws.String(role)}); err != nil {
		t.Fatal(err)
	}
}
