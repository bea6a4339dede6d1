package identity

import (
	"errors"
	"maps"
	"net/url"
	"strings"
	"testing"

	"github.com/eks-irsa/eks-irsa/eksauth"
	"github.com/eks-irsa/eks-irsa/infra"
)

const (
	testClusterARN = "arn:aws:eks:us-west-2:123456789012:cluster/demo"
	testRole       = "arn:aws:iam::123456789012:role/demo-reports"
)

// The program's own trust (infra.RoleTrust, Pod Identity alone and beside IRSA, as IAM's
// GetRole returns it: URL-encoded) admits EKS Pod Identity's session for its account with the
// session tags EKS sets, and no session of another account, namespace or cluster, nor one
// without the tags.
func TestPodIdentityTrustHoldsTheSessionTags(t *testing.T) {
	own := Account{Namespace: "apps", Name: "reports"}
	for _, irsaToo := range []bool{false, true} {
		doc, err := infra.RoleTrust{PodIdentity: true, IRSA: irsaToo, ProviderARN: testProvider, IssuerHost: testHost,
			ClusterARN: testClusterARN, Namespace: own.Namespace, ServiceAccount: own.Name}.Document().JSON()
		if err != nil {
			t.Fatal(err)
		}
		p, err := ParseTrustPolicy(url.QueryEscape(doc))
		if err != nil {
			t.Fatal(err)
		}
		noPod := SessionTags(testClusterARN, "demo", own)
		withPod := maps.Clone(noPod)
		withPod["kubernetes-pod-name"], withPod["kubernetes-pod-uid"] = "reports-1", "0f6c"
		for _, tc := range []struct {
			name    string
			tags    map[string]string
			verdict Verdict
			reason  string
		}{
			{"own account", noPod, Admitted, "allows it"},
			{"own account's pod", withPod, Admitted, "allows it"},
			{"another account", SessionTags(testClusterARN, "demo", Account{Namespace: "apps", Name: "default"}), Refused, `kubernetes-service-account to be ["reports"]`},
			{"another namespace", SessionTags(testClusterARN, "demo", Account{Namespace: "kube-system", Name: "reports"}), Refused, `kubernetes-namespace to be ["apps"]`},
			{"another cluster", SessionTags("arn:aws:eks:us-west-2:123456789012:cluster/other", "other", own), Refused, `eks-cluster-arn to be ["` + testClusterARN + `"]`},
			{"session tags disabled", nil, Refused, "which the token does not carry"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				d := p.AdmitsPodIdentity(tc.tags)
				if d.Verdict != tc.verdict || !strings.Contains(d.Reason, tc.reason) {
					t.Errorf("IRSA too %v: AdmitsPodIdentity = %v (%s), want %v (%s)", irsaToo, d.Verdict, d.Reason, tc.verdict, tc.reason)
				}
			})
		}
	}
	// Without sts:TagSession EKS's session is refused (pod-id-role: both actions).
	p, err := ParseTrustPolicy(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"pods.eks.amazonaws.com"},"Action":"sts:AssumeRole"}]}`)
	if err != nil {
		t.Fatal(err)
	}
	if d := p.AdmitsPodIdentity(SessionTags(testClusterARN, "demo", own)); d.Verdict != Refused || !strings.HasPrefix(d.Reason, "sts:TagSession: ") {
		t.Errorf("a trust without sts:TagSession: %v (%s), want refused for sts:TagSession", d.Verdict, d.Reason)
	}
}

// The session tags verify holds the trust to are the ones pod-id-abac lists, with the token's
// account (no pod: verify's token is bound to none).
func TestSessionTags(t *testing.T) {
	got := SessionTags(testClusterARN, "demo", Account{Namespace: "apps", Name: "reports"})
	want := map[string]string{"eks-cluster-arn": testClusterARN, "eks-cluster-name": "demo", "kubernetes-namespace": "apps", "kubernetes-service-account": "reports"}
	if !maps.Equal(got, want) {
		t.Errorf("SessionTags = %v, want %v", got, want)
	}
	if s := formatTags(got); s != "eks-cluster-arn="+testClusterARN+", eks-cluster-name=demo, kubernetes-namespace=apps, kubernetes-service-account=reports" {
		t.Errorf("formatTags = %q", s)
	}
}

func answer(role, association string) *eksauth.Output {
	var out eksauth.Output
	out.Subject.Namespace, out.Subject.ServiceAccount = "apps", "reports"
	out.Audience = eksauth.Audience
	out.PodIdentityAssociation.AssociationID = association
	out.AssumedRoleUser.ARN = "arn:aws:sts::123456789012:assumed-role/" + role + "/eks-demo-reports-1a2b"
	out.Credentials.AccessKeyID, out.Credentials.SecretAccessKey, out.Credentials.SessionToken = "ASIA", "s", "t"
	return &out
}

// EKS Auth's answer for the account's own token must be a session of the association's role,
// through the stack's association, for the token's subject and audience.
func TestCheckPodIdentityAnswer(t *testing.T) {
	a := PodIdentityAccount{Namespace: "apps", Name: "reports", RoleARN: testRole, AssociationID: "a-1"}
	if session, err := checkPodIdentityAnswer(a, answer("demo-reports", "a-1")); err != nil || session != "arn:aws:sts::123456789012:assumed-role/demo-reports/eks-demo-reports-1a2b" {
		t.Errorf("the stack's association: %q, %v", session, err)
	}
	otherSubject := answer("demo-reports", "a-1")
	otherSubject.Subject.ServiceAccount = "default"
	noCreds := answer("demo-reports", "a-1")
	noCreds.Credentials.SessionToken = ""
	for _, tc := range []struct {
		name string
		out  *eksauth.Output
		want string
	}{
		{"the association names another role", answer("demo-other", "a-1"), "not a session of the association's role " + testRole + ": the association names another role"},
		{"a role whose name starts the same", answer("demo-reports-old", "a-1"), "not a session of the association's role"},
		{"another association", answer("demo-reports", "a-2"), "association a-2, the stack's is a-1"},
		{"another subject", otherSubject, "subject apps/default, want apps/reports"},
		{"no credentials", noCreds, "no credentials"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := checkPodIdentityAnswer(a, tc.out); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("checkPodIdentityAnswer: %v, want %q", err, tc.want)
			}
		})
	}
}

// Another account's token sent to EKS Auth: any credentials fail; a refusal passes, naming EKS
// Auth's code, and on an emulator the trust policy alone decides.
func TestForeignPodIdentityVerdict(t *testing.T) {
	a := PodIdentityAccount{Namespace: "apps", Name: "reports", RoleARN: testRole}
	foreign := Account{Namespace: "default", Name: "app"}
	notFound := &eksauth.APIError{Code: "ResourceNotFoundException", StatusCode: 404}
	denied := &eksauth.APIError{Code: "AccessDeniedException", StatusCode: 400}
	refused := Decision{Refused, "statement 0: StringEquals requires aws:RequestTag/kubernetes-service-account"}
	undecided := Decision{Undecided, "statement 0 may allow it: condition key aws:SourceIp"}
	const emulator = "EKS Auth is http://127.0.0.1:5000 (where aws:endpoints sends eks), not AWS's"
	for _, tc := range []struct {
		name      string
		d         Decision
		out       *eksauth.Output
		err       error
		trustless string
		pass      string
		fail      string
	}{
		{"AWS: no association for it", refused, nil, notFound, "", "refused by the trust policy and by EKS Auth (ResourceNotFoundException)", ""},
		{"AWS: the trust refuses its tags", refused, nil, denied, "", "refused by the trust policy and by EKS Auth (AccessDeniedException)", ""},
		{"AWS: undecided trust, EKS Auth refuses", undecided, nil, denied, "", "refused by EKS Auth (AccessDeniedException); the trust policy alone cannot be decided offline (statement 0 may allow it: condition key aws:SourceIp)", ""},
		{"the role handed to it", refused, answer("demo-reports", "a-9"), nil, "", "", "EKS Auth gave default/app's token a session of " + testRole},
		{"another role handed to it", refused, answer("demo-other", "a-9"), nil, emulator, "", "though the stack gives that account no association"},
		{"the trust admits its tags", Decision{Admitted, "statement 0 allows it"}, nil, notFound, "", "", "admits the session tags of default/app"},
		{"EKS Auth unreachable", refused, nil, errors.New("connection refused"), "", "", "EKS Auth AssumeRoleForPodIdentity with default/app's token: connection refused"},
		{"EKS Auth fails", refused, nil, &eksauth.APIError{Code: "InternalServerException", StatusCode: 500}, "", "", "InternalServerException"},
		{"emulator: the trust refuses", refused, nil, notFound, emulator, "refused by the trust policy (" + refused.Reason + ") and by EKS Auth (ResourceNotFoundException); EKS Auth's half is not proven: " + emulator, ""},
		{"emulator: undecided trust", undecided, nil, notFound, emulator, "", "cannot be decided offline (statement 0 may allow it: condition key aws:SourceIp), and " + emulator},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := foreignPodIdentityVerdict(a, foreign, tc.d, tc.out, tc.err, tc.trustless)
			switch {
			case tc.fail == "" && (err != nil || got != tc.pass):
				t.Errorf("foreignPodIdentityVerdict = %q, %v; want a pass %q", got, err, tc.pass)
			case tc.fail != "" && (err == nil || !strings.Contains(err.Error(), tc.fail)):
				t.Errorf("foreignPodIdentityVerdict = %q, %v; want a failure with %q", got, err, tc.fail)
			}
		})
	}
}

// The foreign account is one the stack gives no association, in turn; without one, a default
// account.
func TestPodIdentityForeign(t *testing.T) {
	node := Account{Namespace: "kube-system", Name: "aws-node"}
	both := Account{Namespace: "default", Name: "external-secrets"}
	lb := Account{Namespace: "kube-system", Name: "lb"}
	associated := map[string]bool{"default/external-secrets": true, "apps/reports": true}
	reports := Account{Namespace: "apps", Name: "reports"}
	for i, want := range []Account{node, lb, node} {
		if got := podIdentityForeign([]Account{node, both, lb}, associated, i, reports); got != want {
			t.Errorf("account %d: %v, want %v", i, got, want)
		}
	}
	if got := podIdentityForeign([]Account{both}, associated, 0, reports); got != (Account{Namespace: "apps", Name: "default"}) {
		t.Errorf("no IRSA-only account: %v, want apps/default", got)
	}
}
