package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/pulumi/pulumi/sdk/v3/go/auto"
	"k8s.io/client-go/kubernetes"

	"github.com/eks-irsa/eks-irsa/drift"
	"github.com/eks-irsa/eks-irsa/identity"
	"github.com/eks-irsa/eks-irsa/k8s"
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
	roles, ok := outs[stack.OutIRSARoles].Value.(map[string]any)
	if !ok {
		return d, fmt.Errorf("output %s is %v, want a map of namespace/name to the role as declared; an up with this version of eksirsa writes it", stack.OutIRSARoles, outs[stack.OutIRSARoles].Value)
	}
	for key, v := range roles {
		entry, _ := v.(map[string]any)
		namespace, name, ok := strings.Cut(key, "/")
		arn, _ := entry[stack.IRSARoleARNKey].(string)
		trust, _ := entry[stack.IRSATrustPolicyKey].(string)
		if !ok || arn == "" || trust == "" {
			return d, fmt.Errorf("output %s[%q] is %v, want {%s, %s, ...}", stack.OutIRSARoles, key, v, stack.IRSARoleARNKey, stack.IRSATrustPolicyKey)
		}
		inline, _ := entry[stack.IRSAInlinePolicyKey].(string)
		var managed []string
		list, _ := entry[stack.IRSAManagedPoliciesKey].([]any)
		for _, m := range list {
			if s, ok := m.(string); ok {
				managed = append(managed, s)
			}
		}
		d.Roles = append(d.Roles, drift.Role{
			Account:           identity.Account{Namespace: namespace, Name: name, RoleARN: arn},
			TrustPolicy:       trust,
			ManagedPolicyARNs: managed,
			InlinePolicy:      inline,
		})
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

	awsAuth, ok := outs[stack.OutAWSAuth].Value.(map[string]any)
	if !ok {
		return d, fmt.Errorf("output %s is %v, want {%s, %s}; an up with this version of eksirsa writes it", stack.OutAWSAuth, outs[stack.OutAWSAuth].Value, k8s.MapRolesKey, k8s.MapUsersKey)
	}
	d.MapRoles, _ = awsAuth[k8s.MapRolesKey].(string)
	d.MapUsers, _ = awsAuth[k8s.MapUsersKey].(string)
	return d, nil
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
// --identities: each account the stack annotates or creates, aws-node first.
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
	return &identity.Checker{Kube: client, AWS: cfg}, identity.Target{Issuer: decl.Issuer, ProviderARN: decl.ProviderARN, Accounts: decl.Annotated}, nil
}

// identityLine is one identity's line: what was proven, or which step failed and why.
func identityLine(r identity.Result) string {
	if !r.Passed {
		return fmt.Sprintf("FAIL identity %s (%s): %s: %s", r.Account, r.RoleARN, r.Step, r.Failure)
	}
	return fmt.Sprintf("PASS identity %s: token iss/sub/aud and signature verified; STS gave %s; %s's token %s",
		r.Account, r.AssumedRoleARN, r.Foreign, r.ForeignRefused)
}

// writeJSON prints v as indented JSON.
func writeJSON(out io.Writer, v any) error {
	enc := json.NewEncoder(out)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
