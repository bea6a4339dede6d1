// Package stack is the eks-irsa Pulumi program: it reads the typed configuration, wires the
// AWS components of infra to the Kubernetes components of k8s, and exports the outputs.
// main.go (for `pulumi up`) and the Automation API driver both run Program, so the CLI and
// the driver share one program, one project file and the same stack files.
package stack

import (
	"encoding/json"
	"fmt"
	"slices"

	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws"
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
	// OutAccessEntries lists the access entries the stack owns (AccessEntry*Key fields); in API
	// mode the nodes' first. OutAWSAuth is absent in API mode: there is no aws-auth.
	OutAccessEntries = "accessEntries"
	// OutPodIdentity is every Pod Identity account (identity podIdentity, both or bothUnannotated) keyed
	// "namespace/name", each with PodIdentityRoleARNKey, PodIdentityAssociationIDKey and the
	// role's IRSATrustPolicyKey, IRSAManagedPoliciesKey, IRSAInlinePolicyKey; absent when none is
	// declared. A podIdentity account is in neither OutServiceAccounts nor OutIRSARoles: nothing
	// annotates it; a both account is in all three; a bothUnannotated one in OutIRSARoles too
	// (its trust still has the OIDC statement), not in OutServiceAccounts (nothing annotates it).
	OutPodIdentity      = "podIdentityAssociations"
	OutVpcID            = "vpcId"
	OutPublicSubnetIDs  = "publicSubnetIds"
	OutPrivateSubnetIDs = "privateSubnetIds"
	OutFlowLogGroup     = "flowLogGroupName"
	OutClusterLogGroup  = "clusterLogGroupName"
	OutNodeGroup        = "autoScalingGroupName"
	OutDesiredNodes     = "desiredNodes"
	OutMinNodes         = "minNodes"
	OutMaxNodes         = "maxNodes"
)

// Keys of each entry of OutAccessEntries, and of each of its policies.
const (
	AccessEntryPrincipalKey   = "principalArn"
	AccessEntryTypeKey        = "type"
	AccessEntryUsernameKey    = "username"
	AccessEntryGroupsKey      = "kubernetesGroups"
	AccessEntryPoliciesKey    = "policies"
	AccessPolicyARNKey        = "policyArn"
	AccessPolicyScopeKey      = "scope"
	AccessPolicyNamespacesKey = "namespaces"
)

// Keys of each entry of OutPodIdentity besides the role's (IRSARole*Key).
const (
	PodIdentityRoleARNKey       = IRSARoleARNKey
	PodIdentityAssociationIDKey = "associationId"
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
	if len(cfg.AccessEntries) > 0 {
		// The rules that need the caller (its account, and whether it is the creator EKS makes
		// an entry for), before anything is registered.
		caller, err := aws.GetCallerIdentity(ctx, nil)
		if err != nil {
			return nil, fmt.Errorf("access entries: read the caller's identity: %w", err)
		}
		if err := cfg.CheckAccessForCaller(caller.Arn, caller.AccountId); err != nil {
			return nil, err
		}
	}
	name, tags := cfg.Name(), cfg.AllTags()
	nodeEntry := cfg.NodeAccessEntry()

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
		Partition:          partition,
		Region:             cfg.Region,
		Name:               name,
		RoleName:           cfg.ClusterRoleName(),
		Version:            cfg.Cluster.Version,
		VpcID:              network.VpcID,
		SubnetIDs:          network.SubnetIDs,
		PublicAccessCIDRs:  cfg.Cluster.PublicAccessCIDRs,
		LogRetentionDays:   cfg.Cluster.LogRetentionDays,
		SecretsKMSKeyARN:   cfg.Cluster.SecretsKMSKeyARN,
		AuthenticationMode: cfg.Cluster.AuthenticationMode,
		Credentials:        creds,
		Readiness:          readiness,
		Tags:               tags,
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
	}, oidc, nil)
	if err != nil {
		return nil, err
	}
	// The cluster's Kubernetes providers, before the access entries: an entry carrying the
	// admin bridge's group waits for the binding that gives the group cluster-admin.
	providers, err := k8s.NewProviders(ctx, name, &k8s.ProviderArgs{Kubeconfig: cluster.Kubeconfig, ClusterIdentifier: cluster.Identifier})
	if err != nil {
		return nil, err
	}
	clusterInstance := k8s.ClusterInstance{Issuer: cluster.OIDCIssuer, Resource: cluster.EKS}
	entries := accessEntries(cfg, partition.Name)
	if cfg.AdminBridge() {
		bridge, err := k8s.NewAdminBridge(ctx, name+"-admin-bridge", &k8s.AdminBridgeArgs{Provider: providers.Apply, Cluster: &clusterInstance})
		if err != nil {
			return nil, err
		}
		for i, e := range cfg.AccessEntries {
			if e.AdminBridge {
				entries[i].After = []pulumi.Resource{bridge.Binding}
			}
		}
	}
	// Access entries: in API mode the nodes' own (they join by it, as by aws-auth otherwise),
	// and the declared ones in either mode.
	var access *infra.Access
	if nodeEntry || len(cfg.AccessEntries) > 0 {
		accessArgs := &infra.AccessArgs{
			ClusterName:   cluster.Name,
			Cluster:       cluster.EKS,
			ClusterIssuer: cluster.OIDCIssuer,
			Entries:       entries,
			Tags:          tags,
		}
		if nodeEntry {
			accessArgs.NodeRoleARN, accessArgs.NodeRoleUniqueID = nodeRole.Arn, nodeRole.UniqueID
		}
		if access, err = infra.NewAccess(ctx, name+"-access", accessArgs); err != nil {
			return nil, err
		}
	}
	irsaRoles := pulumi.Map{k8s.AccountKey(k8s.KubeSystemNamespace, k8s.AWSNodeName): irsaRoleOutput(awsNodeRole)}
	layerArgs := &k8s.LayerArgs{
		Providers:      providers,
		Cluster:        clusterInstance,
		NodeRoleARN:    nodeRole.Arn,
		AWSNodeRoleARN: awsNodeRole.Arn,
		AWSAuth:        awsAuthMappings(cfg.AWSAuth),
		WithoutAWSAuth: !cfg.WritesAWSAuth(),
	}
	if access != nil {
		// A row removed or rewritten only after its principal's entry admits it: the entry takes
		// precedence, so there is no moment without access (a recovery's refresh drops rows
		// written by hand, and the migration removes rows, in the same update that makes entries).
		layerArgs.AWSAuthAfter = access.Resources()
	}
	// Pod Identity: the agent add-on once any account uses it, before any node joins, and per
	// account a role trusted by pods.eks.amazonaws.com bound by an association. An account
	// with identity podIdentity gets no annotation, so it is not the Kubernetes layer's unless
	// the stack created it; with both it keeps its IRSA binding besides the association; with
	// bothUnannotated it is as podIdentity in the cluster and as both in its trust.
	var agent *infra.PodIdentityAgent
	podIdentity := pulumi.Map{}
	for _, r := range cfg.ServiceAccountRoles {
		if r.PodIdentity() && agent == nil {
			if agent, err = infra.NewPodIdentityAgent(ctx, name+"-pod-identity-agent", &infra.PodIdentityAgentArgs{ClusterName: cluster.Name, Tags: tags}); err != nil {
				return nil, err
			}
		}
		role, err := newIRSARole(ctx, cfg, r, oidc, cluster)
		if err != nil {
			return nil, err
		}
		key := k8s.AccountKey(r.Namespace, r.ServiceAccount)
		if r.PodIdentity() {
			entry := irsaRoleOutput(role) // the role as drift compares it with IAM
			entry[PodIdentityAssociationIDKey] = role.AssociationID
			podIdentity[key] = entry
		}
		mode := r.Account
		if mode == "" {
			mode = k8s.NoServiceAccount
		}
		binding := k8s.Binding{
			FormerName:      cfg.RoleName(r), // bindings were named after their role
			Namespace:       r.Namespace,
			ServiceAccount:  r.ServiceAccount,
			RoleARN:         role.Arn,
			Mode:            mode,
			CreateNamespace: r.CreateNamespace,
		}
		if r.IRSA() {
			// bothUnannotated too: its trust still admits pods started under IRSA, and drift
			// and verify --identities hold it to that.
			irsaRoles[key] = irsaRoleOutput(role)
		}
		switch {
		case r.Annotated():
		case mode == k8s.CreateServiceAccount:
			// The stack created the account under IRSA: it keeps it, without the annotation, so
			// a switch to bothUnannotated or podIdentity never deletes the account its pods run as.
			binding.RoleARN = nil
		default:
			// annotate: the patch goes, and with it only the annotation it wrote; the account stays.
			continue
		}
		layerArgs.Bindings = append(layerArgs.Bindings, binding)
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
		JoinAfter: append(append(append(slices.Clone(layer.NodesWaitFor), network.Egress...), nodeAccess(access)...), agentAddon(agent)...),
		Tags:      tags,
	})
	if err != nil {
		return nil, err
	}

	outputs := pulumi.Map{
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
		OutAuthenticationMode:  cluster.AuthenticationMode,
		OutAccessEntries:       accessEntriesOutput(cfg, partition.Name, nodeRole, nodeEntry),
		OutVpcID:               network.VpcID,
		OutPublicSubnetIDs:     network.PublicSubnetIDs,
		OutPrivateSubnetIDs:    network.PrivateSubnetIDs,
		OutFlowLogGroup:        network.FlowLogGroupName,
		OutClusterLogGroup:     cluster.LogGroupName,
		OutNodeGroup:           workers.AutoScalingGroupName,
		OutDesiredNodes:        pulumi.Int(cfg.Nodes.Desired),
		OutMinNodes:            pulumi.Int(cfg.Nodes.Min),
		OutMaxNodes:            pulumi.Int(cfg.Nodes.Max),
	}
	if len(podIdentity) > 0 {
		outputs[OutPodIdentity] = podIdentity
	}
	if layer.AWSAuth != nil {
		outputs[OutAWSAuth] = pulumi.Map{k8s.MapRolesKey: layer.AWSAuth.MapRoles, k8s.MapUsersKey: layer.AWSAuth.MapUsers}
	}
	return outputs, nil
}

// nodeAccess is what nodes wait for besides the Kubernetes layer: their access entry, in API mode.
func nodeAccess(a *infra.Access) []pulumi.Resource {
	if a == nil || a.NodeEntry == nil {
		return nil
	}
	return []pulumi.Resource{a.NodeEntry}
}

// accessEntries are the declared entries as infra takes them.
func accessEntries(cfg *Config, partition string) []infra.AccessEntry {
	var out []infra.AccessEntry
	for _, e := range cfg.AccessEntries {
		entry := infra.AccessEntry{PrincipalARN: e.PrincipalARN, Type: e.EntryType(), Username: e.Username, KubernetesGroups: e.Groups()}
		for _, p := range e.Policies {
			entry.Policies = append(entry.Policies, infra.AccessPolicy{ARN: AccessPolicyARN(partition, p.Name), Namespaces: p.Namespaces})
		}
		out = append(out, entry)
	}
	return out
}

// accessEntriesOutput is OutAccessEntries: every entry the stack owns, the nodes' first when
// they have one, each with its AccessEntry*Key fields.
func accessEntriesOutput(cfg *Config, partition string, nodeRole *infra.NodeRole, nodeEntry bool) pulumi.Array {
	out := pulumi.Array{}
	if nodeEntry {
		out = append(out, pulumi.Map{AccessEntryPrincipalKey: nodeRole.Arn, AccessEntryTypeKey: pulumi.String(infra.NodeEntryType),
			AccessEntryUsernameKey: pulumi.String(""), AccessEntryGroupsKey: pulumi.StringArray{}, AccessEntryPoliciesKey: pulumi.Array{}})
	}
	for _, e := range accessEntries(cfg, partition) {
		policies := pulumi.Array{}
		for _, p := range e.Policies {
			scope := AccessPolicyConfig{Namespaces: p.Namespaces}.Scope()
			policies = append(policies, pulumi.Map{AccessPolicyARNKey: pulumi.String(p.ARN), AccessPolicyScopeKey: pulumi.String(scope),
				AccessPolicyNamespacesKey: pulumi.ToStringArray(append([]string{}, p.Namespaces...))})
		}
		out = append(out, pulumi.Map{AccessEntryPrincipalKey: pulumi.String(e.PrincipalARN), AccessEntryTypeKey: pulumi.String(e.Type),
			AccessEntryUsernameKey: pulumi.String(e.Username), AccessEntryGroupsKey: pulumi.ToStringArray(append([]string{}, e.KubernetesGroups...)),
			AccessEntryPoliciesKey: policies})
	}
	return out
}

// agentAddon is what nodes wait for from the Pod Identity agent: its add-on, if installed.
func agentAddon(a *infra.PodIdentityAgent) []pulumi.Resource {
	if a == nil {
		return nil
	}
	return []pulumi.Resource{a.Addon}
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
// The cluster is read for a Pod Identity entry only: its association is made there and its
// trust names the cluster's ARN.
func newIRSARole(ctx *pulumi.Context, cfg *Config, r ServiceAccountRoleConfig, oidc *infra.OIDCProvider, cluster *infra.Cluster) (*infra.IRSARole, error) {
	var inline string
	if len(r.InlinePolicy) > 0 {
		compact, err := json.Marshal(r.InlinePolicy)
		if err != nil {
			return nil, fmt.Errorf("service account %s/%s: inline policy: %w", r.Namespace, r.ServiceAccount, err)
		}
		inline = string(compact)
	}
	roleName := cfg.RoleName(r)
	args := &infra.IRSARoleArgs{
		PodIdentity:       r.PodIdentity(),
		AlsoIRSA:          r.PodIdentity() && r.IRSA(),
		OIDCProviderARN:   oidc.Arn,
		IssuerHost:        oidc.IssuerHost,
		Namespace:         r.Namespace,
		ServiceAccount:    r.ServiceAccount,
		RoleName:          roleName,
		ManagedPolicyARNs: r.ManagedPolicyARNs,
		InlinePolicy:      inline,
		Tags:              cfg.AllTags(),
	}
	if r.PodIdentity() {
		args.ClusterName, args.ClusterARN = cluster.Name, cluster.Arn
	}
	return infra.NewIRSARole(ctx, roleName, args)
}
