package identity

import (
	"net/url"
	"strings"
	"testing"
)

const (
	testIssuer   = "https://oidc.eks.us-west-2.amazonaws.com/id/ABC"
	testHost     = "oidc.eks.us-west-2.amazonaws.com/id/ABC"
	testProvider = "arn:aws:iam::123456789012:oidc-provider/" + testHost
)

func claims(sub string, aud ...string) Claims {
	return Claims{Issuer: testIssuer, Subject: sub, Audience: aud}
}

// The program's own trust policy (infra.webIdentityTrustPolicy's shape, as IAM's GetRole
// returns it: URL-encoded) admits its account's token and nobody else's.
func TestTrustPolicyAdmitsOnlyItsAccount(t *testing.T) {
	doc := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Federated":"` + testProvider + `"},` +
		`"Action":["sts:AssumeRoleWithWebIdentity"],"Condition":{"StringEquals":{"` + testHost + `:sub":"system:serviceaccount:kube-system:aws-node","` + testHost + `:aud":"sts.amazonaws.com"}}}]}`
	p, err := ParseTrustPolicy(url.QueryEscape(doc))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name   string
		claims Claims
		admit  bool
		reason string
	}{
		{"own account", claims("system:serviceaccount:kube-system:aws-node", "sts.amazonaws.com"), true, "statement 0 allows"},
		{"another account", claims("system:serviceaccount:kube-system:default", "sts.amazonaws.com"), false, `:sub to be ["system:serviceaccount:kube-system:aws-node"]`},
		{"another audience", claims("system:serviceaccount:kube-system:aws-node", "https://kubernetes.default.svc"), false, `:aud to be ["sts.amazonaws.com"]`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ok, why := p.Admits(testProvider, tc.claims)
			if ok != tc.admit || !strings.Contains(why, tc.reason) {
				t.Errorf("Admits = %v (%s), want %v (%s)", ok, why, tc.admit, tc.reason)
			}
		})
	}
	if ok, why := p.Admits("arn:aws:iam::123456789012:oidc-provider/other", claims("system:serviceaccount:kube-system:aws-node", "sts.amazonaws.com")); ok {
		t.Errorf("another provider's token admitted: %s", why)
	}
}

// Policies written by hand take the language's other shapes: a single statement, strings
// for lists, StringLike wildcards; a Deny wins; unknown keys never admit.
func TestTrustPolicyLanguage(t *testing.T) {
	for _, tc := range []struct {
		name  string
		doc   string
		sub   string
		admit bool
	}{
		{"StringLike wildcard over the namespace",
			`{"Statement":{"Effect":"Allow","Principal":{"Federated":"` + testProvider + `"},"Action":"sts:AssumeRoleWithWebIdentity","Condition":{"StringLike":{"` + testHost + `:sub":"system:serviceaccount:kube-system:*"}}}}`,
			"system:serviceaccount:kube-system:anything", true},
		{"no condition admits every account",
			`{"Statement":[{"Effect":"Allow","Principal":{"Federated":["` + testProvider + `"]},"Action":"sts:*"}]}`,
			"system:serviceaccount:default:default", true},
		{"a Deny wins",
			`{"Statement":[{"Effect":"Allow","Principal":{"Federated":"` + testProvider + `"},"Action":"sts:AssumeRoleWithWebIdentity"},` +
				`{"Effect":"Deny","Principal":"*","Action":"*","Condition":{"StringEquals":{"` + testHost + `:sub":"system:serviceaccount:default:default"}}}]}`,
			"system:serviceaccount:default:default", false},
		{"a key the token does not carry",
			`{"Statement":[{"Effect":"Allow","Principal":{"Federated":"` + testProvider + `"},"Action":"sts:AssumeRoleWithWebIdentity","Condition":{"StringEquals":{"aws:SourceAccount":"1"}}}]}`,
			"system:serviceaccount:default:default", false},
		{"another action",
			`{"Statement":[{"Effect":"Allow","Principal":{"Federated":"` + testProvider + `"},"Action":"sts:AssumeRole"}]}`,
			"system:serviceaccount:default:default", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := ParseTrustPolicy(tc.doc)
			if err != nil {
				t.Fatal(err)
			}
			if ok, why := p.Admits(testProvider, claims(tc.sub, "sts.amazonaws.com")); ok != tc.admit {
				t.Errorf("Admits = %v (%s), want %v", ok, why, tc.admit)
			}
		})
	}
}

func TestAssumedRoleARNDropsThePath(t *testing.T) {
	got, err := AssumedRoleARN("arn:aws-us-gov:iam::123456789012:role/team/x/demo", "s")
	if err != nil {
		t.Fatal(err)
	}
	if want := "arn:aws-us-gov:sts::123456789012:assumed-role/demo/s"; got != want {
		t.Errorf("AssumedRoleARN = %s, want %s", got, want)
	}
	if _, err := AssumedRoleARN("arn:aws:iam::123456789012:user/demo", "s"); err == nil {
		t.Error("a user ARN was taken for a role")
	}
}

// Another account's token always names an account that exists and is not the one tried.
func TestForeignAccount(t *testing.T) {
	node := Account{Namespace: "kube-system", Name: "aws-node", RoleARN: "r1"}
	app := Account{Namespace: "default", Name: "app", RoleARN: "r2"}
	for _, tc := range []struct {
		accounts []Account
		i        int
		want     Account
	}{
		{[]Account{node, app}, 0, app},
		{[]Account{node, app}, 1, node},
		{[]Account{node}, 0, Account{Namespace: "kube-system", Name: "default"}},
		{[]Account{{Namespace: "apps", Name: "default"}}, 0, Account{Namespace: "kube-system", Name: "default"}},
		{[]Account{{Namespace: "kube-system", Name: "default"}}, 0, Account{Namespace: "default", Name: "default"}},
	} {
		if got := foreignAccount(tc.accounts, tc.i); got != tc.want {
			t.Errorf("foreignAccount(%v, %d) = %v, want %v", tc.accounts, tc.i, got, tc.want)
		}
	}
}
