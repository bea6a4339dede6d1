package awsemu

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eks"
	ekstypes "github.com/aws/aws-sdk-go-v2/service/eks/types"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
)

// EKS access entries and access-policy associations, as terraform-provider-aws
// internal/service/eks/access_entry.go and access_policy_association.go make them, against
// moto's access-entry API (integration/moto/eks_access_entries.py).

func init() {
	register(&Kind{
		Token:  "aws:eks/accessEntry:AccessEntry",
		Schema: accessEntrySchema,
		Create: createAccessEntry,
		Read:   readAccessEntry,
		Update: updateAccessEntry,
		Delete: deleteAccessEntry,
	})
	register(&Kind{
		Token:  "aws:eks/accessPolicyAssociation:AccessPolicyAssociation",
		Schema: accessPolicyAssociationSchema,
		// access_policy_association.go has no Update: every argument is ForceNew.
		Create: createAccessPolicyAssociation,
		Read:   readAccessPolicyAssociation,
		Delete: deleteAccessPolicyAssociation,
	})
}

// The resources' ids: access_entry.go accessEntryCreateResourceID ("<cluster>:<principal>"),
// access_policy_association.go accessPolicyAssociationCreateResourceID
// ("<cluster>#<principal>#<policy>").
const (
	accessEntryIDSeparator       = ":"
	accessAssociationIDSeparator = "#"
)

// idParts splits a resource id made of len(names) parts joined by sep (the first parts
// cannot hold sep; the last may), as terraform-provider-aws's ...ParseResourceID functions
// do, refusing an id with an empty part in their words.
func idParts(id, sep string, names ...string) ([]string, error) {
	parts := strings.SplitN(id, sep, len(names))
	if len(parts) != len(names) || slices.Contains(parts, "") {
		return nil, fmt.Errorf("unexpected format for ID (%s), expected %s", id, strings.Join(names, sep))
	}
	return parts, nil
}

func parseAccessEntryID(id string) (cluster, principal string, err error) {
	p, err := idParts(id, accessEntryIDSeparator, "cluster-name", "principal-arn")
	if err != nil {
		return "", "", err
	}
	return p[0], p[1], nil
}

func createAccessEntry(ctx context.Context, c *Clients, news resource.PropertyMap) (string, resource.PropertyMap, error) {
	cluster, principal := getStr(news, "clusterName"), getStr(news, "principalArn")
	id := cluster + accessEntryIDSeparator + principal
	in := &eks.CreateAccessEntryInput{
		ClusterName:      aws.String(cluster),
		PrincipalArn:     aws.String(principal),
		Type:             getStrPtr(news, "type"),
		KubernetesGroups: getStrs(news, "kubernetesGroups"),
		Username:         getStrPtr(news, "userName"),
	}
	if tags := getStrMap(news, "tags"); len(tags) > 0 {
		in.Tags = tags
	}
	if _, err := c.EKS.CreateAccessEntry(ctx, in); err != nil {
		return "", nil, fmt.Errorf("creating EKS Access Entry (%s): %w", id, err)
	}
	outs, err := readAccessEntry(ctx, c, id, news)
	return id, outs, err
}

func readAccessEntry(ctx context.Context, c *Clients, id string, olds resource.PropertyMap) (resource.PropertyMap, error) {
	cluster, principal, err := parseAccessEntryID(id)
	if err != nil {
		return nil, err
	}
	out, err := c.EKS.DescribeAccessEntry(ctx, &eks.DescribeAccessEntryInput{ClusterName: aws.String(cluster), PrincipalArn: aws.String(principal)})
	if isEKSNotFound(err) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("reading EKS Access Entry (%s): %w", id, err)
	}
	e := out.AccessEntry
	groups := nonNil(e.KubernetesGroups)
	// kubernetes_groups is a set: keep the configured order when equal.
	if cfg := getStrs(olds, "kubernetesGroups"); sameSet(cfg, groups) {
		groups = nonNil(cfg)
	}
	outs := outMap(map[string]any{
		"accessEntryArn":   aws.ToString(e.AccessEntryArn),
		"clusterName":      aws.ToString(e.ClusterName),
		"createdAt":        aws.ToTime(e.CreatedAt).Format(time.RFC3339),
		"kubernetesGroups": groups,
		"modifiedAt":       aws.ToTime(e.ModifiedAt).Format(time.RFC3339),
		"principalArn":     aws.ToString(e.PrincipalArn),
		"type":             aws.ToString(e.Type),
		"userName":         aws.ToString(e.Username),
	})
	tagsOutputs(outs, e.Tags)
	return withInputs(outs, olds), nil
}

// updateAccessEntry: access_entry.go resourceAccessEntryUpdate sends the groups and the
// username together whenever anything but the tags changed; tags through the tagging API.
func updateAccessEntry(ctx context.Context, c *Clients, id string, olds, news resource.PropertyMap) (resource.PropertyMap, error) {
	cluster, principal, err := parseAccessEntryID(id)
	if err != nil {
		return nil, err
	}
	groups, username := getStrs(news, "kubernetesGroups"), getStr(news, "userName")
	if _, set := news["userName"]; !set || news["userName"].IsNull() {
		username = getStr(olds, "userName") // Optional+Computed: the state's value stands
	}
	if !sameSet(groups, getStrs(olds, "kubernetesGroups")) || username != getStr(olds, "userName") {
		if _, err := c.EKS.UpdateAccessEntry(ctx, &eks.UpdateAccessEntryInput{ClusterName: aws.String(cluster), PrincipalArn: aws.String(principal),
			KubernetesGroups: nonNil(groups), Username: aws.String(username)}); err != nil {
			return nil, fmt.Errorf("updating EKS Access Entry (%s): %w", id, err)
		}
	}
	if err := updateEKSTags(ctx, c, "EKS Access Entry ("+id+")", stateARN(olds, "accessEntryArn"), olds, news); err != nil {
		return nil, err
	}
	return readAccessEntry(ctx, c, id, news)
}

func deleteAccessEntry(ctx context.Context, c *Clients, id string, _ resource.PropertyMap) error {
	cluster, principal, err := parseAccessEntryID(id)
	if err != nil {
		return err
	}
	_, err = c.EKS.DeleteAccessEntry(ctx, &eks.DeleteAccessEntryInput{ClusterName: aws.String(cluster), PrincipalArn: aws.String(principal)})
	if isEKSNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("deleting EKS Access Entry (%s): %w", id, err)
	}
	return nil
}

func parseAccessAssociationID(id string) (cluster, principal, policy string, err error) {
	p, err := idParts(id, accessAssociationIDSeparator, "cluster-name", "principal-arn", "policy-arn")
	if err != nil {
		return "", "", "", err
	}
	return p[0], p[1], p[2], nil
}

func createAccessPolicyAssociation(ctx context.Context, c *Clients, news resource.PropertyMap) (string, resource.PropertyMap, error) {
	cluster, principal, policy := getStr(news, "clusterName"), getStr(news, "principalArn"), getStr(news, "policyArn")
	id := strings.Join([]string{cluster, principal, policy}, accessAssociationIDSeparator)
	scope := getObj(news, "accessScope")
	if _, err := c.EKS.AssociateAccessPolicy(ctx, &eks.AssociateAccessPolicyInput{
		ClusterName: aws.String(cluster), PrincipalArn: aws.String(principal), PolicyArn: aws.String(policy),
		AccessScope: &ekstypes.AccessScope{Type: ekstypes.AccessScopeType(getStr(scope, "type")), Namespaces: getStrs(scope, "namespaces")},
	}); err != nil {
		return "", nil, fmt.Errorf("creating EKS Access Policy Association (%s): %w", id, err)
	}
	outs, err := readAccessPolicyAssociation(ctx, c, id, news)
	return id, outs, err
}

// readAccessPolicyAssociation finds the policy among the principal's associations
// (findAccessPolicyAssociationByThreePartKey); a gone entry or policy is not found.
func readAccessPolicyAssociation(ctx context.Context, c *Clients, id string, olds resource.PropertyMap) (resource.PropertyMap, error) {
	cluster, principal, policy, err := parseAccessAssociationID(id)
	if err != nil {
		return nil, err
	}
	pages := eks.NewListAssociatedAccessPoliciesPaginator(c.EKS, &eks.ListAssociatedAccessPoliciesInput{ClusterName: aws.String(cluster), PrincipalArn: aws.String(principal)})
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if isEKSNotFound(err) {
			return nil, ErrNotFound
		}
		if err != nil {
			return nil, fmt.Errorf("reading EKS Access Policy Association (%s): %w", id, err)
		}
		for _, p := range page.AssociatedAccessPolicies {
			if aws.ToString(p.PolicyArn) != policy {
				continue
			}
			scope := map[string]any{}
			if s := p.AccessScope; s != nil {
				scope["type"] = string(s.Type)
				// namespaces is a set; an empty one is no value (Terraform's null and empty
				// sets are equal), so a cluster scope reads back as configured.
				if ns := s.Namespaces; len(ns) > 0 {
					if cfg := getStrs(getObj(olds, "accessScope"), "namespaces"); sameSet(cfg, ns) {
						ns = cfg
					}
					scope["namespaces"] = ns
				}
			}
			outs := outMap(map[string]any{
				"accessScope":  scope,
				"associatedAt": aws.ToTime(p.AssociatedAt).String(), // the upstream Read's format
				"clusterName":  cluster,
				"modifiedAt":   aws.ToTime(p.ModifiedAt).String(),
				"policyArn":    policy,
				"principalArn": principal,
			})
			return withInputs(outs, olds), nil
		}
	}
	return nil, ErrNotFound
}

func deleteAccessPolicyAssociation(ctx context.Context, c *Clients, id string, _ resource.PropertyMap) error {
	cluster, principal, policy, err := parseAccessAssociationID(id)
	if err != nil {
		return err
	}
	_, err = c.EKS.DisassociateAccessPolicy(ctx, &eks.DisassociateAccessPolicyInput{ClusterName: aws.String(cluster), PrincipalArn: aws.String(principal), PolicyArn: aws.String(policy)})
	if isEKSNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("deleting EKS Access Policy Association (%s): %w", id, err)
	}
	return nil
}
