// Package stack is the eks-irsa Pulumi program: it reads the typed configuration, wires the
// AWS components of infra to the Kubernetes components of k8s, and exports the outputs.
// main.go (for `pulumi up`) and the Automation API driver both run Program, so the CLI and
// the driver share one program, one project file and the same stack files.
package stack

import (
	"encoding/json"
	"fmt"
	"slices"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/eks-irsa/eks-irsa/infra"
	"github.com/eks-irsa/eks-irsa/k8s"
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
	OutAWSNodeRoleARN      = "awsNodeRoleArn"
	OutServiceAccountRoles = "serviceAccountRoleArns"
	// OutServiceAccounts is every account given a role, keyed "namespace/name", each with
	// k8s.AccountRoleARNKey and k8s.AccountModeKey: what verify checks.
	OutServiceAccounts = "serviceAccounts"
	// OutIRSARoles is every IRSA role keyed "namespace/name", each with the IRSARole*Key
	// entries: what `eksirsa drift` compares with IAM.
	OutIRSARoles = "irsaRoles"
	// OutAWSAuth is aws-auth's data as written, under k8s.MapRolesKey and k8s.MapUsersKey.
	OutAWSAuth = "awsAuth"
	// OutAuthenticationMode is the cluster's access mode as EKS reports it: what the next
	// update's config is checked against (CheckModeChange).
	OutAuthenticationMode = "authenticationMode"
	OutVpcID              = "vpcId"
	OutPublicSubnetIDs    = "publicSubnetIds"
	OutPrivateSubnetIDs   = "privateSubnetIds"
	OutFlowLogGroup       = "flowLogGroupName"
	OutClusterLogGroup    = "clusterLogGroupName"
	OutNodeGroup          = "autoScalingGroupName"
	OutDesiredNodes       = "desiredNodes"
	OutMinNodes           = "minNodes"
	OutMaxNodes           = "maxNodes"
)

// Keys of each entry of OutIRSARoles.
const (
	IRSARoleARNKey         = "roleArn"
	IRSATrustPolicyKey     = "trustPolicy"
	IRSAManagedPoliciesKey = "managedPolicyArns"
	IRSAInlinePolicyKey    = "inlinePolicy"
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

	// The VPC CNI's role first: with it annotated and aws-node restarted before any node
	// boots, the CNI never runs without credentials.
	awsNodeRole, err := newIRSARole(ctx, cfg, ServiceAccountRoleConfig{
		Namespace:         k8s.KubeSystemNamespace,
		ServiceAccount:    k8s.AWSNodeName,
		RoleName:          cfg.AWSNodeRoleName(),
		ManagedPolicyARNs: []string{partition.ManagedPolicyARN("AmazonEKS_CNI_Policy")},
	}, oidc)
	if err != nil {
		return nil, err
	}
	irsaRoles := pulumi.Map{k8s.AccountKey(k8s.KubeSystemNamespace, k8s.AWSNodeName): irsaRoleOutput(awsNodeRole)}
	layerArgs := &k8s.LayerArgs{
		Kubeconfig:        cluster.Kubeconfig,
		ClusterIdentifier: cluster.Identifier,
		Cluster:           k8s.ClusterInstance{Issuer: cluster.OIDCIssuer, Resource: cluster.EKS},
		NodeRoleARN:       nodeRole.Arn,
		AWSNodeRoleARN:    awsNodeRole.Arn,
		AWSAuth:           awsAuthMappings(cfg.AWSAuth),
	}
	for _, r := range cfg.ServiceAccountRoles {
		role, err := newIRSARole(ctx, cfg, r, oidc)
		if err != nil {
			return nil, err
		}
		irsaRoles[k8s.AccountKey(r.Namespace, r.ServiceAccount)] = irsaRoleOutput(role)
		mode := r.Account
		if mode == "" {
			mode = k8s.NoServiceAccount
		}
		layerArgs.Bindings = append(layerArgs.Bindings, k8s.Binding{
			Name:            cfg.RoleName(r),
			Namespace:       r.Namespace,
			ServiceAccount:  r.ServiceAccount,
			RoleARN:         role.Arn,
			Mode:            mode,
			CreateNamespace: r.CreateNamespace,
		})
	}
	layer, err := k8s.NewLayer(ctx, name, layerArgs)
	if err != nil {
		return nil, err
	}
	roleARNs := pulumi.StringMap{}
	for key, account := range layer.Accounts {
		roleARNs[key] = account.RoleARN
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
		// Capacity last: nodes join only once the Kubernetes layer is in place and the
		// private subnets have egress.
		JoinAfter: append(slices.Clone(layer.NodesWaitFor), network.Egress...),
		Tags:      tags,
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
		OutAWSNodeRoleARN:      layer.AWSNode.RoleARN,
		OutServiceAccountRoles: roleARNs,
		OutServiceAccounts:     layer.AccountsOutput(),
		OutIRSARoles:           irsaRoles,
		OutAWSAuth:             pulumi.Map{k8s.MapRolesKey: layer.AWSAuth.MapRoles, k8s.MapUsersKey: layer.AWSAuth.MapUsers},
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

// irsaRoleOutput is one entry of OutIRSARoles.
func irsaRoleOutput(r *infra.IRSARole) pulumi.Map {
	return pulumi.Map{
		IRSARoleARNKey:         r.Arn,
		IRSATrustPolicyKey:     r.TrustPolicy,
		IRSAManagedPoliciesKey: pulumi.ToStringArray(r.ManagedPolicyARNs),
		IRSAInlinePolicyKey:    pulumi.String(r.InlinePolicy),
	}
}

// awsAuthMappings are the configured aws-auth mappings besides the node role's.
func awsAuthMappings(c AWSAuthConfig) k8s.AWSAuthMappings {
	out := k8s.AWSAuthMappings{Adopt: c.Adopt}
	for _, m := range c.Roles {
		out.Roles = append(out.Roles, k8s.RoleMapping{RoleARN: pulumi.String(m.ARN), Username: m.Username, Groups: m.Groups})
	}
	for _, m := range c.Users {
		out.Users = append(out.Users, k8s.UserMapping{UserARN: pulumi.String(m.ARN), Username: m.Username, Groups: m.Groups})
	}
	return out
}

// newIRSARole makes the IRSA role of one service account. Its ARN resolves once the role's
// policies are attached. The component is named by the role's IAM name on purpose: a rename
// is then a new role, and the old one is deleted only after the program's last step (for
// aws-node, the roll onto the new ARN). Under a fixed name a rename would be a replacement,
// which pulumi-aws deletes before it creates for an explicitly named role
// (nameRequiresDeleteBeforeReplace), leaving pods on the ARN of a deleted role meanwhile
// (integration/rolewindow_test.go).
func newIRSARole(ctx *pulumi.Context, cfg *Config, r ServiceAccountRoleConfig, oidc *infra.OIDCProvider) (*infra.IRSARole, error) {
	var inline string
	if len(r.InlinePolicy) > 0 {
		compact, err := json.Marshal(r.InlinePolicy)
		if err != nil {
			return nil, fmt.Errorf("service account %s/%s: inline policy: %w", r.Namespace, r.ServiceAccount, err)
		}
		inline = string(compact)
	}
	roleName := cfg.RoleName(r)
	return infra.NewIRSARole(ctx, roleName, &infra.IRSARoleArgs{
		OIDCProviderARN:   oidc.Arn,
		IssuerHost:        oidc.IssuerHost,
		Namespace:         r.Namespace,
		ServiceAccount:    r.ServiceAccount,
		RoleName:          roleName,
		ManagedPolicyARNs: r.ManagedPolicyARNs,
		InlinePolicy:      inline,
		Tags:              cfg.AllTags(),
	})
}
