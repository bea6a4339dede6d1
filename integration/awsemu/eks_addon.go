package awsemu

import (
	"context"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eks"
	ekstypes "github.com/aws/aws-sdk-go-v2/service/eks/types"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
)

// EKS add-ons, as terraform-provider-aws internal/service/eks/addon.go makes them, against
// moto's add-on API (integration/moto/eks_addons.py).

func init() {
	register(&Kind{
		Token:  "aws:eks/addon:Addon",
		Schema: addonSchema,
		Create: createAddon,
		Read:   readAddon,
		Update: updateAddon,
		Delete: deleteAddon,
	})
}

// addon.go's default timeouts: create and update 20 minutes, delete 40.
const (
	addonCreateTimeout = 20 * time.Minute
	addonDeleteTimeout = 40 * time.Minute
)

// The id is AddonCreateResourceID's "<cluster>:<addon>" (also the import id).
func parseAddonID(id string) (cluster, addon string, err error) {
	p, err := idParts(id, ":", "cluster-name", "addon-name")
	if err != nil {
		return "", "", err
	}
	return p[0], p[1], nil
}

func createAddon(ctx context.Context, c *Clients, news resource.PropertyMap) (string, resource.PropertyMap, error) {
	cluster, name := getStr(news, "clusterName"), getStr(news, "addonName")
	id := cluster + ":" + name
	in := &eks.CreateAddonInput{
		ClusterName:           aws.String(cluster),
		AddonName:             aws.String(name),
		AddonVersion:          getStrPtr(news, "addonVersion"),
		ConfigurationValues:   getStrPtr(news, "configurationValues"),
		ServiceAccountRoleArn: getStrPtr(news, "serviceAccountRoleArn"),
		ResolveConflicts:      ekstypes.ResolveConflicts(getStr(news, "resolveConflictsOnCreate")),
	}
	if tags := getStrMap(news, "tags"); len(tags) > 0 {
		in.Tags = tags
	}
	if _, err := c.EKS.CreateAddon(ctx, in); err != nil {
		return "", nil, fmt.Errorf("creating EKS Add-On (%s): %w", id, err)
	}
	// waitAddonCreated: Pending CREATING and DEGRADED, Target ACTIVE.
	if err := waitFor(ctx, "EKS Add-On ("+id+") create", addonCreateTimeout, func() (bool, error) {
		out, err := c.EKS.DescribeAddon(ctx, &eks.DescribeAddonInput{ClusterName: aws.String(cluster), AddonName: aws.String(name)})
		if err != nil {
			return false, err
		}
		switch s := out.Addon.Status; s {
		case ekstypes.AddonStatusActive:
			return true, nil
		case ekstypes.AddonStatusCreating, ekstypes.AddonStatusDegraded:
			return false, nil
		default:
			return false, fmt.Errorf("unexpected state '%s', wanted target 'ACTIVE'", s)
		}
	}); err != nil {
		return "", nil, fmt.Errorf("waiting for EKS Add-On (%s) create: %w", id, err)
	}
	outs, err := readAddon(ctx, c, id, news)
	return id, outs, err
}

func readAddon(ctx context.Context, c *Clients, id string, olds resource.PropertyMap) (resource.PropertyMap, error) {
	cluster, name, err := parseAddonID(id)
	if err != nil {
		return nil, err
	}
	out, err := c.EKS.DescribeAddon(ctx, &eks.DescribeAddonInput{ClusterName: aws.String(cluster), AddonName: aws.String(name)})
	if isEKSNotFound(err) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("reading EKS Add-On (%s): %w", id, err)
	}
	a := out.Addon
	outs := outMap(map[string]any{
		"addonName":             aws.ToString(a.AddonName),
		"addonVersion":          aws.ToString(a.AddonVersion),
		"arn":                   aws.ToString(a.AddonArn),
		"clusterName":           aws.ToString(a.ClusterName),
		"configurationValues":   aws.ToString(a.ConfigurationValues),
		"createdAt":             aws.ToTime(a.CreatedAt).Format(time.RFC3339),
		"modifiedAt":            aws.ToTime(a.ModifiedAt).Format(time.RFC3339),
		"serviceAccountRoleArn": aws.ToString(a.ServiceAccountRoleArn),
	})
	tagsOutputs(outs, a.Tags)
	return withInputs(outs, olds), nil
}

// updateAddon: addon.go resourceAddonUpdate sends UpdateAddon when the version, role or
// configuration changed (the role whenever one is set) and waits on the update
// (waitAddonUpdateSuccessful); tags through the tagging API.
func updateAddon(ctx context.Context, c *Clients, id string, olds, news resource.PropertyMap) (resource.PropertyMap, error) {
	cluster, name, err := parseAddonID(id)
	if err != nil {
		return nil, err
	}
	// An Optional+Computed input the program leaves out is the state's value, not a change.
	changed := func(k string) bool {
		v, ok := news[resource.PropertyKey(k)]
		return ok && !v.IsNull() && getStr(news, k) != getStr(olds, k)
	}
	if changed("addonVersion") || changed("configurationValues") || getStr(news, "serviceAccountRoleArn") != getStr(olds, "serviceAccountRoleArn") {
		in := &eks.UpdateAddonInput{ClusterName: aws.String(cluster), AddonName: aws.String(name),
			ResolveConflicts: ekstypes.ResolveConflicts(getStr(news, "resolveConflictsOnUpdate"))}
		if changed("addonVersion") {
			in.AddonVersion = aws.String(getStr(news, "addonVersion"))
		}
		if changed("configurationValues") {
			in.ConfigurationValues = aws.String(getStr(news, "configurationValues"))
		}
		if role := getStr(news, "serviceAccountRoleArn"); role != "" || role != getStr(olds, "serviceAccountRoleArn") {
			in.ServiceAccountRoleArn = aws.String(role)
		}
		out, err := c.EKS.UpdateAddon(ctx, in)
		if err != nil {
			return nil, fmt.Errorf("updating EKS Add-On (%s): %w", id, err)
		}
		updateID := aws.ToString(out.Update.Id)
		if err := waitFor(ctx, "EKS Add-On ("+id+") update "+updateID, addonCreateTimeout, func() (bool, error) {
			u, err := c.EKS.DescribeUpdate(ctx, &eks.DescribeUpdateInput{Name: aws.String(cluster), UpdateId: aws.String(updateID), AddonName: aws.String(name)})
			if err != nil {
				return false, err
			}
			switch u.Update.Status {
			case ekstypes.UpdateStatusSuccessful:
				return true, nil
			case ekstypes.UpdateStatusInProgress:
				return false, nil
			default:
				return false, fmt.Errorf("unexpected state '%s', wanted target 'Successful'", u.Update.Status)
			}
		}); err != nil {
			return nil, fmt.Errorf("waiting for EKS Add-On (%s) update (%s): %w", id, updateID, err)
		}
	}
	// @Tags(identifierAttribute="arn")
	if err := updateEKSTags(ctx, c, "EKS Add-On ("+id+")", stateARN(olds, "arn"), olds, news); err != nil {
		return nil, err
	}
	return readAddon(ctx, c, id, news)
}

func deleteAddon(ctx context.Context, c *Clients, id string, olds resource.PropertyMap) error {
	cluster, name, err := parseAddonID(id)
	if err != nil {
		return err
	}
	preserve, _ := getBool(olds, "preserve")
	_, err = c.EKS.DeleteAddon(ctx, &eks.DeleteAddonInput{ClusterName: aws.String(cluster), AddonName: aws.String(name), Preserve: preserve})
	if isEKSNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("deleting EKS Add-On (%s): %w", id, err)
	}
	// waitAddonDeleted: until DescribeAddon finds none.
	return waitFor(ctx, "EKS Add-On ("+id+") delete", addonDeleteTimeout, func() (bool, error) {
		_, err := c.EKS.DescribeAddon(ctx, &eks.DescribeAddonInput{ClusterName: aws.String(cluster), AddonName: aws.String(name)})
		if isEKSNotFound(err) {
			return true, nil
		}
		return false, err
	})
}
