package moto

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/eks"
	"github.com/aws/aws-sdk-go-v2/service/iam"
)

// Leftovers lists, as "kind id", every resource of the kinds a stack makes that is still in
// moto, in Server.Region (IAM is global): what a destroy should have removed. What moto
// makes on its own is not listed: the default VPC and its subnets, default security groups,
// main route tables, NAT gateways and VPC endpoints in state deleted, and the primary
// interfaces of terminated instances and deleted NAT gateways, which AWS deletes with them. Sorted, so two audits
// compare equal.
func (s *Server) Leftovers(ctx context.Context) ([]string, error) {
	return LeftoversAs(ctx, s.Config(""))
}

// LeftoversAs is Leftovers in the account cfg's credentials act in (moto keeps accounts apart
// by access key: an assumed role's credentials see the role's account).
func LeftoversAs(ctx context.Context, cfg aws.Config) ([]string, error) {
	var (
		out  []string
		errs []error
	)
	add := func(kind, id string) { out = append(out, kind+" "+id) }
	fail := func(what string, err error) {
		if err != nil {
			errs = append(errs, fmt.Errorf("moto: leftovers: %s: %w", what, err))
		}
	}

	ec2c := ec2.NewFromConfig(cfg)
	defaultVPCs := map[string]bool{}
	vpcs := ec2.NewDescribeVpcsPaginator(ec2c, &ec2.DescribeVpcsInput{})
	for vpcs.HasMorePages() {
		page, err := vpcs.NextPage(ctx)
		if err != nil {
			fail("describe VPCs", err)
			break
		}
		for _, v := range page.Vpcs {
			if aws.ToBool(v.IsDefault) {
				defaultVPCs[aws.ToString(v.VpcId)] = true
				continue
			}
			add("vpc", aws.ToString(v.VpcId))
		}
	}
	subnets := ec2.NewDescribeSubnetsPaginator(ec2c, &ec2.DescribeSubnetsInput{})
	for subnets.HasMorePages() {
		page, err := subnets.NextPage(ctx)
		if err != nil {
			fail("describe subnets", err)
			break
		}
		for _, sn := range page.Subnets {
			if !defaultVPCs[aws.ToString(sn.VpcId)] {
				add("subnet", aws.ToString(sn.SubnetId))
			}
		}
	}
	igws := ec2.NewDescribeInternetGatewaysPaginator(ec2c, &ec2.DescribeInternetGatewaysInput{})
	for igws.HasMorePages() {
		page, err := igws.NextPage(ctx)
		if err != nil {
			fail("describe internet gateways", err)
			break
		}
		for _, g := range page.InternetGateways {
			add("internet-gateway", aws.ToString(g.InternetGatewayId))
		}
	}
	// moto keeps a terminated instance's primary interface; AWS deletes it with the instance
	// (DeleteOnTermination), so it is not a leftover.
	terminated := map[string]bool{}
	insts := ec2.NewDescribeInstancesPaginator(ec2c, &ec2.DescribeInstancesInput{Filters: []ec2types.Filter{
		{Name: aws.String("instance-state-name"), Values: []string{"terminated"}}}})
	for insts.HasMorePages() {
		page, err := insts.NextPage(ctx)
		if err != nil {
			fail("describe instances", err)
			break
		}
		for _, r := range page.Reservations {
			for _, i := range r.Instances {
				terminated[aws.ToString(i.InstanceId)] = true
			}
		}
	}
	// moto also keeps a deleted NAT gateway's interface; AWS deletes it with the gateway.
	deletedNATENIs := map[string]bool{}
	natsBefore := ec2.NewDescribeNatGatewaysPaginator(ec2c, &ec2.DescribeNatGatewaysInput{})
	for natsBefore.HasMorePages() {
		page, err := natsBefore.NextPage(ctx)
		if err != nil {
			fail("describe NAT gateways", err)
			break
		}
		for _, n := range page.NatGateways {
			if n.State == ec2types.NatGatewayStateDeleted {
				for _, a := range n.NatGatewayAddresses {
					deletedNATENIs[aws.ToString(a.NetworkInterfaceId)] = true
				}
			}
		}
	}
	enis := ec2.NewDescribeNetworkInterfacesPaginator(ec2c, &ec2.DescribeNetworkInterfacesInput{})
	for enis.HasMorePages() {
		page, err := enis.NextPage(ctx)
		if err != nil {
			fail("describe network interfaces", err)
			break
		}
		for _, n := range page.NetworkInterfaces {
			if a := n.Attachment; a != nil && terminated[aws.ToString(a.InstanceId)] && aws.ToInt32(a.DeviceIndex) == 0 {
				continue
			}
			if deletedNATENIs[aws.ToString(n.NetworkInterfaceId)] {
				continue
			}
			add("network-interface", aws.ToString(n.NetworkInterfaceId))
		}
	}
	eips, err := ec2c.DescribeAddresses(ctx, &ec2.DescribeAddressesInput{})
	fail("describe addresses", err)
	if err == nil {
		for _, a := range eips.Addresses {
			add("eip", aws.ToString(a.AllocationId))
		}
	}
	nats := ec2.NewDescribeNatGatewaysPaginator(ec2c, &ec2.DescribeNatGatewaysInput{})
	for nats.HasMorePages() {
		page, err := nats.NextPage(ctx)
		if err != nil {
			fail("describe NAT gateways", err)
			break
		}
		for _, n := range page.NatGateways {
			if n.State != ec2types.NatGatewayStateDeleted {
				add("nat-gateway", aws.ToString(n.NatGatewayId))
			}
		}
	}
	endpoints := ec2.NewDescribeVpcEndpointsPaginator(ec2c, &ec2.DescribeVpcEndpointsInput{})
	for endpoints.HasMorePages() {
		page, err := endpoints.NextPage(ctx)
		if err != nil {
			fail("describe VPC endpoints", err)
			break
		}
		for _, e := range page.VpcEndpoints {
			// moto answers "deleted" where the SDK's constant is "Deleted".
			if !strings.EqualFold(string(e.State), string(ec2types.StateDeleted)) {
				add("vpc-endpoint", aws.ToString(e.VpcEndpointId))
			}
		}
	}
	sgs := ec2.NewDescribeSecurityGroupsPaginator(ec2c, &ec2.DescribeSecurityGroupsInput{})
	for sgs.HasMorePages() {
		page, err := sgs.NextPage(ctx)
		if err != nil {
			fail("describe security groups", err)
			break
		}
		for _, g := range page.SecurityGroups {
			if aws.ToString(g.GroupName) != "default" {
				add("security-group", aws.ToString(g.GroupId))
			}
		}
	}
	rts := ec2.NewDescribeRouteTablesPaginator(ec2c, &ec2.DescribeRouteTablesInput{})
	for rts.HasMorePages() {
		page, err := rts.NextPage(ctx)
		if err != nil {
			fail("describe route tables", err)
			break
		}
		for _, rt := range page.RouteTables {
			if !isMain(rt) {
				add("route-table", aws.ToString(rt.RouteTableId))
			}
		}
	}
	lts := ec2.NewDescribeLaunchTemplatesPaginator(ec2c, &ec2.DescribeLaunchTemplatesInput{})
	for lts.HasMorePages() {
		page, err := lts.NextPage(ctx)
		if err != nil {
			fail("describe launch templates", err)
			break
		}
		for _, lt := range page.LaunchTemplates {
			add("launch-template", aws.ToString(lt.LaunchTemplateId))
		}
	}
	fls := ec2.NewDescribeFlowLogsPaginator(ec2c, &ec2.DescribeFlowLogsInput{})
	for fls.HasMorePages() {
		page, err := fls.NextPage(ctx)
		if err != nil {
			fail("describe flow logs", err)
			break
		}
		for _, fl := range page.FlowLogs {
			add("flow-log", aws.ToString(fl.FlowLogId))
		}
	}

	iamc := iam.NewFromConfig(cfg)
	roles := iam.NewListRolesPaginator(iamc, &iam.ListRolesInput{})
	for roles.HasMorePages() {
		page, err := roles.NextPage(ctx)
		if err != nil {
			fail("list roles", err)
			break
		}
		for _, r := range page.Roles {
			add("iam-role", aws.ToString(r.RoleName))
		}
	}
	profiles := iam.NewListInstanceProfilesPaginator(iamc, &iam.ListInstanceProfilesInput{})
	for profiles.HasMorePages() {
		page, err := profiles.NextPage(ctx)
		if err != nil {
			fail("list instance profiles", err)
			break
		}
		for _, p := range page.InstanceProfiles {
			add("iam-instance-profile", aws.ToString(p.InstanceProfileName))
		}
	}
	oidcs, err := iamc.ListOpenIDConnectProviders(ctx, &iam.ListOpenIDConnectProvidersInput{})
	fail("list OIDC providers", err)
	if err == nil {
		for _, p := range oidcs.OpenIDConnectProviderList {
			add("iam-oidc-provider", aws.ToString(p.Arn))
		}
	}

	groups := cloudwatchlogs.NewDescribeLogGroupsPaginator(cloudwatchlogs.NewFromConfig(cfg), &cloudwatchlogs.DescribeLogGroupsInput{})
	for groups.HasMorePages() {
		page, err := groups.NextPage(ctx)
		if err != nil {
			fail("describe log groups", err)
			break
		}
		for _, g := range page.LogGroups {
			add("log-group", aws.ToString(g.LogGroupName))
		}
	}

	asgs := autoscaling.NewDescribeAutoScalingGroupsPaginator(autoscaling.NewFromConfig(cfg), &autoscaling.DescribeAutoScalingGroupsInput{})
	for asgs.HasMorePages() {
		page, err := asgs.NextPage(ctx)
		if err != nil {
			fail("describe auto scaling groups", err)
			break
		}
		for _, g := range page.AutoScalingGroups {
			add("autoscaling-group", aws.ToString(g.AutoScalingGroupName))
		}
	}

	clusters := eks.NewListClustersPaginator(eks.NewFromConfig(cfg), &eks.ListClustersInput{})
	for clusters.HasMorePages() {
		page, err := clusters.NextPage(ctx)
		if err != nil {
			fail("list EKS clusters", err)
			break
		}
		for _, name := range page.Clusters {
			add("eks-cluster", name)
		}
	}

	sort.Strings(out)
	return out, errors.Join(errs...)
}

// isMain reports whether rt is its VPC's main route table, which goes with the VPC.
func isMain(rt ec2types.RouteTable) bool {
	for _, a := range rt.Associations {
		if aws.ToBool(a.Main) {
			return true
		}
	}
	return false
}
