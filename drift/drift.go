// Package drift compares, identity by identity, what a stack declared (its outputs) with what
// is live in IAM and in the cluster: each IRSA role's trust policy and policies, the OIDC
// provider's client ids and thumbprint against the issuer's current chain, each account's
// annotation and the aws-node pods' role, aws-auth's mappings as aws-iam-authenticator applies
// them, the cluster's EKS access entries, and its Pod Identity associations and agent add-on.
// It only reads.
package drift

import (
	"context"
	"crypto/sha1" //nolint:gosec // IAM's OIDC thumbprint is defined as a SHA-1
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/url"
	"reflect"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eks"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/eks-irsa/eks-irsa/accessentry"
	"github.com/eks-irsa/eks-irsa/awsaccess"
	"github.com/eks-irsa/eks-irsa/identity"
	"github.com/eks-irsa/eks-irsa/irsa"
	"github.com/eks-irsa/eks-irsa/k8s"
	"github.com/eks-irsa/eks-irsa/podidentity"
	"github.com/eks-irsa/eks-irsa/verify"
)

// Role is one IRSA role as the stack declared it.
type Role struct {
	Account           identity.Account
	TrustPolicy       string   // JSON
	ManagedPolicyARNs []string // attached
	InlinePolicy      string   // JSON; empty when none
	// PodIdentity marks a role that trusts EKS Pod Identity alone (identity podIdentity): its
	// trust is compared as a document, with no IRSA token to read it against.
	PodIdentity bool
}

// Declared is what the stack's outputs say.
type Declared struct {
	Issuer      string
	ProviderARN string
	Roles       []Role
	// Annotated are the accounts whose role annotation the stack writes (aws-node first).
	Annotated []identity.Account
	// MapRoles and MapUsers are aws-auth's data as the stack wrote it.
	MapRoles, MapUsers string
	// ClusterName is the EKS cluster, whose access entries are read.
	ClusterName string
	// AuthenticationMode is the cluster's mode as the stack applied it; empty for a stack older
	// than the output, whose clusters are all API_AND_CONFIG_MAP. In API mode there is no aws-auth.
	AuthenticationMode string
	// NoAWSAuth: the stack writes no aws-auth in API_AND_CONFIG_MAP (its nodes join by their
	// access entry and it maps nothing else), so every live mapping is someone else's.
	NoAWSAuth bool
	// AccessEntries are the entries the stack owns (the nodes' in API mode, the declared ones).
	AccessEntries []AccessEntry
	// PodIdentity are the stack's Pod Identity associations (the podIdentityAssociations
	// output); with none, associations and the agent add-on are not read.
	PodIdentity []podidentity.Association
	// Stack names the stack in repair hints.
	Stack string
}

// AccessEntry is one access entry as the stack declares it (accessentry.Entry).
type AccessEntry = accessentry.Entry

// AccessPolicy is one association (accessentry.Policy).
type AccessPolicy = accessentry.Policy

// Finding is one difference between declared and live.
type Finding struct {
	Check   string `json:"check"`
	Subject string `json:"subject"`
	Detail  string `json:"detail"`
	Repair  string `json:"repair"`
}

// Line is one check's outcome as it is known: Finding nil when it matched.
type Line struct {
	Check   string   `json:"check"`
	Subject string   `json:"subject"`
	Summary string   `json:"summary,omitempty"`
	Finding *Finding `json:"finding,omitempty"`
}

// Checks, in the order they run.
const (
	CheckTrust       = "trust-policy"
	CheckManaged     = "managed-policies"
	CheckInline      = "inline-policies"
	CheckClientIDs   = "oidc-client-ids"
	CheckThumbprint  = "oidc-thumbprint"
	CheckAnnotation  = "annotation"
	CheckPodRole     = "aws-node-pods"
	CheckAWSAuth     = "aws-auth"
	CheckAWSAuthOurs = "aws-auth-mapping"
	CheckForeign     = "aws-auth-foreign"
	// CheckAWSAuthDuplicate is an identity aws-auth maps more than once.
	CheckAWSAuthDuplicate = "aws-auth-duplicate"
	// CheckAWSAuthAccounts is an account aws-auth's mapAccounts admits.
	CheckAWSAuthAccounts = "aws-auth-accounts"
	// CheckAccessConfig is the cluster's authentication mode.
	CheckAccessConfig = "access-config"
	// CheckAccessEntry is an EKS access entry with its access policies.
	CheckAccessEntry = "access-entry"
	// CheckPodIdentityAgent is the eks-pod-identity-agent add-on.
	CheckPodIdentityAgent = "pod-identity-agent"
	// CheckPodIdentityAssociation is an EKS Pod Identity association.
	CheckPodIdentityAssociation = "pod-identity-association"
)

// Detector reads IAM and EKS (with AWS's configuration), the cluster, and the issuer's TLS chain.
type Detector struct {
	Kube kubernetes.Interface
	AWS  aws.Config
	// RootCAs verify the issuer's TLS chain, as the program's tls.getCertificate does; nil is
	// the system roots.
	RootCAs *x509.CertPool
}

// Detect runs every check, calling report with each line as it is known, and returns the
// findings. An error means a check could not run (AWS or the cluster unreachable), not drift.
func (d *Detector) Detect(ctx context.Context, decl Declared, report func(Line)) ([]Finding, error) {
	var findings []Finding
	emit := func(l Line) {
		if l.Finding != nil {
			findings = append(findings, *l.Finding)
		}
		if report != nil {
			report(l)
		}
	}
	upRefresh := "eksirsa up --refresh -s " + decl.Stack
	iamClient := iam.NewFromConfig(d.AWS)
	// The roles are read a few at a time (a platform stack has a hundred), and reported in
	// the declared order.
	type roleResult struct {
		lines []Line
		err   error
	}
	roles := make([]roleResult, len(decl.Roles))
	awsaccess.Parallel(len(decl.Roles), func(i int) {
		roles[i].lines, roles[i].err = d.role(ctx, iamClient, decl, decl.Roles[i], upRefresh)
	})
	eksClient := eks.NewFromConfig(d.AWS)
	var checks []func() ([]Line, error)
	for _, r := range roles {
		checks = append(checks, func() ([]Line, error) { return r.lines, r.err })
	}
	checks = append(checks,
		func() ([]Line, error) { return d.oidcProvider(ctx, iamClient, decl, upRefresh) },
		func() ([]Line, error) { return d.accounts(ctx, decl, upRefresh) },
		func() ([]Line, error) { return d.awsAuth(ctx, decl, upRefresh) },
		func() ([]Line, error) { return d.accessEntries(ctx, eksClient, decl, upRefresh) },
		func() ([]Line, error) { return d.podIdentity(ctx, eksClient, decl, upRefresh) },
	)
	for _, check := range checks {
		lines, err := check()
		if err != nil {
			return findings, err
		}
		for _, l := range lines {
			emit(l)
		}
	}
	return findings, nil
}

func found(check, subject, repair, format string, args ...any) Line {
	return Line{Check: check, Subject: subject, Finding: &Finding{Check: check, Subject: subject, Detail: fmt.Sprintf(format, args...), Repair: repair}}
}

func matched(check, subject, format string, args ...any) Line {
	return Line{Check: check, Subject: subject, Summary: fmt.Sprintf(format, args...)}
}

// role compares one IRSA role's trust policy, attached policies and inline policies.
func (d *Detector) role(ctx context.Context, c *iam.Client, decl Declared, r Role, repair string) ([]Line, error) {
	name, err := identity.RoleName(r.Account.RoleARN)
	if err != nil {
		return nil, err
	}
	subject := fmt.Sprintf("%s (role %s)", r.Account, name)
	got, err := c.GetRole(ctx, &iam.GetRoleInput{RoleName: aws.String(name)})
	if err != nil {
		if isNoSuchEntity(err) {
			return []Line{found(CheckTrust, subject, repair, "the role is gone from IAM")}, nil
		}
		return nil, fmt.Errorf("IAM GetRole %s: %w", name, err)
	}
	var lines []Line
	live, err := identity.ParseTrustPolicy(aws.ToString(got.Role.AssumeRolePolicyDocument))
	if err != nil {
		return nil, fmt.Errorf("role %s: %w", name, err)
	}
	want, err := identity.ParseTrustPolicy(r.TrustPolicy)
	if err != nil {
		return nil, fmt.Errorf("declared trust policy of %s: %w", name, err)
	}
	switch {
	case live.Equal(want) && r.PodIdentity:
		lines = append(lines, matched(CheckTrust, subject, "admits only EKS Pod Identity sessions of %s in cluster %s", r.Account, decl.ClusterName))
	case live.Equal(want):
		lines = append(lines, matched(CheckTrust, subject, "admits only %s", irsa.Subject(r.Account.Namespace, r.Account.Name)))
	case r.PodIdentity:
		lines = append(lines, found(CheckTrust, subject, repair, "the trust policy in IAM differs from the stack's, which admits only EKS Pod Identity sessions tagged with the cluster, %s and %s; live: %s",
			r.Account.Namespace, r.Account.Name, compactJSON(aws.ToString(got.Role.AssumeRolePolicyDocument))))
	default:
		own := identity.Claims{Issuer: decl.Issuer, Subject: irsa.Subject(r.Account.Namespace, r.Account.Name), Audience: []string{irsa.Audience}}
		var effect string
		switch d := live.Admits(decl.ProviderARN, own); d.Verdict {
		case identity.Admitted:
			effect = "it still admits the account's token"
		case identity.Refused:
			effect = "it no longer admits the account's token (" + d.Reason + ")"
		default:
			effect = "whether it still admits the account's token cannot be decided offline (" + d.Reason + "; eksirsa verify --identities asks STS)"
		}
		var others, maybe []string
		for _, other := range decl.Roles {
			if other.Account == r.Account || other.PodIdentity {
				continue
			}
			claims := identity.Claims{Issuer: decl.Issuer, Subject: irsa.Subject(other.Account.Namespace, other.Account.Name), Audience: []string{irsa.Audience}}
			switch d := live.Admits(decl.ProviderARN, claims); d.Verdict {
			case identity.Admitted:
				others = append(others, other.Account.String())
			case identity.Undecided:
				maybe = append(maybe, other.Account.String()+" ("+d.Reason+")")
			}
		}
		if len(others) > 0 {
			effect += ", and it admits the tokens of " + strings.Join(others, ", ") + " too"
		}
		if len(maybe) > 0 {
			effect += ", and whether it admits the tokens of " + strings.Join(maybe, ", ") + " cannot be decided offline"
		}
		lines = append(lines, found(CheckTrust, subject, repair, "the trust policy in IAM differs from the stack's: %s; live: %s",
			effect, compactJSON(aws.ToString(got.Role.AssumeRolePolicyDocument))))
	}

	attached, err := c.ListAttachedRolePolicies(ctx, &iam.ListAttachedRolePoliciesInput{RoleName: aws.String(name)})
	if err != nil {
		return nil, fmt.Errorf("IAM ListAttachedRolePolicies %s: %w", name, err)
	}
	var liveARNs []string
	for _, p := range attached.AttachedPolicies {
		liveARNs = append(liveARNs, aws.ToString(p.PolicyArn))
	}
	missing, extra := setDiff(r.ManagedPolicyARNs, liveARNs)
	if len(missing)+len(extra) == 0 {
		lines = append(lines, matched(CheckManaged, subject, "%d attached as declared", len(liveARNs)))
	} else {
		lines = append(lines, found(CheckManaged, subject, repair, "missing %q, not in the stack %q", missing, extra))
	}

	names, err := c.ListRolePolicies(ctx, &iam.ListRolePoliciesInput{RoleName: aws.String(name)})
	if err != nil {
		return nil, fmt.Errorf("IAM ListRolePolicies %s: %w", name, err)
	}
	var problems []string
	declaredFound := r.InlinePolicy == ""
	for _, pn := range names.PolicyNames {
		doc, err := c.GetRolePolicy(ctx, &iam.GetRolePolicyInput{RoleName: aws.String(name), PolicyName: aws.String(pn)})
		if err != nil {
			return nil, fmt.Errorf("IAM GetRolePolicy %s %s: %w", name, pn, err)
		}
		if !declaredFound && sameJSON(aws.ToString(doc.PolicyDocument), r.InlinePolicy) {
			declaredFound = true
			continue
		}
		problems = append(problems, fmt.Sprintf("inline policy %s is not the stack's", pn))
	}
	if !declaredFound {
		problems = append([]string{"the stack's inline policy is missing or was edited"}, problems...)
	}
	if len(problems) == 0 {
		lines = append(lines, matched(CheckInline, subject, "%d inline as declared", len(names.PolicyNames)))
	} else {
		lines = append(lines, found(CheckInline, subject, repair, "%s", strings.Join(problems, "; ")))
	}
	return lines, nil
}

// oidcProvider compares the provider's client ids with the STS audience and its thumbprints
// with the issuer's current chain root.
func (d *Detector) oidcProvider(ctx context.Context, c *iam.Client, decl Declared, repair string) ([]Line, error) {
	subject := decl.ProviderARN
	got, err := c.GetOpenIDConnectProvider(ctx, &iam.GetOpenIDConnectProviderInput{OpenIDConnectProviderArn: aws.String(decl.ProviderARN)})
	if err != nil {
		if isNoSuchEntity(err) {
			return []Line{found(CheckClientIDs, subject, repair, "the OIDC provider is gone from IAM: no role can be assumed")}, nil
		}
		return nil, fmt.Errorf("IAM GetOpenIDConnectProvider: %w", err)
	}
	var lines []Line
	if missing, extra := setDiff([]string{irsa.Audience}, got.ClientIDList); len(missing)+len(extra) > 0 {
		lines = append(lines, found(CheckClientIDs, subject, repair, "client ids are %q, want [%q]", got.ClientIDList, irsa.Audience))
	} else {
		lines = append(lines, matched(CheckClientIDs, subject, "%s only", irsa.Audience))
	}

	certs, err := DialChain(ctx, decl.Issuer, d.RootCAs)
	if err != nil {
		return nil, fmt.Errorf("TLS chain of %s: %w", decl.Issuer, err)
	}
	root := certs[len(certs)-1]
	sum := sha1.Sum(root.Raw) //nolint:gosec // IAM's thumbprint
	thumb := hex.EncodeToString(sum[:])
	left := time.Until(root.NotAfter).Round(24 * time.Hour)
	days := int(left.Hours() / 24)
	unit := "days"
	if days == 1 {
		unit = "day"
	}
	lifetime := fmt.Sprintf("the root (%s) is valid until %s, %d %s from now: until it is replaced the thumbprint holds",
		root.Subject.CommonName, root.NotAfter.UTC().Format("2006-01-02"), days, unit)
	if slices.ContainsFunc(got.ThumbprintList, func(t string) bool { return strings.EqualFold(t, thumb) }) {
		lines = append(lines, matched(CheckThumbprint, subject, "%s is the issuer chain's root; %s", thumb, lifetime))
	} else {
		lines = append(lines, found(CheckThumbprint, subject,
			repair+" (it reads the chain again; where eks-irsa:oidc.thumbprints pins the list, add "+thumb+" to it)",
			"the issuer chain's root is %s, not among the provider's thumbprints %q; %s", thumb, got.ThumbprintList,
			"IAM uses the thumbprint only where it does not trust the issuer's CA itself, so this matters for a self-managed issuer or when that trust is withdrawn"))
	}
	return lines, nil
}

// DialChain returns the certificates the issuer's host presents, leaf first, over TLS
// verified with roots (nil: the system roots).
func DialChain(ctx context.Context, issuer string, roots *x509.CertPool) ([]*x509.Certificate, error) {
	u, err := url.Parse(issuer)
	if err != nil {
		return nil, err
	}
	host := u.Host
	if u.Port() == "" {
		host = net.JoinHostPort(u.Hostname(), "443")
	}
	dialer := &tls.Dialer{Config: &tls.Config{ServerName: u.Hostname(), RootCAs: roots, MinVersion: tls.VersionTLS12}}
	conn, err := dialer.DialContext(ctx, "tcp", host)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	certs := conn.(*tls.Conn).ConnectionState().PeerCertificates
	if len(certs) == 0 {
		return nil, fmt.Errorf("%s presented no certificates", host)
	}
	return certs, nil
}

// accounts compares each account's annotation, and the role aws-node's pods run with.
func (d *Detector) accounts(ctx context.Context, decl Declared, repair string) ([]Line, error) {
	var lines []Line
	for _, a := range decl.Annotated {
		sa, err := d.Kube.CoreV1().ServiceAccounts(a.Namespace).Get(ctx, a.Name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			lines = append(lines, found(CheckAnnotation, a.String(), repair, "the account is gone"))
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("get service account %s: %w", a, err)
		}
		switch got, ok := sa.Annotations[irsa.RoleARNAnnotation]; {
		case !ok:
			lines = append(lines, found(CheckAnnotation, a.String(), repair, "%s is missing, want %s", irsa.RoleARNAnnotation, a.RoleARN))
		case got != a.RoleARN:
			lines = append(lines, found(CheckAnnotation, a.String(), repair, "%s is %s, want %s", irsa.RoleARNAnnotation, got, a.RoleARN))
		default:
			lines = append(lines, matched(CheckAnnotation, a.String(), "%s", got))
		}
	}
	if len(decl.Annotated) == 0 {
		return lines, nil
	}
	awsNode := decl.Annotated[0]
	pods, err := d.Kube.CoreV1().Pods(k8s.KubeSystemNamespace).List(ctx, metav1.ListOptions{LabelSelector: k8s.AWSNodeSelector})
	if err != nil {
		return nil, fmt.Errorf("list aws-node pods: %w", err)
	}
	var wrong []string
	for _, p := range pods.Items {
		if got := verify.AWSNodeRoleARN(p); got != awsNode.RoleARN {
			if got == "" {
				got = "no " + irsa.EnvRoleARN
			}
			wrong = append(wrong, fmt.Sprintf("%s (%s)", p.Name, got))
		}
	}
	subject := k8s.KubeSystemNamespace + "/" + k8s.AWSNodeName + " pods"
	if len(wrong) > 0 {
		lines = append(lines, found(CheckPodRole, subject,
			"kubectl -n "+k8s.KubeSystemNamespace+" rollout restart daemonset "+k8s.AWSNodeName+" (pods take the annotation only when they start)",
			"%d of %d pods run without %s=%s: %s", len(wrong), len(pods.Items), irsa.EnvRoleARN, awsNode.RoleARN, strings.Join(wrong, ", ")))
	} else {
		lines = append(lines, matched(CheckPodRole, subject, "%d pods with %s=%s", len(pods.Items), irsa.EnvRoleARN, awsNode.RoleARN))
	}
	return lines, nil
}

func setDiff(want, got []string) (missing, extra []string) {
	for _, w := range want {
		if !slices.Contains(got, w) {
			missing = append(missing, w)
		}
	}
	for _, g := range got {
		if !slices.Contains(want, g) {
			extra = append(extra, g)
		}
	}
	return missing, extra
}

// sameJSON compares two policy documents as IAM reads them: either may be URL-encoded (as
// IAM's Get* calls return documents), keys in any order, and where the grammar takes a string
// or a list (Statement, Action, Resource, principals, condition values; IAM User Guide, "IAM
// JSON policy element reference") a single string is the one-element list, and a list is a set.
func sameJSON(a, b string) bool {
	var x, y any
	return json.Unmarshal([]byte(policyJSON(a)), &x) == nil && json.Unmarshal([]byte(policyJSON(b)), &y) == nil &&
		reflect.DeepEqual(canonicalPolicy(x), canonicalPolicy(y))
}

// policySets are the elements whose value is a string or a set of strings; under Principal,
// NotPrincipal and Condition every leaf is.
var policySets = map[string]bool{"Action": true, "NotAction": true, "Resource": true, "NotResource": true}

// canonicalPolicy rewrites a decoded policy document so that equal policies are DeepEqual.
func canonicalPolicy(doc any) any {
	m, ok := doc.(map[string]any)
	if !ok {
		return doc
	}
	out := map[string]any{}
	for k, v := range m {
		if k != "Statement" {
			out[k] = v
			continue
		}
		var statements []any
		if list, ok := v.([]any); ok {
			statements = list
		} else {
			statements = []any{v}
		}
		var canon []any
		for _, st := range statements {
			canon = append(canon, canonicalStatement(st))
		}
		out[k] = canon
	}
	return out
}

func canonicalStatement(st any) any {
	m, ok := st.(map[string]any)
	if !ok {
		return st
	}
	out := map[string]any{}
	for k, v := range m {
		switch {
		case policySets[k]:
			out[k] = stringSet(v)
		case k == "Principal" || k == "NotPrincipal" || k == "Condition":
			out[k] = leavesToSets(v)
		default:
			out[k] = v
		}
	}
	return out
}

// leavesToSets turns every leaf of a Principal or Condition block into a set; "*" as a whole
// Principal stays as it is.
func leavesToSets(v any) any {
	m, ok := v.(map[string]any)
	if !ok {
		return v
	}
	out := map[string]any{}
	for k, inner := range m {
		if _, nested := inner.(map[string]any); nested {
			out[k] = leavesToSets(inner)
		} else {
			out[k] = stringSet(inner)
		}
	}
	return out
}

// stringSet is a string or a list of scalars as a sorted list of their JSON texts.
func stringSet(v any) any {
	items, ok := v.([]any)
	if !ok {
		items = []any{v}
	}
	var set []string
	for _, it := range items {
		b, err := json.Marshal(it)
		if err != nil {
			return v
		}
		set = append(set, string(b))
	}
	slices.Sort(set)
	return slices.Compact(set)
}

// policyJSON is identity.PolicyJSON, or doc as it is when it is not URL-encoded JSON.
func policyJSON(doc string) string {
	if j, err := identity.PolicyJSON(doc); err == nil {
		return j
	}
	return doc
}

func compactJSON(doc string) string {
	var v any
	if err := json.Unmarshal([]byte(policyJSON(doc)), &v); err != nil {
		return doc
	}
	b, _ := json.Marshal(v)
	return string(b)
}

func isNoSuchEntity(err error) bool {
	var e *iamtypes.NoSuchEntityException
	return errors.As(err, &e)
}
