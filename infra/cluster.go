package infra

import (
	"errors"
	"fmt"

	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/cloudwatch"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/ec2"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/eks"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/iam"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/eks-irsa/eks-irsa/awsaccess"
)

// ClusterType is the Cluster component's type token.
const ClusterType = "eksirsa:infra:Cluster"

// ModeAPIAndConfigMap is the access mode of a cluster whose args name none.
const ModeAPIAndConfigMap = "API_AND_CONFIG_MAP"

// ControlPlaneLogTypes are the control-plane logs the cluster ships: all of them.
var ControlPlaneLogTypes = []string{"api", "audit", "authenticator", "controllerManager", "scheduler"}

// ClusterArgs configure the EKS control plane.
type ClusterArgs struct {
	Partition         Partition
	Region            string
	Name              string // the EKS cluster name
	RoleName          string // the cluster IAM role's name
	Version           string // "1.33"
	VpcID             pulumi.StringInput
	SubnetIDs         pulumi.StringArrayInput // public and private: EKS places its ENIs in them
	PublicAccessCIDRs []string
	LogRetentionDays  int
	SecretsKMSKeyARN  string // empty: no envelope encryption
	// AuthenticationMode is API_AND_CONFIG_MAP (empty: the same) or API.
	AuthenticationMode string
	// Credentials is who the kubeconfig's `aws eks get-token` signs as: the AWS provider's
	// profile and assumed role.
	Credentials awsaccess.ExecCredentials
	// Readiness, when set, holds the Kubeconfig output back until the new API server answers
	// /readyz with the cluster's CA, so no Kubernetes object is applied before it can be.
	// Nil: the kubeconfig resolves as soon as the cluster exists (the offline plan, which
	// has no cluster to reach).
	Readiness *Readiness
	Tags      map[string]string
}

// Cluster is the EKS control plane with its role, security groups and log group.
type Cluster struct {
	pulumi.ResourceState

	Name pulumi.StringOutput
	Arn  pulumi.StringOutput
	// Identifier is the cluster's ARN as EKS forms it (arn:<partition>:eks:<region>:<account>:
	// cluster/<name>), built from the stack's account without waiting for the cluster: known
	// in every preview and unchanged when the cluster is replaced (see k8s.ProviderArgs).
	Identifier pulumi.StringOutput
	// EKS is the cluster resource itself: what the Kubernetes objects are deleted with.
	EKS         *eks.Cluster
	Endpoint    pulumi.StringOutput
	CAData      pulumi.StringOutput // base64 PEM
	ServiceCIDR pulumi.StringOutput
	// OIDCIssuer is the issuer URL, with https://.
	OIDCIssuer pulumi.StringOutput
	// Kubeconfig is a secret: it names the cluster and authenticates with `aws eks get-token`.
	Kubeconfig          pulumi.StringOutput
	NodeSecurityGroupID pulumi.StringOutput
	LogGroupName        pulumi.StringOutput
	// AuthenticationMode is the access mode as EKS reports it.
	AuthenticationMode pulumi.StringOutput
}

func (a *ClusterArgs) validate() error {
	var errs []error
	if a.Name == "" || a.RoleName == "" {
		errs = append(errs, errors.New("Name and RoleName are required"))
	}
	if a.Version == "" {
		errs = append(errs, errors.New("Version is required"))
	}
	if a.VpcID == nil || a.SubnetIDs == nil {
		errs = append(errs, errors.New("VpcID and SubnetIDs are required"))
	}
	if len(a.PublicAccessCIDRs) == 0 {
		errs = append(errs, errors.New("PublicAccessCIDRs is empty: list 0.0.0.0/0 to allow any"))
	}
	return errors.Join(errs...)
}

// NewCluster creates the control plane. It waits only for what EKS needs (its role's policy,
// its subnets, its security group, its log group), never for NAT gateways, flow logs or
// endpoints, so those build during the ~10 minutes EKS takes.
func NewCluster(ctx *pulumi.Context, name string, args *ClusterArgs, opts ...pulumi.ResourceOption) (*Cluster, error) {
	if args == nil {
		return nil, fmt.Errorf("cluster %s: args are required", name)
	}
	if err := args.validate(); err != nil {
		return nil, fmt.Errorf("cluster %s: %w", name, err)
	}
	c := &Cluster{}
	if err := ctx.RegisterComponentResource(ClusterType, name, c, opts...); err != nil {
		return nil, err
	}
	parent := pulumi.Parent(c)

	role, err := iam.NewRole(ctx, name+"-role", &iam.RoleArgs{
		Name:             pulumi.String(args.RoleName),
		AssumeRolePolicy: mustJSON(serviceTrustPolicy(eksPrincipal)),
		Tags:             withTags(args.Tags),
	}, parent)
	if err != nil {
		return nil, fmt.Errorf("cluster %s: create role: %w", name, err)
	}
	attachments, err := attachPolicies(ctx, name+"-role", role, []string{args.Partition.ManagedPolicyARN("AmazonEKSClusterPolicy")}, parent)
	if err != nil {
		return nil, fmt.Errorf("cluster %s: %w", name, err)
	}

	controlPlane, nodes, err := newSecurityGroups(ctx, name, args, parent)
	if err != nil {
		return nil, fmt.Errorf("cluster %s: %w", name, err)
	}

	// EKS creates this group on first log line if it is missing, and then nothing deletes it;
	// creating it first makes it ours, with retention, and destroy removes it.
	logGroup, err := cloudwatch.NewLogGroup(ctx, name+"-logs", &cloudwatch.LogGroupArgs{
		Name:            pulumi.Sprintf("/aws/eks/%s/cluster", args.Name),
		RetentionInDays: pulumi.Int(args.LogRetentionDays),
		Tags:            withTags(args.Tags),
	}, parent)
	if err != nil {
		return nil, fmt.Errorf("cluster %s: create log group: %w", name, err)
	}

	mode := args.AuthenticationMode
	if mode == "" {
		mode = ModeAPIAndConfigMap
	}
	clusterArgs := &eks.ClusterArgs{
		Name:    pulumi.String(args.Name),
		RoleArn: role.Arn,
		Version: pulumi.String(args.Version),
		VpcConfig: eks.ClusterVpcConfigArgs{
			SubnetIds:             args.SubnetIDs,
			SecurityGroupIds:      pulumi.StringArray{controlPlane.ID()},
			EndpointPrivateAccess: pulumi.Bool(true),
			EndpointPublicAccess:  pulumi.Bool(true),
			PublicAccessCidrs:     pulumi.ToStringArray(args.PublicAccessCIDRs),
		},
		EnabledClusterLogTypes: pulumi.ToStringArray(ControlPlaneLogTypes),
		AccessConfig: eks.ClusterAccessConfigArgs{
			// API_AND_CONFIG_MAP: aws-auth keeps working for the nodes. API: access entries
			// only (NewAccess), a change EKS makes in place and one way only.
			AuthenticationMode: pulumi.String(mode),
			// The creator stays admin, in both modes. The stack's Kubernetes provider signs as
			// the creator and must apply objects as soon as the cluster answers, before any entry
			// the program could make; an entry the program made for the creator instead would
			// collide with the one EKS makes (ResourceInUseException, pulumi-eks#2373); and the
			// flag is ForceNew (terraform-provider-aws internal/service/eks/cluster.go,
			// access_config.bootstrap_cluster_creator_admin_permissions), so turning it off
			// would replace every existing cluster. EKS documents it as the creator's admin entry
			// (API_CreateAccessConfigRequest, bootstrapClusterCreatorAdminPermissions).
			BootstrapClusterCreatorAdminPermissions: pulumi.Bool(true),
		},
		Tags: withTags(args.Tags),
	}
	if args.SecretsKMSKeyARN != "" {
		clusterArgs.EncryptionConfig = eks.ClusterEncryptionConfigArgs{
			Provider:  eks.ClusterEncryptionConfigProviderArgs{KeyArn: pulumi.String(args.SecretsKMSKeyARN)},
			Resources: pulumi.ToStringArray([]string{"secrets"}),
		}
	}
	cluster, err := eks.NewCluster(ctx, name, clusterArgs, parent,
		pulumi.DependsOn(append(attachments, logGroup)))
	if err != nil {
		return nil, fmt.Errorf("cluster %s: create EKS cluster: %w", name, err)
	}

	c.Name = cluster.Name
	c.Arn = cluster.Arn
	c.EKS = cluster
	account := aws.GetCallerIdentityOutput(ctx, aws.GetCallerIdentityOutputArgs{}, parent).AccountId()
	c.Identifier = pulumi.Sprintf("arn:%s:eks:%s:%s:cluster/%s", args.Partition.Name, args.Region, account, args.Name)
	c.Endpoint = cluster.Endpoint
	c.CAData = cluster.CertificateAuthority.Data().Elem()
	c.ServiceCIDR = cluster.KubernetesNetworkConfig.ServiceIpv4Cidr().Elem()
	c.OIDCIssuer = cluster.Identities.Index(pulumi.Int(0)).Oidcs().Index(pulumi.Int(0)).Issuer().Elem()
	c.NodeSecurityGroupID = nodes.ID().ToStringOutput()
	c.LogGroupName = logGroup.Name
	c.AuthenticationMode = cluster.AccessConfig.AuthenticationMode().Elem()
	c.Kubeconfig = kubeconfigOutput(c.Name, c.Endpoint, c.CAData, args.Region, args.Credentials)
	if args.Readiness != nil {
		c.Kubeconfig = readyKubeconfig(ctx, c.Kubeconfig, c.Endpoint, c.CAData, *args.Readiness)
	}

	if err := ctx.RegisterResourceOutputs(c, pulumi.Map{
		"name":       c.Name,
		"endpoint":   c.Endpoint,
		"oidcIssuer": c.OIDCIssuer,
		"kubeconfig": c.Kubeconfig,
	}); err != nil {
		return nil, fmt.Errorf("cluster %s: register outputs: %w", name, err)
	}
	return c, nil
}

// newSecurityGroups makes the control-plane and node groups with the walkthrough's four
// rules: nodes→API 443, API→nodes 443 and 1025-65535 (kubelet, webhooks), node↔node all.
func newSecurityGroups(ctx *pulumi.Context, name string, args *ClusterArgs, parent pulumi.ResourceOrInvokeOption) (controlPlane, nodes *ec2.SecurityGroup, err error) {
	allEgress := ec2.SecurityGroupEgressArray{ec2.SecurityGroupEgressArgs{
		Protocol: pulumi.String("-1"), FromPort: pulumi.Int(0), ToPort: pulumi.Int(0),
		CidrBlocks: pulumi.ToStringArray([]string{"0.0.0.0/0"}),
	}}
	controlPlane, err = ec2.NewSecurityGroup(ctx, name+"-control-plane", &ec2.SecurityGroupArgs{
		VpcId:       args.VpcID,
		Description: pulumi.Sprintf("EKS %s control plane", args.Name),
		Egress:      allEgress,
		Tags:        withTags(args.Tags, map[string]string{"Name": args.Name + "-control-plane"}),
	}, parent)
	if err != nil {
		return nil, nil, fmt.Errorf("create control-plane security group: %w", err)
	}
	nodes, err = ec2.NewSecurityGroup(ctx, name+"-nodes", &ec2.SecurityGroupArgs{
		VpcId:       args.VpcID,
		Description: pulumi.Sprintf("EKS %s worker nodes", args.Name),
		Egress:      allEgress,
		Tags: withTags(args.Tags, map[string]string{
			"Name": args.Name + "-nodes", ClusterTagPrefix + args.Name: "owned",
		}),
	}, parent)
	if err != nil {
		return nil, nil, fmt.Errorf("create node security group: %w", err)
	}
	rules := []struct {
		suffix, description, protocol string
		from, to                      int
		group, source                 *ec2.SecurityGroup
	}{
		{"nodes-to-api", "nodes reach the API server", "tcp", 443, 443, controlPlane, nodes},
		{"api-to-nodes-https", "API server reaches webhooks and metrics on nodes", "tcp", 443, 443, nodes, controlPlane},
		{"api-to-nodes", "API server reaches kubelets and pods", "tcp", 1025, 65535, nodes, controlPlane},
		{"node-to-node", "nodes and pods talk to each other", "-1", 0, 0, nodes, nodes},
	}
	for _, r := range rules {
		if _, err := ec2.NewSecurityGroupRule(ctx, name+"-"+r.suffix, &ec2.SecurityGroupRuleArgs{
			Type:                  pulumi.String("ingress"),
			Description:           pulumi.String(r.description),
			Protocol:              pulumi.String(r.protocol),
			FromPort:              pulumi.Int(r.from),
			ToPort:                pulumi.Int(r.to),
			SecurityGroupId:       r.group.ID(),
			SourceSecurityGroupId: r.source.ID(),
		}, parent); err != nil {
			return nil, nil, fmt.Errorf("create security group rule %s: %w", r.suffix, err)
		}
	}
	return controlPlane, nodes, nil
}
