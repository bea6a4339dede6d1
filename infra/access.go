package infra

import (
	"errors"
	"fmt"
	"strings"

	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/eks"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// AccessType is the Access component's type token.
const AccessType = "eksirsa:infra:Access"

// StandardEntryType is the type of an entry for a person or a workload (API_CreateAccessEntry).
const StandardEntryType = "STANDARD"

// NodeEntryType is the node role's access entry type: EKS grants the role
// system:node:{{EC2PrivateDNSName}} in system:nodes itself (API_CreateAccessEntry, "type").
const NodeEntryType = "EC2_LINUX"

// Access scope types (API_AccessScope).
const (
	ScopeCluster   = "cluster"
	ScopeNamespace = "namespace"
)

// AccessEntry is one declared access entry and its access-policy associations.
type AccessEntry struct {
	PrincipalARN     string
	Type             string // STANDARD or a node type
	Username         string // empty: EKS's default
	KubernetesGroups []string
	// PolicyARNs are associated at cluster scope when Namespaces[arn] is empty.
	Policies []AccessPolicy
	// After are what the entry is created after: the ClusterRoleBinding of a group it carries
	// (k8s.AdminBridge), so the group grants from the entry's first moment.
	After []pulumi.Resource
}

// AccessPolicy is one association: cluster scope when Namespaces is empty.
type AccessPolicy struct {
	ARN        string
	Namespaces []string
}

// AccessArgs configure the cluster's access entries.
type AccessArgs struct {
	// ClusterName is the cluster's name output, so every entry waits for the cluster.
	ClusterName pulumi.StringInput
	// Cluster is the cluster each entry lives in: an entry dies with it, and a cluster replaced
	// under its name (a new OIDC issuer) gets every entry again (as k8s.ClusterInstance).
	Cluster       pulumi.Resource
	ClusterIssuer pulumi.StringInput
	// NodeRoleARN and NodeRoleUniqueID, when set, get the nodes' EC2_LINUX entry.
	NodeRoleARN      pulumi.StringInput
	NodeRoleUniqueID pulumi.StringInput
	Entries          []AccessEntry
	Tags             map[string]string
}

// Access is the access entries and policy associations the stack owns.
type Access struct {
	pulumi.ResourceState

	// NodeEntry is the node role's entry (nil when NodeRoleARN is unset): what nodes wait for.
	NodeEntry *eks.AccessEntry
	// Entries are the declared entries in config order, and Associations their policies.
	Entries      []*eks.AccessEntry
	Associations []*eks.AccessPolicyAssociation
}

func (a *AccessArgs) validate() error {
	var errs []error
	if a.ClusterName == nil || a.Cluster == nil || a.ClusterIssuer == nil {
		errs = append(errs, errors.New("ClusterName, Cluster and ClusterIssuer are required"))
	}
	if (a.NodeRoleARN == nil) != (a.NodeRoleUniqueID == nil) {
		errs = append(errs, errors.New("NodeRoleARN and NodeRoleUniqueID go together"))
	}
	for i, e := range a.Entries {
		if e.PrincipalARN == "" || e.Type == "" {
			errs = append(errs, fmt.Errorf("Entries[%d]: PrincipalARN and Type are required", i))
		}
	}
	return errors.Join(errs...)
}

// NewAccess creates the entries. Each entry and association is replaced when what EKS bound it
// to is replaced, by a ReplacementTrigger on:
//   - the cluster's OIDC issuer: a cluster replaced under its name keeps the name the entries
//     carry, but starts with none;
//   - for the node entry, the node role's unique id (AROA...): EKS binds an entry to the role's
//     unique id, so a role deleted and created again under the same ARN no longer matches the
//     entry (EKS User Guide, "Create access entries": re-create the entry when you re-create
//     the role). Its ARN, the entry's only input about it, would not change.
//
// Both delete before they create: a second CreateAccessEntry for a principal fails with
// ResourceInUseException (API_CreateAccessEntry), and AssociateAccessPolicy of a policy already
// associated updates that association, which the old one's delete would then remove.
func NewAccess(ctx *pulumi.Context, name string, args *AccessArgs, opts ...pulumi.ResourceOption) (*Access, error) {
	if args == nil {
		return nil, fmt.Errorf("access %s: args are required", name)
	}
	if err := args.validate(); err != nil {
		return nil, fmt.Errorf("access %s: %w", name, err)
	}
	a := &Access{}
	if err := ctx.RegisterComponentResource(AccessType, name, a, opts...); err != nil {
		return nil, err
	}
	bound := func(trigger pulumi.StringInput) []pulumi.ResourceOption {
		return []pulumi.ResourceOption{pulumi.Parent(a), pulumi.DeleteBeforeReplace(true),
			pulumi.ReplacementTrigger(trigger), pulumi.DeletedWith(args.Cluster)}
	}
	if args.NodeRoleARN != nil {
		trigger := pulumi.Sprintf("%s %s", args.ClusterIssuer, args.NodeRoleUniqueID)
		entry, err := eks.NewAccessEntry(ctx, name+"-nodes", &eks.AccessEntryArgs{
			ClusterName:  args.ClusterName,
			PrincipalArn: args.NodeRoleARN,
			Type:         pulumi.String(NodeEntryType),
			Tags:         withTags(args.Tags),
		}, bound(trigger)...)
		if err != nil {
			return nil, fmt.Errorf("access %s: create the nodes' access entry: %w", name, err)
		}
		a.NodeEntry = entry
	}
	for _, e := range args.Entries {
		entryName := AccessEntryName(name, e.PrincipalARN)
		entryArgs := &eks.AccessEntryArgs{
			ClusterName:  args.ClusterName,
			PrincipalArn: pulumi.String(e.PrincipalARN),
			Type:         pulumi.String(e.Type),
			Tags:         withTags(args.Tags),
		}
		if e.Username != "" {
			entryArgs.UserName = pulumi.String(e.Username)
		}
		if len(e.KubernetesGroups) > 0 || e.Type == StandardEntryType {
			// Always given for a STANDARD entry, [] when it has none: kubernetes_groups is
			// Optional+Computed (terraform-provider-aws access_entry.go), so left out it keeps
			// the state's groups and a group removed from the config (the admin bridge's, the
			// migration's last step for it) would stay on the entry; an empty list clears it
			// (terraform-aws-eks#2897: "We use empty list to clear values"). Node types get
			// their groups from EKS and take none.
			entryArgs.KubernetesGroups = pulumi.ToStringArray(e.KubernetesGroups)
		}
		opts := bound(args.ClusterIssuer)
		if len(e.After) > 0 {
			opts = append(opts, pulumi.DependsOn(e.After))
		}
		entry, err := eks.NewAccessEntry(ctx, entryName, entryArgs, opts...)
		if err != nil {
			return nil, fmt.Errorf("access %s: create access entry for %s: %w", name, e.PrincipalARN, err)
		}
		a.Entries = append(a.Entries, entry)
		for _, p := range e.Policies {
			scope := eks.AccessPolicyAssociationAccessScopeArgs{Type: pulumi.String(ScopeCluster)}
			if len(p.Namespaces) > 0 {
				scope = eks.AccessPolicyAssociationAccessScopeArgs{Type: pulumi.String(ScopeNamespace), Namespaces: pulumi.ToStringArray(p.Namespaces)}
			}
			policy := p.ARN[strings.LastIndex(p.ARN, "/")+1:]
			// The entry's principalArn output: the association waits for the entry, whose
			// principal EKS must know first ("The specified principalArn could not be found").
			assoc, err := eks.NewAccessPolicyAssociation(ctx, entryName+"-"+policy, &eks.AccessPolicyAssociationArgs{
				ClusterName:  args.ClusterName,
				PrincipalArn: entry.PrincipalArn,
				PolicyArn:    pulumi.String(p.ARN),
				AccessScope:  scope,
			}, bound(args.ClusterIssuer)...)
			if err != nil {
				return nil, fmt.Errorf("access %s: associate %s with %s: %w", name, policy, e.PrincipalARN, err)
			}
			a.Associations = append(a.Associations, assoc)
		}
	}
	if err := ctx.RegisterResourceOutputs(a, pulumi.Map{}); err != nil {
		return nil, fmt.Errorf("access %s: register outputs: %w", name, err)
	}
	return a, nil
}

// AccessEntryName is the resource name of the entry of principalARN in the Access component
// named name: "<name>-<the ARN without arn: and ::>", e.g. demo-access-aws:iam:123456789012:role/dev
// ("::" separates a URN's parts). It names the principal, as EKS keys an entry, not its place in
// the config: named by index, removing one entry renamed every entry after it, and each rename is
// a delete-first replacement, a moment in which that principal has no access.
func AccessEntryName(name, principalARN string) string {
	return name + "-" + strings.ReplaceAll(strings.TrimPrefix(principalARN, "arn:"), "::", ":")
}

// Resources are the entries and associations: what nodes (the node entry) and the Kubernetes
// objects applied by the stack's identity wait for.
func (a *Access) Resources() []pulumi.Resource {
	var out []pulumi.Resource
	if a.NodeEntry != nil {
		out = append(out, a.NodeEntry)
	}
	for _, e := range a.Entries {
		out = append(out, e)
	}
	for _, p := range a.Associations {
		out = append(out, p)
	}
	return out
}
