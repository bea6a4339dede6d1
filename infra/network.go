package infra

import (
	"errors"
	"fmt"

	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/cloudwatch"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/ec2"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/iam"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// NetworkType is the Network component's type token.
const NetworkType = "eksirsa:infra:Network"

// NATMode says how many NAT gateways the private subnets share.
type NATMode string

const (
	// SingleNAT puts one NAT gateway in the first public subnet: cheaper, one AZ of failure.
	SingleNAT NATMode = "single"
	// NATPerAZ puts one NAT gateway in each AZ, each private subnet routed to its own.
	NATPerAZ NATMode = "perAz"
)

// NetworkArgs are choices known at program start; the stack validated them.
type NetworkArgs struct {
	Partition   Partition
	Region      string
	ClusterName string // for the kubernetes.io/cluster/<name>=shared subnet tag
	CIDR        string
	// AvailabilityZones, PublicSubnets and PrivateSubnets line up: subnet i is in zone i.
	AvailabilityZones []string
	PublicSubnets     []string
	PrivateSubnets    []string
	NAT               NATMode
	ECREndpoints      bool // ecr.api and ecr.dkr interface endpoints in the private subnets
	S3Endpoint        bool // S3 gateway endpoint on the private route tables (image layers)
	FlowLogs          bool
	// FlowLogRoleName is the IAM role the flow log writes to CloudWatch Logs through.
	FlowLogRoleName  string
	LogRetentionDays int
	Tags             map[string]string
}

// Network is the VPC: subnets per AZ, internet and NAT egress, optional endpoints and a
// flow log to a log group the stack owns (so destroy removes it, unlike the walkthrough's).
type Network struct {
	pulumi.ResourceState

	VpcID            pulumi.StringOutput
	SubnetIDs        pulumi.StringArrayOutput // public then private: where EKS may place ENIs
	PublicSubnetIDs  pulumi.StringArrayOutput
	PrivateSubnetIDs pulumi.StringArrayOutput
	// FlowLogGroupName is empty when flow logs are off.
	FlowLogGroupName pulumi.StringOutput

	// Egress are the private subnets' default routes: nodes must not boot before them.
	Egress []pulumi.Resource
}

func (a *NetworkArgs) validate() error {
	var errs []error
	if a.CIDR == "" {
		errs = append(errs, errors.New("CIDR is empty"))
	}
	if len(a.AvailabilityZones) == 0 {
		errs = append(errs, errors.New("no availability zones"))
	}
	if len(a.PublicSubnets) != len(a.AvailabilityZones) || len(a.PrivateSubnets) != len(a.AvailabilityZones) {
		errs = append(errs, fmt.Errorf("%d public and %d private subnets for %d availability zones: want one of each per zone",
			len(a.PublicSubnets), len(a.PrivateSubnets), len(a.AvailabilityZones)))
	}
	if a.NAT != SingleNAT && a.NAT != NATPerAZ {
		errs = append(errs, fmt.Errorf("NAT mode %q: want %q or %q", a.NAT, SingleNAT, NATPerAZ))
	}
	if a.FlowLogs && a.FlowLogRoleName == "" {
		errs = append(errs, errors.New("flow logs on but FlowLogRoleName is empty"))
	}
	return errors.Join(errs...)
}

// NewNetwork builds the VPC.
func NewNetwork(ctx *pulumi.Context, name string, args *NetworkArgs, opts ...pulumi.ResourceOption) (*Network, error) {
	if args == nil {
		return nil, fmt.Errorf("network %s: args are required", name)
	}
	if err := args.validate(); err != nil {
		return nil, fmt.Errorf("network %s: %w", name, err)
	}
	n := &Network{}
	if err := ctx.RegisterComponentResource(NetworkType, name, n, opts...); err != nil {
		return nil, err
	}
	parent := pulumi.Parent(n)
	named := func(suffix string) pulumi.StringMap {
		return withTags(args.Tags, map[string]string{"Name": name + "-" + suffix})
	}

	vpc, err := ec2.NewVpc(ctx, name+"-vpc", &ec2.VpcArgs{
		CidrBlock:          pulumi.String(args.CIDR),
		EnableDnsSupport:   pulumi.Bool(true),
		EnableDnsHostnames: pulumi.Bool(true), // EKS nodes and private endpoints need both
		Tags:               named("vpc"),
	}, parent)
	if err != nil {
		return nil, fmt.Errorf("network %s: create VPC: %w", name, err)
	}

	igw, err := ec2.NewInternetGateway(ctx, name+"-igw", &ec2.InternetGatewayArgs{
		VpcId: vpc.ID(),
		Tags:  named("igw"),
	}, parent)
	if err != nil {
		return nil, fmt.Errorf("network %s: create internet gateway: %w", name, err)
	}
	publicRT, err := ec2.NewRouteTable(ctx, name+"-public", &ec2.RouteTableArgs{VpcId: vpc.ID(), Tags: named("public")}, parent)
	if err != nil {
		return nil, fmt.Errorf("network %s: create public route table: %w", name, err)
	}
	if _, err := ec2.NewRoute(ctx, name+"-public-default", &ec2.RouteArgs{
		RouteTableId:         publicRT.ID(),
		DestinationCidrBlock: pulumi.String("0.0.0.0/0"),
		GatewayId:            igw.ID(),
	}, parent); err != nil {
		return nil, fmt.Errorf("network %s: create public default route: %w", name, err)
	}

	shared := map[string]string{ClusterTagPrefix + args.ClusterName: "shared"}
	var public, private []*ec2.Subnet
	var natIDs []pulumi.StringOutput
	var privateRTs []*ec2.RouteTable
	for i, az := range args.AvailabilityZones {
		pub, err := ec2.NewSubnet(ctx, fmt.Sprintf("%s-public-%s", name, az), &ec2.SubnetArgs{
			VpcId:               vpc.ID(),
			CidrBlock:           pulumi.String(args.PublicSubnets[i]),
			AvailabilityZone:    pulumi.String(az),
			MapPublicIpOnLaunch: pulumi.Bool(true),
			Tags:                withTags(args.Tags, shared, map[string]string{"Name": name + "-public-" + az, publicELBTag: "1"}),
		}, parent)
		if err != nil {
			return nil, fmt.Errorf("network %s: create public subnet in %s: %w", name, az, err)
		}
		if _, err := ec2.NewRouteTableAssociation(ctx, fmt.Sprintf("%s-public-%s", name, az), &ec2.RouteTableAssociationArgs{
			SubnetId:     pub.ID(),
			RouteTableId: publicRT.ID(),
		}, parent); err != nil {
			return nil, fmt.Errorf("network %s: associate public subnet in %s: %w", name, az, err)
		}
		public = append(public, pub)

		priv, err := ec2.NewSubnet(ctx, fmt.Sprintf("%s-private-%s", name, az), &ec2.SubnetArgs{
			VpcId:            vpc.ID(),
			CidrBlock:        pulumi.String(args.PrivateSubnets[i]),
			AvailabilityZone: pulumi.String(az),
			Tags:             withTags(args.Tags, shared, map[string]string{"Name": name + "-private-" + az, internalELBTag: "1"}),
		}, parent)
		if err != nil {
			return nil, fmt.Errorf("network %s: create private subnet in %s: %w", name, az, err)
		}
		private = append(private, priv)

		if i == 0 || args.NAT == NATPerAZ {
			eip, err := ec2.NewEip(ctx, fmt.Sprintf("%s-nat-%s", name, az), &ec2.EipArgs{
				Domain: pulumi.String("vpc"),
				Tags:   named("nat-" + az),
			}, parent)
			if err != nil {
				return nil, fmt.Errorf("network %s: allocate NAT address in %s: %w", name, az, err)
			}
			nat, err := ec2.NewNatGateway(ctx, fmt.Sprintf("%s-nat-%s", name, az), &ec2.NatGatewayArgs{
				AllocationId: eip.AllocationId,
				SubnetId:     pub.ID(),
				Tags:         named("nat-" + az),
			}, parent, pulumi.DependsOn([]pulumi.Resource{igw})) // AWS: a NAT gateway needs the IGW attached
			if err != nil {
				return nil, fmt.Errorf("network %s: create NAT gateway in %s: %w", name, az, err)
			}
			natIDs = append(natIDs, nat.ID().ToStringOutput())
		}
		// One private route table per AZ even with a single NAT gateway: switching to perAz
		// then changes routes, not subnets.
		rt, err := ec2.NewRouteTable(ctx, fmt.Sprintf("%s-private-%s", name, az), &ec2.RouteTableArgs{
			VpcId: vpc.ID(),
			Tags:  named("private-" + az),
		}, parent)
		if err != nil {
			return nil, fmt.Errorf("network %s: create private route table in %s: %w", name, az, err)
		}
		privateRTs = append(privateRTs, rt)
		route, err := ec2.NewRoute(ctx, fmt.Sprintf("%s-private-%s-default", name, az), &ec2.RouteArgs{
			RouteTableId:         rt.ID(),
			DestinationCidrBlock: pulumi.String("0.0.0.0/0"),
			NatGatewayId:         natIDs[len(natIDs)-1],
		}, parent)
		if err != nil {
			return nil, fmt.Errorf("network %s: create private default route in %s: %w", name, az, err)
		}
		n.Egress = append(n.Egress, route)
		if _, err := ec2.NewRouteTableAssociation(ctx, fmt.Sprintf("%s-private-%s", name, az), &ec2.RouteTableAssociationArgs{
			SubnetId:     priv.ID(),
			RouteTableId: rt.ID(),
		}, parent); err != nil {
			return nil, fmt.Errorf("network %s: associate private subnet in %s: %w", name, az, err)
		}
	}

	privateIDs := subnetIDs(private)
	if args.ECREndpoints {
		sg, err := ec2.NewSecurityGroup(ctx, name+"-endpoints", &ec2.SecurityGroupArgs{
			VpcId:       vpc.ID(),
			Description: pulumi.String("HTTPS from the VPC to its interface endpoints"),
			Ingress: ec2.SecurityGroupIngressArray{ec2.SecurityGroupIngressArgs{
				Protocol: pulumi.String("tcp"), FromPort: pulumi.Int(443), ToPort: pulumi.Int(443),
				CidrBlocks: pulumi.ToStringArray([]string{args.CIDR}),
			}},
			Tags: named("endpoints"),
		}, parent)
		if err != nil {
			return nil, fmt.Errorf("network %s: create endpoint security group: %w", name, err)
		}
		for _, svc := range []string{"ecr.api", "ecr.dkr"} {
			if _, err := ec2.NewVpcEndpoint(ctx, name+"-"+svc, &ec2.VpcEndpointArgs{
				VpcId:             vpc.ID(),
				ServiceName:       pulumi.String(args.Partition.ServiceName(args.Region, svc)),
				VpcEndpointType:   pulumi.String("Interface"),
				PrivateDnsEnabled: pulumi.Bool(true),
				SubnetIds:         privateIDs,
				SecurityGroupIds:  pulumi.StringArray{sg.ID()},
				Tags:              named(svc),
			}, parent); err != nil {
				return nil, fmt.Errorf("network %s: create %s endpoint: %w", name, svc, err)
			}
		}
	}
	if args.S3Endpoint {
		var rtIDs pulumi.StringArray
		for _, rt := range privateRTs {
			rtIDs = append(rtIDs, rt.ID())
		}
		if _, err := ec2.NewVpcEndpoint(ctx, name+"-s3", &ec2.VpcEndpointArgs{
			VpcId:           vpc.ID(),
			ServiceName:     pulumi.String(args.Partition.ServiceName(args.Region, "s3")),
			VpcEndpointType: pulumi.String("Gateway"),
			RouteTableIds:   rtIDs,
			Tags:            named("s3"),
		}, parent); err != nil {
			return nil, fmt.Errorf("network %s: create s3 endpoint: %w", name, err)
		}
	}

	n.FlowLogGroupName = pulumi.String("").ToStringOutput()
	if args.FlowLogs {
		group, err := newFlowLog(ctx, name, vpc, args, parent)
		if err != nil {
			return nil, fmt.Errorf("network %s: %w", name, err)
		}
		n.FlowLogGroupName = group.Name
	}

	n.VpcID = vpc.ID().ToStringOutput()
	n.SubnetIDs = subnetIDs(append(public, private...)).ToStringArrayOutput()
	n.PublicSubnetIDs = subnetIDs(public).ToStringArrayOutput()
	n.PrivateSubnetIDs = privateIDs.ToStringArrayOutput()
	if err := ctx.RegisterResourceOutputs(n, pulumi.Map{
		"vpcId":            n.VpcID,
		"publicSubnetIds":  n.PublicSubnetIDs,
		"privateSubnetIds": n.PrivateSubnetIDs,
		"flowLogGroupName": n.FlowLogGroupName,
	}); err != nil {
		return nil, fmt.Errorf("network %s: register outputs: %w", name, err)
	}
	return n, nil
}

// newFlowLog records ALL traffic of the VPC to a log group the stack owns, through a role
// whose policy reaches that group and nothing else.
func newFlowLog(ctx *pulumi.Context, name string, vpc *ec2.Vpc, args *NetworkArgs, parent pulumi.ResourceOrInvokeOption) (*cloudwatch.LogGroup, error) {
	group, err := cloudwatch.NewLogGroup(ctx, name+"-flow-logs", &cloudwatch.LogGroupArgs{
		Name:            pulumi.Sprintf("/aws/vpc/%s/flow-logs", args.ClusterName),
		RetentionInDays: pulumi.Int(args.LogRetentionDays),
		Tags:            withTags(args.Tags),
	}, parent)
	if err != nil {
		return nil, fmt.Errorf("create flow-log group: %w", err)
	}
	// Confused deputy (the VPC user guide's "IAM role for publishing flow logs to CloudWatch
	// Logs"): the service may assume the role only for flow logs of this account, so no one
	// else's flow log can be pointed at it. The flow log's own id is not known before the
	// role exists, hence the wildcard the guide suggests.
	account := aws.GetCallerIdentityOutput(ctx, aws.GetCallerIdentityOutputArgs{}, parent).AccountId()
	role, err := iam.NewRole(ctx, name+"-flow-logs", &iam.RoleArgs{
		Name: pulumi.String(args.FlowLogRoleName),
		AssumeRolePolicy: serviceTrustPolicyWhen(ctx, flowLogPrincipal, iam.GetPolicyDocumentStatementConditionArray{
			iam.GetPolicyDocumentStatementConditionArgs{
				Test: pulumi.String("StringEquals"), Variable: pulumi.String("aws:SourceAccount"),
				Values: pulumi.StringArray{account},
			},
			iam.GetPolicyDocumentStatementConditionArgs{
				Test: pulumi.String("ArnLike"), Variable: pulumi.String("aws:SourceArn"),
				Values: pulumi.StringArray{pulumi.Sprintf("arn:%s:ec2:%s:%s:vpc-flow-log/*", args.Partition.Name, args.Region, account)},
			},
		}, parent),
		Tags: withTags(args.Tags),
	}, parent)
	if err != nil {
		return nil, fmt.Errorf("create flow-log role: %w", err)
	}
	policy := iam.GetPolicyDocumentOutput(ctx, iam.GetPolicyDocumentOutputArgs{
		Statements: iam.GetPolicyDocumentStatementArray{iam.GetPolicyDocumentStatementArgs{
			Effect: pulumi.String("Allow"),
			Actions: pulumi.ToStringArray([]string{
				"logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogGroups", "logs:DescribeLogStreams",
			}),
			Resources: pulumi.StringArray{group.Arn, pulumi.Sprintf("%s:*", group.Arn)},
		}},
	}, parent)
	rolePolicy, err := iam.NewRolePolicy(ctx, name+"-flow-logs", &iam.RolePolicyArgs{
		Role:   role.Name,
		Policy: policy.Json(),
	}, parent)
	if err != nil {
		return nil, fmt.Errorf("create flow-log role policy: %w", err)
	}
	if _, err := ec2.NewFlowLog(ctx, name+"-flow-log", &ec2.FlowLogArgs{
		VpcId:              vpc.ID(),
		TrafficType:        pulumi.String("ALL"),
		LogDestinationType: pulumi.String("cloud-watch-logs"),
		LogDestination:     group.Arn,
		IamRoleArn:         role.Arn,
		Tags:               withTags(args.Tags, map[string]string{"Name": name + "-flow-log"}),
	}, parent, pulumi.DependsOn([]pulumi.Resource{rolePolicy})); err != nil {
		return nil, fmt.Errorf("create flow log: %w", err)
	}
	return group, nil
}

func subnetIDs(subnets []*ec2.Subnet) pulumi.StringArray {
	ids := make(pulumi.StringArray, 0, len(subnets))
	for _, s := range subnets {
		ids = append(ids, s.ID())
	}
	return ids
}
