package drift

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eks"
	ekstypes "github.com/aws/aws-sdk-go-v2/service/eks/types"

	"github.com/eks-irsa/eks-irsa/accessentry"
)

// Access policies drift names (EKS User Guide, "Review access policy permissions").
const (
	// ClusterAdminPolicy is what bootstrapClusterCreatorAdminPermissions associates with the
	// creator's entry: cluster-admin on every object, granted by EKS whatever RBAC says.
	ClusterAdminPolicy = "AmazonEKSClusterAdminPolicy"
	// accessPolicyARNPrefix is the policies' ARN before their name, in any partition.
	accessPolicyARNPrefix = ":eks::aws:cluster-access-policy/"
)

// creatorWindow bounds how long after the cluster's createdAt the creator's entry can have
// been made: EKS makes it "during cluster creation time" (API_CreateAccessConfigRequest,
// bootstrapClusterCreatorAdminPermissions), and a create takes at most the provider's cluster
// create timeout, 30 minutes (terraform-provider-aws internal/service/eks/cluster.go).
const creatorWindow = 30 * time.Minute

// accessEntry is one live access entry with its associated access policies.
type accessEntry struct{ accessentry.Live }

func (e accessEntry) clusterAdmin() bool {
	return slices.ContainsFunc(e.Policies, func(p ekstypes.AssociatedAccessPolicy) bool {
		return accessentry.PolicyName(aws.ToString(p.PolicyArn)) == ClusterAdminPolicy
	})
}

// isCreatorShape reports whether e looks as EKS makes the creator's entry: STANDARD, no
// Kubernetes groups, AmazonEKSClusterAdminPolicy at cluster scope and nothing else.
func (e accessEntry) isCreatorShape() bool {
	if aws.ToString(e.Type) != accessentry.TypeStandard || len(e.KubernetesGroups) > 0 || len(e.Policies) != 1 {
		return false
	}
	p := e.Policies[0]
	return accessentry.PolicyName(aws.ToString(p.PolicyArn)) == ClusterAdminPolicy && strings.Contains(aws.ToString(p.PolicyArn), accessPolicyARNPrefix) &&
		p.AccessScope != nil && p.AccessScope.Type == ekstypes.AccessScopeTypeCluster
}

// accessEntries reads the cluster's authentication mode and access entries and compares them
// with what the stack declares: its mode, and its entries (the nodes' EC2_LINUX entry in API
// mode, the declared ones), each present with its type, username, groups and policies. The one
// EKS makes for the stack is the creator's, from bootstrapClusterCreatorAdminPermissions; it
// carries no mark, so it is recognised by shape and time: the earliest entry shaped as EKS makes
// it (see isCreatorShape), created within creatorWindow of the cluster. Every other entry is a
// finding. (Self-managed nodes get no entry from EKS, which makes entries itself only for
// managed node groups and Fargate profiles: API_CreateAccessEntry, "type".)
func (d *Detector) accessEntries(ctx context.Context, c *eks.Client, decl Declared, repair string) ([]Line, error) {
	got, err := c.DescribeCluster(ctx, &eks.DescribeClusterInput{Name: aws.String(decl.ClusterName)})
	if err != nil {
		return nil, fmt.Errorf("drift: describe cluster %s: %w", decl.ClusterName, err)
	}
	var mode ekstypes.AuthenticationMode
	bootstrap := false
	if ac := got.Cluster.AccessConfig; ac != nil {
		mode, bootstrap = ac.AuthenticationMode, aws.ToBool(ac.BootstrapClusterCreatorAdminPermissions)
	}
	want := ekstypes.AuthenticationMode(decl.AuthenticationMode)
	if want == "" {
		want = ekstypes.AuthenticationModeApiAndConfigMap
	}
	subject := "cluster " + decl.ClusterName
	var lines []Line
	switch {
	case mode == want:
		lines = append(lines, matched(CheckAccessConfig, subject, "authentication mode %s, as the stack's", mode))
	case mode == ekstypes.AuthenticationModeApi:
		lines = append(lines, found(CheckAccessConfig, subject,
			"the mode moves one way only (CONFIG_MAP → API_AND_CONFIG_MAP → API): give the node role an EC2_LINUX access entry (aws eks create-access-entry --cluster-name "+decl.ClusterName+" --principal-arn <node role> --type EC2_LINUX), or replace the cluster",
			"authentication mode is %s, the stack's is %s: EKS ignores aws-auth, so its node mapping no longer applies and new nodes cannot join", mode, want))
	case mode == ekstypes.AuthenticationModeApiAndConfigMap:
		lines = append(lines, found(CheckAccessConfig, subject, repair,
			"authentication mode is %s, the stack's is %s: aws-auth still applies", mode, want))
	default:
		// CONFIG_MAP (or none): no access entry applies, and the API refuses to list them.
		return []Line{found(CheckAccessConfig, subject, repair,
			"authentication mode is %q, the stack's is %s", mode, want)}, nil
	}

	var entries []accessEntry
	p := eks.NewListAccessEntriesPaginator(c, &eks.ListAccessEntriesInput{ClusterName: aws.String(decl.ClusterName)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("drift: list access entries of cluster %s: %w", decl.ClusterName, err)
		}
		for _, principal := range page.AccessEntries {
			e, err := accessentry.Read(ctx, c, "drift", decl.ClusterName, principal)
			if err != nil {
				return nil, err
			}
			if e != nil {
				entries = append(entries, accessEntry{*e})
			}
		}
	}

	creator := -1
	if bootstrap && got.Cluster.CreatedAt != nil {
		for i, e := range entries {
			if !e.isCreatorShape() || e.CreatedAt == nil || e.CreatedAt.Sub(*got.Cluster.CreatedAt) > creatorWindow {
				continue
			}
			if creator < 0 || e.CreatedAt.Before(*entries[creator].CreatedAt) {
				creator = i
			}
		}
	}
	declared := map[string]AccessEntry{}
	for _, e := range decl.AccessEntries {
		declared[e.PrincipalARN] = e
	}
	seen := map[string]bool{}
	for i, e := range entries {
		principal := aws.ToString(e.PrincipalArn)
		if want, ok := declared[principal]; ok {
			seen[principal] = true
			if diff := want.Differs(e.Live); diff != "" {
				lines = append(lines, found(CheckAccessEntry, principal, repair, "the stack's access entry differs: %s (live: %s)", diff, e))
			} else {
				lines = append(lines, matched(CheckAccessEntry, principal, "as the stack declares it: %s", e))
			}
			continue
		}
		if i == creator {
			lines = append(lines, matched(CheckAccessEntry, principal,
				"the cluster creator's entry, which EKS made at CreateCluster (bootstrapClusterCreatorAdminPermissions): %s", e))
			continue
		}
		remove := fmt.Sprintf("aws eks delete-access-entry --cluster-name %s --principal-arn %s (it removes its access policies too); or, to keep it, declare it in the stack's accessEntries: an entry the stack does not declare is reported by every drift", decl.ClusterName, principal)
		detail := "an access entry the stack does not declare: " + e.String()
		if e.clusterAdmin() {
			detail = fmt.Sprintf("%s is associated with %s: EKS authorizes it as cluster-admin on every object, whatever aws-auth and RBAC say, the most dangerous drift there is; ", principal, ClusterAdminPolicy) + detail
		}
		lines = append(lines, found(CheckAccessEntry, principal, remove, "%s", detail))
	}
	for _, e := range decl.AccessEntries {
		if !seen[e.PrincipalARN] {
			lines = append(lines, found(CheckAccessEntry, e.PrincipalARN, repair, "the stack's %s access entry is gone, with its access policies", e.Type))
		}
	}
	if len(entries) == 0 && len(decl.AccessEntries) == 0 {
		lines = append(lines, matched(CheckAccessEntry, subject, "no access entries"))
	}
	return lines, nil
}
