package identity

import (
	"encoding/json"
	"fmt"
	"maps"
	"net/url"
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
// language allows (a string or a list wherever a list may be given; numbers and booleans as
// condition values).
type TrustPolicy struct {
	Version   string
	Statement []trustStatement
}

// DefaultPolicyVersion is what IAM assumes for a policy without Version (IAM User Guide,
// "IAM JSON policy elements: Version"): under it, ${...} is text, not a policy variable.
const DefaultPolicyVersion = "2008-10-17"

// PolicyVersion is the current policy language version, under which ${...} is a variable.
const PolicyVersion = "2012-10-17"

type trustStatement struct {
	Sid          string
	Effect       string
	Principal    map[string][]string // "*" is {"*": ["*"]}
	NotPrincipal map[string][]string
	Action       []string
	NotAction    []string
	// Condition is operator → key → values; values are strings as IAM compares them (a
	// JSON number or boolean as its text).
	Condition map[string]map[string][]string
}

// ParseTrustPolicy reads a trust policy: JSON, or the URL-encoded JSON that IAM's GetRole
// returns; every element IAM accepts in a role trust policy (Version optional, Sid,
// Principal or NotPrincipal, Action or NotAction, Condition with string, number or boolean
// values).
func ParseTrustPolicy(doc string) (*TrustPolicy, error) {
	doc, err := PolicyJSON(doc)
	if err != nil {
		return nil, fmt.Errorf("trust policy: %w", err)
	}
	var raw struct {
		Version   string
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
	p := &TrustPolicy{Version: raw.Version}
	for i, s := range statements {
		var st trustStatement
		if err := json.Unmarshal(s["Effect"], &st.Effect); err != nil {
			return nil, fmt.Errorf("trust policy Statement[%d].Effect: %w", i, err)
		}
		if len(s["Sid"]) > 0 {
			if err := json.Unmarshal(s["Sid"], &st.Sid); err != nil {
				return nil, fmt.Errorf("trust policy Statement[%d].Sid: %w", i, err)
			}
		}
		var err error
		if st.Action, err = stringOrList(s["Action"]); err != nil {
			return nil, fmt.Errorf("trust policy Statement[%d].Action: %w", i, err)
		}
		if st.NotAction, err = stringOrList(s["NotAction"]); err != nil {
			return nil, fmt.Errorf("trust policy Statement[%d].NotAction: %w", i, err)
		}
		if st.Principal, err = principal(s["Principal"]); err != nil {
			return nil, fmt.Errorf("trust policy Statement[%d].Principal: %w", i, err)
		}
		if st.NotPrincipal, err = principal(s["NotPrincipal"]); err != nil {
			return nil, fmt.Errorf("trust policy Statement[%d].NotPrincipal: %w", i, err)
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
					if st.Condition[op][key], err = conditionValues(v); err != nil {
						return nil, fmt.Errorf("trust policy Statement[%d].Condition.%s.%s: %w", i, op, key, err)
					}
				}
			}
		}
		p.Statement = append(p.Statement, st)
	}
	return p, nil
}

// Equal reports whether p and q say the same to IAM: the same version (none is IAM's
// default), the same statements in the same order with the same Sid, Effect, (Not)Principal,
// (Not)Action and Condition; lists compared as sets, a string the same as a list of it,
// actions and condition key names compared without case (IAM ignores it in both).
func (p *TrustPolicy) Equal(q *TrustPolicy) bool {
	return reflect.DeepEqual(p.normalized(), q.normalized())
}

func (p *TrustPolicy) normalized() TrustPolicy {
	out := TrustPolicy{Version: p.version(), Statement: make([]trustStatement, 0, len(p.Statement))}
	sorted := func(l []string, fold bool) []string {
		l = slices.Clone(l)
		if fold {
			for i := range l {
				l[i] = strings.ToLower(l[i])
			}
		}
		slices.Sort(l)
		return l
	}
	principals := func(m map[string][]string) map[string][]string {
		n := map[string][]string{}
		for k, v := range m {
			n[k] = sorted(v, false)
		}
		return n
	}
	for _, s := range p.Statement {
		n := trustStatement{Sid: s.Sid, Effect: s.Effect, Action: sorted(s.Action, true), NotAction: sorted(s.NotAction, true),
			Principal: principals(s.Principal), NotPrincipal: principals(s.NotPrincipal), Condition: map[string]map[string][]string{}}
		for op, keys := range s.Condition {
			n.Condition[op] = map[string][]string{}
			for k, v := range keys {
				k = strings.ToLower(k)
				n.Condition[op][k] = sorted(append(n.Condition[op][k], v...), false)
			}
		}
		out.Statement = append(out.Statement, n)
	}
	return out
}

func (p *TrustPolicy) version() string {
	if p.Version == "" {
		return DefaultPolicyVersion
	}
	return p.Version
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

// conditionValues reads a condition's values: a string, number or boolean, or a list of
// them; IAM compares numbers and booleans by their text ("IAM JSON policy elements:
// Condition", condition values).
func conditionValues(raw json.RawMessage) ([]string, error) {
	var list []json.RawMessage
	if err := json.Unmarshal(raw, &list); err != nil {
		list = []json.RawMessage{raw}
	}
	out := make([]string, 0, len(list))
	for _, v := range list {
		var s string
		if err := json.Unmarshal(v, &s); err == nil {
			out = append(out, s)
			continue
		}
		var scalar any
		if err := json.Unmarshal(v, &scalar); err != nil {
			return nil, err
		}
		switch scalar.(type) {
		case float64, bool:
			out = append(out, strings.TrimSpace(string(v)))
		default:
			return nil, fmt.Errorf("want a string, number or boolean, or a list of them, got %s", v)
		}
	}
	return out, nil
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

// Verdict is what IAM would answer a token, as far as it can be told offline.
type Verdict int

const (
	// Refused: no Allow statement matches, or a Deny statement does.
	Refused Verdict = iota
	// Admitted: an Allow statement matches and no Deny statement does.
	Admitted
	// Undecided: the answer depends on something eksirsa cannot evaluate from the token
	// (an operator or a condition key it does not model); Decision.Reason says which.
	Undecided
)

func (v Verdict) String() string {
	switch v {
	case Admitted:
		return "admitted"
	case Refused:
		return "refused"
	default:
		return "cannot be decided offline"
	}
}

// Decision is a verdict and the statement or condition that decided it.
type Decision struct {
	Verdict Verdict
	Reason  string
}

// Admits evaluates the policy for sts:AssumeRoleWithWebIdentity by a token with claims c,
// issued by the OIDC provider providerARN, as IAM's policy evaluation logic does for one
// policy (IAM User Guide, "Policy evaluation logic": an explicit Deny that matches wins over
// any Allow; without a matching Allow the request is implicitly denied). A statement matches
// when its Action/NotAction, Principal/NotPrincipal and every condition match; conditions
// are evaluated as "IAM JSON policy elements: Condition operators" defines them (see
// conditionHolds). Where the answer rests on something it cannot evaluate offline, the
// verdict is Undecided and the reason names it: never Refused by default.
func (p *TrustPolicy) Admits(providerARN string, c Claims) Decision {
	return p.decide(request{action: irsa.AssumeAction, kind: "Federated", principal: providerARN, what: "the OIDC provider " + providerARN, ctx: requestContext(c)})
}

// request is one action by one principal with its request context, as IAM evaluates a trust
// policy for it.
type request struct {
	action          string
	kind, principal string // the Principal element's kind (Federated, Service) and value
	what            string // the principal, for messages
	ctx             map[string][]string
}

// PodIdentityPrincipal is the service principal EKS Pod Identity assumes roles as (EKS User
// Guide, pod-id-role).
const PodIdentityPrincipal = "pods.eks.amazonaws.com"

// Actions EKS Pod Identity's session needs from the role's trust: the role assumed with session
// tags (pod-id-role: "sts:AssumeRole" and "sts:TagSession").
var podIdentityActions = []string{"sts:AssumeRole", "sts:TagSession"}

// SessionTagKeys are the session tags EKS Pod Identity sets on the role session it assumes
// for a pod (EKS User Guide, pod-id-abac, "List of session tags added by EKS Pod Identity").
var SessionTagKeys = []string{"eks-cluster-arn", "eks-cluster-name", "kubernetes-namespace", "kubernetes-service-account", "kubernetes-pod-name", "kubernetes-pod-uid"}

// AdmitsPodIdentity evaluates the policy for the session EKS Pod Identity asks STS for: the
// principal pods.eks.amazonaws.com, sts:AssumeRole and sts:TagSession, each admitted, with the
// session tags tags as aws:RequestTag/<key> (pod-id-role, "Setting Conditions"). A documented
// tag missing from tags is known absent; any other condition key is Undecided, as in Admits.
func (p *TrustPolicy) AdmitsPodIdentity(tags map[string]string) Decision {
	ctx := map[string][]string{}
	for _, k := range SessionTagKeys {
		ctx["aws:requesttag/"+k] = nil
		if v, ok := tags[k]; ok {
			ctx["aws:requesttag/"+k] = []string{v}
		}
	}
	var d Decision
	for _, action := range podIdentityActions {
		d = p.decide(request{action: action, kind: "Service", principal: PodIdentityPrincipal, what: PodIdentityPrincipal, ctx: ctx})
		if d.Verdict != Admitted {
			d.Reason = action + ": " + d.Reason
			return d
		}
	}
	return d
}

// decide is IAM's verdict on req (see Admits).
func (p *TrustPolicy) decide(req request) Decision {
	ctx := req.ctx
	var allowed, undecidedAllow, undecidedDeny, reasons []string
	for i, s := range p.Statement {
		name := fmt.Sprintf("statement %d", i)
		if s.Sid != "" {
			name += fmt.Sprintf(" (%s)", s.Sid)
		}
		m, why := s.matches(req, p.version(), ctx)
		deny := strings.EqualFold(s.Effect, "Deny")
		switch {
		case m == no:
			reasons = append(reasons, name+": "+why)
		case m == yes && deny:
			return Decision{Refused, name + " denies it"}
		case m == yes:
			allowed = append(allowed, name)
		case deny:
			undecidedDeny = append(undecidedDeny, name+" may deny it: "+why)
		default:
			undecidedAllow = append(undecidedAllow, name+" may allow it: "+why)
		}
	}
	switch {
	case len(undecidedDeny) > 0 && len(allowed)+len(undecidedAllow) > 0:
		return Decision{Undecided, strings.Join(append(undecidedDeny, undecidedAllow...), "; ")}
	case len(allowed) > 0:
		return Decision{Admitted, allowed[0] + " allows it"}
	case len(undecidedAllow) > 0:
		return Decision{Undecided, strings.Join(undecidedAllow, "; ")}
	case len(p.Statement) == 0:
		return Decision{Refused, "the policy has no statements"}
	case len(reasons) == 0:
		return Decision{Refused, "no statement allows it"}
	}
	return Decision{Refused, strings.Join(reasons, "; ")}
}

// match is a three-valued truth: whether a statement or condition matches the request.
type match int

const (
	no match = iota
	yes
	unknown
)

func truth(b bool) match {
	if b {
		return yes
	}
	return no
}

// requestContext is what IAM's request context holds for AssumeRoleWithWebIdentity with an
// OIDC token, as far as eksirsa can know it from the token: the provider's <issuer host>:sub
// and :aud keys ("Available keys for IAM OIDC federation"), keyed in lower case because
// condition key names are not case-sensitive ("IAM JSON policy elements: Condition").
func requestContext(c Claims) map[string][]string {
	host := strings.ToLower(strings.TrimPrefix(c.Issuer, "https://"))
	ctx := map[string][]string{host + ":sub": nil, host + ":aud": nil}
	if c.Subject != "" {
		ctx[host+":sub"] = []string{c.Subject}
	}
	ctx[host+":aud"] = c.Audience
	return ctx
}

func (s trustStatement) matches(req request, version string, ctx map[string][]string) (match, string) {
	switch {
	case s.Action != nil:
		if !slices.ContainsFunc(s.Action, func(a string) bool { return actionMatches(a, req.action) }) {
			return no, fmt.Sprintf("action %q does not include %s", s.Action, req.action)
		}
	case s.NotAction != nil:
		// NotAction matches every action except those listed ("IAM JSON policy elements:
		// NotAction").
		if slices.ContainsFunc(s.NotAction, func(a string) bool { return actionMatches(a, req.action) }) {
			return no, fmt.Sprintf("NotAction %q excludes %s", s.NotAction, req.action)
		}
	default:
		return no, "the statement has neither Action nor NotAction"
	}
	names := func(p map[string][]string) bool {
		// "*" and {"AWS": "*"} both mean every principal ("AWS JSON policy elements:
		// Principal", all principals); a web identity is named by its provider's ARN.
		return slices.Contains(p["*"], "*") || slices.Contains(p["AWS"], "*") || slices.Contains(p[req.kind], req.principal)
	}
	result, why := yes, ""
	switch {
	case s.Principal != nil:
		if !names(s.Principal) {
			return no, fmt.Sprintf("principal %v is not %s", s.Principal, req.what)
		}
	case s.NotPrincipal != nil:
		// NotPrincipal must be used with Deny; with Allow it is not supported, and IAM does
		// not take it in a role trust policy at all ("AWS JSON policy elements:
		// NotPrincipal"). A Deny with it applies to every principal it does not name.
		if !strings.EqualFold(s.Effect, "Deny") {
			result, why = unknown, "NotPrincipal with Allow is not supported by IAM"
		} else if names(s.NotPrincipal) {
			return no, fmt.Sprintf("NotPrincipal %v names %s", s.NotPrincipal, req.what)
		}
	default:
		return no, "the statement has neither Principal nor NotPrincipal"
	}
	// Every operator, and every key under it, must hold: a false one decides the statement
	// whatever the undecided ones say ("IAM JSON policy elements: Condition", evaluation
	// logic for multiple keys and operators: AND).
	for _, op := range slices.Sorted(maps.Keys(s.Condition)) {
		keys := s.Condition[op]
		for _, key := range slices.Sorted(maps.Keys(keys)) {
			m, reason := conditionHolds(op, key, keys[key], version, ctx)
			switch m {
			case no:
				return no, reason
			case unknown:
				if result == yes {
					result, why = unknown, reason
				}
			}
		}
	}
	return result, why
}

func actionMatches(pattern, action string) bool {
	// Action names are not case-sensitive ("IAM JSON policy elements: Action"); * and ? are
	// wildcards.
	return globMatch(strings.ToLower(pattern), strings.ToLower(action))
}

// conditionHolds applies operator op with the policy's values want to the request's key,
// as "IAM JSON policy elements: Condition operators" defines it:
//   - the string operators StringEquals, StringNotEquals, StringEqualsIgnoreCase,
//     StringNotEqualsIgnoreCase, StringLike (* and ? wildcards), StringNotLike; several
//     values in the policy are ORed; a negated operator holds when no value matches;
//   - a key missing from the request context makes a condition false, and a negated one
//     (StringNotEquals, StringNotLike, ...) true; ...IfExists makes it true; Null tests
//     presence alone ("true": the key is absent);
//   - ForAllValues: holds when every request value matches (and when the key is missing or
//     empty), ForAnyValue: when at least one does (false when missing) ("Single-valued vs.
//     multivalued context keys").
//
// Keys are matched without case. Any other operator, a key the token does not give, a
// policy variable, or a token with several audiences is unknown, with the reason.
func conditionHolds(op, key string, want []string, version string, ctx map[string][]string) (match, string) {
	base, set := op, ""
	for _, prefix := range []string{"ForAnyValue:", "ForAllValues:"} {
		if rest, ok := strings.CutPrefix(op, prefix); ok {
			base, set = rest, prefix
		}
	}
	base, ifExists := strings.CutSuffix(base, "IfExists")
	var eq func(pattern, value string) bool
	negated := false
	switch base {
	case "StringEquals", "StringNotEquals":
		eq, negated = func(p, v string) bool { return p == v }, base == "StringNotEquals"
	case "StringEqualsIgnoreCase", "StringNotEqualsIgnoreCase":
		eq, negated = strings.EqualFold, base == "StringNotEqualsIgnoreCase"
	case "StringLike", "StringNotLike":
		eq, negated = globMatch, base == "StringNotLike"
	case "Null":
		if set != "" || ifExists {
			return unknown, fmt.Sprintf("condition operator %s on %s is not one IAM defines", op, key)
		}
	default:
		return unknown, fmt.Sprintf("condition operator %s on %s is not evaluated offline", op, key)
	}
	got, known := ctx[strings.ToLower(key)]
	if !known {
		return unknown, fmt.Sprintf("condition key %s (%s) is not one eksirsa can read from the token; IAM may set it from the request", key, op)
	}
	if len(got) > 1 && set == "" {
		return unknown, fmt.Sprintf("%s on %s: the token carries %d values %q and the operator is single-valued", op, key, len(got), got)
	}
	present := len(got) > 0
	if base == "Null" {
		holds := false
		for _, w := range want {
			switch strings.ToLower(w) {
			case "true":
				holds = holds || !present
			case "false":
				holds = holds || present
			default:
				return unknown, fmt.Sprintf("Null on %s with value %q, want true or false", key, w)
			}
		}
		if !holds {
			return no, fmt.Sprintf("Null %q on %s: the token %s it", want, key, map[bool]string{true: "carries", false: "does not carry"}[present])
		}
		return yes, ""
	}
	if version == PolicyVersion && slices.ContainsFunc(want, func(w string) bool { return strings.Contains(w, "${") }) {
		return unknown, fmt.Sprintf("%s on %s uses a policy variable %q", op, key, want)
	}
	if !present {
		switch {
		case ifExists || set == "ForAllValues:" || (negated && set == ""):
			return yes, ""
		default:
			return no, fmt.Sprintf("%s requires %s, which the token does not carry", op, key)
		}
	}
	matchesValue := func(v string) bool {
		hit := slices.ContainsFunc(want, func(p string) bool { return eq(p, v) })
		return hit != negated
	}
	var holds bool
	if set == "ForAllValues:" {
		holds = !slices.ContainsFunc(got, func(v string) bool { return !matchesValue(v) })
	} else {
		holds = slices.ContainsFunc(got, matchesValue)
	}
	if !holds {
		return no, fmt.Sprintf("%s requires %s to be %s%q, the token has %q", op, key, map[bool]string{true: "none of ", false: ""}[negated], want, got)
	}
	return yes, ""
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
