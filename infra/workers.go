package infra

import (
	"encoding/base64"
	"errors"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strconv"

	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/autoscaling"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/ec2"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/ssm"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// WorkersType is the Workers component's type token.
const WorkersType = "eksirsa:infra:Workers"

// WorkersArgs configure the worker capacity.
type WorkersArgs struct {
	ClusterName string
	Version     string // Kubernetes minor, picks the AMI
	Endpoint    pulumi.StringInput
	CAData      pulumi.StringInput
	ServiceCIDR pulumi.StringInput

	InstanceType       string
	Desired, Min, Max  int
	DiskGiB            int
	InstanceProfileArn pulumi.StringInput
	SecurityGroupIDs   pulumi.StringArrayInput
	SubnetIDs          pulumi.StringArrayInput // private subnets

	// JoinAfter must exist before the first node boots: aws-auth (or nodes cannot join), the
	// aws-node annotation and restart (or the CNI starts without credentials and coredns
	// sticks in ContainerCreating), the private subnets' egress routes. Give the resources
	// themselves, not components: the SDK records a component's children asynchronously, so
	// a dependency on a component can miss a child registered a moment before.
	JoinAfter []pulumi.Resource
	Tags      map[string]string
}

// Workers is a launch template and an Auto Scaling group of self-managed nodes.
type Workers struct {
	pulumi.ResourceState

	AutoScalingGroupName pulumi.StringOutput
	LaunchTemplateID     pulumi.StringOutput
	AMI                  pulumi.StringOutput
}

// graviton matches instance types with AWS Graviton (arm64) processors: m7g, c7gn, t4g, x2gd.
var graviton = regexp.MustCompile(`^[a-z]+[0-9]+[a-z]*g[a-z]*\.`)

// AMIParameter is the public SSM parameter holding the recommended EKS-optimized Amazon
// Linux 2023 AMI for a Kubernetes version and instance type.
func AMIParameter(version, instanceType string) string {
	arch := "x86_64"
	if graviton.MatchString(instanceType) {
		arch = "arm64"
	}
	return fmt.Sprintf("/aws/service/eks/optimized-ami/%s/amazon-linux-2023/%s/standard/recommended/image_id", version, arch)
}

func (a *WorkersArgs) validate() error {
	var errs []error
	if a.ClusterName == "" || a.Version == "" || a.InstanceType == "" {
		errs = append(errs, errors.New("ClusterName, Version and InstanceType are required"))
	}
	if a.Endpoint == nil || a.CAData == nil || a.ServiceCIDR == nil || a.InstanceProfileArn == nil ||
		a.SecurityGroupIDs == nil || a.SubnetIDs == nil {
		errs = append(errs, errors.New("Endpoint, CAData, ServiceCIDR, InstanceProfileArn, SecurityGroupIDs and SubnetIDs are required"))
	}
	if a.Min < 0 || a.Min > a.Max || a.Desired < a.Min || a.Desired > a.Max {
		errs = append(errs, fmt.Errorf("sizes min %d, desired %d, max %d: want 0 <= min <= desired <= max", a.Min, a.Desired, a.Max))
	}
	if a.DiskGiB <= 0 {
		errs = append(errs, fmt.Errorf("DiskGiB %d: want a positive size", a.DiskGiB))
	}
	return errors.Join(errs...)
}

// NewWorkers creates the launch template and the Auto Scaling group.
func NewWorkers(ctx *pulumi.Context, name string, args *WorkersArgs, opts ...pulumi.ResourceOption) (*Workers, error) {
	if args == nil {
		return nil, fmt.Errorf("workers %s: args are required", name)
	}
	if err := args.validate(); err != nil {
		return nil, fmt.Errorf("workers %s: %w", name, err)
	}
	w := &Workers{}
	if err := ctx.RegisterComponentResource(WorkersType, name, w, opts...); err != nil {
		return nil, err
	}
	parent := pulumi.Parent(w)

	ami := ssm.LookupParameterOutput(ctx, ssm.LookupParameterOutputArgs{
		Name: pulumi.String(AMIParameter(args.Version, args.InstanceType)),
	}, parent).Value()
	userData := allStrings(func(v ...string) (string, error) {
		doc, err := NodeUserData(NodeConfigParams{ClusterName: v[0], Endpoint: v[1], CAData: v[2], ServiceCIDR: v[3]})
		return base64.StdEncoding.EncodeToString([]byte(doc)), err
	}, pulumi.String(args.ClusterName).ToStringOutput(), args.Endpoint.ToStringOutput(),
		args.CAData.ToStringOutput(), args.ServiceCIDR.ToStringOutput())

	owned := map[string]string{ClusterTagPrefix + args.ClusterName: "owned", "Name": args.ClusterName + "-node"}
	lt, err := ec2.NewLaunchTemplate(ctx, name, &ec2.LaunchTemplateArgs{
		Description:  pulumi.Sprintf("EKS %s worker nodes (Amazon Linux 2023, nodeadm)", args.ClusterName),
		ImageId:      ami,
		InstanceType: pulumi.String(args.InstanceType),
		UserData:     userData,
		IamInstanceProfile: ec2.LaunchTemplateIamInstanceProfileArgs{
			Arn: args.InstanceProfileArn,
		},
		VpcSecurityGroupIds: args.SecurityGroupIDs,
		// IMDSv2 only, and a hop limit of 1 so the token never reaches a pod's network
		// namespace: pods get AWS credentials through IRSA, never from the node role.
		MetadataOptions: ec2.LaunchTemplateMetadataOptionsArgs{
			HttpEndpoint:            pulumi.String("enabled"),
			HttpTokens:              pulumi.String("required"),
			HttpPutResponseHopLimit: pulumi.Int(1),
		},
		BlockDeviceMappings: ec2.LaunchTemplateBlockDeviceMappingArray{ec2.LaunchTemplateBlockDeviceMappingArgs{
			DeviceName: pulumi.String("/dev/xvda"),
			Ebs: ec2.LaunchTemplateBlockDeviceMappingEbsArgs{
				VolumeSize:          pulumi.Int(args.DiskGiB),
				VolumeType:          pulumi.String("gp3"),
				Encrypted:           pulumi.String("true"),
				DeleteOnTermination: pulumi.String("true"),
			},
		}},
		TagSpecifications: ec2.LaunchTemplateTagSpecificationArray{
			ec2.LaunchTemplateTagSpecificationArgs{ResourceType: pulumi.String("instance"), Tags: withTags(args.Tags, owned)},
			ec2.LaunchTemplateTagSpecificationArgs{ResourceType: pulumi.String("volume"), Tags: withTags(args.Tags, owned)},
		},
		UpdateDefaultVersion: pulumi.Bool(true),
		Tags:                 withTags(args.Tags),
	}, parent)
	if err != nil {
		return nil, fmt.Errorf("workers %s: create launch template: %w", name, err)
	}

	// Owned marks the nodes as this cluster's; the two autoscaler tags let
	// cluster-autoscaler's auto-discovery find the group.
	asgTags := mergeTags(args.Tags, owned, map[string]string{
		"k8s.io/cluster-autoscaler/enabled":             "true",
		"k8s.io/cluster-autoscaler/" + args.ClusterName: "owned",
	})
	var tags autoscaling.GroupTagArray
	for _, k := range slices.Sorted(maps.Keys(asgTags)) {
		tags = append(tags, autoscaling.GroupTagArgs{Key: pulumi.String(k), Value: pulumi.String(asgTags[k]), PropagateAtLaunch: pulumi.Bool(true)})
	}
	asg, err := autoscaling.NewGroup(ctx, name, &autoscaling.GroupArgs{
		Name:               pulumi.String(args.ClusterName + "-workers"),
		VpcZoneIdentifiers: args.SubnetIDs,
		MinSize:            pulumi.Int(args.Min),
		MaxSize:            pulumi.Int(args.Max),
		DesiredCapacity:    pulumi.Int(args.Desired),
		LaunchTemplate: autoscaling.GroupLaunchTemplateArgs{
			Id:      lt.ID(),
			Version: lt.LatestVersion.ApplyT(func(v int) string { return strconv.Itoa(v) }).(pulumi.StringOutput),
		},
		Tags: tags,
	}, parent, pulumi.DependsOn(args.JoinAfter))
	if err != nil {
		return nil, fmt.Errorf("workers %s: create auto scaling group: %w", name, err)
	}

	w.AutoScalingGroupName = asg.Name
	w.LaunchTemplateID = lt.ID().ToStringOutput()
	w.AMI = ami
	if err := ctx.RegisterResourceOutputs(w, pulumi.Map{
		"autoScalingGroupName": w.AutoScalingGroupName,
		"launchTemplateId":     w.LaunchTemplateID,
		"ami":                  w.AMI,
	}); err != nil {
		return nil, fmt.Errorf("workers %s: register outputs: %w", name, err)
	}
	return w, nil
}
