// Package stack is the eks-irsa Pulumi program: it reads the typed configuration, wires the
// AWS components of infra to the Kubernetes components of k8s, and exports the outputs.
// main.go (for `pulumi up`) and the Automation API driver both run Program, so the CLI and
// the driver share one program, one project file and the same stack files.
package stack

import (
	"encoding/json"
	"fmt"

	"github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/eks-irsa/eks-irsa/infra"
	"github.com/eks-irsa/eks-irsa/k8s"
)

// The aws-node DaemonSet (the VPC CNI) and its account, which EKS creates and owns.
const (
	AwsNodeNamespace      = k8s.KubeSystemNamespace
	AwsNodeServiceAccount = "aws-node"
	AwsNodeDaemonSet      = "aws-node"
)

// Output names, as `pulumi stack output` and the driver show them.
const (
	OutRegion              = "region"
	OutClusterName         = "clusterName"
	OutEndpoint            = "endpoint"
	OutKubeconfig          = "kubeconfig"
	OutOIDCProviderARN     = "oidcProviderArn"
	OutOIDCIssuer          = "oidcIssuer"
	OutNodeRoleARN         = "nodeRoleArn"
	OutAwsNodeRoleARN      = "awsNodeRoleArn"
	OutServiceAccountRoles = "serviceAccountRoleArns"
	OutVpcID               = "vpcId"
	OutPublicSubnetIDs     = "publicSubnetIds"
	OutPrivateSubnetIDs    = "privateSubnetIds"
	OutFlowLogGroup        = "flowLogGroupName"
	OutClusterLogGroup     = "clusterLogGroupName"
	OutNodeGroup           = "autoScalingGroupName"
	OutDesiredNodes        = "desiredNodes"
	OutMinNodes            = "minNodes"
	OutMaxNodes            = "maxNodes"
)

// Program is the Pulumi program: Build, with every Kubernetes object held back until the
// new cluster's API server answers (infra.Readiness).
func Program(ctx *pulumi.Context) error {
	outputs, err := build(ctx, &infra.DefaultReadiness)
	if err != nil {
		return err
	}
	for name, value := range outputs {
		ctx.Export(name, value)
	}
	return nil
}

// Build registers every resource and returns the stack outputs. The configuration is
// validated first: on a *ConfigError nothing has been registered. Unlike Program it does not
// wait for the API server, so the offline plan can run it with no cluster to reach.
func Build(ctx *pulumi.Context) (pulumi.Map, error) { return build(ctx, nil) }

func build(ctx *pulumi.Context, readiness *infra.Readiness) (pulumi.Map, error) {
	cfg, err := LoadConfig(ctx)
	if err != nil {
		return nil, err
	}
	creds, err := execCredentials(ctx)
	if err != nil {
		return nil, err
	}
	partition, err := infra.LookupPartition(ctx)
	if err != nil {
		return nil, err
	}
	name, tags := cfg.Name(), cfg.AllTags()

	network, err := infra.NewNetwork(ctx, name, &infra.NetworkArgs{
		Partition:         partition,
		Region:            cfg.Region,
		ClusterName:       name,
		CIDR:              cfg.Network.CIDR,
		AvailabilityZones: cfg.Network.AvailabilityZones,
		PublicSubnets:     cfg.Network.PublicSubnets,
		PrivateSubnets:    cfg.Network.PrivateSubnets,
		NAT:               infra.NATMode(cfg.Network.NATGateways),
		ECREndpoints:      cfg.Network.ECREndpoints,
		S3Endpoint:        cfg.Network.S3Endpoint,
		FlowLogs:          cfg.Network.FlowLogs,
		FlowLogRoleName:   cfg.FlowLogRoleName(),
		LogRetentionDays:  cfg.Cluster.LogRetentionDays,
		Tags:              tags,
	})
	if err != nil {
		return nil, err
	}

	cluster, err := infra.NewCluster(ctx, name, &infra.ClusterArgs{
		Partition:         partition,
		Region:            cfg.Region,
		Name:              name,
		RoleName:          cfg.ClusterRoleName(),
		Version:           cfg.Cluster.Version,
		VpcID:             network.VpcID,
		SubnetIDs:         network.SubnetIDs,
		PublicAccessCIDRs: cfg.Cluster.PublicAccessCIDRs,
		LogRetentionDays:  cfg.Cluster.LogRetentionDays,
		SecretsKMSKeyARN:  cfg.Cluster.SecretsKMSKeyARN,
		Credentials:       creds,
		Readiness:         readiness,
		Tags:              tags,
	})
	if err != nil {
		return nil, err
	}

	oidc, err := infra.NewOIDCProvider(ctx, name, &infra.OIDCProviderArgs{
		IssuerURL:        cluster.OIDCIssuer,
		ExtraThumbprints: cfg.OIDC.ExtraThumbprints,
		Thumbprints:      cfg.OIDC.Thumbprints,
		Tags:             tags,
	})
	if err != nil {
		return nil, err
	}

	nodeRole, err := infra.NewNodeRole(ctx, cfg.NodeRoleName(), &infra.NodeRoleArgs{
		Partition:       partition,
		RoleName:        cfg.NodeRoleName(),
		AttachCNIPolicy: cfg.Nodes.AttachCNIPolicy,
		Tags:            tags,
	})
	if err != nil {
		return nil, err
	}

	providers, err := k8s.NewProviders(ctx, name, &k8s.ProviderArgs{Kubeconfig: cluster.Kubeconfig, ClusterIdentifier: cluster.Arn})
	if err != nil {
		return nil, err
	}
	awsAuth, err := newAwsAuth(ctx, name, cfg, providers.Apply, nodeRole)
	if err != nil {
		return nil, err
	}

	// The VPC CNI's role first: with it annotated and aws-node restarted before any node
	// boots, the CNI never runs without credentials.
	roles := append([]ServiceAccountRoleConfig{{
		Namespace:         AwsNodeNamespace,
		ServiceAccount:    AwsNodeServiceAccount,
		RoleName:          cfg.AwsNodeRoleName(),
		ManagedPolicyARNs: []string{partition.ManagedPolicyARN("AmazonEKS_CNI_Policy")},
		Account:           k8s.AnnotateServiceAccount,
	}}, cfg.ServiceAccountRoles...)
	roleARNs := pulumi.StringMap{}
	var awsNodeRoleARN pulumi.StringOutput
	// Capacity last: nodes join only once aws-auth maps their role, aws-node holds its
	// role (and has rolled onto it) and the private subnets have egress. The Kubernetes
	// objects themselves, not their components: the SDK records a component's children
	// asynchronously, so depending on a component can miss a child registered just before.
	joinAfter := []pulumi.Resource{awsAuth.ConfigMap}
	for i, r := range roles {
		arn, binding, err := newServiceAccountRole(ctx, cfg, r, oidc, providers, i == 0)
		if err != nil {
			return nil, err
		}
		if i == 0 {
			awsNodeRoleARN = arn
		}
		roleARNs[r.Namespace+"/"+r.ServiceAccount] = arn
		if binding != nil {
			joinAfter = append(joinAfter, binding.Resources()...)
		}
	}

	workers, err := infra.NewWorkers(ctx, name+"-workers", &infra.WorkersArgs{
		ClusterName:        name,
		Version:            cfg.Cluster.Version,
		AMIReleaseVersion:  cfg.Nodes.AMIReleaseVersion,
		Endpoint:           cluster.Endpoint,
		CAData:             cluster.CAData,
		ServiceCIDR:        cluster.ServiceCIDR,
		InstanceType:       cfg.Nodes.InstanceType,
		Desired:            cfg.Nodes.Desired,
		Min:                cfg.Nodes.Min,
		Max:                cfg.Nodes.Max,
		DiskGiB:            cfg.Nodes.DiskGiB,
		InstanceProfileArn: nodeRole.InstanceProfileArn,
		SecurityGroupIDs:   pulumi.StringArray{cluster.NodeSecurityGroupID},
		SubnetIDs:          network.PrivateSubnetIDs,
		JoinAfter:          append(joinAfter, network.Egress...),
		Tags:               tags,
	})
	if err != nil {
		return nil, err
	}

	return pulumi.Map{
		OutRegion:              pulumi.String(cfg.Region),
		OutClusterName:         cluster.Name,
		OutEndpoint:            cluster.Endpoint,
		OutKubeconfig:          cluster.Kubeconfig,
		OutOIDCProviderARN:     oidc.Arn,
		OutOIDCIssuer:          oidc.URL,
		OutNodeRoleARN:         nodeRole.Arn,
		OutAwsNodeRoleARN:      awsNodeRoleARN,
		OutServiceAccountRoles: roleARNs,
		OutVpcID:               network.VpcID,
		OutPublicSubnetIDs:     network.PublicSubnetIDs,
		OutPrivateSubnetIDs:    network.PrivateSubnetIDs,
		OutFlowLogGroup:        network.FlowLogGroupName,
		OutClusterLogGroup:     cluster.LogGroupName,
		OutNodeGroup:           workers.AutoScalingGroupName,
		OutDesiredNodes:        pulumi.Int(cfg.Nodes.Desired),
		OutMinNodes:            pulumi.Int(cfg.Nodes.Min),
		OutMaxNodes:            pulumi.Int(cfg.Nodes.Max),
	}, nil
}

// newAwsAuth maps the node role and the configured roles and users in aws-auth.
func newAwsAuth(ctx *pulumi.Context, name string, cfg *Config, provider *kubernetes.Provider, nodeRole *infra.NodeRole) (*k8s.AwsAuth, error) {
	args := &k8s.AwsAuthArgs{
		Provider:      provider,
		NodeRoleARN:   nodeRole.Arn,
		AdoptExisting: cfg.AwsAuth.Adopt,
	}
	for _, m := range cfg.AwsAuth.Roles {
		args.Roles = append(args.Roles, k8s.RoleMapping{RoleARN: pulumi.String(m.ARN), Username: m.Username, Groups: m.Groups})
	}
	for _, m := range cfg.AwsAuth.Users {
		args.Users = append(args.Users, k8s.UserMapping{UserARN: pulumi.String(m.ARN), Username: m.Username, Groups: m.Groups})
	}
	return k8s.NewAwsAuth(ctx, name+"-aws-auth", args)
}

// newServiceAccountRole makes the IRSA role of one service account and, unless the account
// is left to someone else, binds it in the cluster. It returns the role ARN (resolving once
// the role's policies are attached) and the binding, if any.
func newServiceAccountRole(ctx *pulumi.Context, cfg *Config, r ServiceAccountRoleConfig, oidc *infra.OIDCProvider,
	providers *k8s.Providers, isAwsNode bool) (pulumi.StringOutput, *k8s.ServiceAccountRole, error) {
	var inline string
	if len(r.InlinePolicy) > 0 {
		compact, err := json.Marshal(r.InlinePolicy)
		if err != nil {
			return pulumi.StringOutput{}, nil, fmt.Errorf("service account %s/%s: inline policy: %w", r.Namespace, r.ServiceAccount, err)
		}
		inline = string(compact)
	}
	roleName := cfg.RoleName(r)
	role, err := infra.NewIRSARole(ctx, roleName, &infra.IRSARoleArgs{
		OIDCProviderARN:   oidc.Arn,
		IssuerHost:        oidc.IssuerHost,
		Namespace:         r.Namespace,
		ServiceAccount:    r.ServiceAccount,
		RoleName:          roleName,
		ManagedPolicyARNs: r.ManagedPolicyARNs,
		InlinePolicy:      inline,
		Tags:              cfg.AllTags(),
	})
	if err != nil {
		return pulumi.StringOutput{}, nil, err
	}
	if r.Account == "" || r.Account == k8s.NoServiceAccount {
		return role.Arn, nil, nil
	}
	args := &k8s.ServiceAccountRoleArgs{
		Provider:        providers.Apply,
		CreateProvider:  providers.Create,
		Namespace:       r.Namespace,
		ServiceAccount:  r.ServiceAccount,
		RoleARN:         role.Arn,
		Mode:            r.Account,
		CreateNamespace: r.CreateNamespace,
	}
	if isAwsNode {
		args.RestartDaemonSet = AwsNodeDaemonSet
	}
	binding, err := k8s.NewServiceAccountRole(ctx, roleName, args)
	if err != nil {
		return pulumi.StringOutput{}, nil, err
	}
	return binding.RoleARN, binding, nil
}
