package awsemu

import (
	gostrings "strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource/plugin"
)

// TestEC2KindsAgainstMoto builds the program's network with every EC2 kind, the way the
// engine drives the provider, changes what changes in place, refreshes, and destroys it in
// the engine's reverse order, which must satisfy what AWS enforces.
func TestEC2KindsAgainstMoto(t *testing.T) {
	h := newHarness(t)
	ctx := t.Context()
	var made []*live // creation order; destroyed in reverse
	create := func(token, name string, in map[string]any) *live {
		t.Helper()
		r := h.create(token, name, in)
		made = append(made, r)
		return r
	}

	vpcIn := map[string]any{"cidrBlock": "10.0.0.0/16", "enableDnsSupport": true, "enableDnsHostnames": true, "tags": map[string]any{"Name": "net-vpc"}}
	vpc := create("aws:ec2/vpc:Vpc", "net-vpc", vpcIn)
	if v := vpc.outputs["enableDnsHostnames"]; !v.IsBool() || !v.BoolValue() {
		t.Errorf("vpc enableDnsHostnames = %v: want true, read back from AWS", v)
	}
	if str(vpc, "mainRouteTableId") == "" || !gostrings.HasPrefix(str(vpc, "arn"), "arn:aws:ec2:us-west-2:") {
		t.Errorf("vpc outputs: %v", vpc.outputs)
	}
	if got := vpc.inputs["instanceTenancy"]; !got.IsString() || got.StringValue() != "default" {
		t.Errorf("vpc instanceTenancy default not applied by Check: %v", got)
	}

	subnet := func(name, cidr string, public bool) *live {
		in := map[string]any{"vpcId": string(vpc.id), "cidrBlock": cidr, "availabilityZone": "us-west-2a",
			"tags": map[string]any{"Name": name}}
		if public {
			in["mapPublicIpOnLaunch"] = true
		}
		return create("aws:ec2/subnet:Subnet", name, in)
	}
	pub := subnet("net-public", "10.0.1.0/24", true)
	if v := pub.outputs["mapPublicIpOnLaunch"]; !v.IsBool() || !v.BoolValue() {
		t.Errorf("public subnet mapPublicIpOnLaunch = %v", v)
	}
	priv := subnet("net-private", "10.0.101.0/24", false)
	// AWS's rules come through: a subnet outside the VPC fails.
	if _, err := h.tryCreate("aws:ec2/subnet:Subnet", "bad", map[string]any{"vpcId": string(vpc.id), "cidrBlock": "10.1.0.0/24"}); err == nil || !gostrings.Contains(err.Error(), "InvalidSubnet.Range") {
		t.Errorf("subnet outside the VPC: err = %v, want InvalidSubnet.Range", err)
	}

	igw := create("aws:ec2/internetGateway:InternetGateway", "net-igw", map[string]any{"vpcId": string(vpc.id)})
	if str(igw, "vpcId") != string(vpc.id) {
		t.Errorf("igw vpcId = %q", str(igw, "vpcId"))
	}
	publicRT := create("aws:ec2/routeTable:RouteTable", "net-public-rt", map[string]any{"vpcId": string(vpc.id)})
	create("aws:ec2/route:Route", "net-public-default", map[string]any{"routeTableId": string(publicRT.id), "destinationCidrBlock": "0.0.0.0/0", "gatewayId": string(igw.id)})
	create("aws:ec2/routeTableAssociation:RouteTableAssociation", "net-public-assoc", map[string]any{"subnetId": string(pub.id), "routeTableId": string(publicRT.id)})

	eip := create("aws:ec2/eip:Eip", "net-nat-ip", map[string]any{"domain": "vpc"})
	if str(eip, "allocationId") != string(eip.id) || str(eip, "publicIp") == "" {
		t.Errorf("eip outputs: %v", eip.outputs)
	}
	nat := create("aws:ec2/natGateway:NatGateway", "net-nat", map[string]any{"allocationId": str(eip, "allocationId"), "subnetId": string(pub.id)})
	if str(nat, "publicIp") != str(eip, "publicIp") || str(nat, "connectivityType") != "public" {
		t.Errorf("nat outputs: %v (eip %s)", nat.outputs, str(eip, "publicIp"))
	}
	privateRT := create("aws:ec2/routeTable:RouteTable", "net-private-rt", map[string]any{"vpcId": string(vpc.id)})
	privRouteIn := map[string]any{"routeTableId": string(privateRT.id), "destinationCidrBlock": "0.0.0.0/0", "natGatewayId": string(nat.id)}
	privRoute := create("aws:ec2/route:Route", "net-private-default", privRouteIn)
	if str(privRoute, "natGatewayId") != string(nat.id) || str(privRoute, "state") != "active" {
		t.Errorf("route outputs: %v", privRoute.outputs)
	}
	create("aws:ec2/routeTableAssociation:RouteTableAssociation", "net-private-assoc", map[string]any{"subnetId": string(priv.id), "routeTableId": string(privateRT.id)})
	if rt, _ := h.refresh(privateRT); len(rt.Outputs["routes"].ArrayValue()) != 1 {
		t.Errorf("private route table routes = %v: want the NAT route only", rt.Outputs["routes"])
	}

	allEgress := []any{map[string]any{"protocol": "-1", "fromPort": 0, "toPort": 0, "cidrBlocks": []any{"0.0.0.0/0"}}}
	endpointSGIn := map[string]any{"vpcId": string(vpc.id), "description": "HTTPS to endpoints",
		"ingress": []any{map[string]any{"protocol": "tcp", "fromPort": 443, "toPort": 443, "cidrBlocks": []any{"10.0.0.0/16"}}}}
	endpointSG := create("aws:ec2/securityGroup:SecurityGroup", "net-endpoints", endpointSGIn)
	if n := str(endpointSG, "name"); !gostrings.HasPrefix(n, "net-endpoints-") {
		t.Errorf("security group name %q: want the autoname net-endpoints-<hex>", n)
	}
	if eg := endpointSG.outputs["egress"].ArrayValue(); len(eg) != 0 {
		t.Errorf("endpoint group egress = %v: the default allow-all must be revoked", eg)
	}
	cp := create("aws:ec2/securityGroup:SecurityGroup", "cp", map[string]any{"vpcId": string(vpc.id), "description": "control plane", "egress": allEgress})
	nodes := create("aws:ec2/securityGroup:SecurityGroup", "nodes", map[string]any{"vpcId": string(vpc.id), "description": "nodes", "egress": allEgress})
	ruleIn := map[string]any{"type": "ingress", "description": "nodes reach the API", "protocol": "tcp", "fromPort": 443, "toPort": 443,
		"securityGroupId": string(cp.id), "sourceSecurityGroupId": string(nodes.id)}
	rule := create("aws:ec2/securityGroupRule:SecurityGroupRule", "nodes-to-api", ruleIn)
	selfRule := create("aws:ec2/securityGroupRule:SecurityGroupRule", "node-to-node", map[string]any{"type": "ingress", "protocol": "-1",
		"fromPort": 0, "toPort": 0, "securityGroupId": string(nodes.id), "sourceSecurityGroupId": string(nodes.id)})
	if !gostrings.HasPrefix(string(rule.id), "sgrule-") || rule.id == selfRule.id {
		t.Errorf("rule ids %s, %s", rule.id, selfRule.id)
	}

	endpointIn := map[string]any{"vpcId": string(vpc.id), "serviceName": "com.amazonaws.us-west-2.ecr.api", "vpcEndpointType": "Interface",
		"privateDnsEnabled": true, "subnetIds": []any{string(priv.id), string(pub.id)}, "securityGroupIds": []any{string(endpointSG.id)}}
	endpoint := create("aws:ec2/vpcEndpoint:VpcEndpoint", "net-ecr-api", endpointIn)
	if str(endpoint, "state") != "available" {
		t.Errorf("endpoint state %q", str(endpoint, "state"))
	}

	group := "/aws/vpc/test/flow-logs"
	if _, err := h.c.Logs.CreateLogGroup(ctx, &cloudwatchlogs.CreateLogGroupInput{LogGroupName: aws.String(group)}); err != nil {
		t.Fatal(err)
	}
	flowLog := create("aws:ec2/flowLog:FlowLog", "net-flow-log", map[string]any{"vpcId": string(vpc.id), "trafficType": "ALL",
		"logDestinationType": "cloud-watch-logs", "logDestination": "arn:aws:logs:us-west-2:123456789012:log-group:" + group,
		"iamRoleArn": "arn:aws:iam::123456789012:role/flow-logs"})
	if got := flowLog.inputs["maxAggregationInterval"]; !got.IsNumber() || got.NumberValue() != 600 {
		t.Errorf("flow log maxAggregationInterval default: %v", got)
	}

	ltIn := map[string]any{
		"description": "workers", "imageId": "ami-12345678", "instanceType": "t3.medium", "userData": "IyEvYmluL3NoCg==",
		"iamInstanceProfile":  map[string]any{"arn": "arn:aws:iam::123456789012:instance-profile/nodes"},
		"vpcSecurityGroupIds": []any{string(nodes.id)},
		"metadataOptions":     map[string]any{"httpEndpoint": "enabled", "httpTokens": "required", "httpPutResponseHopLimit": 1},
		"blockDeviceMappings": []any{map[string]any{"deviceName": "/dev/xvda", "ebs": map[string]any{
			"volumeSize": 20, "volumeType": "gp3", "encrypted": "true", "deleteOnTermination": "true"}}},
		"tagSpecifications":    []any{map[string]any{"resourceType": "instance", "tags": map[string]any{"Name": "node"}}},
		"updateDefaultVersion": true,
	}
	lt := create("aws:ec2/launchTemplate:LaunchTemplate", "workers", ltIn)
	if v := lt.outputs["latestVersion"]; !v.IsNumber() || v.NumberValue() != 1 {
		t.Errorf("launch template latestVersion = %v", v)
	}
	data := launchTemplateData(t, h, string(lt.id), "$Latest")
	if data.MetadataOptions == nil || data.MetadataOptions.HttpTokens != "required" || aws.ToInt32(data.MetadataOptions.HttpPutResponseHopLimit) != 1 {
		t.Errorf("metadata options in AWS: %+v", data.MetadataOptions)
	}
	if len(data.BlockDeviceMappings) != 1 || !aws.ToBool(data.BlockDeviceMappings[0].Ebs.Encrypted) {
		t.Errorf("block devices in AWS: %+v", data.BlockDeviceMappings)
	}

	// A second `up` that changes things in place.
	vpcIn["tags"] = map[string]any{"Name": "net-vpc", "team": "infra"}
	h.update(vpc, vpcIn)
	if tags := vpcTags(t, h, string(vpc.id)); tags["team"] != "infra" {
		t.Errorf("vpc tags in AWS after update: %v", tags)
	}
	privRouteIn["natGatewayId"], privRouteIn["gatewayId"] = nil, string(igw.id)
	delete(privRouteIn, "natGatewayId")
	h.update(privRoute, privRouteIn)
	if str(privRoute, "gatewayId") != string(igw.id) {
		t.Errorf("route after ReplaceRoute: %v", privRoute.outputs)
	}
	ruleIn["description"] = "nodes reach the API server"
	h.update(rule, ruleIn)
	endpointSGIn["ingress"] = []any{map[string]any{"protocol": "tcp", "fromPort": 8443, "toPort": 8443, "cidrBlocks": []any{"10.0.0.0/16"}}}
	h.update(endpointSG, endpointSGIn)
	if in := endpointSG.outputs["ingress"].ArrayValue(); len(in) != 1 || in[0].ObjectValue()["fromPort"].NumberValue() != 8443 {
		t.Errorf("group ingress after update: %v", in)
	}
	endpointIn["subnetIds"] = []any{string(priv.id)}
	h.update(endpoint, endpointIn)
	if ids := endpoint.outputs["subnetIds"].ArrayValue(); len(ids) != 1 || ids[0].StringValue() != string(priv.id) {
		t.Errorf("endpoint subnets after update: %v", ids)
	}
	ltIn["imageId"] = "ami-87654321"
	h.update(lt, ltIn)
	if v := lt.outputs["latestVersion"]; v.NumberValue() != 2 || lt.outputs["defaultVersion"].NumberValue() != 2 {
		t.Errorf("launch template versions after update: latest %v default %v", v, lt.outputs["defaultVersion"])
	}
	// ForceNew inputs replace.
	h.expectDiff(pub, map[string]any{"vpcId": string(vpc.id), "cidrBlock": "10.0.2.0/24", "availabilityZone": "us-west-2a",
		"mapPublicIpOnLaunch": true, "tags": map[string]any{"Name": "net-public"}}, plugin.DiffSome, []string{"cidrBlock"})
	h.expectDiff(lt, map[string]any{"name": "other"}, plugin.DiffSome, []string{"name"})

	// Refresh: drift made outside Pulumi shows up in the next diff.
	if _, err := h.c.EC2.CreateTags(ctx, &ec2.CreateTagsInput{Resources: []string{string(pub.id)}, Tags: []ec2types.Tag{{Key: aws.String("Name"), Value: aws.String("renamed")}}}); err != nil {
		t.Fatal(err)
	}
	read, err := h.refresh(pub)
	if err != nil || read.ID != pub.id {
		t.Fatalf("refresh subnet: %v %v", read.ID, err)
	}
	if got := read.Inputs["tags"].ObjectValue()["Name"]; got.StringValue() != "renamed" {
		t.Errorf("refreshed subnet inputs tags.Name = %v", got)
	}
	pub.inputs, pub.outputs = read.Inputs, read.Outputs
	h.expectDiff(pub, map[string]any{"vpcId": string(vpc.id), "cidrBlock": "10.0.1.0/24", "availabilityZone": "us-west-2a",
		"mapPublicIpOnLaunch": true, "tags": map[string]any{"Name": "net-public"}}, plugin.DiffSome, nil)

	// AWS's order: a VPC that still has subnets cannot go, and the error is not swallowed.
	if err := h.tryDelete(vpc); err == nil || !gostrings.Contains(err.Error(), "DependencyViolation") {
		t.Fatalf("deleting the VPC first: err = %v, want DependencyViolation", err)
	}
	for i := len(made) - 1; i >= 0; i-- {
		h.delete(made[i])
	}
	if _, err := h.c.Logs.DeleteLogGroup(ctx, &cloudwatchlogs.DeleteLogGroupInput{LogGroupName: aws.String(group)}); err != nil {
		t.Fatal(err)
	}
	if left := leftovers(t, h.srv); len(left) > 0 {
		t.Errorf("left in the emulator after destroy: %v", left)
	}
}

func launchTemplateData(t *testing.T, h *harness, id, version string) *ec2types.ResponseLaunchTemplateData {
	t.Helper()
	out, err := h.c.EC2.DescribeLaunchTemplateVersions(t.Context(), &ec2.DescribeLaunchTemplateVersionsInput{LaunchTemplateId: aws.String(id), Versions: []string{version}})
	if err != nil || len(out.LaunchTemplateVersions) != 1 {
		t.Fatalf("launch template %s version %s: %v", id, version, err)
	}
	return out.LaunchTemplateVersions[0].LaunchTemplateData
}

func vpcTags(t *testing.T, h *harness, id string) map[string]string {
	t.Helper()
	out, err := h.c.EC2.DescribeVpcs(t.Context(), &ec2.DescribeVpcsInput{VpcIds: []string{id}})
	if err != nil || len(out.Vpcs) != 1 {
		t.Fatalf("vpc %s: %v", id, err)
	}
	return fromEC2Tags(out.Vpcs[0].Tags)
}
