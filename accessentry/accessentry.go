// Package accessentry owns what an EKS access entry of the stack is, as declared and as live:
// reading one with its access policies from EKS, and saying how it differs from the
// declaration. drift (every entry of the cluster) and verify (the stack's own, in API mode)
// both judge entries by this one rule.
package accessentry

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eks"
	ekstypes "github.com/aws/aws-sdk-go-v2/service/eks/types"
)

// EKS's access entry types the stack makes (API_CreateAccessEntry, "type").
const (
	TypeStandard = "STANDARD"
	TypeEC2Linux = "EC2_LINUX"
	// EC2LinuxUsername is the username EKS gives an EC2_LINUX entry, which may not set its own
	// (API_CreateAccessEntry, "username"; EKS User Guide, "Create access entries"): the
	// node's private DNS name, in the group system:nodes that EKS grants node permissions to.
	EC2LinuxUsername = "system:node:{{EC2PrivateDNSName}}"
)

// Entry is one access entry as the stack declares it. An empty Username is EKS's default,
// which is not compared.
type Entry struct {
	PrincipalARN string
	Type         string
	Username     string
	Groups       []string
	Policies     []Policy
}

// Policy is one association: Scope "cluster" or "namespace" with Namespaces.
type Policy struct {
	ARN        string
	Scope      string
	Namespaces []string
}

// Live is one access entry as EKS has it, with its associated access policies.
type Live struct {
	ekstypes.AccessEntry
	Policies []ekstypes.AssociatedAccessPolicy
}

// PolicyName is an access policy ARN's last segment (AmazonEKSViewPolicy).
func PolicyName(arn string) string { return arn[strings.LastIndex(arn, "/")+1:] }

func (e Live) String() string {
	var ps []string
	for _, p := range e.Policies {
		scope := "cluster"
		if p.AccessScope != nil && p.AccessScope.Type == ekstypes.AccessScopeTypeNamespace {
			scope = "namespaces " + strings.Join(p.AccessScope.Namespaces, ",")
		}
		ps = append(ps, fmt.Sprintf("%s (%s)", PolicyName(aws.ToString(p.PolicyArn)), scope))
	}
	policies := "no access policies"
	if len(ps) > 0 {
		policies = "access policies " + strings.Join(ps, ", ")
	}
	return fmt.Sprintf("type %s, username %s, groups [%s], %s", aws.ToString(e.Type), aws.ToString(e.Username), strings.Join(e.KubernetesGroups, ","), policies)
}

// Differs says how the live entry differs from the declared one, or "": type, groups (a
// set), the username when one is declared, and the policies with their scopes.
func (want Entry) Differs(live Live) string {
	var diffs []string
	if aws.ToString(live.Type) != want.Type {
		diffs = append(diffs, fmt.Sprintf("type %s, declared %s", aws.ToString(live.Type), want.Type))
	}
	if want.Username != "" && aws.ToString(live.Username) != want.Username {
		diffs = append(diffs, fmt.Sprintf("username %s, declared %s", aws.ToString(live.Username), want.Username))
	}
	if g, w := slices.Sorted(slices.Values(live.KubernetesGroups)), slices.Sorted(slices.Values(want.Groups)); !slices.Equal(g, w) {
		diffs = append(diffs, fmt.Sprintf("groups [%s], declared [%s]", strings.Join(g, ","), strings.Join(w, ",")))
	}
	var livePolicies, wantPolicies []string
	for _, p := range live.Policies {
		scope, ns := "cluster", ""
		if p.AccessScope != nil {
			scope, ns = string(p.AccessScope.Type), strings.Join(slices.Sorted(slices.Values(p.AccessScope.Namespaces)), ",")
		}
		livePolicies = append(livePolicies, fmt.Sprintf("%s (%s %s)", PolicyName(aws.ToString(p.PolicyArn)), scope, ns))
	}
	for _, p := range want.Policies {
		wantPolicies = append(wantPolicies, fmt.Sprintf("%s (%s %s)", PolicyName(p.ARN), p.Scope, strings.Join(slices.Sorted(slices.Values(p.Namespaces)), ",")))
	}
	slices.Sort(livePolicies)
	slices.Sort(wantPolicies)
	if !slices.Equal(livePolicies, wantPolicies) {
		diffs = append(diffs, fmt.Sprintf("policies %v, declared %v", livePolicies, wantPolicies))
	}
	return strings.Join(diffs, "; ")
}

// Read reads one entry and its access policies; nil when there is none (or it went away
// between a list and the read). caller names who reads, for the error ("drift", "verify").
func Read(ctx context.Context, c *eks.Client, caller, cluster, principal string) (*Live, error) {
	got, err := c.DescribeAccessEntry(ctx, &eks.DescribeAccessEntryInput{ClusterName: aws.String(cluster), PrincipalArn: aws.String(principal)})
	if NotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("%s: describe access entry %s of cluster %s: %w", caller, principal, cluster, err)
	}
	e := &Live{AccessEntry: *got.AccessEntry}
	p := eks.NewListAssociatedAccessPoliciesPaginator(c, &eks.ListAssociatedAccessPoliciesInput{ClusterName: aws.String(cluster), PrincipalArn: aws.String(principal)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if NotFound(err) {
			return nil, nil
		}
		if err != nil {
			return nil, fmt.Errorf("%s: list access policies of access entry %s of cluster %s: %w", caller, principal, cluster, err)
		}
		e.Policies = append(e.Policies, page.AssociatedAccessPolicies...)
	}
	return e, nil
}

// NotFound reports whether err is EKS's ResourceNotFoundException.
func NotFound(err error) bool {
	var e *ekstypes.ResourceNotFoundException
	return errors.As(err, &e)
}
