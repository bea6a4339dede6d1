package awsemu

import (
	"context"
	"errors"
	"fmt"
	"hash/crc32"
	gostrings "strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
)

func init() {
	register(&Kind{
		Token:  "aws:ec2/routeTable:RouteTable",
		Schema: routeTableSchema,
		Create: createRouteTable,
		Read:   readRouteTable,
		Update: func(ctx context.Context, c *Clients, id string, olds, news resource.PropertyMap) (resource.PropertyMap, error) {
			if err := noInlineRoutes(news); err != nil {
				return nil, err
			}
			if err := updateEC2Tags(ctx, c, id, getStrMap(olds, "tags"), getStrMap(news, "tags")); err != nil {
				return nil, err
			}
			return readRouteTable(ctx, c, id, news)
		},
		Delete: func(ctx context.Context, c *Clients, id string, _ resource.PropertyMap) error {
			_, err := c.EC2.DeleteRouteTable(ctx, &ec2.DeleteRouteTableInput{RouteTableId: aws.String(id)})
			if isCode(err, "InvalidRouteTableID.NotFound") {
				return nil
			}
			return err
		},
	})
	register(&Kind{
		Token:  "aws:ec2/route:Route",
		Schema: routeSchema,
		Create: createRoute,
		Read:   readRoute,
		Update: updateRoute,
		Delete: deleteRoute,
	})
	register(&Kind{
		Token:  "aws:ec2/routeTableAssociation:RouteTableAssociation",
		Schema: routeTableAssociationSchema,
		Create: createRouteTableAssociation,
		Read:   readRouteTableAssociation,
		Update: updateRouteTableAssociation,
		Delete: deleteRouteTableAssociation,
	})
}

// noInlineRoutes refuses a route table's inline routes: the program makes each route a
// Route resource, and mixing the two fights over the same entries.
func noInlineRoutes(news resource.PropertyMap) error {
	if len(getObjs(news, "routes")) > 0 || len(getStrs(news, "propagatingVgws")) > 0 {
		return errors.New("inline routes and propagatingVgws are not emulated: use aws.ec2.Route resources")
	}
	return nil
}

func createRouteTable(ctx context.Context, c *Clients, news resource.PropertyMap) (string, resource.PropertyMap, error) {
	if err := noInlineRoutes(news); err != nil {
		return "", nil, err
	}
	out, err := c.EC2.CreateRouteTable(ctx, &ec2.CreateRouteTableInput{
		VpcId:             getStrPtr(news, "vpcId"),
		TagSpecifications: tagSpecs(ec2types.ResourceTypeRouteTable, getStrMap(news, "tags")),
	})
	if err != nil {
		return "", nil, err
	}
	id := aws.ToString(out.RouteTable.RouteTableId)
	outs, err := readRouteTable(ctx, c, id, news)
	return id, outs, err
}

func describeRouteTable(ctx context.Context, c *Clients, id string) (*ec2types.RouteTable, error) {
	out, err := c.EC2.DescribeRouteTables(ctx, &ec2.DescribeRouteTablesInput{RouteTableIds: []string{id}})
	if isCode(err, "InvalidRouteTableID.NotFound") || (err == nil && len(out.RouteTables) == 0) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	return &out.RouteTables[0], nil
}

// readRouteTable reports routes as the real provider does: every route but the VPC's local
// one, including those that Route resources added.
func readRouteTable(ctx context.Context, c *Clients, id string, _ resource.PropertyMap) (resource.PropertyMap, error) {
	rt, err := describeRouteTable(ctx, c, id)
	if err != nil {
		return nil, err
	}
	var routes []map[string]any
	for _, r := range rt.Routes {
		if aws.ToString(r.GatewayId) == "local" {
			continue
		}
		routes = append(routes, map[string]any{
			"cidrBlock":               aws.ToString(r.DestinationCidrBlock),
			"ipv6CidrBlock":           aws.ToString(r.DestinationIpv6CidrBlock),
			"destinationPrefixListId": aws.ToString(r.DestinationPrefixListId),
			"gatewayId":               aws.ToString(r.GatewayId),
			"natGatewayId":            aws.ToString(r.NatGatewayId),
			"networkInterfaceId":      aws.ToString(r.NetworkInterfaceId),
			"transitGatewayId":        aws.ToString(r.TransitGatewayId),
			"vpcPeeringConnectionId":  aws.ToString(r.VpcPeeringConnectionId),
			"carrierGatewayId":        aws.ToString(r.CarrierGatewayId),
			"coreNetworkArn":          aws.ToString(r.CoreNetworkArn),
			"egressOnlyGatewayId":     aws.ToString(r.EgressOnlyInternetGatewayId),
			"localGatewayId":          aws.ToString(r.LocalGatewayId),
			"vpcEndpointId":           "",
		})
	}
	if routes == nil {
		routes = []map[string]any{}
	}
	outs := outMap(map[string]any{
		"arn":             ec2ARN(c, "route-table", id),
		"ownerId":         aws.ToString(rt.OwnerId),
		"vpcId":           aws.ToString(rt.VpcId),
		"routes":          routes,
		"propagatingVgws": []string{},
	})
	tagsOutputs(outs, fromEC2Tags(rt.Tags))
	return outs, nil
}

// routeDestination is the route's destination input and its value.
func routeDestination(m resource.PropertyMap) (string, error) {
	var dests []string
	for _, k := range []string{"destinationCidrBlock", "destinationIpv6CidrBlock", "destinationPrefixListId"} {
		if v := getStr(m, k); v != "" {
			dests = append(dests, v)
		}
	}
	if len(dests) != 1 {
		return "", errors.New(`exactly one of "destinationCidrBlock", "destinationIpv6CidrBlock", "destinationPrefixListId" must be set`)
	}
	return dests[0], nil
}

// routeID is the real provider's route id: "r-" + table id + the hash of the destination
// (terraform-provider-aws internal/service/ec2/vpc_route.go, routeCreateID).
func routeID(table, destination string) string {
	return fmt.Sprintf("r-%s%d", table, crc32.ChecksumIEEE([]byte(destination)))
}

// routeTargets are the target inputs, in the order the real provider checks them.
var routeTargets = []string{"gatewayId", "natGatewayId", "networkInterfaceId", "transitGatewayId", "vpcPeeringConnectionId",
	"vpcEndpointId", "carrierGatewayId", "coreNetworkArn", "egressOnlyGatewayId", "localGatewayId"}

func routeTarget(m resource.PropertyMap) (string, string, error) {
	var key, val string
	for _, k := range routeTargets {
		if v := getStr(m, k); v != "" {
			if key != "" {
				return "", "", fmt.Errorf("%q and %q both set: a route has exactly one target", key, k)
			}
			key, val = k, v
		}
	}
	if key == "" {
		return "", "", fmt.Errorf("no target: set one of %v", routeTargets)
	}
	if key == "vpcEndpointId" || key == "coreNetworkArn" || key == "localGatewayId" || key == "carrierGatewayId" {
		return "", "", fmt.Errorf("target %q is not emulated", key)
	}
	return key, val, nil
}

type routeInput struct {
	table, cidr, ipv6, prefixList                          *string
	gateway, nat, eni, transitGateway, peering, egressOnly *string
}

func routeRequest(m resource.PropertyMap) (*routeInput, error) {
	if _, err := routeDestination(m); err != nil {
		return nil, err
	}
	key, val, err := routeTarget(m)
	if err != nil {
		return nil, err
	}
	r := &routeInput{
		table: getStrPtr(m, "routeTableId"), cidr: getStrPtr(m, "destinationCidrBlock"),
		ipv6: getStrPtr(m, "destinationIpv6CidrBlock"), prefixList: getStrPtr(m, "destinationPrefixListId"),
	}
	target := map[string]**string{"gatewayId": &r.gateway, "natGatewayId": &r.nat, "networkInterfaceId": &r.eni,
		"transitGatewayId": &r.transitGateway, "vpcPeeringConnectionId": &r.peering, "egressOnlyGatewayId": &r.egressOnly}
	*target[key] = aws.String(val)
	return r, nil
}

func createRoute(ctx context.Context, c *Clients, news resource.PropertyMap) (string, resource.PropertyMap, error) {
	r, err := routeRequest(news)
	if err != nil {
		return "", nil, err
	}
	dest, _ := routeDestination(news)
	out, err := c.EC2.CreateRoute(ctx, &ec2.CreateRouteInput{
		RouteTableId: r.table, DestinationCidrBlock: r.cidr, DestinationIpv6CidrBlock: r.ipv6, DestinationPrefixListId: r.prefixList,
		GatewayId: r.gateway, NatGatewayId: r.nat, NetworkInterfaceId: r.eni, TransitGatewayId: r.transitGateway,
		VpcPeeringConnectionId: r.peering, EgressOnlyInternetGatewayId: r.egressOnly,
	})
	if err != nil {
		return "", nil, err
	}
	if out.Return != nil && !*out.Return {
		return "", nil, fmt.Errorf("CreateRoute to %s in %s returned false", dest, aws.ToString(r.table))
	}
	id := routeID(aws.ToString(r.table), dest)
	outs, err := readRoute(ctx, c, id, news)
	return id, outs, err
}

// routeImportID parses the id `pulumi import` gives a route, ROUTETABLEID_DESTINATION
// (terraform-provider-aws internal/service/ec2/vpc_route.go resourceRouteImportState): the
// destination is an IPv4 CIDR, an IPv6 CIDR or a prefix list id.
func routeImportID(id string) (resource.PropertyMap, error) {
	table, dest, ok := gostrings.Cut(id, "_")
	if !ok || !gostrings.HasPrefix(table, "rtb-") || dest == "" {
		return nil, fmt.Errorf("route import id %q: want ROUTETABLEID_DESTINATION, e.g. rtb-0123_10.0.0.0/16", id)
	}
	key := "destinationCidrBlock"
	switch {
	case gostrings.HasPrefix(dest, "pl-"):
		key = "destinationPrefixListId"
	case gostrings.Contains(dest, ":"):
		key = "destinationIpv6CidrBlock"
	}
	return outMap(map[string]any{"routeTableId": table, key: dest}), nil
}

func readRoute(ctx context.Context, c *Clients, id string, olds resource.PropertyMap) (resource.PropertyMap, error) {
	if getStr(olds, "routeTableId") == "" {
		// An import: only the id is known.
		imported, err := routeImportID(id)
		if err != nil {
			return nil, err
		}
		olds = imported
	}
	table := getStr(olds, "routeTableId")
	dest, err := routeDestination(olds)
	if err != nil {
		return nil, err
	}
	rt, err := describeRouteTable(ctx, c, table)
	if err != nil {
		return nil, err
	}
	for _, r := range rt.Routes {
		if aws.ToString(r.DestinationCidrBlock) != dest && aws.ToString(r.DestinationIpv6CidrBlock) != dest &&
			aws.ToString(r.DestinationPrefixListId) != dest {
			continue
		}
		gateway := aws.ToString(r.GatewayId)
		outs := outMap(map[string]any{
			"routeTableId":             table,
			"destinationCidrBlock":     aws.ToString(r.DestinationCidrBlock),
			"destinationIpv6CidrBlock": aws.ToString(r.DestinationIpv6CidrBlock),
			"destinationPrefixListId":  aws.ToString(r.DestinationPrefixListId),
			"gatewayId":                gateway,
			"natGatewayId":             aws.ToString(r.NatGatewayId),
			"networkInterfaceId":       aws.ToString(r.NetworkInterfaceId),
			"transitGatewayId":         aws.ToString(r.TransitGatewayId),
			"vpcPeeringConnectionId":   aws.ToString(r.VpcPeeringConnectionId),
			"egressOnlyGatewayId":      aws.ToString(r.EgressOnlyInternetGatewayId),
			"carrierGatewayId":         aws.ToString(r.CarrierGatewayId),
			"coreNetworkArn":           aws.ToString(r.CoreNetworkArn),
			"localGatewayId":           aws.ToString(r.LocalGatewayId),
			"vpcEndpointId":            "",
			"instanceId":               aws.ToString(r.InstanceId),
			"instanceOwnerId":          aws.ToString(r.InstanceOwnerId),
			"origin":                   string(r.Origin),
			"state":                    string(r.State),
		})
		// AWS reports a gateway endpoint's route target in GatewayId; the real provider
		// moves a "vpce-" one to vpcEndpointId.
		if gostrings.HasPrefix(gateway, "vpce-") {
			outs["gatewayId"], outs["vpcEndpointId"] = resource.NewStringProperty(""), resource.NewStringProperty(gateway)
		}
		return outs, nil
	}
	return nil, ErrNotFound
}

func updateRoute(ctx context.Context, c *Clients, id string, _, news resource.PropertyMap) (resource.PropertyMap, error) {
	r, err := routeRequest(news)
	if err != nil {
		return nil, err
	}
	if _, err := c.EC2.ReplaceRoute(ctx, &ec2.ReplaceRouteInput{
		RouteTableId: r.table, DestinationCidrBlock: r.cidr, DestinationIpv6CidrBlock: r.ipv6, DestinationPrefixListId: r.prefixList,
		GatewayId: r.gateway, NatGatewayId: r.nat, NetworkInterfaceId: r.eni, TransitGatewayId: r.transitGateway,
		VpcPeeringConnectionId: r.peering, EgressOnlyInternetGatewayId: r.egressOnly,
	}); err != nil {
		return nil, err
	}
	return readRoute(ctx, c, id, news)
}

func deleteRoute(ctx context.Context, c *Clients, _ string, olds resource.PropertyMap) error {
	_, err := c.EC2.DeleteRoute(ctx, &ec2.DeleteRouteInput{
		RouteTableId:             getStrPtr(olds, "routeTableId"),
		DestinationCidrBlock:     getStrPtr(olds, "destinationCidrBlock"),
		DestinationIpv6CidrBlock: getStrPtr(olds, "destinationIpv6CidrBlock"),
		DestinationPrefixListId:  getStrPtr(olds, "destinationPrefixListId"),
	})
	if isCode(err, "InvalidRoute.NotFound", "InvalidRouteTableID.NotFound") {
		return nil
	}
	return err
}

func createRouteTableAssociation(ctx context.Context, c *Clients, news resource.PropertyMap) (string, resource.PropertyMap, error) {
	if (getStr(news, "subnetId") == "") == (getStr(news, "gatewayId") == "") {
		return "", nil, errors.New(`exactly one of "subnetId" and "gatewayId" must be set`)
	}
	out, err := c.EC2.AssociateRouteTable(ctx, &ec2.AssociateRouteTableInput{
		RouteTableId: getStrPtr(news, "routeTableId"),
		SubnetId:     getStrPtr(news, "subnetId"),
		GatewayId:    getStrPtr(news, "gatewayId"),
	})
	if err != nil {
		return "", nil, err
	}
	id := aws.ToString(out.AssociationId)
	outs, err := readRouteTableAssociation(ctx, c, id, news)
	return id, outs, err
}

// findAssociation finds the association by id, or, after ReplaceRouteTableAssociation gave
// the subnet a new association id, by the subnet or gateway it holds (the engine keeps the
// id it was first given).
//
// An import id is "<subnet or gateway id>/<route table id>" (terraform-provider-aws
// internal/service/ec2/vpc_route_table_association.go resourceRouteTableAssociationImport):
// the association is the one that target has in that table.
func findAssociation(ctx context.Context, c *Clients, id string, olds resource.PropertyMap) (*ec2types.RouteTableAssociation, error) {
	if target, table, ok := gostrings.Cut(id, "/"); ok && getStr(olds, "subnetId") == "" && getStr(olds, "gatewayId") == "" {
		key := "subnetId"
		if !gostrings.HasPrefix(target, "subnet-") {
			key = "gatewayId"
		}
		a, err := findAssociation(ctx, c, "", outMap(map[string]any{key: target}))
		if err != nil {
			return nil, err
		}
		if aws.ToString(a.RouteTableId) != table {
			return nil, fmt.Errorf("route table association import id %q: %s is associated with %s, not %s", id, target, aws.ToString(a.RouteTableId), table)
		}
		return a, nil
	}
	filters := [][]ec2types.Filter{{{Name: aws.String("association.route-table-association-id"), Values: []string{id}}}}
	if s := getStr(olds, "subnetId"); s != "" {
		filters = append(filters, []ec2types.Filter{{Name: aws.String("association.subnet-id"), Values: []string{s}}})
	}
	if g := getStr(olds, "gatewayId"); g != "" {
		filters = append(filters, []ec2types.Filter{{Name: aws.String("association.gateway-id"), Values: []string{g}}})
	}
	for _, f := range filters {
		out, err := c.EC2.DescribeRouteTables(ctx, &ec2.DescribeRouteTablesInput{Filters: f})
		if err != nil {
			return nil, err
		}
		for _, rt := range out.RouteTables {
			for _, a := range rt.Associations {
				if aws.ToString(a.RouteTableAssociationId) == id ||
					(getStr(olds, "subnetId") != "" && aws.ToString(a.SubnetId) == getStr(olds, "subnetId")) ||
					(getStr(olds, "gatewayId") != "" && aws.ToString(a.GatewayId) == getStr(olds, "gatewayId")) {
					return &a, nil
				}
			}
		}
	}
	return nil, ErrNotFound
}

func readRouteTableAssociation(ctx context.Context, c *Clients, id string, olds resource.PropertyMap) (resource.PropertyMap, error) {
	a, err := findAssociation(ctx, c, id, olds)
	if err != nil {
		return nil, err
	}
	return outMap(map[string]any{
		"routeTableId": aws.ToString(a.RouteTableId),
		"subnetId":     aws.ToString(a.SubnetId),
		"gatewayId":    aws.ToString(a.GatewayId),
	}), nil
}

func updateRouteTableAssociation(ctx context.Context, c *Clients, id string, olds, news resource.PropertyMap) (resource.PropertyMap, error) {
	a, err := findAssociation(ctx, c, id, olds)
	if err != nil {
		return nil, err
	}
	if _, err := c.EC2.ReplaceRouteTableAssociation(ctx, &ec2.ReplaceRouteTableAssociationInput{
		AssociationId: a.RouteTableAssociationId, RouteTableId: getStrPtr(news, "routeTableId"),
	}); err != nil {
		return nil, err
	}
	return readRouteTableAssociation(ctx, c, id, news)
}

func deleteRouteTableAssociation(ctx context.Context, c *Clients, id string, olds resource.PropertyMap) error {
	a, err := findAssociation(ctx, c, id, olds)
	if err == ErrNotFound {
		return nil
	}
	if err != nil {
		return err
	}
	_, err = c.EC2.DisassociateRouteTable(ctx, &ec2.DisassociateRouteTableInput{AssociationId: a.RouteTableAssociationId})
	if isCode(err, "InvalidAssociationID.NotFound") {
		return nil
	}
	return err
}
