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
	// AMIReleaseVersion pins the AMI to one EKS AMI release, e.g. "1.33.5-20251120"; changing
	// it rolls every node onto the new AMI. Empty: the recommended AMI when the launch
	// template is created, kept from then on (see NewWorkers).
	AMIReleaseVersion string
	Endpoint          pulumi.StringInput
	CAData            pulumi.StringInput
	ServiceCIDR       pulumi.StringInput

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

// graviton matches instance types with AWS Graviton (arm64) processors: m7g, c7gn, t4g, x2gd, g5g.
var graviton = regexp.MustCompile(`^[a-z]+[0-9]+[a-z]*g[a-z]*\.`)

// instanceFamily splits an instance type into family letters, generation and attributes:
// "g4dn.xlarge" is g, 4, dn.
var instanceFamily = regexp.MustCompile(`^([a-z]+)([0-9]+)([a-z-]*)\.`)

// The variants of the EKS-optimized Amazon Linux 2023 AMI: the segment of its SSM parameter
// after the architecture (EKS user guide, "Retrieve recommended Amazon Linux AMI IDs").
const (
	AMIStandard = "standard"
	AMINvidia   = "nvidia" // NVIDIA driver and container toolkit: g*, gr*, p*
	AMINeuron   = "neuron" // AWS Neuron driver: Inferentia (inf*) and Trainium (trn*)
)

// AMIArchitecture is the AMI architecture an instance type runs: arm64 for Graviton.
func AMIArchitecture(instanceType string) string {
	if graviton.MatchString(instanceType) {
		return "arm64"
	}
	return "x86_64"
}

// AMIVariant is the AL2023 variant an instance type needs: the standard image has no GPU
// or Neuron driver, so GPU and Inferentia/Trainium nodes would join without their devices.
func AMIVariant(instanceType string) string {
	m := instanceFamily.FindStringSubmatch(instanceType)
	if m == nil {
		return AMIStandard
	}
	family, generation, attributes := m[1], m[2], m[3]
	switch {
	case family == "inf" || family == "trn":
		return AMINeuron
	case family == "g" && generation == "4" && attributes == "ad":
		return AMIStandard // g4ad: AMD Radeon GPUs, no NVIDIA driver to load
	case family == "g" || family == "gr" || family == "p":
		return AMINvidia
	}
	return AMIStandard
}

// amiRelease is an EKS AMI release as managed node groups name it: "<k8s minor>.<patch>-<date>".
var amiRelease = regexp.MustCompile(`^(1\.[0-9]+)\.[0-9]+-([0-9]{8})$`)

// ParseAMIRelease splits an AMI release version such as "1.33.5-20251120" into the Kubernetes
// minor ("1.33") and the build date ("20251120") that name its SSM parameter.
func ParseAMIRelease(release string) (minor, date string, err error) {
	m := amiRelease.FindStringSubmatch(release)
	if m == nil {
		return "", "", fmt.Errorf("AMI release %q: want <kubernetes version>-<date> such as 1.33.5-20251120", release)
	}
	return m[1], m[2], nil
}

// AMIParameter is the public SSM parameter holding the EKS-optimized Amazon Linux 2023 AMI
// for a Kubernetes version and instance type: the recommended one when release is empty,
// else that release's, whose parameter is named after the AMI
// (amazon-eks-node-al2023-<arch>-<variant>-<minor>-v<date>).
func AMIParameter(version, instanceType, release string) (string, error) {
	arch, variant := AMIArchitecture(instanceType), AMIVariant(instanceType)
	leaf := "recommended"
	if release != "" {
		minor, date, err := ParseAMIRelease(release)
		if err != nil {
			return "", err
		}
		if minor != version {
			return "", fmt.Errorf("AMI release %s is built for Kubernetes %s, not the cluster's %s", release, minor, version)
		}
		leaf = fmt.Sprintf("amazon-eks-node-al2023-%s-%s-%s-v%s", arch, variant, minor, date)
	}
	return fmt.Sprintf("/aws/service/eks/optimized-ami/%s/amazon-linux-2023/%s/%s/%s/image_id", version, arch, variant, leaf), nil
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
	parameter, err := AMIParameter(args.Version, args.InstanceType, args.AMIReleaseVersion)
	if err != nil {
		return nil, fmt.Errorf("workers %s: %w", name, err)
	}
	w := &Workers{}
	if err := ctx.RegisterComponentResource(WorkersType, name, w, opts...); err != nil {
		return nil, err
	}
	parent := pulumi.Parent(w)

	ami := ssm.LookupParameterOutput(ctx, ssm.LookupParameterOutputArgs{Name: pulumi.String(parameter)}, parent).Value()
	// Which AMI the nodes run is a decision, never a side effect of running `up`: the
	// recommended parameter moves with every AMI release, so without a pinned release the
	// image read when the launch template is created is kept (a second `up` weeks later
	// changes nothing). A pinned release is applied as given, so setting or bumping it rolls
	// the nodes onto that AMI through the group's instance refresh. Moving to another
	// Kubernetes minor, architecture or variant needs a release set, or the old image stays.
	ltOpts := []pulumi.ResourceOption{parent}
	if args.AMIReleaseVersion == "" {
		ltOpts = append(ltOpts, pulumi.IgnoreChanges([]string{"imageId"}))
	}
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
	}, ltOpts...)
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
		// Every launch-template change makes a new version, and a new version replaces the
		// nodes a few at a time: an AMI bump or a user-data change reaches every node.
		InstanceRefresh: autoscaling.GroupInstanceRefreshArgs{
			Strategy: pulumi.String("Rolling"),
			Preferences: autoscaling.GroupInstanceRefreshPreferencesArgs{
				MinHealthyPercentage: pulumi.Int(90),
			},
		},
		Tags: tags,
	}, parent, pulumi.DependsOn(args.JoinAfter),
		// Desired capacity is set when the group is created, then belongs to
		// cluster-autoscaler: an `up` must not undo its scaling.
		pulumi.IgnoreChanges([]string{"desiredCapacity"}))
	if err != nil {
		return nil, fmt.Errorf("workers %s: create auto scaling group: %w", name, err)
	}

	w.AutoScalingGroupName = asg.Name
	w.LaunchTemplateID = lt.ID().ToStringOutput()
	// The image in the template, which under the create-time pin may be older than the
	// parameter's current value.
	w.AMI = lt.ImageId.Elem()
	if err := ctx.RegisterResourceOutputs(w, pulumi.Map{
		"autoScalingGroupName": w.AutoScalingGroupName,
		"launchTemplateId":     w.LaunchTemplateID,
		"ami":                  w.AMI,
	}); err != nil {
		return nil, fmt.Errorf("workers %s: register outputs: %w", name, err)
	}
	return w, nil
}
