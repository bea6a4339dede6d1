package identity

import (
	"net/url"
	"strings"
	"testing"

	"github.com/aws/smithy-go"
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
		name    string
		claims  Claims
		verdict Verdict
		reason  string
	}{
		{"own account", claims("system:serviceaccount:kube-system:aws-node", "sts.amazonaws.com"), Admitted, "statement 0 allows"},
		{"another account", claims("system:serviceaccount:kube-system:default", "sts.amazonaws.com"), Refused, `:sub to be ["system:serviceaccount:kube-system:aws-node"]`},
		{"another audience", claims("system:serviceaccount:kube-system:aws-node", "https://kubernetes.default.svc"), Refused, `:aud to be ["sts.amazonaws.com"]`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := p.Admits(testProvider, tc.claims)
			if d.Verdict != tc.verdict || !strings.Contains(d.Reason, tc.reason) {
				t.Errorf("Admits = %v (%s), want %v (%s)", d.Verdict, d.Reason, tc.verdict, tc.reason)
			}
		})
	}
	if d := p.Admits("arn:aws:iam::123456789012:oidc-provider/other", claims("system:serviceaccount:kube-system:aws-node", "sts.amazonaws.com")); d.Verdict != Refused {
		t.Errorf("another provider's token: %v (%s)", d.Verdict, d.Reason)
	}
}

// Trust policies as IAM's documentation and the IRSA guides write them, each with the
// verdict IAM gives the own account's token (kube-system/aws-node) and another account's
// (default/app). Sources: EKS User Guide, "Assign IAM roles to Kubernetes service accounts"
// (exact sub and aud; StringLike over a namespace); IAM User Guide, "IAM JSON policy
// elements: Condition" (key names are not case-sensitive), "Condition operators" (string
// operators, ...IfExists, Null, the missing-key rules), "Single-valued vs. multivalued
// context keys" (ForAllValues/ForAnyValue), "Policy evaluation logic" (an explicit Deny
// wins), "NotAction" and "NotPrincipal" (with Deny only; with Allow unsupported).
func TestTrustPolicyAsIAMDecides(t *testing.T) {
	const (
		own   = "system:serviceaccount:kube-system:aws-node"
		other = "system:serviceaccount:default:app"
		fed   = `"Principal":{"Federated":"` + testProvider + `"}`
		act   = `"Action":"sts:AssumeRoleWithWebIdentity"`
		sub   = testHost + `:sub`
		aud   = testHost + `:aud`
	)
	allow := func(cond string) string {
		return `{"Version":"2012-10-17","Statement":[{"Effect":"Allow",` + fed + `,` + act + `,"Condition":` + cond + `}]}`
	}
	for _, tc := range []struct {
		name       string
		doc        string
		own, other Verdict
	}{
		{"exact sub and aud (EKS guide)",
			allow(`{"StringEquals":{"` + sub + `":"` + own + `","` + aud + `":"sts.amazonaws.com"}}`), Admitted, Refused},
		{"wildcard namespace (EKS guide, StringLike)",
			allow(`{"StringLike":{"` + sub + `":"system:serviceaccount:kube-system:*","` + aud + `":"sts.amazonaws.com"}}`), Admitted, Refused},
		{"StringNotEquals sub admits every other account",
			allow(`{"StringNotEquals":{"` + sub + `":"` + own + `"}}`), Refused, Admitted},
		{"StringNotLike",
			allow(`{"StringNotLike":{"` + sub + `":"system:serviceaccount:default:*"}}`), Admitted, Refused},
		{"upper-case key names",
			allow(`{"StringEquals":{"` + strings.ToUpper(sub) + `":"` + own + `","` + testHost + `:AUD":"sts.amazonaws.com"}}`), Admitted, Refused},
		{"StringEqualsIgnoreCase",
			allow(`{"StringEqualsIgnoreCase":{"` + sub + `":"` + strings.ToUpper(own) + `"}}`), Admitted, Refused},
		{"StringNotEqualsIgnoreCase",
			allow(`{"StringNotEqualsIgnoreCase":{"` + sub + `":"` + strings.ToUpper(other) + `"}}`), Admitted, Refused},
		{"Deny with StringNotEquals wins over a wide Allow",
			`{"Version":"2012-10-17","Statement":[{"Effect":"Allow",` + fed + `,` + act + `,"Condition":{"StringEquals":{"` + aud + `":"sts.amazonaws.com"}}},` +
				`{"Sid":"OnlyAwsNode","Effect":"Deny","Principal":"*",` + act + `,"Condition":{"StringNotEquals":{"` + sub + `":"` + own + `"}}}]}`,
			Admitted, Refused},
		{"Null false (boolean) with StringLike",
			allow(`{"Null":{"` + sub + `":false},"StringLike":{"` + sub + `":"system:serviceaccount:*"}}`), Admitted, Admitted},
		{"Null true never holds for a token with sub",
			allow(`{"Null":{"` + sub + `":"true"}}`), Refused, Refused},
		{"StringEqualsIfExists",
			allow(`{"StringEqualsIfExists":{"` + sub + `":"` + own + `"}}`), Admitted, Refused},
		{"ForAnyValue:StringEquals on aud with StringEquals sub",
			allow(`{"ForAnyValue:StringEquals":{"` + aud + `":["sts.amazonaws.com","x"]},"StringEquals":{"` + sub + `":"` + own + `"}}`), Admitted, Refused},
		{"NotAction admits every action but those listed",
			`{"Statement":[{"Effect":"Allow",` + fed + `,"NotAction":"sts:AssumeRole","Condition":{"StringEquals":{"` + sub + `":"` + own + `"}}}]}`,
			Admitted, Refused},
		{"NotAction listing the action",
			`{"Statement":[{"Effect":"Allow",` + fed + `,"NotAction":["STS:AssumeRoleWith*"]}]}`, Refused, Refused},
		{"Deny with NotPrincipal applies to every principal it does not name",
			`{"Statement":[{"Effect":"Allow",` + fed + `,` + act + `},{"Effect":"Deny","NotPrincipal":{"AWS":"arn:aws:iam::123456789012:root"},"Action":"*"}]}`,
			Refused, Refused},
		{"Deny with NotPrincipal naming the provider",
			`{"Statement":[{"Effect":"Allow",` + fed + `,` + act + `,"Condition":{"StringEquals":{"` + sub + `":"` + own + `"}}},{"Effect":"Deny","NotPrincipal":{"Federated":"` + testProvider + `"},"Action":"*"}]}`,
			Admitted, Refused},
		{"Allow with NotPrincipal is not supported",
			`{"Statement":[{"Effect":"Allow","NotPrincipal":{"AWS":"arn:aws:iam::123456789012:root"},` + act + `}]}`, Undecided, Undecided},
		{"a key the token does not give",
			allow(`{"StringEquals":{"sts:RoleSessionName":"x"}}`), Undecided, Undecided},
		{"an operator not evaluated offline, with a numeric value",
			allow(`{"NumericLessThan":{"sts:DurationSeconds":3600},"StringEquals":{"` + sub + `":"` + own + `"}}`), Undecided, Refused},
		{"a policy variable",
			allow(`{"StringLike":{"` + sub + `":"system:serviceaccount:${aws:PrincipalTag/ns}:*"}}`), Undecided, Undecided},
		{"an undecided Deny beside a matching Allow",
			`{"Statement":[{"Effect":"Allow",` + fed + `,` + act + `},{"Effect":"Deny","Principal":"*","Action":"*","Condition":{"IpAddress":{"aws:SourceIp":"10.0.0.0/8"}}}]}`,
			Undecided, Undecided},
		{"an undecided Deny and no Allow",
			`{"Statement":[{"Effect":"Deny","Principal":"*","Action":"*","Condition":{"IpAddress":{"aws:SourceIp":"10.0.0.0/8"}}}]}`,
			Refused, Refused},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := ParseTrustPolicy(tc.doc)
			if err != nil {
				t.Fatal(err)
			}
			for _, c := range []struct {
				sub  string
				want Verdict
			}{{own, tc.own}, {other, tc.other}} {
				d := p.Admits(testProvider, claims(c.sub, "sts.amazonaws.com"))
				if d.Verdict != c.want {
					t.Errorf("%s's token: %v (%s), want %v", c.sub, d.Verdict, d.Reason, c.want)
				}
				if d.Verdict == Undecided && d.Reason == "" {
					t.Errorf("%s's token: undecided without a reason", c.sub)
				}
			}
		})
	}
}

// A key missing from the request: false for a plain operator, true for a negated one and for
// ...IfExists, ForAllValues: true, ForAnyValue: false ("Condition operators";
// "Single-valued vs. multivalued context keys").
func TestTrustPolicyMissingKey(t *testing.T) {
	noAud := Claims{Issuer: testIssuer, Subject: "system:serviceaccount:kube-system:aws-node"}
	for op, want := range map[string]Verdict{
		"StringEquals":             Refused,
		"StringNotEquals":          Admitted,
		"StringLike":               Refused,
		"StringNotLike":            Admitted,
		"StringEqualsIfExists":     Admitted,
		"ForAllValues:StringLike":  Admitted,
		"ForAnyValue:StringEquals": Refused,
		"Null":                     Undecided, // "sts.amazonaws.com" is neither true nor false
	} {
		doc := `{"Statement":[{"Effect":"Allow","Principal":{"Federated":"` + testProvider + `"},"Action":"sts:AssumeRoleWithWebIdentity","Condition":{"` + op + `":{"` + testHost + `:aud":"sts.amazonaws.com"}}}]}`
		p, err := ParseTrustPolicy(doc)
		if err != nil {
			t.Fatal(err)
		}
		if d := p.Admits(testProvider, noAud); d.Verdict != want {
			t.Errorf("%s on a missing aud: %v (%s), want %v", op, d.Verdict, d.Reason, want)
		}
	}
}

// Every element IAM accepts is read, and Equal compares each of them; what IAM ignores
// (the case of action and key names, a string for a one-item list, true for "true", no
// Version for 2008-10-17) is not a difference.
func TestTrustPolicyEqual(t *testing.T) {
	base := `{"Version":"2008-10-17","Statement":[{"Sid":"A","Effect":"Allow","Principal":{"Federated":["p"]},"Action":["sts:AssumeRoleWithWebIdentity"],"Condition":{"Null":{"h:sub":"false"},"NumericLessThan":{"sts:DurationSeconds":"3600"}}}]}`
	for _, tc := range []struct {
		name  string
		doc   string
		equal bool
	}{
		{"the same as IAM reads it",
			`{"Statement":{"Sid":"A","Effect":"Allow","Principal":{"Federated":"p"},"Action":"STS:AssumeRoleWithWebIdentity","Condition":{"Null":{"H:SUB":false},"NumericLessThan":{"sts:DurationSeconds":3600}}}}`, true},
		{"another Sid", strings.Replace(base, `"Sid":"A"`, `"Sid":"B"`, 1), false},
		{"another Version", strings.Replace(base, `2008-10-17`, `2012-10-17`, 1), false},
		{"NotAction for Action", strings.Replace(base, `"Action"`, `"NotAction"`, 1), false},
		{"NotPrincipal for Principal", strings.Replace(base, `"Principal"`, `"NotPrincipal"`, 1), false},
		{"another number", strings.Replace(base, `"3600"`, `"7200"`, 1), false},
		{"another boolean", strings.Replace(base, `"false"`, `"true"`, 1), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := ParseTrustPolicy(base)
			if err != nil {
				t.Fatal(err)
			}
			q, err := ParseTrustPolicy(tc.doc)
			if err != nil {
				t.Fatal(err)
			}
			if got := p.Equal(q); got != tc.equal {
				t.Errorf("Equal = %v, want %v", got, tc.equal)
			}
		})
	}
}

// Policies written by hand take the language's other shapes: a single statement, strings
// for lists, StringLike wildcards; a Deny wins; another action does not admit.
func TestTrustPolicyLanguage(t *testing.T) {
	for _, tc := range []struct {
		name    string
		doc     string
		sub     string
		verdict Verdict
	}{
		{"StringLike wildcard over the namespace",
			`{"Statement":{"Effect":"Allow","Principal":{"Federated":"` + testProvider + `"},"Action":"sts:AssumeRoleWithWebIdentity","Condition":{"StringLike":{"` + testHost + `:sub":"system:serviceaccount:kube-system:*"}}}}`,
			"system:serviceaccount:kube-system:anything", Admitted},
		{"no condition admits every account",
			`{"Statement":[{"Effect":"Allow","Principal":{"Federated":["` + testProvider + `"]},"Action":"sts:*"}]}`,
			"system:serviceaccount:default:default", Admitted},
		{"a Deny wins",
			`{"Statement":[{"Effect":"Allow","Principal":{"Federated":"` + testProvider + `"},"Action":"sts:AssumeRoleWithWebIdentity"},` +
				`{"Effect":"Deny","Principal":"*","Action":"*","Condition":{"StringEquals":{"` + testHost + `:sub":"system:serviceaccount:default:default"}}}]}`,
			"system:serviceaccount:default:default", Refused},
		{"another action",
			`{"Statement":[{"Effect":"Allow","Principal":{"Federated":"` + testProvider + `"},"Action":"sts:AssumeRole"}]}`,
			"system:serviceaccount:default:default", Refused},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := ParseTrustPolicy(tc.doc)
			if err != nil {
				t.Fatal(err)
			}
			if d := p.Admits(testProvider, claims(tc.sub, "sts.amazonaws.com")); d.Verdict != tc.verdict {
				t.Errorf("Admits = %v (%s), want %v", d.Verdict, d.Reason, tc.verdict)
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

// Another account's token that the policy read offline does not admit: STS's credentials
// are, on AWS, proof that the policy admits it (a failure naming role and account); an
// emulator's answers prove nothing, so the policy alone decides, and an undecided policy
// cannot pass.
func TestForeignVerdict(t *testing.T) {
	const role = "arn:aws:iam::123456789012:role/demo"
	foreign := Account{Namespace: "default", Name: "app"}
	denied := &smithy.GenericAPIError{Code: "AccessDenied", Message: "Not authorized to perform sts:AssumeRoleWithWebIdentity"}
	refused := Decision{Refused, "statement 0: StringEquals requires sub"}
	undecided := Decision{Undecided, "statement 0 may allow it: condition key sts:RoleSessionName"}
	const emulator = "aws:endpoints sends STS to http://127.0.0.1:5000"
	for _, tc := range []struct {
		name      string
		d         Decision
		stsErr    error
		trustless string
		pass      string // what refused it, when it passes
		fail      string // the failure, otherwise
	}{
		{"AWS: policy and STS refuse", refused, denied, "", "refused by the trust policy and by STS (AccessDenied)", ""},
		{"AWS: STS hands out credentials the policy refuses", refused, nil, "", "", "STS gave credentials for " + role + " to default/app's token"},
		{"AWS: undecided policy, STS refuses", undecided, denied, "", "refused by STS (AccessDenied); the trust policy alone cannot be decided offline (statement 0 may allow it: condition key sts:RoleSessionName)", ""},
		{"AWS: undecided policy, STS admits", undecided, nil, "", "", "AWS's STS evaluated the trust policy and admits that account"},
		{"AWS: STS fails otherwise", refused, &smithy.GenericAPIError{Code: "InvalidIdentityToken"}, "", "", "STS AssumeRoleWithWebIdentity " + role + " with default/app's token"},
		{"emulator: policy refuses, STS accepts", refused, nil, emulator, "refused by the trust policy (statement 0: StringEquals requires sub); the STS half is not proven: " + emulator, ""},
		{"emulator: undecided policy", undecided, nil, emulator, "", "cannot be decided offline (statement 0 may allow it: condition key sts:RoleSessionName), and " + emulator},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := foreignVerdict(role, foreign, tc.d, tc.stsErr, tc.trustless)
			switch {
			case tc.fail == "" && (err != nil || got != tc.pass):
				t.Errorf("foreignVerdict = %q, %v; want a pass %q", got, err, tc.pass)
			case tc.fail != "" && (err == nil || !strings.Contains(err.Error(), tc.fail)):
				t.Errorf("foreignVerdict = %q, %v; want a failure with %q", got, err, tc.fail)
			}
		})
	}
}
