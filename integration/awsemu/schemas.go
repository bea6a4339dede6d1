package awsemu

import (
	"encoding/json"
	gostrings "strings"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
)

// The input schema of every served type, as terraform-provider-aws declares it at the
// upstream pin (schema.go: "The upstream pin"); the file is named above each table, the
// attribute in Terraform's name beside each row.
// A property the table leaves out is not set by the program and has no row; output-only
// attributes (arn, ownerId, ...) have none either, as they are never diffed.

var (
	scalar         = Prop{Kind: kScalar}
	scalarForceNew = Prop{Kind: kScalar, ForceNew: true}
	computed       = Prop{Kind: kScalar, Computed: true}
	computedNew    = Prop{Kind: kScalar, Computed: true, ForceNew: true}
	tagsProp       = Prop{Kind: kMap} // tftags.TagsSchema(): Optional TypeMap
	scalarSet      = Prop{Kind: kSet}
	computedSet    = Prop{Kind: kSet, Computed: true}
)

func withDefault(p Prop, v any) Prop { p.Default = v; return p }
func required(p Prop) Prop           { p.Required = true; return p }

// normalJSON is verify.SuppressEquivalentJSONDiffs / SuppressEquivalentPolicyDiffs: the same
// JSON document in another spacing or key order is no change.
func normalJSON(v resource.PropertyValue) resource.PropertyValue {
	if !v.IsString() {
		return v
	}
	var doc any
	if json.Unmarshal([]byte(v.StringValue()), &doc) != nil {
		return v
	}
	b, _ := json.Marshal(doc)
	return resource.NewStringProperty(string(b))
}

// normalProtocol is vpc_security_group.go's ProtocolStateFunc: "all" is "-1".
func normalProtocol(v resource.PropertyValue) resource.PropertyValue {
	if !v.IsString() {
		return v
	}
	return resource.NewStringProperty(protocol(v.StringValue()))
}

// normalOIDCURL is openid_connect_provider.go's suppressOpenIDURL: IAM keeps the URL
// without its scheme.
func normalOIDCURL(v resource.PropertyValue) resource.PropertyValue {
	if !v.IsString() {
		return v
	}
	return resource.NewStringProperty(gostrings.TrimPrefix(v.StringValue(), "https://"))
}

var policyProp = Prop{Kind: kScalar, Normalize: normalJSON}

// internal/service/ec2/vpc_.go
var vpcSchema = Schema{
	"cidrBlock":                        computedNew,                    // cidr_block: Optional, Computed, ForceNew
	"enableDnsSupport":                 withDefault(scalar, true),      // enable_dns_support: Default true
	"enableDnsHostnames":               computed,                       // enable_dns_hostnames: Optional, Computed
	"instanceTenancy":                  withDefault(scalar, "default"), // instance_tenancy: Default "default"
	"ipv4IpamPoolId":                   scalarForceNew,                 // ipv4_ipam_pool_id: ForceNew
	"ipv4NetmaskLength":                scalarForceNew,                 // ipv4_netmask_length: ForceNew
	"tags":                             tagsProp,                       // tags
	"assignGeneratedIpv6CidrBlock":     scalar,                         // assign_generated_ipv6_cidr_block: Optional
	"enableNetworkAddressUsageMetrics": computed,                       // enable_network_address_usage_metrics: Optional, Computed
}

// internal/service/ec2/vpc_subnet.go
var subnetSchema = Schema{
	"vpcId":                       required(scalarForceNew),           // vpc_id: Required, ForceNew
	"cidrBlock":                   scalarForceNew,                     // cidr_block: Optional, ForceNew
	"availabilityZone":            computedNew,                        // availability_zone: Optional, Computed, ForceNew
	"availabilityZoneId":          computedNew,                        // availability_zone_id: Optional, Computed, ForceNew
	"ipv6Native":                  withDefault(scalarForceNew, false), // ipv6_native: Default false, ForceNew
	"outpostArn":                  scalarForceNew,                     // outpost_arn: ForceNew
	"mapPublicIpOnLaunch":         withDefault(scalar, false),         // map_public_ip_on_launch: Default false
	"assignIpv6AddressOnCreation": withDefault(scalar, false),         // assign_ipv6_address_on_creation: Default false
	"enableDns64":                 withDefault(scalar, false),         // enable_dns64: Default false
	"enableResourceNameDnsAaaaRecordOnLaunch": withDefault(scalar, false), // Default false
	"enableResourceNameDnsARecordOnLaunch":    withDefault(scalar, false), // Default false
	"privateDnsHostnameTypeOnLaunch":          computed,                   // Optional, Computed
	"ipv6CidrBlock":                           scalar,                     // ipv6_cidr_block: Optional (the SDK's StringPtrOutput: not Computed)
	"customerOwnedIpv4Pool":                   scalar,                     // customer_owned_ipv4_pool: Optional
	"mapCustomerOwnedIpOnLaunch":              scalar,                     // map_customer_owned_ip_on_launch: Optional
	"tags":                                    tagsProp,
}

// internal/service/ec2/vpc_internet_gateway.go: nothing is ForceNew.
var internetGatewaySchema = Schema{
	"vpcId": computed, // vpc_id: Optional, Computed (the SDK's StringOutput)
	"tags":  tagsProp,
}

// internal/service/ec2/vpc_route_table.go
var routeTableSchema = Schema{
	"vpcId":           required(scalarForceNew),                                             // vpc_id: Required, ForceNew
	"routes":          {Kind: kBlockSet, Computed: true, Elem: Schema{"cidrBlock": scalar}}, // route: Optional, Computed, ConfigModeAttr set
	"propagatingVgws": computedSet,                                                          // propagating_vgws: Optional, Computed
	"tags":            tagsProp,
}

// internal/service/ec2/vpc_route.go: the table and the destination are ForceNew; a target
// change is ReplaceRoute in place.
var routeSchema = Schema{
	"routeTableId":             required(scalarForceNew), // route_table_id: Required, ForceNew
	"destinationCidrBlock":     scalarForceNew,           // destination_cidr_block: Optional, ForceNew
	"destinationIpv6CidrBlock": scalarForceNew,           // destination_ipv6_cidr_block: Optional, ForceNew
	"destinationPrefixListId":  scalarForceNew,           // destination_prefix_list_id: Optional, ForceNew
	"gatewayId":                scalar,                   // gateway_id: Optional
	"natGatewayId":             scalar,                   // nat_gateway_id: Optional
	"networkInterfaceId":       computed,                 // network_interface_id: Optional, Computed
	"transitGatewayId":         scalar,                   // transit_gateway_id: Optional
	"vpcPeeringConnectionId":   scalar,                   // vpc_peering_connection_id: Optional
	"vpcEndpointId":            scalar,                   // vpc_endpoint_id: Optional
	"carrierGatewayId":         scalar,                   // carrier_gateway_id: Optional
	"coreNetworkArn":           scalar,                   // core_network_arn: Optional
	"egressOnlyGatewayId":      scalar,                   // egress_only_gateway_id: Optional
	"localGatewayId":           scalar,                   // local_gateway_id: Optional
}

// internal/service/ec2/vpc_route_table_association.go: subnet_id and gateway_id are
// ForceNew; a new route_table_id is ReplaceRouteTableAssociation in place.
var routeTableAssociationSchema = Schema{
	"routeTableId": required(scalar), // route_table_id: Required
	"subnetId":     scalarForceNew,   // subnet_id: Optional, ForceNew
	"gatewayId":    scalarForceNew,   // gateway_id: Optional, ForceNew
}

// internal/service/ec2/ec2_eip.go
var eipSchema = Schema{
	"address":                scalarForceNew, // address: Optional, ForceNew (the SDK's StringPtrOutput: not Computed)
	"customerOwnedIpv4Pool":  scalarForceNew, // customer_owned_ipv4_pool: Optional, ForceNew
	"domain":                 computedNew,    // domain: Optional, Computed, ForceNew
	"ipamPoolId":             computedNew,    // ipam_pool_id: Optional, Computed, ForceNew
	"networkBorderGroup":     computedNew,    // network_border_group: Optional, Computed, ForceNew
	"publicIpv4Pool":         computedNew,    // public_ipv4_pool: Optional, Computed, ForceNew
	"vpc":                    computedNew,    // vpc: Optional, Computed, ForceNew (deprecated)
	"instance":               computed,       // instance: Optional, Computed
	"networkInterface":       computed,       // network_interface: Optional, Computed
	"associateWithPrivateIp": scalar,         // associate_with_private_ip: Optional
	"tags":                   tagsProp,
}

// internal/service/ec2/vpc_nat_gateway.go
var natGatewaySchema = Schema{
	"allocationId":                   scalarForceNew,                        // allocation_id: Optional, ForceNew
	"connectivityType":               withDefault(scalarForceNew, "public"), // connectivity_type: Default "public", ForceNew
	"privateIp":                      computedNew,                           // private_ip: Optional, Computed, ForceNew
	"secondaryPrivateIpAddressCount": computedNew,                           // Optional, Computed, ForceNew
	"secondaryAllocationIds":         computedSet,                           // Optional, Computed
	"secondaryPrivateIpAddresses":    computedSet,                           // Optional, Computed
	"subnetId":                       required(scalarForceNew),              // subnet_id: Required, ForceNew
	"tags":                           tagsProp,
}

// internal/service/ec2/vpc_endpoint.go
var vpcEndpointSchema = Schema{
	"vpcId":                    required(scalarForceNew),                               // vpc_id: Required, ForceNew
	"serviceName":              scalarForceNew,                                         // service_name: Optional, ForceNew; ExactlyOneOf with the two ARNs below
	"vpcEndpointType":          withDefault(scalarForceNew, "Gateway"),                 // vpc_endpoint_type: Default "Gateway", ForceNew
	"serviceRegion":            computedNew,                                            // service_region: Optional, Computed, ForceNew
	"resourceConfigurationArn": scalarForceNew,                                         // ForceNew
	"serviceNetworkArn":        scalarForceNew,                                         // ForceNew
	"subnetIds":                computedSet,                                            // subnet_ids: Optional, Computed
	"securityGroupIds":         computedSet,                                            // security_group_ids: Optional, Computed
	"routeTableIds":            computedSet,                                            // route_table_ids: Optional, Computed
	"policy":                   {Kind: kScalar, Computed: true, Normalize: normalJSON}, // policy: Optional, Computed, SuppressEquivalentPolicyDiffs
	"privateDnsEnabled":        computed,                                               // private_dns_enabled: Optional, Computed
	"ipAddressType":            computed,                                               // ip_address_type: Optional, Computed
	"autoAccept":               scalar,                                                 // auto_accept: Optional
	"tags":                     tagsProp,
}

// internal/service/ec2/vpc_flow_log.go: every argument but tags is ForceNew.
var flowLogSchema = Schema{
	"deliverCrossAccountRole":    scalarForceNew,
	"destinationOptions":         {Kind: kBlock, ForceNew: true, Elem: Schema{"fileFormat": computedNew, "hiveCompatiblePartitions": scalarForceNew, "perHourPartition": scalarForceNew}},
	"eniId":                      scalarForceNew,
	"iamRoleArn":                 scalarForceNew,                                  // iam_role_arn: Optional, ForceNew
	"logDestination":             computedNew,                                     // log_destination: Optional, Computed, ForceNew
	"logDestinationType":         withDefault(scalarForceNew, "cloud-watch-logs"), // Default "cloud-watch-logs"
	"logFormat":                  computedNew,                                     // log_format: Optional, Computed, ForceNew
	"logGroupName":               computedNew,                                     // log_group_name: Optional, Computed, ForceNew
	"maxAggregationInterval":     withDefault(scalarForceNew, 600),                // Default 600
	"subnetId":                   scalarForceNew,
	"trafficType":                scalarForceNew, // traffic_type: Optional, ForceNew
	"transitGatewayAttachmentId": scalarForceNew,
	"transitGatewayId":           scalarForceNew,
	"vpcId":                      scalarForceNew,
	"tags":                       tagsProp,
}

// internal/service/ec2/vpc_security_group.go: ingress and egress are sets of rule blocks
// (Optional, Computed, ConfigModeAttr) whose protocol goes through ProtocolStateFunc.
var securityGroupRuleBlock = Schema{
	"protocol":       required(Prop{Kind: kScalar, Normalize: normalProtocol}), // protocol: Required, StateFunc ProtocolStateFunc
	"fromPort":       required(scalar),                                         // from_port: Required
	"toPort":         required(scalar),                                         // to_port: Required
	"cidrBlocks":     scalarSet,                                                // cidr_blocks: Optional (a list upstream, compared as the set element hash does)
	"ipv6CidrBlocks": scalarSet,                                                // ipv6_cidr_blocks: Optional
	"prefixListIds":  scalarSet,                                                // prefix_list_ids: Optional
	"securityGroups": scalarSet,                                                // security_groups: Optional, Set
	"self":           scalar,                                                   // self: Optional, Default false
	"description":    scalar,                                                   // description: Optional
}

var securityGroupSchema = Schema{
	"name":       computedNew, // name: Optional, Computed, ForceNew
	"namePrefix": computedNew, // name_prefix: Optional, Computed, ForceNew
	// description: Optional, ForceNew, Default "Managed by Terraform", which pulumi-aws's
	// patches/*-Change-default-descriptions-to-Managed-by-Pulumi.patch rewrites in upstream
	// itself (its vpc_security_group.go hunk, @@ -68,7; read at pulumi-aws 00ba5ea5, not at the pin).
	"description":         withDefault(scalarForceNew, "Managed by Pulumi"),
	"vpcId":               computedNew,                                                     // vpc_id: Optional, Computed, ForceNew
	"ingress":             {Kind: kBlockSet, Computed: true, Elem: securityGroupRuleBlock}, // ingress
	"egress":              {Kind: kBlockSet, Computed: true, Elem: securityGroupRuleBlock}, // egress
	"revokeRulesOnDelete": withDefault(scalar, false),                                      // revoke_rules_on_delete: Default false
	"tags":                tagsProp,
}

// internal/service/ec2/vpc_security_group_rule.go: every argument but description is ForceNew.
var securityGroupRuleSchema = Schema{
	"type":                  required(scalarForceNew),
	"fromPort":              required(scalarForceNew),
	"toPort":                required(scalarForceNew),
	"protocol":              required(Prop{Kind: kScalar, ForceNew: true, Normalize: normalProtocol}), // StateFunc ProtocolStateFunc
	"cidrBlocks":            {Kind: kList, ForceNew: true},
	"ipv6CidrBlocks":        {Kind: kList, ForceNew: true},
	"prefixListIds":         {Kind: kList, ForceNew: true},
	"securityGroupId":       required(scalarForceNew),
	"sourceSecurityGroupId": computedNew, // source_security_group_id: Optional, Computed, ForceNew
	"self":                  withDefault(scalarForceNew, false),
	"description":           scalar,
}

// internal/service/ec2/ec2_launch_template.go: only name and name_prefix are ForceNew; any
// other change is a new version.
var launchTemplateSchema = Schema{
	"name":                  computedNew, // name: Optional, Computed, ForceNew
	"namePrefix":            computedNew, // name_prefix: Optional, Computed, ForceNew
	"description":           scalar,
	"imageId":               scalar,
	"instanceType":          scalar,
	"userData":              scalar,
	"keyName":               scalar,
	"ebsOptimized":          scalar,
	"disableApiTermination": scalar,
	"vpcSecurityGroupIds":   scalarSet,                                                   // vpc_security_group_ids: Optional, Set
	"securityGroupNames":    scalarSet,                                                   // security_group_names: Optional, Set
	"iamInstanceProfile":    {Kind: kBlock, Elem: Schema{"arn": scalar, "name": scalar}}, // iam_instance_profile: MaxItems 1
	// metadata_options: Optional, Computed, MaxItems 1; every field Optional, Computed.
	"metadataOptions": {Kind: kBlock, Computed: true, Elem: Schema{
		"httpEndpoint": computed, "httpTokens": computed, "httpPutResponseHopLimit": computed,
		"httpProtocolIpv6": computed, "instanceMetadataTags": computed,
	}},
	"monitoring": {Kind: kBlock, Elem: Schema{"enabled": scalar}},
	// block_device_mappings: a list of blocks; ebs MaxItems 1, its fields Optional (Computed:
	// iops, throughput, volume_size, volume_type).
	"blockDeviceMappings": {Kind: kBlockList, Elem: Schema{
		"deviceName": scalar, "noDevice": scalar, "virtualName": scalar,
		"ebs": {Kind: kBlock, Elem: Schema{
			"deleteOnTermination": scalar, "encrypted": scalar, "kmsKeyId": scalar, "snapshotId": scalar,
			"iops": computed, "throughput": computed, "volumeSize": computed, "volumeType": computed,
		}},
	}},
	// tag_specifications: a list of {resource_type, tags}.
	"tagSpecifications":    {Kind: kBlockList, Elem: Schema{"resourceType": scalar, "tags": tagsProp}},
	"updateDefaultVersion": scalar, // update_default_version: Optional
	"defaultVersion":       computed,
	"tags":                 tagsProp,
}

// internal/service/autoscaling/group.go: only name and name_prefix are ForceNew.
var groupSchema = Schema{
	"name":                   computedNew,                   // name: Optional, Computed, ForceNew
	"namePrefix":             computedNew,                   // name_prefix: Optional, Computed, ForceNew
	"maxSize":                required(scalar),              // max_size: Required
	"minSize":                required(scalar),              // min_size: Required
	"desiredCapacity":        computed,                      // desired_capacity: Optional, Computed
	"vpcZoneIdentifiers":     computedSet,                   // vpc_zone_identifier: Optional, Computed, Set
	"availabilityZones":      computedSet,                   // availability_zones: Optional, Computed, Set
	"healthCheckType":        computed,                      // health_check_type: Optional, Computed
	"healthCheckGracePeriod": withDefault(scalar, 300),      // health_check_grace_period: Default 300
	"defaultCooldown":        computed,                      // default_cooldown: Optional, Computed
	"terminationPolicies":    {Kind: kList, Computed: true}, // termination_policies: Optional (AWS reports ["Default"] for none: computed here)
	"serviceLinkedRoleArn":   computed,                      // service_linked_role_arn: Optional, Computed
	// launch_template: Optional, Computed (the SDK's GroupLaunchTemplateOutput), MaxItems 1;
	// id and name Optional, Computed; version Optional.
	"launchTemplate": {Kind: kBlock, Computed: true, Elem: Schema{"id": computed, "name": computed, "version": scalar}},
	// tag: a set of {key, value, propagate_at_launch}, all Required.
	"tags": {Kind: kBlockSet, Elem: Schema{"key": required(scalar), "value": required(scalar), "propagateAtLaunch": required(scalar)}},
	// instance_refresh: MaxItems 1, never sent to AWS but on a change (triggers).
	"instanceRefresh": {Kind: kBlock, Elem: Schema{
		"strategy": required(scalar), "triggers": scalarSet, // strategy: Required
		"preferences": {Kind: kBlock, Elem: Schema{
			"minHealthyPercentage": withDefault(scalar, 90), "instanceWarmup": scalar, "checkpointDelay": scalar,
			"checkpointPercentages": {Kind: kList}, "skipMatching": scalar, "autoRollback": scalar,
			"maxHealthyPercentage": withDefault(scalar, 100), "scaleInProtectedInstances": scalar, "standbyInstances": scalar,
		}},
	}},
	"forceDelete":                   withDefault(scalar, false),
	"forceDeleteWarmPool":           withDefault(scalar, false),
	"waitForCapacityTimeout":        withDefault(scalar, "10m"),
	"metricsGranularity":            withDefault(scalar, "1Minute"),
	"protectFromScaleIn":            withDefault(scalar, false),
	"ignoreFailedScalingActivities": withDefault(scalar, false),
	"minElbCapacity":                scalar,
	"waitForElbCapacity":            scalar,
	"capacityRebalance":             scalar,
	"maxInstanceLifetime":           scalar,
	"enabledMetrics":                scalarSet,
	"suspendedProcesses":            scalarSet,
	"placementGroup":                scalar,
}

// internal/service/eks/cluster.go
var clusterSchema = Schema{
	"name":                       computedNew,                                    // name: Required, ForceNew (pulumi-aws autonames it)
	"roleArn":                    required(scalarForceNew),                       // role_arn: Required, ForceNew
	"version":                    computed,                                       // version: Optional, Computed
	"bootstrapSelfManagedAddons": withDefault(scalarForceNew, true),              // bootstrap_self_managed_addons: Default true, ForceNew
	"outpostConfig":              {Kind: kBlock, ForceNew: true, Elem: Schema{}}, // outpost_config: its fields ForceNew
	"enabledClusterLogTypes":     scalarSet,                                      // enabled_cluster_log_types: Optional, Set
	// vpc_config: Required, MaxItems 1. subnet_ids and security_group_ids are no longer
	// ForceNew (in place through UpdateClusterConfig since v5.25.0).
	"vpcConfig": required(Prop{Kind: kBlock, Elem: Schema{
		"subnetIds":             required(scalarSet),        // subnet_ids: Required, Set
		"securityGroupIds":      scalarSet,                  // security_group_ids: Optional, Set
		"endpointPrivateAccess": withDefault(scalar, false), // endpoint_private_access: Default false
		"endpointPublicAccess":  withDefault(scalar, true),  // endpoint_public_access: Default true
		"publicAccessCidrs":     computedSet,                // public_access_cidrs: Optional, Computed, Set
	}}),
	// access_config: Optional, Computed, MaxItems 1.
	"accessConfig": {Kind: kBlock, Computed: true, Elem: Schema{
		"authenticationMode":                      computed,                          // Optional, Computed
		"bootstrapClusterCreatorAdminPermissions": withDefault(scalarForceNew, true), // Optional, ForceNew, Default true
	}},
	// encryption_config: Optional, MaxItems 1; CustomizeDiff ForceNewIfChange when it goes
	// from one block to none ("You cannot disable envelope encryption after enabling it");
	// adding it is AssociateEncryptionConfig in place.
	"encryptionConfig": {Kind: kBlock, ReplaceOnRemove: true, Elem: Schema{
		"provider":  required(Prop{Kind: kBlock, Elem: Schema{"keyArn": required(scalar)}}), // provider: Required, MaxItems 1; key_arn: Required
		"resources": scalarSet,
	}},
	// kubernetes_network_config: Optional, Computed, MaxItems 1.
	"kubernetesNetworkConfig": {Kind: kBlock, Computed: true, Elem: Schema{
		"serviceIpv4Cidr": computedNew, // Optional, Computed, ForceNew
		"ipFamily":        computedNew, // Optional, Computed, ForceNew
	}},
	"tags": tagsProp,
}

// internal/service/iam/role.go
var roleSchema = Schema{
	"name":                computedNew,                                                                           // name: Optional, Computed, ForceNew
	"namePrefix":          computedNew,                                                                           // name_prefix: Optional, Computed, ForceNew
	"path":                withDefault(scalarForceNew, "/"),                                                      // path: Default "/", ForceNew
	"assumeRolePolicy":    required(policyProp),                                                                  // assume_role_policy: Required, DiffSuppressFunc SuppressEquivalentPolicyDiffs
	"description":         scalar,                                                                                // description: Optional
	"maxSessionDuration":  withDefault(scalar, 3600),                                                             // max_session_duration: Default 3600
	"permissionsBoundary": scalar,                                                                                // permissions_boundary: Optional
	"forceDetachPolicies": withDefault(scalar, false),                                                            // force_detach_policies: Default false
	"inlinePolicies":      {Kind: kBlockSet, Computed: true, Elem: Schema{"name": scalar, "policy": policyProp}}, // Optional, Computed
	"managedPolicyArns":   computedSet,                                                                           // managed_policy_arns: Optional, Computed
	"tags":                tagsProp,
}

// internal/service/iam/role_policy.go
var rolePolicySchema = Schema{
	"name":       computedNew,              // name: Optional, Computed, ForceNew
	"namePrefix": computedNew,              // name_prefix: Optional, Computed, ForceNew
	"role":       required(scalarForceNew), // role: Required, ForceNew
	"policy":     required(policyProp),     // policy: Required, SuppressEquivalentPolicyDiffs
}

// internal/service/iam/role_policy_attachment.go: both arguments Required and ForceNew.
var rolePolicyAttachmentSchema = Schema{
	"role":      required(scalarForceNew),
	"policyArn": required(scalarForceNew),
}

// internal/service/iam/instance_profile.go
var instanceProfileSchema = Schema{
	"name":       computedNew,                      // name: Optional, Computed, ForceNew
	"namePrefix": computedNew,                      // name_prefix: Optional, Computed, ForceNew
	"path":       withDefault(scalarForceNew, "/"), // path: Default "/", ForceNew
	"role":       scalar,                           // role: Optional
	"tags":       tagsProp,
}

// internal/service/iam/openid_connect_provider.go: url ForceNew (suppressOpenIDURL);
// client_id_list and thumbprint_list update in place.
var oidcProviderSchema = Schema{
	"url":             required(Prop{Kind: kScalar, ForceNew: true, Normalize: normalOIDCURL}),
	"clientIdLists":   required(scalarSet),           // client_id_list: Required, Set
	"thumbprintLists": {Kind: kList, Computed: true}, // thumbprint_list: Optional, Computed
	"tags":            tagsProp,
}

// internal/service/logs/group.go
var logGroupSchema = Schema{
	"name":            computedNew,                // name: Optional, Computed, ForceNew
	"namePrefix":      computedNew,                // name_prefix: Optional, Computed, ForceNew
	"logGroupClass":   computedNew,                // log_group_class: Optional, Computed, ForceNew
	"retentionInDays": scalar,                     // retention_in_days: Optional, Default 0 (the zero value)
	"kmsKeyId":        scalar,                     // kms_key_id: Optional
	"skipDestroy":     withDefault(scalar, false), // skip_destroy: Default false
	"tags":            tagsProp,
}

// internal/service/eks/access_entry.go
var accessEntrySchema = Schema{
	"clusterName":      required(scalarForceNew),                // cluster_name: Required, ForceNew
	"principalArn":     required(scalarForceNew),                // principal_arn: Required, ForceNew
	"type":             withDefault(scalarForceNew, "STANDARD"), // type: Optional, ForceNew, Default STANDARD
	"kubernetesGroups": computedSet,                             // kubernetes_groups: Optional, Computed, Set
	"userName":         computed,                                // user_name: Optional, Computed
	"tags":             tagsProp,
}

// internal/service/eks/access_policy_association.go: every argument ForceNew.
var accessPolicyAssociationSchema = Schema{
	"clusterName":  required(scalarForceNew), // cluster_name: Required, ForceNew
	"principalArn": required(scalarForceNew), // principal_arn: Required, ForceNew
	"policyArn":    required(scalarForceNew), // policy_arn: Required, ForceNew
	// access_scope: Required, ForceNew, MinItems 1, MaxItems 1.
	"accessScope": required(Prop{Kind: kBlock, ForceNew: true, Elem: Schema{
		"type":       required(scalarForceNew),     // type: Required, ForceNew
		"namespaces": {Kind: kSet, ForceNew: true}, // namespaces: Optional, ForceNew, Set
	}}),
}

// internal/service/eks/pod_identity_association.go (a framework resource): cluster_name,
// namespace and service_account Required with RequiresReplace; role_arn Required, updated in
// place (UpdatePodIdentityAssociation). disable_session_tags and target_role_arn came after
// the pin: pulumi-aws v6.83.4's PodIdentityAssociationArgs has neither.
var podIdentityAssociationSchema = Schema{
	"clusterName":    required(scalarForceNew), // cluster_name: Required, RequiresReplace
	"namespace":      required(scalarForceNew), // namespace: Required, RequiresReplace
	"serviceAccount": required(scalarForceNew), // service_account: Required, RequiresReplace
	"roleArn":        required(scalar),         // role_arn: Required
	"tags":           tagsProp,
}

// internal/service/eks/addon.go: addon_name and cluster_name Required, ForceNew; the rest
// updated in place (UpdateAddon) or read at delete (preserve).
var addonSchema = Schema{
	"addonName":                required(scalarForceNew), // addon_name: Required, ForceNew
	"clusterName":              required(scalarForceNew), // cluster_name: Required, ForceNew
	"addonVersion":             computed,                 // addon_version: Optional, Computed
	"configurationValues":      computed,                 // configuration_values: Optional, Computed
	"serviceAccountRoleArn":    scalar,                   // service_account_role_arn: Optional
	"resolveConflictsOnCreate": scalar,                   // resolve_conflicts_on_create: Optional
	"resolveConflictsOnUpdate": scalar,                   // resolve_conflicts_on_update: Optional
	"preserve":                 scalar,                   // preserve: Optional
	"tags":                     tagsProp,
}
