package awsemu

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
)

func init() {
	register(&Kind{
		Token:  "aws:ec2/vpc:Vpc",
		Schema: vpcSchema,
		Create: createVpc,
		Read:   readVpc,
		Update: updateVpc,
		Delete: func(ctx context.Context, c *Clients, id string, _ resource.PropertyMap) error {
			// No retry on DependencyViolation: a VPC that still holds subnets, gateways or
			// groups means the engine deleted in the wrong order, and that must fail.
			_, err := c.EC2.DeleteVpc(ctx, &ec2.DeleteVpcInput{VpcId: aws.String(id)})
			if isCode(err, "InvalidVpcID.NotFound") {
				return nil
			}
			return err
		},
	})
	register(&Kind{
		Token:  "aws:ec2/subnet:Subnet",
		Schema: subnetSchema,
		Create: createSubnet,
		Read:   readSubnet,
		Update: updateSubnet,
		Delete: func(ctx context.Context, c *Clients, id string, _ resource.PropertyMap) error {
			_, err := c.EC2.DeleteSubnet(ctx, &ec2.DeleteSubnetInput{SubnetId: aws.String(id)})
			if isCode(err, "InvalidSubnetID.NotFound") {
				return nil
			}
			return err
		},
	})
	register(&Kind{
		Token:  "aws:ec2/internetGateway:InternetGateway",
		Schema: internetGatewaySchema,
		Create: createInternetGateway,
		Read:   readInternetGateway,
		Update: updateInternetGateway,
		Delete: deleteInternetGateway,
	})
}

func createVpc(ctx context.Context, c *Clients, news resource.PropertyMap) (string, resource.PropertyMap, error) {
	out, err := c.EC2.CreateVpc(ctx, &ec2.CreateVpcInput{
		CidrBlock:         getStrPtr(news, "cidrBlock"),
		InstanceTenancy:   ec2types.Tenancy(getStr(news, "instanceTenancy")),
		TagSpecifications: tagSpecs(ec2types.ResourceTypeVpc, getStrMap(news, "tags")),
	})
	if err != nil {
		return "", nil, err
	}
	id := aws.ToString(out.Vpc.VpcId)
	if err := setVpcDNS(ctx, c, id, resource.PropertyMap{}, news); err != nil {
		return id, nil, err
	}
	outs, err := readVpc(ctx, c, id, news)
	return id, outs, err
}

// setVpcDNS applies enableDnsSupport and enableDnsHostnames where they differ from olds
// (a new VPC: support on, hostnames off).
func setVpcDNS(ctx context.Context, c *Clients, id string, olds, news resource.PropertyMap) error {
	for _, attr := range []struct {
		key string
		def bool
		set func(bool) *ec2.ModifyVpcAttributeInput
	}{
		{"enableDnsSupport", true, func(b bool) *ec2.ModifyVpcAttributeInput {
			return &ec2.ModifyVpcAttributeInput{VpcId: aws.String(id), EnableDnsSupport: &ec2types.AttributeBooleanValue{Value: aws.Bool(b)}}
		}},
		{"enableDnsHostnames", false, func(b bool) *ec2.ModifyVpcAttributeInput {
			return &ec2.ModifyVpcAttributeInput{VpcId: aws.String(id), EnableDnsHostnames: &ec2types.AttributeBooleanValue{Value: aws.Bool(b)}}
		}},
	} {
		want, set := getBool(news, attr.key)
		if !set {
			continue
		}
		had, wasSet := getBool(olds, attr.key)
		if !wasSet {
			had = attr.def
		}
		if want == had {
			continue
		}
		if _, err := c.EC2.ModifyVpcAttribute(ctx, attr.set(want)); err != nil {
			return fmt.Errorf("setting %s of %s: %w", attr.key, id, err)
		}
	}
	return nil
}

func readVpc(ctx context.Context, c *Clients, id string, _ resource.PropertyMap) (resource.PropertyMap, error) {
	out, err := c.EC2.DescribeVpcs(ctx, &ec2.DescribeVpcsInput{VpcIds: []string{id}})
	if isCode(err, "InvalidVpcID.NotFound") || (err == nil && len(out.Vpcs) == 0) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	vpc := out.Vpcs[0]
	attr := func(name ec2types.VpcAttributeName) (bool, error) {
		a, err := c.EC2.DescribeVpcAttribute(ctx, &ec2.DescribeVpcAttributeInput{VpcId: aws.String(id), Attribute: name})
		if err != nil {
			return false, fmt.Errorf("reading %s of %s: %w", name, id, err)
		}
		if name == ec2types.VpcAttributeNameEnableDnsSupport {
			return a.EnableDnsSupport != nil && aws.ToBool(a.EnableDnsSupport.Value), nil
		}
		return a.EnableDnsHostnames != nil && aws.ToBool(a.EnableDnsHostnames.Value), nil
	}
	support, err := attr(ec2types.VpcAttributeNameEnableDnsSupport)
	if err != nil {
		return nil, err
	}
	hostnames, err := attr(ec2types.VpcAttributeNameEnableDnsHostnames)
	if err != nil {
		return nil, err
	}
	vpcFilter := ec2types.Filter{Name: aws.String("vpc-id"), Values: []string{id}}
	var mainRT, defaultSG, defaultACL string
	if rts, err := c.EC2.DescribeRouteTables(ctx, &ec2.DescribeRouteTablesInput{Filters: []ec2types.Filter{
		vpcFilter, {Name: aws.String("association.main"), Values: []string{"true"}},
	}}); err == nil && len(rts.RouteTables) > 0 {
		mainRT = aws.ToString(rts.RouteTables[0].RouteTableId)
	}
	if sgs, err := c.EC2.DescribeSecurityGroups(ctx, &ec2.DescribeSecurityGroupsInput{Filters: []ec2types.Filter{
		vpcFilter, {Name: aws.String("group-name"), Values: []string{"default"}},
	}}); err == nil && len(sgs.SecurityGroups) > 0 {
		defaultSG = aws.ToString(sgs.SecurityGroups[0].GroupId)
	}
	if acls, err := c.EC2.DescribeNetworkAcls(ctx, &ec2.DescribeNetworkAclsInput{Filters: []ec2types.Filter{
		vpcFilter, {Name: aws.String("default"), Values: []string{"true"}},
	}}); err == nil && len(acls.NetworkAcls) > 0 {
		defaultACL = aws.ToString(acls.NetworkAcls[0].NetworkAclId)
	}
	outs := outMap(map[string]any{
		"arn":                              ec2ARN(c, "vpc", id),
		"cidrBlock":                        aws.ToString(vpc.CidrBlock),
		"instanceTenancy":                  string(vpc.InstanceTenancy),
		"dhcpOptionsId":                    aws.ToString(vpc.DhcpOptionsId),
		"ownerId":                          aws.ToString(vpc.OwnerId),
		"enableDnsSupport":                 support,
		"enableDnsHostnames":               hostnames,
		"enableNetworkAddressUsageMetrics": false,
		"mainRouteTableId":                 mainRT,
		"defaultRouteTableId":              mainRT,
		"defaultSecurityGroupId":           defaultSG,
		"defaultNetworkAclId":              defaultACL,
		"assignGeneratedIpv6CidrBlock":     false,
		"ipv6AssociationId":                "",
		"ipv6CidrBlock":                    "",
		"ipv6CidrBlockNetworkBorderGroup":  "",
		"ipv6IpamPoolId":                   "",
		"ipv6NetmaskLength":                0,
	})
	tagsOutputs(outs, fromEC2Tags(vpc.Tags))
	return outs, nil
}

func updateVpc(ctx context.Context, c *Clients, id string, olds, news resource.PropertyMap) (resource.PropertyMap, error) {
	if err := setVpcDNS(ctx, c, id, olds, news); err != nil {
		return nil, err
	}
	if err := updateEC2Tags(ctx, c, id, getStrMap(olds, "tags"), getStrMap(news, "tags")); err != nil {
		return nil, err
	}
	return readVpc(ctx, c, id, news)
}

func createSubnet(ctx context.Context, c *Clients, news resource.PropertyMap) (string, resource.PropertyMap, error) {
	out, err := c.EC2.CreateSubnet(ctx, &ec2.CreateSubnetInput{
		VpcId:              getStrPtr(news, "vpcId"),
		CidrBlock:          getStrPtr(news, "cidrBlock"),
		AvailabilityZone:   getStrPtr(news, "availabilityZone"),
		AvailabilityZoneId: getStrPtr(news, "availabilityZoneId"),
		TagSpecifications:  tagSpecs(ec2types.ResourceTypeSubnet, getStrMap(news, "tags")),
	})
	if err != nil {
		return "", nil, err
	}
	id := aws.ToString(out.Subnet.SubnetId)
	if on, _ := getBool(news, "mapPublicIpOnLaunch"); on {
		if err := setMapPublicIP(ctx, c, id, true); err != nil {
			return id, nil, err
		}
	}
	outs, err := readSubnet(ctx, c, id, news)
	return id, outs, err
}

func setMapPublicIP(ctx context.Context, c *Clients, id string, on bool) error {
	_, err := c.EC2.ModifySubnetAttribute(ctx, &ec2.ModifySubnetAttributeInput{
		SubnetId: aws.String(id), MapPublicIpOnLaunch: &ec2types.AttributeBooleanValue{Value: aws.Bool(on)},
	})
	if err != nil {
		return fmt.Errorf("setting mapPublicIpOnLaunch of %s: %w", id, err)
	}
	return nil
}

func readSubnet(ctx context.Context, c *Clients, id string, _ resource.PropertyMap) (resource.PropertyMap, error) {
	out, err := c.EC2.DescribeSubnets(ctx, &ec2.DescribeSubnetsInput{SubnetIds: []string{id}})
	if isCode(err, "InvalidSubnetID.NotFound") || (err == nil && len(out.Subnets) == 0) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	s := out.Subnets[0]
	arn := aws.ToString(s.SubnetArn)
	if arn == "" {
		arn = ec2ARN(c, "subnet", id)
	}
	outs := outMap(map[string]any{
		"arn":                            arn,
		"vpcId":                          aws.ToString(s.VpcId),
		"cidrBlock":                      aws.ToString(s.CidrBlock),
		"availabilityZone":               aws.ToString(s.AvailabilityZone),
		"availabilityZoneId":             aws.ToString(s.AvailabilityZoneId),
		"mapPublicIpOnLaunch":            aws.ToBool(s.MapPublicIpOnLaunch),
		"assignIpv6AddressOnCreation":    aws.ToBool(s.AssignIpv6AddressOnCreation),
		"ownerId":                        aws.ToString(s.OwnerId),
		"ipv6CidrBlock":                  "",
		"ipv6CidrBlockAssociationId":     "",
		"mapCustomerOwnedIpOnLaunch":     false,
		"customerOwnedIpv4Pool":          "",
		"outpostArn":                     "",
		"privateDnsHostnameTypeOnLaunch": "ip-name",
	})
	tagsOutputs(outs, fromEC2Tags(s.Tags))
	return outs, nil
}

func updateSubnet(ctx context.Context, c *Clients, id string, olds, news resource.PropertyMap) (resource.PropertyMap, error) {
	was, _ := getBool(olds, "mapPublicIpOnLaunch")
	if want, _ := getBool(news, "mapPublicIpOnLaunch"); want != was {
		if err := setMapPublicIP(ctx, c, id, want); err != nil {
			return nil, err
		}
	}
	if err := updateEC2Tags(ctx, c, id, getStrMap(olds, "tags"), getStrMap(news, "tags")); err != nil {
		return nil, err
	}
	return readSubnet(ctx, c, id, news)
}

func createInternetGateway(ctx context.Context, c *Clients, news resource.PropertyMap) (string, resource.PropertyMap, error) {
	out, err := c.EC2.CreateInternetGateway(ctx, &ec2.CreateInternetGatewayInput{
		TagSpecifications: tagSpecs(ec2types.ResourceTypeInternetGateway, getStrMap(news, "tags")),
	})
	if err != nil {
		return "", nil, err
	}
	id := aws.ToString(out.InternetGateway.InternetGatewayId)
	if vpc := getStr(news, "vpcId"); vpc != "" {
		if _, err := c.EC2.AttachInternetGateway(ctx, &ec2.AttachInternetGatewayInput{InternetGatewayId: aws.String(id), VpcId: aws.String(vpc)}); err != nil {
			return id, nil, fmt.Errorf("attaching %s to %s: %w", id, vpc, err)
		}
	}
	outs, err := readInternetGateway(ctx, c, id, news)
	return id, outs, err
}

func readInternetGateway(ctx context.Context, c *Clients, id string, _ resource.PropertyMap) (resource.PropertyMap, error) {
	out, err := c.EC2.DescribeInternetGateways(ctx, &ec2.DescribeInternetGatewaysInput{InternetGatewayIds: []string{id}})
	if isCode(err, "InvalidInternetGatewayID.NotFound") || (err == nil && len(out.InternetGateways) == 0) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	igw := out.InternetGateways[0]
	vpc := ""
	for _, a := range igw.Attachments {
		vpc = aws.ToString(a.VpcId)
	}
	outs := outMap(map[string]any{
		"arn":     ec2ARN(c, "internet-gateway", id),
		"ownerId": aws.ToString(igw.OwnerId),
		"vpcId":   vpc,
	})
	tagsOutputs(outs, fromEC2Tags(igw.Tags))
	return outs, nil
}

func updateInternetGateway(ctx context.Context, c *Clients, id string, olds, news resource.PropertyMap) (resource.PropertyMap, error) {
	if was, want := getStr(olds, "vpcId"), getStr(news, "vpcId"); was != want {
		if was != "" {
			if _, err := c.EC2.DetachInternetGateway(ctx, &ec2.DetachInternetGatewayInput{InternetGatewayId: aws.String(id), VpcId: aws.String(was)}); err != nil {
				return nil, fmt.Errorf("detaching %s from %s: %w", id, was, err)
			}
		}
		if want != "" {
			if _, err := c.EC2.AttachInternetGateway(ctx, &ec2.AttachInternetGatewayInput{InternetGatewayId: aws.String(id), VpcId: aws.String(want)}); err != nil {
				return nil, fmt.Errorf("attaching %s to %s: %w", id, want, err)
			}
		}
	}
	if err := updateEC2Tags(ctx, c, id, getStrMap(olds, "tags"), getStrMap(news, "tags")); err != nil {
		return nil, err
	}
	return readInternetGateway(ctx, c, id, news)
}

// deleteInternetGateway detaches it first, as the real provider does.
func deleteInternetGateway(ctx context.Context, c *Clients, id string, olds resource.PropertyMap) error {
	live, err := readInternetGateway(ctx, c, id, olds)
	if err == ErrNotFound {
		return nil
	}
	if err != nil {
		return err
	}
	if vpc := getStr(live, "vpcId"); vpc != "" {
		if _, err := c.EC2.DetachInternetGateway(ctx, &ec2.DetachInternetGatewayInput{InternetGatewayId: aws.String(id), VpcId: aws.String(vpc)}); err != nil {
			return fmt.Errorf("detaching %s from %s: %w", id, vpc, err)
		}
	}
	_, err = c.EC2.DeleteInternetGateway(ctx, &ec2.DeleteInternetGatewayInput{InternetGatewayId: aws.String(id)})
	if isCode(err, "InvalidInternetGatewayID.NotFound") {
		return nil
	}
	return err
}
