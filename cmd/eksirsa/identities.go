package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"

	"github.com/pulumi/pulumi/sdk/v3/go/auto"
	"k8s.io/client-go/kubernetes"

	"github.com/eks-irsa/eks-irsa/awsaccess"
	"github.com/eks-irsa/eks-irsa/drift"
	"github.com/eks-irsa/eks-irsa/eksauth"
	"github.com/eks-irsa/eks-irsa/identity"
	"github.com/eks-irsa/eks-irsa/k8s"
	"github.com/eks-irsa/eks-irsa/podidentity"
	"github.com/eks-irsa/eks-irsa/stack"
)

// Output formats of verify and drift.
const (
	formatText = "text"
	formatJSON = "json"
)

func checkFormat(format string) error {
	if format != formatText && format != formatJSON {
		return &exitError{code: exitConfig, err: fmt.Errorf("--format is %q, want %s or %s", format, formatText, formatJSON)}
	}
	return nil
}

// declaredIdentities reads, from the stack's outputs alone, the issuer, the OIDC provider,
// every IRSA role as declared, the accounts whose annotation the stack writes (aws-node
// first) and aws-auth as written.
func declaredIdentities(outs auto.OutputMap, stackName string) (drift.Declared, error) {
	d := drift.Declared{Stack: stackName}
	str := func(name string) (string, error) {
		s, ok := outs[name].Value.(string)
		if !ok || s == "" {
			return "", fmt.Errorf("output %s is %v, want a string (an up with this version of eksirsa writes it)", name, outs[name].Value)
		}
		return s, nil
	}
	var err error
	if d.Issuer, err = str(stack.OutOIDCIssuer); err != nil {
		return d, err
	}
	if d.ProviderARN, err = str(stack.OutOIDCProviderARN); err != nil {
		return d, err
	}
	if d.ClusterName, err = str(stack.OutClusterName); err != nil {
		return d, err
	}
	roles, ok := outs[stack.OutIRSARoles].Value.(map[string]any)
	if !ok {
		return d, fmt.Errorf("output %s is %v, want a map of namespace/name to the role as declared; an up with this version of eksirsa writes it", stack.OutIRSARoles, outs[stack.OutIRSARoles].Value)
	}
	for key, v := range roles {
		r, err := declaredRole(stack.OutIRSARoles, key, v)
		if err != nil {
			return d, err
		}
		d.Roles = append(d.Roles, r)
	}
	// A podIdentity account's role is not in irsaRoles (a both account's is): compared too, as
	// Pod Identity's. An entry without the role (written before the output carried it) is
	// left to the association's check.
	pods, _ := outs[stack.OutPodIdentity].Value.(map[string]any)
	for key, v := range pods {
		entry, _ := v.(map[string]any)
		if _, irsaToo := roles[key]; irsaToo || entry[stack.IRSATrustPolicyKey] == nil {
			continue
		}
		r, err := declaredRole(stack.OutPodIdentity, key, v)
		if err != nil {
			return d, err
		}
		r.PodIdentity = true
		d.Roles = append(d.Roles, r)
	}
	slices.SortFunc(d.Roles, func(a, b drift.Role) int { return compareAccounts(a.Account, b.Account) })

	want, err := expectations(outs)
	if err != nil {
		return d, err
	}
	d.Annotated = append(d.Annotated, identity.Account{Namespace: k8s.KubeSystemNamespace, Name: k8s.AWSNodeName, RoleARN: want.AWSNodeRoleARN})
	for account, arn := range want.ServiceAccounts {
		d.Annotated = append(d.Annotated, identity.Account{Namespace: account.Namespace, Name: account.Name, RoleARN: arn})
	}
	slices.SortFunc(d.Annotated, compareAccounts)

	if d.PodIdentity, err = declaredAssociations(outs); err != nil {
		return d, err
	}
	// Both absent from a stack older than them: API_AND_CONFIG_MAP, no entry.
	d.AuthenticationMode, _ = outs[stack.OutAuthenticationMode].Value.(string)
	d.AccessEntries = declaredAccessEntries(outs[stack.OutAccessEntries].Value)
	awsAuth, ok := outs[stack.OutAWSAuth].Value.(map[string]any)
	if !ok && d.AuthenticationMode == stack.ModeAPI {
		// A cluster in API mode has no aws-auth: the stack declares no mapping.
		return d, nil
	}
	if !ok && slices.ContainsFunc(d.AccessEntries, func(e drift.AccessEntry) bool { return e.Type == stack.EntryEC2Linux }) {
		// The nodes join by their entry and nothing else is mapped: the stack writes no
		// aws-auth (stack.Config.WritesAWSAuth).
		d.NoAWSAuth = true
		return d, nil
	}
	if !ok {
		return d, fmt.Errorf("output %s is %v, want {%s, %s}; an up with this version of eksirsa writes it", stack.OutAWSAuth, outs[stack.OutAWSAuth].Value, k8s.MapRolesKey, k8s.MapUsersKey)
	}
	d.MapRoles, _ = awsAuth[k8s.MapRolesKey].(string)
	d.MapUsers, _ = awsAuth[k8s.MapUsersKey].(string)
	return d, nil
}

// declaredRole reads one role of an output keyed namespace/name (irsaRoles, and
// podIdentityAssociations' entries) as drift compares it: stack.IRSARole*Key fields.
func declaredRole(output, key string, v any) (drift.Role, error) {
	entry, _ := v.(map[string]any)
	namespace, name, ok := strings.Cut(key, "/")
	arn, _ := entry[stack.IRSARoleARNKey].(string)
	trust, _ := entry[stack.IRSATrustPolicyKey].(string)
	if !ok || arn == "" || trust == "" {
		return drift.Role{}, fmt.Errorf("output %s[%q] is %v, want {%s, %s, ...}", output, key, v, stack.IRSARoleARNKey, stack.IRSATrustPolicyKey)
	}
	inline, _ := entry[stack.IRSAInlinePolicyKey].(string)
	var managed []string
	list, _ := entry[stack.IRSAManagedPoliciesKey].([]any)
	for _, m := range list {
		if s, ok := m.(string); ok {
			managed = append(managed, s)
		}
	}
	return drift.Role{
		Account:           identity.Account{Namespace: namespace, Name: name, RoleARN: arn},
		TrustPolicy:       trust,
		ManagedPolicyARNs: managed,
		InlinePolicy:      inline,
	}, nil
}

// declaredAssociations reads the podIdentityAssociations output (stack.PodIdentity*Key fields),
// sorted by account; none when the output is absent (no Pod Identity account).
func declaredAssociations(outs auto.OutputMap) ([]podidentity.Association, error) {
	v, ok := outs[stack.OutPodIdentity]
	if !ok || v.Value == nil {
		return nil, nil
	}
	m, ok := v.Value.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("output %s is %v, want a map of namespace/name to {%s, %s}", stack.OutPodIdentity, v.Value, stack.PodIdentityRoleARNKey, stack.PodIdentityAssociationIDKey)
	}
	var out []podidentity.Association
	for key, item := range m {
		entry, _ := item.(map[string]any)
		namespace, name, ok := strings.Cut(key, "/")
		a := podidentity.Association{Namespace: namespace, ServiceAccount: name}
		a.RoleARN, _ = entry[stack.PodIdentityRoleARNKey].(string)
		a.ID, _ = entry[stack.PodIdentityAssociationIDKey].(string)
		if !ok || a.RoleARN == "" {
			return nil, fmt.Errorf("output %s[%q] is %v, want namespace/name to {%s, %s}", stack.OutPodIdentity, key, item, stack.PodIdentityRoleARNKey, stack.PodIdentityAssociationIDKey)
		}
		out = append(out, a)
	}
	slices.SortFunc(out, func(a, b podidentity.Association) int { return strings.Compare(a.Account(), b.Account()) })
	return out, nil
}

// declaredAccessEntries reads the accessEntries output (stack.AccessEntry*Key fields).
func declaredAccessEntries(v any) []drift.AccessEntry {
	list, _ := v.([]any)
	strs := func(v any) []string {
		var out []string
		items, _ := v.([]any)
		for _, i := range items {
			if s, ok := i.(string); ok {
				out = append(out, s)
			}
		}
		return out
	}
	var out []drift.AccessEntry
	for _, item := range list {
		m, _ := item.(map[string]any)
		e := drift.AccessEntry{Groups: strs(m[stack.AccessEntryGroupsKey])}
		e.PrincipalARN, _ = m[stack.AccessEntryPrincipalKey].(string)
		e.Type, _ = m[stack.AccessEntryTypeKey].(string)
		e.Username, _ = m[stack.AccessEntryUsernameKey].(string)
		policies, _ := m[stack.AccessEntryPoliciesKey].([]any)
		for _, p := range policies {
			pm, _ := p.(map[string]any)
			ap := drift.AccessPolicy{Namespaces: strs(pm[stack.AccessPolicyNamespacesKey])}
			ap.ARN, _ = pm[stack.AccessPolicyARNKey].(string)
			ap.Scope, _ = pm[stack.AccessPolicyScopeKey].(string)
			e.Policies = append(e.Policies, ap)
		}
		out = append(out, e)
	}
	return out
}

// compareAccounts orders aws-node first, then by namespace/name.
func compareAccounts(a, b identity.Account) int {
	isNode := func(x identity.Account) bool {
		return x.Namespace == k8s.KubeSystemNamespace && x.Name == k8s.AWSNodeName
	}
	switch {
	case isNode(a) && !isNode(b):
		return -1
	case isNode(b) && !isNode(a):
		return 1
	}
	return strings.Compare(a.String(), b.String())
}

// identityChecker builds, from the stack's outputs, the checker and target of verify
// --identities: each account the stack annotates or creates, aws-node first, then each account
// with an association (the podIdentityAssociations output), proven through EKS Auth.
func identityChecker(ctx context.Context, opts *options, outs auto.OutputMap, client kubernetes.Interface) (*identity.Checker, identity.Target, error) {
	decl, err := declaredIdentities(outs, opts.stack)
	if err != nil {
		return nil, identity.Target{}, err
	}
	region, _ := outs[stack.OutRegion].Value.(string)
	cfg, err := awsConfig(ctx, opts, region)
	if err != nil {
		return nil, identity.Target{}, err
	}
	raw, err := stack.LoadStackFiles(opts.dir, opts.stack)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, identity.Target{}, err
	}
	access, err := awsaccess.Read(func(key string) string { return raw[key] })
	if err != nil {
		return nil, identity.Target{}, fmt.Errorf("stack %s: %w", opts.stack, err)
	}
	checker := &identity.Checker{Kube: client, AWS: cfg, TrustlessSTS: trustlessSTS(access.Endpoints[stsServiceID])}
	target := identity.Target{Issuer: decl.Issuer, ProviderARN: decl.ProviderARN, Accounts: decl.Annotated, Cluster: decl.ClusterName}
	for _, a := range decl.PodIdentity {
		target.PodIdentity = append(target.PodIdentity, identity.PodIdentityAccount{Namespace: a.Namespace, Name: a.ServiceAccount, RoleARN: a.RoleARN, AssociationID: a.ID})
	}
	if len(target.PodIdentity) > 0 {
		endpoint, err := access.EKSAuthEndpoint(ctx, cfg.Region)
		if err != nil {
			return nil, identity.Target{}, fmt.Errorf("stack %s: %w", opts.stack, err)
		}
		checker.EKSAuth = eksauth.New(cfg, endpoint)
		checker.TrustlessEKSAuth = trustlessEKSAuth(endpoint)
	}
	return checker, target, nil
}

// trustlessEKSAuth is trustlessSTS's decision for EKS Auth, whose AssumeRoleForPodIdentity has
// STS evaluate the role's trust with the session tags: at AWS's endpoint its answers prove the
// trust's verdict; anywhere else (an emulator, where awsaccess sends it after aws:endpoints'
// eks) they prove nothing, and the returned sentence says so.
func trustlessEKSAuth(endpoint string) string {
	if awsaccess.AWSHost(endpoint) {
		return ""
	}
	return fmt.Sprintf("EKS Auth is %s (where %s sends eks), not AWS's, which is taken not to evaluate trust policies", endpoint, awsaccess.EndpointsKey)
}

// stsServiceID is the SDK's service ID for STS, under which awsaccess keeps its endpoint.
const stsServiceID = "STS"

// trustlessSTS is eksirsa's one decision on whether the STS it calls evaluates trust
// policies, given the URL the stack's aws:endpoints gives STS ("" when none: the SDK's own,
// AWS's). AWS's STS does: its credentials for another account's token prove the trust
// policy admits that account. An STS at any other host is an emulator (moto, LocalStack),
// which hands out roles without reading their trust policies, so its answers prove
// nothing; the returned sentence says so and verify then judges on the policy alone.
func trustlessSTS(stsURL string) string {
	if stsURL == "" || awsaccess.AWSHost(stsURL) {
		return ""
	}
	return fmt.Sprintf("%s sends STS to %s, not AWS's STS, which is taken not to evaluate trust policies", awsaccess.EndpointsKey, stsURL)
}

// identityLine is one identity's line: what was proven, or which step failed and why. A Pod
// Identity proof names itself after the account, so an account on both has two lines.
func identityLine(r identity.Result) string {
	account, role := r.Account, r.RoleARN
	if r.Identity == identity.IdentityPodIdentity {
		account, role = account+" (Pod Identity)", "Pod Identity, "+role
	}
	if !r.Passed {
		return fmt.Sprintf("FAIL identity %s (%s): %s: %s", r.Account, role, r.Step, r.Failure)
	}
	if r.Identity == identity.IdentityPodIdentity {
		trust := "the trust policy admits the session tags EKS sets (" + r.TagsLine() + ")"
		if r.TrustUndecided != "" {
			trust = fmt.Sprintf("the trust policy could not be decided offline for the session tags EKS sets (%s; %s), EKS Auth admitted the token", r.TagsLine(), r.TrustUndecided)
		}
		return fmt.Sprintf("PASS identity %s: token iss/sub/aud %s and signature verified; %s; EKS Auth gave association %s a session GetCallerIdentity names %s; %s's token %s",
			account, eksauth.Audience, trust, r.AssociationID, r.AssumedRoleARN, r.Foreign, r.ForeignRefused)
	}
	trust := ""
	if r.TrustUndecided != "" {
		trust = fmt.Sprintf("; the trust policy could not be decided offline (%s), AWS's STS admitted the token", r.TrustUndecided)
	}
	return fmt.Sprintf("PASS identity %s: token iss/sub/aud and signature verified%s; STS gave %s; %s's token %s",
		account, trust, r.AssumedRoleARN, r.Foreign, r.ForeignRefused)
}

// writeJSON prints v as indented JSON.
func writeJSON(out io.Writer, v any) error {
	enc := json.NewEncoder(out)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
