package awsemu

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
)

// The real provider's VPC endpoint timeouts (terraform-provider-aws
// internal/service/ec2/vpc_endpoint.go): create, update and delete 10 min.
const endpointTimeout = 10 * time.Minute

func init() {
	register(&Kind{
		Token:  "aws:ec2/vpcEndpoint:VpcEndpoint",
		Schema: vpcEndpointSchema,
		Create: createVpcEndpoint,
		Read:   readVpcEndpoint,
		Update: updateVpcEndpoint,
		Delete: deleteVpcEndpoint,
	})
}

func createVpcEndpoint(ctx context.Context, c *Clients, news resource.PropertyMap) (string, resource.PropertyMap, error) {
	in := &ec2.CreateVpcEndpointInput{
		VpcId:             getStrPtr(news, "vpcId"),
		ServiceName:       getStrPtr(news, "serviceName"),
		VpcEndpointType:   ec2types.VpcEndpointType(getStr(news, "vpcEndpointType")),
		SubnetIds:         getStrs(news, "subnetIds"),
		SecurityGroupIds:  getStrs(news, "securityGroupIds"),
		RouteTableIds:     getStrs(news, "routeTableIds"),
		PolicyDocument:    getStrPtr(news, "policy"),
		TagSpecifications: tagSpecs(ec2types.ResourceTypeVpcEndpoint, getStrMap(news, "tags")),
	}
	if v, set := getBool(news, "privateDnsEnabled"); set {
		in.PrivateDnsEnabled = aws.Bool(v)
	}
	out, err := c.EC2.CreateVpcEndpoint(ctx, in)
	if err != nil {
		return "", nil, err
	}
	id := aws.ToString(out.VpcEndpoint.VpcEndpointId)
	if err := waitEndpoint(ctx, c, id, "available"); err != nil {
		return id, nil, err
	}
	outs, err := readVpcEndpoint(ctx, c, id, news)
	return id, outs, err
}

func describeVpcEndpoint(ctx context.Context, c *Clients, id string) (*ec2types.VpcEndpoint, error) {
	out, err := c.EC2.DescribeVpcEndpoints(ctx, &ec2.DescribeVpcEndpointsInput{VpcEndpointIds: []string{id}})
	if isCode(err, "InvalidVpcEndpointId.NotFound", "InvalidVpcEndpoint.NotFound") || (err == nil && len(out.VpcEndpoints) == 0) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	e := &out.VpcEndpoints[0]
	if s := string(e.State); s == "deleted" || s == "Deleted" {
		return nil, ErrNotFound
	}
	return e, nil
}

// waitEndpoint waits for the state the real provider waits for: "available" (or
// "pendingAcceptance" for another account's service) after create, gone after delete.
func waitEndpoint(ctx context.Context, c *Clients, id, want string) error {
	return waitFor(ctx, fmt.Sprintf("VPC endpoint %s %s", id, want), endpointTimeout, func() (bool, error) {
		e, err := describeVpcEndpoint(ctx, c, id)
		if want == "deleted" {
			if err == ErrNotFound {
				return true, nil
			}
			return false, err
		}
		if err != nil {
			return false, err
		}
		switch string(e.State) {
		case "available", "Available", "pendingAcceptance", "PendingAcceptance":
			return true, nil
		case "failed", "Failed", "rejected", "Rejected":
			return false, fmt.Errorf("state %s", e.State)
		}
		return false, nil
	})
}

func readVpcEndpoint(ctx context.Context, c *Clients, id string, _ resource.PropertyMap) (resource.PropertyMap, error) {
	e, err := describeVpcEndpoint(ctx, c, id)
	if err != nil {
		return nil, err
	}
	var dns []map[string]any
	for _, d := range e.DnsEntries {
		dns = append(dns, map[string]any{"dnsName": aws.ToString(d.DnsName), "hostedZoneId": aws.ToString(d.HostedZoneId)})
	}
	if dns == nil {
		dns = []map[string]any{}
	}
	sorted := func(l []string) []string {
		l = slices.Clone(orEmpty(l))
		slices.Sort(l)
		return l
	}
	var groups []string
	for _, g := range e.Groups {
		groups = append(groups, aws.ToString(g.GroupId))
	}
	ipType := string(e.IpAddressType)
	if ipType == "" {
		ipType = "ipv4"
	}
	outs := outMap(map[string]any{
		"arn":                 ec2ARN(c, "vpc-endpoint", id),
		"vpcId":               aws.ToString(e.VpcId),
		"serviceName":         aws.ToString(e.ServiceName),
		"vpcEndpointType":     string(e.VpcEndpointType),
		"state":               string(e.State),
		"ownerId":             aws.ToString(e.OwnerId),
		"privateDnsEnabled":   aws.ToBool(e.PrivateDnsEnabled),
		"requesterManaged":    aws.ToBool(e.RequesterManaged),
		"policy":              aws.ToString(e.PolicyDocument),
		"subnetIds":           sorted(e.SubnetIds),
		"securityGroupIds":    sorted(groups),
		"routeTableIds":       sorted(e.RouteTableIds),
		"networkInterfaceIds": sorted(e.NetworkInterfaceIds),
		"dnsEntries":          dns,
		"ipAddressType":       ipType,
		"cidrBlocks":          []string{},
		"prefixListId":        "",
	})
	tagsOutputs(outs, fromEC2Tags(e.Tags))
	return outs, nil
}

// diffIDs is what to add to and remove from have to get want.
func diffIDs(have, want []string) (add, remove []string) {
	for _, w := range want {
		if !slices.Contains(have, w) {
			add = append(add, w)
		}
	}
	for _, h := range have {
		if !slices.Contains(want, h) {
			remove = append(remove, h)
		}
	}
	return add, remove
}

func updateVpcEndpoint(ctx context.Context, c *Clients, id string, olds, news resource.PropertyMap) (resource.PropertyMap, error) {
	in := &ec2.ModifyVpcEndpointInput{VpcEndpointId: aws.String(id)}
	in.AddSubnetIds, in.RemoveSubnetIds = diffIDs(getStrs(olds, "subnetIds"), getStrs(news, "subnetIds"))
	in.AddSecurityGroupIds, in.RemoveSecurityGroupIds = diffIDs(getStrs(olds, "securityGroupIds"), getStrs(news, "securityGroupIds"))
	in.AddRouteTableIds, in.RemoveRouteTableIds = diffIDs(getStrs(olds, "routeTableIds"), getStrs(news, "routeTableIds"))
	change := len(in.AddSubnetIds)+len(in.RemoveSubnetIds)+len(in.AddSecurityGroupIds)+len(in.RemoveSecurityGroupIds)+
		len(in.AddRouteTableIds)+len(in.RemoveRouteTableIds) > 0
	if on, set := getBool(news, "privateDnsEnabled"); set {
		if was, _ := getBool(olds, "privateDnsEnabled"); on != was {
			in.PrivateDnsEnabled, change = aws.Bool(on), true
		}
	}
	if p := getStr(news, "policy"); p != getStr(olds, "policy") {
		if p == "" {
			in.ResetPolicy = aws.Bool(true)
		} else {
			in.PolicyDocument = aws.String(p)
		}
		change = true
	}
	if change {
		if _, err := c.EC2.ModifyVpcEndpoint(ctx, in); err != nil {
			return nil, err
		}
		if err := waitEndpoint(ctx, c, id, "available"); err != nil {
			return nil, err
		}
	}
	if err := updateEC2Tags(ctx, c, id, getStrMap(olds, "tags"), getStrMap(news, "tags")); err != nil {
		return nil, err
	}
	return readVpcEndpoint(ctx, c, id, news)
}

func deleteVpcEndpoint(ctx context.Context, c *Clients, id string, _ resource.PropertyMap) error {
	out, err := c.EC2.DeleteVpcEndpoints(ctx, &ec2.DeleteVpcEndpointsInput{VpcEndpointIds: []string{id}})
	if isCode(err, "InvalidVpcEndpointId.NotFound", "InvalidVpcEndpoint.NotFound") {
		return nil
	}
	if err != nil {
		return err
	}
	for _, u := range out.Unsuccessful {
		if u.Error != nil && !isNotFoundCode(aws.ToString(u.Error.Code)) {
			return fmt.Errorf("deleting %s: %s: %s", id, aws.ToString(u.Error.Code), aws.ToString(u.Error.Message))
		}
	}
	return waitEndpoint(ctx, c, id, "deleted")
}

func isNotFoundCode(code string) bool {
	return len(code) > 9 && code[len(code)-9:] == ".NotFound"
}
