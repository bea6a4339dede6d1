package awsemu

import (
	"context"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
)

// The real provider's NAT gateway timeouts (terraform-provider-aws
// internal/service/ec2/vpc_nat_gateway.go): create 10 min, delete 30 min.
const (
	natCreateTimeout = 10 * time.Minute
	natDeleteTimeout = 30 * time.Minute
)

func init() {
	register(&Kind{
		Token:  "aws:ec2/eip:Eip",
		Schema: eipSchema,
		Create: createEip,
		Read:   readEip,
		Update: func(ctx context.Context, c *Clients, id string, olds, news resource.PropertyMap) (resource.PropertyMap, error) {
			for _, k := range []string{"instance", "networkInterface", "associateWithPrivateIp"} {
				if getStr(olds, k) != getStr(news, k) {
					return nil, fmt.Errorf("changing %s is not emulated (the program never associates addresses)", k)
				}
			}
			if err := updateEC2Tags(ctx, c, id, getStrMap(olds, "tags"), getStrMap(news, "tags")); err != nil {
				return nil, err
			}
			return readEip(ctx, c, id, news)
		},
		Delete: func(ctx context.Context, c *Clients, id string, _ resource.PropertyMap) error {
			_, err := c.EC2.ReleaseAddress(ctx, &ec2.ReleaseAddressInput{AllocationId: aws.String(id)})
			if isCode(err, "InvalidAllocationID.NotFound") {
				return nil
			}
			return err
		},
	})
	register(&Kind{
		Token:  "aws:ec2/natGateway:NatGateway",
		Schema: natGatewaySchema,
		Create: createNatGateway,
		Read:   readNatGateway,
		Update: func(ctx context.Context, c *Clients, id string, olds, news resource.PropertyMap) (resource.PropertyMap, error) {
			for _, k := range []string{"secondaryAllocationIds", "secondaryPrivateIpAddresses"} {
				if !olds[resource.PropertyKey(k)].DeepEquals(news[resource.PropertyKey(k)]) && len(getStrs(news, k))+len(getStrs(olds, k)) > 0 {
					return nil, fmt.Errorf("changing %s is not emulated (the program uses none)", k)
				}
			}
			if err := updateEC2Tags(ctx, c, id, getStrMap(olds, "tags"), getStrMap(news, "tags")); err != nil {
				return nil, err
			}
			return readNatGateway(ctx, c, id, news)
		},
		Delete: deleteNatGateway,
	})
}

func createEip(ctx context.Context, c *Clients, news resource.PropertyMap) (string, resource.PropertyMap, error) {
	domain := ec2types.DomainTypeVpc // the real provider's default since v5: every address is a VPC address
	if d := getStr(news, "domain"); d != "" {
		domain = ec2types.DomainType(d)
	}
	out, err := c.EC2.AllocateAddress(ctx, &ec2.AllocateAddressInput{
		Domain:            domain,
		Address:           getStrPtr(news, "address"),
		PublicIpv4Pool:    getStrPtr(news, "publicIpv4Pool"),
		TagSpecifications: tagSpecs(ec2types.ResourceTypeElasticIp, getStrMap(news, "tags")),
	})
	if err != nil {
		return "", nil, err
	}
	id := aws.ToString(out.AllocationId)
	outs, err := readEip(ctx, c, id, news)
	return id, outs, err
}

func readEip(ctx context.Context, c *Clients, id string, _ resource.PropertyMap) (resource.PropertyMap, error) {
	out, err := c.EC2.DescribeAddresses(ctx, &ec2.DescribeAddressesInput{AllocationIds: []string{id}})
	if isCode(err, "InvalidAllocationID.NotFound") || (err == nil && len(out.Addresses) == 0) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	a := out.Addresses[0]
	pool := aws.ToString(a.PublicIpv4Pool)
	if pool == "" {
		pool = "amazon"
	}
	border := aws.ToString(a.NetworkBorderGroup)
	if border == "" {
		border = c.Region
	}
	publicIP := aws.ToString(a.PublicIp)
	outs := outMap(map[string]any{
		"allocationId":       id,
		"arn":                ec2ARN(c, "elastic-ip", id),
		"address":            "",
		"associationId":      aws.ToString(a.AssociationId),
		"carrierIp":          aws.ToString(a.CarrierIp),
		"customerOwnedIp":    aws.ToString(a.CustomerOwnedIp),
		"domain":             string(a.Domain),
		"instance":           aws.ToString(a.InstanceId),
		"networkInterface":   aws.ToString(a.NetworkInterfaceId),
		"privateIp":          aws.ToString(a.PrivateIpAddress),
		"publicIp":           publicIP,
		"publicIpv4Pool":     pool,
		"networkBorderGroup": border,
		"ptrRecord":          "",
		"vpc":                a.Domain == ec2types.DomainTypeVpc,
		// The real provider derives the public DNS name from the address and region.
		"publicDns":  publicDNS(c.Region, publicIP),
		"privateDns": "",
	})
	tagsOutputs(outs, fromEC2Tags(a.Tags))
	return outs, nil
}

// publicDNS is EC2's public hostname for an address: ec2-1-2-3-4.<region>.compute.amazonaws.com
// (us-east-1: compute-1.amazonaws.com).
func publicDNS(region, ip string) string {
	if ip == "" {
		return ""
	}
	dashed := []byte(ip)
	for i, b := range dashed {
		if b == '.' {
			dashed[i] = '-'
		}
	}
	if region == "us-east-1" {
		return fmt.Sprintf("ec2-%s.compute-1.amazonaws.com", dashed)
	}
	return fmt.Sprintf("ec2-%s.%s.compute.amazonaws.com", dashed, region)
}

func createNatGateway(ctx context.Context, c *Clients, news resource.PropertyMap) (string, resource.PropertyMap, error) {
	out, err := c.EC2.CreateNatGateway(ctx, &ec2.CreateNatGatewayInput{
		SubnetId:          getStrPtr(news, "subnetId"),
		AllocationId:      getStrPtr(news, "allocationId"),
		ConnectivityType:  ec2types.ConnectivityType(getStr(news, "connectivityType")),
		PrivateIpAddress:  getStrPtr(news, "privateIp"),
		TagSpecifications: tagSpecs(ec2types.ResourceTypeNatgateway, getStrMap(news, "tags")),
	})
	if err != nil {
		return "", nil, err
	}
	id := aws.ToString(out.NatGateway.NatGatewayId)
	// The real provider waits for "available" and fails on "failed".
	if err := waitFor(ctx, "NAT gateway "+id+" available", natCreateTimeout, func() (bool, error) {
		ng, err := describeNatGateway(ctx, c, id)
		if err != nil {
			return false, err
		}
		switch ng.State {
		case ec2types.NatGatewayStateAvailable:
			return true, nil
		case ec2types.NatGatewayStateFailed, ec2types.NatGatewayStateDeleted, ec2types.NatGatewayStateDeleting:
			return false, fmt.Errorf("state %s: %s", ng.State, aws.ToString(ng.FailureMessage))
		}
		return false, nil
	}); err != nil {
		return id, nil, err
	}
	outs, err := readNatGateway(ctx, c, id, news)
	return id, outs, err
}

func describeNatGateway(ctx context.Context, c *Clients, id string) (*ec2types.NatGateway, error) {
	out, err := c.EC2.DescribeNatGateways(ctx, &ec2.DescribeNatGatewaysInput{NatGatewayIds: []string{id}})
	if isCode(err, "NatGatewayNotFound", "InvalidNatGatewayID.NotFound") || (err == nil && len(out.NatGateways) == 0) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	return &out.NatGateways[0], nil
}

func readNatGateway(ctx context.Context, c *Clients, id string, _ resource.PropertyMap) (resource.PropertyMap, error) {
	ng, err := describeNatGateway(ctx, c, id)
	if err != nil {
		return nil, err
	}
	if ng.State == ec2types.NatGatewayStateDeleted {
		return nil, ErrNotFound
	}
	var allocation, association, eni, privateIP, publicIP string
	for _, a := range ng.NatGatewayAddresses {
		if aws.ToBool(a.IsPrimary) || len(ng.NatGatewayAddresses) == 1 {
			allocation, association = aws.ToString(a.AllocationId), aws.ToString(a.AssociationId)
			eni, privateIP, publicIP = aws.ToString(a.NetworkInterfaceId), aws.ToString(a.PrivateIp), aws.ToString(a.PublicIp)
		}
	}
	outs := outMap(map[string]any{
		"allocationId":                   allocation,
		"associationId":                  association,
		"connectivityType":               string(ng.ConnectivityType),
		"networkInterfaceId":             eni,
		"privateIp":                      privateIP,
		"publicIp":                       publicIP,
		"subnetId":                       aws.ToString(ng.SubnetId),
		"secondaryAllocationIds":         []string{},
		"secondaryPrivateIpAddressCount": 0,
		"secondaryPrivateIpAddresses":    []string{},
	})
	if string(ng.ConnectivityType) == "" {
		outs["connectivityType"] = resource.NewStringProperty("public")
	}
	tagsOutputs(outs, fromEC2Tags(ng.Tags))
	return outs, nil
}

// deleteNatGateway deletes and waits for "deleted", as the real provider does: its address
// is only free to release after that.
func deleteNatGateway(ctx context.Context, c *Clients, id string, _ resource.PropertyMap) error {
	_, err := c.EC2.DeleteNatGateway(ctx, &ec2.DeleteNatGatewayInput{NatGatewayId: aws.String(id)})
	if isCode(err, "NatGatewayNotFound", "InvalidNatGatewayID.NotFound") {
		return nil
	}
	if err != nil {
		return err
	}
	return waitFor(ctx, "NAT gateway "+id+" deleted", natDeleteTimeout, func() (bool, error) {
		ng, err := describeNatGateway(ctx, c, id)
		if err == ErrNotFound {
			return true, nil
		}
		if err != nil {
			return false, err
		}
		return ng.State == ec2types.NatGatewayStateDeleted, nil
	})
}
