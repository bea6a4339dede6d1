package infra

import (
	"errors"
	"fmt"

	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/iam"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// NodeRoleType is the NodeRole component's type token.
const NodeRoleType = "eksirsa:infra:NodeRole"

// NodeRoleArgs configure the worker nodes' identity.
type NodeRoleArgs struct {
	Partition Partition
	RoleName  string
	// AttachCNIPolicy adds AmazonEKS_CNI_Policy. Off by default: aws-node has its own IRSA
	// role, and with IMDSv2 hop limit 1 no pod can borrow the node's.
	AttachCNIPolicy bool
	Tags            map[string]string
}

// NodeRole is the IAM role and instance profile worker nodes run as. It is separate from
// Workers (capacity) because aws-auth must map the role before any node exists.
type NodeRole struct {
	pulumi.ResourceState

	Arn  pulumi.StringOutput
	Name pulumi.StringOutput
	// UniqueID is IAM's id of the role (AROA...), new whenever the role is created again.
	UniqueID pulumi.StringOutput
	// InstanceProfileArn resolves once the role's policies are attached.
	InstanceProfileArn pulumi.StringOutput
	// PolicyARNs are the managed policies attached.
	PolicyARNs []string
}

// NodePolicyARNs are the managed policies a node role gets: the two the EKS user guide's
// "Amazon EKS node IAM role" page names. Image pulls need AmazonEC2ContainerRegistryPullOnly
// (GetAuthorizationToken, BatchGetImage, GetDownloadUrlForLayer, ...), which the guide lists
// in place of AmazonEC2ContainerRegistryReadOnly: ReadOnly also lets a node list and
// describe every repository and read its policies, which a kubelet never needs.
func NodePolicyARNs(p Partition, attachCNI bool) []string {
	arns := []string{p.ManagedPolicyARN("AmazonEKSWorkerNodePolicy"), p.ManagedPolicyARN("AmazonEC2ContainerRegistryPullOnly")}
	if attachCNI {
		arns = append(arns, p.ManagedPolicyARN("AmazonEKS_CNI_Policy"))
	}
	return arns
}

// NewNodeRole creates the role, its policy attachments and its instance profile.
func NewNodeRole(ctx *pulumi.Context, name string, args *NodeRoleArgs, opts ...pulumi.ResourceOption) (*NodeRole, error) {
	if args == nil || args.RoleName == "" || args.Partition.Name == "" {
		return nil, fmt.Errorf("node role %s: %w", name, errors.New("RoleName and Partition are required"))
	}
	n := &NodeRole{PolicyARNs: NodePolicyARNs(args.Partition, args.AttachCNIPolicy)}
	if err := ctx.RegisterComponentResource(NodeRoleType, name, n, opts...); err != nil {
		return nil, err
	}
	parent := pulumi.Parent(n)
	role, err := iam.NewRole(ctx, name, &iam.RoleArgs{
		Name:             pulumi.String(args.RoleName),
		AssumeRolePolicy: mustJSON(serviceTrustPolicy(args.Partition.EC2Principal())),
		Tags:             withTags(args.Tags),
	}, parent)
	if err != nil {
		return nil, fmt.Errorf("node role %s: create role: %w", name, err)
	}
	attachments, err := attachPolicies(ctx, name, role, n.PolicyARNs, parent)
	if err != nil {
		return nil, fmt.Errorf("node role %s: %w", name, err)
	}
	profile, err := iam.NewInstanceProfile(ctx, name, &iam.InstanceProfileArgs{
		Name: pulumi.String(args.RoleName),
		Role: role.Name,
		Tags: withTags(args.Tags),
	}, parent)
	if err != nil {
		return nil, fmt.Errorf("node role %s: create instance profile: %w", name, err)
	}
	n.Arn = role.Arn
	n.Name = role.Name
	n.UniqueID = role.UniqueId
	n.InstanceProfileArn = readyAfter(profile.Arn, attachments...)
	if err := ctx.RegisterResourceOutputs(n, pulumi.Map{
		"arn":                n.Arn,
		"instanceProfileArn": n.InstanceProfileArn,
	}); err != nil {
		return nil, fmt.Errorf("node role %s: register outputs: %w", name, err)
	}
	return n, nil
}
