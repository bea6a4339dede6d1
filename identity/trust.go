package identity

import (
	"encoding/json"
	"fmt"
	"net/url"
	"path"
	"reflect"
	"slices"
	"strings"

	"github.com/eks-irsa/eks-irsa/irsa"
)

// Claims are the token claims a web-identity trust policy can test.
type Claims struct {
	Issuer   string   `json:"iss"`
	Subject  string   `json:"sub"`
	Audience []string `json:"aud"`
}

// TrustPolicy is an IAM trust policy as IAM returns it, in the loose shapes the policy
// language allows (a string or a list wherever a list may be given).
type TrustPolicy struct {
	Statement []trustStatement
}

type trustStatement struct {
	Effect    string
	Principal map[string][]string // "*" is {"*": ["*"]}
	Action    []string
	Condition map[string]map[string][]string
}

// ParseTrustPolicy reads a trust policy: JSON, or the URL-encoded JSON that IAM's GetRole
// returns.
func ParseTrustPolicy(doc string) (*TrustPolicy, error) {
	doc, err := PolicyJSON(doc)
	if err != nil {
		return nil, fmt.Errorf("trust policy: %w", err)
	}
	var raw struct {
		Statement json.RawMessage
	}
	if err := json.Unmarshal([]byte(doc), &raw); err != nil {
		return nil, fmt.Errorf("trust policy: %w", err)
	}
	var statements []map[string]json.RawMessage
	if err := json.Unmarshal(raw.Statement, &statements); err != nil {
		var one map[string]json.RawMessage
		if err := json.Unmarshal(raw.Statement, &one); err != nil {
			return nil, fmt.Errorf("trust policy Statement: %w", err)
		}
		statements = []map[string]json.RawMessage{one}
	}
	p := &TrustPolicy{}
	for i, s := range statements {
		var st trustStatement
		if err := json.Unmarshal(s["Effect"], &st.Effect); err != nil {
			return nil, fmt.Errorf("trust policy Statement[%d].Effect: %w", i, err)
		}
		var err error
		if st.Action, err = stringOrList(s["Action"]); err != nil {
			return nil, fmt.Errorf("trust policy Statement[%d].Action: %w", i, err)
		}
		if st.Principal, err = principal(s["Principal"]); err != nil {
			return nil, fmt.Errorf("trust policy Statement[%d].Principal: %w", i, err)
		}
		if len(s["Condition"]) > 0 {
			var ops map[string]map[string]json.RawMessage
			if err := json.Unmarshal(s["Condition"], &ops); err != nil {
				return nil, fmt.Errorf("trust policy Statement[%d].Condition: %w", i, err)
			}
			st.Condition = map[string]map[string][]string{}
			for op, keys := range ops {
				st.Condition[op] = map[string][]string{}
				for key, v := range keys {
					if st.Condition[op][key], err = stringOrList(v); err != nil {
						return nil, fmt.Errorf("trust policy Statement[%d].Condition.%s.%s: %w", i, op, key, err)
					}
				}
			}
		}
		p.Statement = append(p.Statement, st)
	}
	return p, nil
}

// Equal reports whether p and q say the same: the same statements in the same order, lists
// compared as sets, a string the same as a list of it.
func (p *TrustPolicy) Equal(q *TrustPolicy) bool {
	return reflect.DeepEqual(p.normalized(), q.normalized())
}

func (p *TrustPolicy) normalized() []trustStatement {
	out := make([]trustStatement, 0, len(p.Statement))
	sorted := func(l []string) []string {
		l = slices.Clone(l)
		slices.Sort(l)
		return l
	}
	for _, s := range p.Statement {
		n := trustStatement{Effect: s.Effect, Action: sorted(s.Action), Principal: map[string][]string{}, Condition: map[string]map[string][]string{}}
		for k, v := range s.Principal {
			n.Principal[k] = sorted(v)
		}
		for op, keys := range s.Condition {
			n.Condition[op] = map[string][]string{}
			for k, v := range keys {
				n.Condition[op][k] = sorted(v)
			}
		}
		out = append(out, n)
	}
	return out
}

// PolicyJSON is a policy document as JSON: IAM's Get* calls return documents URL-encoded.
func PolicyJSON(doc string) (string, error) {
	if strings.HasPrefix(strings.TrimSpace(doc), "{") {
		return doc, nil
	}
	decoded, err := url.QueryUnescape(doc)
	if err != nil {
		return "", fmt.Errorf("neither JSON nor URL-encoded JSON: %w", err)
	}
	return decoded, nil
}

func stringOrList(raw json.RawMessage) ([]string, error) {
	if len(raw) == 0 {
		return nil, nil
	}
	var one string
	if err := json.Unmarshal(raw, &one); err == nil {
		return []string{one}, nil
	}
	var list []string
	if err := json.Unmarshal(raw, &list); err != nil {
		return nil, fmt.Errorf("want a string or a list of strings: %w", err)
	}
	return list, nil
}

func principal(raw json.RawMessage) (map[string][]string, error) {
	if len(raw) == 0 {
		return nil, nil
	}
	var star string
	if err := json.Unmarshal(raw, &star); err == nil {
		return map[string][]string{star: {star}}, nil
	}
	var kinds map[string]json.RawMessage
	if err := json.Unmarshal(raw, &kinds); err != nil {
		return nil, err
	}
	out := map[string][]string{}
	for kind, v := range kinds {
		ids, err := stringOrList(v)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", kind, err)
		}
		out[kind] = ids
	}
	return out, nil
}

// Admits evaluates the policy for sts:AssumeRoleWithWebIdentity by a token with claims c,
// issued by the OIDC provider providerARN: whether some Allow statement admits it and no
// Deny statement refuses it. The reason says which statement decided, or why none allowed.
//
// It evaluates what the policy language defines for these keys (IAM's docs, "IAM JSON
// policy elements: Condition operators"): StringEquals and StringLike, with ForAnyValue: and
// ForAllValues: on aud, and for the issuer's sub and aud keys; any other condition operator
// or key it cannot evaluate offline counts as not matching, so the answer errs towards
// "refused" for the own account and is reported with the reason.
func (p *TrustPolicy) Admits(providerARN string, c Claims) (bool, string) {
	issuerHost := strings.TrimPrefix(c.Issuer, "https://")
	var allowed []int
	var reasons []string
	for i, s := range p.Statement {
		ok, why := s.matches(providerARN, issuerHost, c)
		if !ok {
			reasons = append(reasons, fmt.Sprintf("statement %d: %s", i, why))
			continue
		}
		if strings.EqualFold(s.Effect, "Deny") {
			return false, fmt.Sprintf("statement %d denies it", i)
		}
		if strings.EqualFold(s.Effect, "Allow") {
			allowed = append(allowed, i)
		}
	}
	if len(allowed) == 0 {
		if len(reasons) == 0 {
			return false, "the policy has no statements"
		}
		return false, strings.Join(reasons, "; ")
	}
	return true, fmt.Sprintf("statement %d allows it", allowed[0])
}

func (s trustStatement) matches(providerARN, issuerHost string, c Claims) (bool, string) {
	if !slices.ContainsFunc(s.Action, func(a string) bool { return actionMatches(a, irsa.AssumeAction) }) {
		return false, fmt.Sprintf("action %q does not include %s", s.Action, irsa.AssumeAction)
	}
	if !slices.Contains(s.Principal["Federated"], providerARN) && !slices.Contains(s.Principal["*"], "*") {
		return false, fmt.Sprintf("principal %v is not the OIDC provider %s", s.Principal, providerARN)
	}
	values := map[string][]string{
		issuerHost + ":sub": {c.Subject},
		issuerHost + ":aud": c.Audience,
	}
	for op, keys := range s.Condition {
		for key, want := range keys {
			got, known := values[key]
			if !known {
				return false, fmt.Sprintf("condition %s on %s cannot be evaluated from the token", op, key)
			}
			if ok, why := conditionHolds(op, key, want, got); !ok {
				return false, why
			}
		}
	}
	return true, ""
}

func actionMatches(pattern, action string) bool {
	ok, _ := path.Match(strings.ToLower(pattern), strings.ToLower(action))
	return ok
}

// conditionHolds applies operator op to the token's values got for key. A single-valued
// operator on a multi-valued key (aud may be a list) holds when any value matches, as IAM
// treats a request's multiple values for a single-valued operator.
func conditionHolds(op, key string, want, got []string) (bool, string) {
	base, set := op, ""
	for _, prefix := range []string{"ForAnyValue:", "ForAllValues:"} {
		if strings.HasPrefix(op, prefix) {
			base, set = strings.TrimPrefix(op, prefix), prefix
		}
	}
	var match func(pattern, value string) bool
	switch base {
	case "StringEquals":
		match = func(p, v string) bool { return p == v }
	case "StringLike":
		match = globMatch
	default:
		return false, fmt.Sprintf("condition operator %s on %s is not evaluated offline", op, key)
	}
	matchesAny := func(v string) bool { return slices.ContainsFunc(want, func(p string) bool { return match(p, v) }) }
	holds := false
	if set == "ForAllValues:" {
		holds = len(got) > 0 && !slices.ContainsFunc(got, func(v string) bool { return !matchesAny(v) })
	} else {
		holds = slices.ContainsFunc(got, matchesAny)
	}
	if !holds {
		return false, fmt.Sprintf("%s requires %s to be %q, the token has %q", op, key, want, got)
	}
	return true, ""
}

// globMatch is IAM's StringLike: * matches any run of characters (slashes too), ? one.
func globMatch(pattern, value string) bool {
	if pattern == "" {
		return value == ""
	}
	switch pattern[0] {
	case '*':
		for i := 0; i <= len(value); i++ {
			if globMatch(pattern[1:], value[i:]) {
				return true
			}
		}
		return false
	case '?':
		return value != "" && globMatch(pattern[1:], value[1:])
	default:
		return value != "" && value[0] == pattern[0] && globMatch(pattern[1:], value[1:])
	}
}
