package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/eks"
	ekstypes "github.com/aws/aws-sdk-go-v2/service/eks/types"
	"github.com/pulumi/pulumi/sdk/v3/go/common/apitype"

	"github.com/eks-irsa/eks-irsa/podidentity"
	"github.com/eks-irsa/eks-irsa/stack"
)

// findInStackAccount is the findCreated of the stack's AWS account and region (the stack
// file's aws:region, aws:profile and aws:endpoints); the EC2 client is made once, on the
// first lookup.
func findInStackAccount(opts *options) findCreated {
	var once sync.Once
	var cfg aws.Config
	var cerr error
	config := func(ctx context.Context) (aws.Config, error) {
		once.Do(func() {
			raw, err := stack.LoadStackFiles(opts.dir, opts.stack)
			if err != nil {
				cerr = err
				return
			}
			cfg, cerr = awsConfig(ctx, opts, raw[stack.RegionKey])
		})
		return cfg, cerr
	}
	return func(ctx context.Context, op apitype.OperationV2) ([]string, error) {
		cfg, err := config(ctx)
		if err != nil {
			return nil, err
		}
		c := ec2.NewFromConfig(cfg)
		switch typ := string(op.Resource.Type); typ {
		case "aws:eks/cluster:Cluster":
			name, _ := op.Resource.Inputs["name"].(string)
			return clusterWhenActive(ctx, eks.NewFromConfig(cfg), name, clusterPoll)
		case addonType:
			cluster, _ := op.Resource.Inputs["clusterName"].(string)
			addon, _ := op.Resource.Inputs["addonName"].(string)
			return addonWhenActive(ctx, eks.NewFromConfig(cfg), cluster, addon, clusterPoll)
		case "aws:ec2/natGateway:NatGateway":
			return natGatewaysByTags(ctx, c, op.Resource.Inputs)
		case "aws:ec2/vpcEndpoint:VpcEndpoint":
			return vpcEndpointsByTags(ctx, c, op.Resource.Inputs)
		case "aws:ec2/launchTemplate:LaunchTemplate":
			return launchTemplatesByName(ctx, c, op.Resource.Inputs)
		case podIdentityAssociationType:
			return podIdentityAssociationOf(ctx, eks.NewFromConfig(cfg), op.Resource.Inputs)
		default:
			return nil, fmt.Errorf("no lookup for %s", typ)
		}
	}
}

// clusterPoll is how often a pending cluster or add-on is asked for; clusterWait how long a
// cluster is waited for at most (the provider's default create timeout,
// terraform-provider-aws internal/service/eks/cluster.go: Timeouts.Create 30m), addonWait an
// add-on (internal/service/eks/addon.go: Timeouts.Create 20m).
var (
	clusterPoll = 15 * time.Second
	clusterWait = 30 * time.Minute
	addonWait   = 20 * time.Minute
)

// clusterWhenActive returns the cluster a pending create may have made once it can be
// imported: as the provider waits for a cluster it creates (terraform-provider-aws
// internal/service/eks/cluster.go, waitClusterCreated: PENDING and CREATING pending, ACTIVE the
// target), it waits while the cluster is PENDING or CREATING, returns it when ACTIVE (or
// UPDATING: it was active), nothing when there is none (the update creates it), and an error
// naming the command that deletes it when it FAILED or is being deleted: importing such a
// cluster would put a dead control plane in the state.
func clusterWhenActive(ctx context.Context, c *eks.Client, name string, poll time.Duration) ([]string, error) {
	if name == "" {
		return nil, fmt.Errorf("the pending create has no name to find it by")
	}
	return adoptable{
		what: "cluster " + name, id: name, wait: clusterWait,
		ready:   []string{string(ekstypes.ClusterStatusActive), string(ekstypes.ClusterStatusUpdating)},
		pending: []string{string(ekstypes.ClusterStatusPending), string(ekstypes.ClusterStatusCreating)},
		remove:  "aws eks delete-cluster --name " + name,
		status: func(ctx context.Context) (string, error) {
			out, err := c.DescribeCluster(ctx, &eks.DescribeClusterInput{Name: aws.String(name)})
			if err != nil {
				return "", fmt.Errorf("EKS DescribeCluster %s: %w", name, err)
			}
			return string(out.Cluster.Status), nil
		},
	}.await(ctx, poll)
}

// addonWhenActive is clusterWhenActive for an add-on (the Pod Identity agent's), imported as
// "<cluster>:<add-on>" (pulumi-aws v6.83.4's aws:eks/addon:Addon import section): the
// provider waits for an add-on it creates through CREATING and DEGRADED to ACTIVE
// (internal/service/eks/addon.go, waitAddonCreated); one that failed to create or is being
// deleted is not adopted.
func addonWhenActive(ctx context.Context, c *eks.Client, cluster, addon string, poll time.Duration) ([]string, error) {
	if cluster == "" || addon == "" {
		return nil, fmt.Errorf("the pending create has no cluster and add-on name to find it by")
	}
	return adoptable{
		what: "add-on " + addon + " of cluster " + cluster, id: cluster + ":" + addon, wait: addonWait,
		ready:   []string{string(ekstypes.AddonStatusActive), string(ekstypes.AddonStatusUpdating)},
		pending: []string{string(ekstypes.AddonStatusCreating), string(ekstypes.AddonStatusDegraded)},
		remove:  "aws eks delete-addon --cluster-name " + cluster + " --addon-name " + addon,
		status: func(ctx context.Context) (string, error) {
			out, err := c.DescribeAddon(ctx, &eks.DescribeAddonInput{ClusterName: aws.String(cluster), AddonName: aws.String(addon)})
			if err != nil {
				return "", fmt.Errorf("EKS DescribeAddon %s %s: %w", cluster, addon, err)
			}
			return string(out.Addon.Status), nil
		},
	}.await(ctx, poll)
}

// adoptable is what a pending create of a resource AWS makes in stages may have made, and
// the statuses in which it can be imported (ready) or must be waited for (pending).
type adoptable struct {
	what, id       string
	ready, pending []string
	remove         string        // the command that deletes it, for the other statuses
	wait           time.Duration // at most, as the provider's create waits
	status         func(context.Context) (string, error)
}

// await asks for the status every poll until it is ready (the id, to import), pending (asks
// again), or another (an error naming the command that deletes it), or there is none
// (ResourceNotFoundException: nothing to import, the update creates it).
func (a adoptable) await(ctx context.Context, poll time.Duration) ([]string, error) {
	ctx, cancel := context.WithTimeout(ctx, a.wait)
	defer cancel()
	for {
		status, err := a.status(ctx)
		var notFound *ekstypes.ResourceNotFoundException
		switch {
		case errors.As(err, &notFound):
			return nil, nil
		case err != nil:
			return nil, err
		case slices.Contains(a.ready, status):
			return []string{a.id}, nil
		case slices.Contains(a.pending, status):
			fmt.Fprintf(os.Stderr, "eksirsa: %s is %s; waiting for it to become %s before importing it.\n", a.what, status, a.ready[0])
		default:
			return nil, fmt.Errorf("%s is %s and cannot be adopted: delete it (%s), wait until it is gone, then run eksirsa up again (the update creates it)", a.what, status, a.remove)
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("%s: not %s after %v: %w", a.what, a.ready[0], a.wait, ctx.Err())
		case <-time.After(poll):
		}
	}
}

// tagFilters are EC2 filters on the pending create's tags, which it must have.
func tagFilters(inputs map[string]any) (map[string]string, []ec2types.Filter, error) {
	tags := stringMap(inputs["tags"])
	if len(tags) == 0 {
		return nil, nil, fmt.Errorf("the pending create has no tags to find it by")
	}
	var filters []ec2types.Filter
	for k, v := range tags {
		filters = append(filters, ec2types.Filter{Name: aws.String("tag:" + k), Values: []string{v}})
	}
	return tags, filters, nil
}

// hasTags reports whether have holds every key of want with its value.
func hasTags(have []ec2types.Tag, want map[string]string) bool {
	got := make(map[string]string, len(have))
	for _, t := range have {
		got[aws.ToString(t.Key)] = aws.ToString(t.Value)
	}
	for k, v := range want {
		if got[k] != v {
			return false
		}
	}
	return true
}

// natGatewaysByTags returns the NAT gateways in the pending create's subnet that carry every
// tag it was given and still exist (pending or available: billed). The tags are sent as
// filters and checked again here, since not every EC2 implementation applies them.
func natGatewaysByTags(ctx context.Context, c *ec2.Client, inputs map[string]any) ([]string, error) {
	tags, filters, err := tagFilters(inputs)
	if err != nil {
		return nil, err
	}
	subnet, _ := inputs["subnetId"].(string)
	if subnet != "" {
		filters = append(filters, ec2types.Filter{Name: aws.String("subnet-id"), Values: []string{subnet}})
	}
	var ids []string
	pages := ec2.NewDescribeNatGatewaysPaginator(c, &ec2.DescribeNatGatewaysInput{Filter: filters})
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("EC2 DescribeNatGateways: %w", err)
		}
		for _, g := range page.NatGateways {
			billed := g.State == ec2types.NatGatewayStatePending || g.State == ec2types.NatGatewayStateAvailable
			if billed && (subnet == "" || aws.ToString(g.SubnetId) == subnet) && hasTags(g.Tags, tags) {
				ids = append(ids, aws.ToString(g.NatGatewayId))
			}
		}
	}
	slices.Sort(ids)
	return ids, nil
}

// vpcEndpointsByTags returns the VPC endpoints of the pending create's VPC and service that
// carry every tag it was given and still exist (an interface endpoint is billed by the hour).
func vpcEndpointsByTags(ctx context.Context, c *ec2.Client, inputs map[string]any) ([]string, error) {
	tags, filters, err := tagFilters(inputs)
	if err != nil {
		return nil, err
	}
	vpc, _ := inputs["vpcId"].(string)
	service, _ := inputs["serviceName"].(string)
	var ids []string
	pages := ec2.NewDescribeVpcEndpointsPaginator(c, &ec2.DescribeVpcEndpointsInput{Filters: filters})
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("EC2 DescribeVpcEndpoints: %w", err)
		}
		for _, ep := range page.VpcEndpoints {
			switch ep.State {
			case ec2types.StateDeleted, ec2types.StateDeleting, ec2types.StateFailed, ec2types.StateRejected, ec2types.StateExpired:
				continue
			}
			if (vpc == "" || aws.ToString(ep.VpcId) == vpc) && (service == "" || aws.ToString(ep.ServiceName) == service) && hasTags(ep.Tags, tags) {
				ids = append(ids, aws.ToString(ep.VpcEndpointId))
			}
		}
	}
	slices.Sort(ids)
	return ids, nil
}

// launchTemplatesByName returns the launch template with the pending create's name: the
// engine names it (<resource>-<random>) before the create, so the name is in its inputs.
func launchTemplatesByName(ctx context.Context, c *ec2.Client, inputs map[string]any) ([]string, error) {
	name, _ := inputs["name"].(string)
	if name == "" {
		return nil, fmt.Errorf("the pending create has no name to find it by")
	}
	out, err := c.DescribeLaunchTemplates(ctx, &ec2.DescribeLaunchTemplatesInput{
		Filters: []ec2types.Filter{{Name: aws.String("launch-template-name"), Values: []string{name}}},
	})
	if err != nil {
		return nil, fmt.Errorf("EC2 DescribeLaunchTemplates: %w", err)
	}
	var ids []string
	for _, lt := range out.LaunchTemplates {
		if aws.ToString(lt.LaunchTemplateName) == name {
			ids = append(ids, aws.ToString(lt.LaunchTemplateId))
		}
	}
	return ids, nil
}

// podIdentityAssociationType is pulumi-aws's Pod Identity association, whose id EKS assigns;
// addonType its EKS add-on (the Pod Identity agent).
const (
	podIdentityAssociationType = "aws:eks/podIdentityAssociation:PodIdentityAssociation"
	addonType                  = "aws:eks/addon:Addon"
)

// podIdentityAssociationOf returns, as `pulumi import` takes it ("cluster-name,association-id",
// pulumi-aws v6.83.4's import section), the association a pending create may have made: EKS
// holds at most one per service account of a cluster (a second is refused, "Association
// already exists"), so it is the one podidentity.List finds for the create's cluster,
// namespace and service account. One for another role is not ours to adopt: its id and role
// are named in the error.
func podIdentityAssociationOf(ctx context.Context, c *eks.Client, inputs map[string]any) ([]string, error) {
	str := func(key string) string { s, _ := inputs[key].(string); return s }
	cluster, namespace, account, role := str("clusterName"), str("namespace"), str("serviceAccount"), str("roleArn")
	if cluster == "" || namespace == "" || account == "" {
		return nil, fmt.Errorf("the pending create has no cluster, namespace and service account to find it by")
	}
	live, err := podidentity.List(ctx, c, "recovery", cluster, namespace, account)
	if err != nil {
		return nil, err
	}
	var ids []string
	for _, a := range live {
		if got := aws.ToString(a.RoleArn); role != "" && got != role {
			return nil, fmt.Errorf("%s/%s already has association %s for role %s, not this create's %s", namespace, account, aws.ToString(a.AssociationId), got, role)
		}
		ids = append(ids, cluster+","+aws.ToString(a.AssociationId))
	}
	return ids, nil
}
