package awsemu

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eks"
	ekstypes "github.com/aws/aws-sdk-go-v2/service/eks/types"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
)

// defaultServiceCIDR is what a cluster reports when moto gives no service CIDR: EKS picks
// 10.100.0.0/16 or 172.20.0.0/16, whichever does not overlap the VPC.
const defaultServiceCIDR = "10.100.0.0/16"

// clusterTimeout is the real provider's default create and delete timeout for a cluster.
const clusterTimeout = 30 * time.Minute

func init() {
	register(&Kind{
		Token:    "aws:eks/cluster:Cluster",
		Schema:   clusterSchema,
		AutoName: true,
		Create:   createCluster,
		Read:     readCluster,
		Update:   updateCluster,
		Delete:   deleteCluster,
	})
}

func isEKSNotFound(err error) bool {
	var nf *ekstypes.ResourceNotFoundException
	return errors.As(err, &nf)
}

func createCluster(ctx context.Context, c *Clients, news resource.PropertyMap) (string, resource.PropertyMap, error) {
	if err := notEmulated(news, "aws:eks/cluster:Cluster", "computeConfig", "remoteNetworkConfig", "storageConfig",
		"outpostConfig", "upgradePolicy", "zonalShiftConfig", "defaultAddonsToRemoves"); err != nil {
		return "", nil, err
	}
	name := getStr(news, "name")
	if name == "" {
		return "", nil, errors.New("no name: Check names every cluster")
	}
	vpc := getObj(news, "vpcConfig")
	in := &eks.CreateClusterInput{
		Name:    aws.String(name),
		RoleArn: aws.String(getStr(news, "roleArn")),
		Version: getStrPtr(news, "version"),
		ResourcesVpcConfig: &ekstypes.VpcConfigRequest{
			SubnetIds:         getStrs(vpc, "subnetIds"),
			SecurityGroupIds:  getStrs(vpc, "securityGroupIds"),
			PublicAccessCidrs: getStrs(vpc, "publicAccessCidrs"),
		},
		Logging: clusterLogging(getStrs(news, "enabledClusterLogTypes")),
	}
	if v, set := getBool(vpc, "endpointPrivateAccess"); set {
		in.ResourcesVpcConfig.EndpointPrivateAccess = aws.Bool(v)
	}
	if v, set := getBool(vpc, "endpointPublicAccess"); set {
		in.ResourcesVpcConfig.EndpointPublicAccess = aws.Bool(v)
	}
	if v, set := getBool(news, "bootstrapSelfManagedAddons"); set {
		in.BootstrapSelfManagedAddons = aws.Bool(v)
	}
	if ac := getObj(news, "accessConfig"); ac != nil {
		in.AccessConfig = &ekstypes.CreateAccessConfigRequest{AuthenticationMode: ekstypes.AuthenticationMode(getStr(ac, "authenticationMode"))}
		if v, set := getBool(ac, "bootstrapClusterCreatorAdminPermissions"); set {
			in.AccessConfig.BootstrapClusterCreatorAdminPermissions = aws.Bool(v)
		}
	}
	if ec := getObj(news, "encryptionConfig"); ec != nil {
		in.EncryptionConfig = []ekstypes.EncryptionConfig{{
			Provider:  &ekstypes.Provider{KeyArn: getStrPtr(getObj(ec, "provider"), "keyArn")},
			Resources: getStrs(ec, "resources"),
		}}
	}
	if kn := getObj(news, "kubernetesNetworkConfig"); kn != nil {
		in.KubernetesNetworkConfig = &ekstypes.KubernetesNetworkConfigRequest{
			ServiceIpv4Cidr: getStrPtr(kn, "serviceIpv4Cidr"),
			IpFamily:        ekstypes.IpFamily(getStr(kn, "ipFamily")),
		}
	}
	if tags := getStrMap(news, "tags"); len(tags) > 0 {
		in.Tags = tags
	}
	if _, err := c.EKS.CreateCluster(ctx, in); err != nil {
		return "", nil, fmt.Errorf("creating EKS Cluster (%s): %w", name, err)
	}
	// As the real provider does (waitClusterCreated): until ACTIVE, failing on FAILED.
	if err := waitFor(ctx, "EKS Cluster ("+name+") create", clusterTimeout, func() (bool, error) {
		out, err := c.EKS.DescribeCluster(ctx, &eks.DescribeClusterInput{Name: aws.String(name)})
		if err != nil {
			return false, err
		}
		switch out.Cluster.Status {
		case ekstypes.ClusterStatusActive:
			return true, nil
		case ekstypes.ClusterStatusFailed:
			return false, fmt.Errorf("cluster status %s", out.Cluster.Status)
		}
		return false, nil
	}); err != nil {
		// Created but not ready: the id goes to the engine, so destroy removes it.
		return name, nil, err
	}
	outs, err := readCluster(ctx, c, name, news)
	return name, outs, err
}

func clusterLogging(types []string) *ekstypes.Logging {
	if len(types) == 0 {
		return nil
	}
	lt := make([]ekstypes.LogType, 0, len(types))
	for _, t := range types {
		lt = append(lt, ekstypes.LogType(t))
	}
	return &ekstypes.Logging{ClusterLogging: []ekstypes.LogSetup{{Types: lt, Enabled: aws.Bool(true)}}}
}

// readCluster reports moto's cluster. Its endpoint, CA and issuer are moto's too: with the
// test's control-plane service set (integration/moto/eks_control_planes.py), those of the
// loopback control plane each cluster got at CreateCluster.
func readCluster(ctx context.Context, c *Clients, id string, olds resource.PropertyMap) (resource.PropertyMap, error) {
	out, err := c.EKS.DescribeCluster(ctx, &eks.DescribeClusterInput{Name: aws.String(id)})
	if isEKSNotFound(err) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	cl := out.Cluster
	endpoint := aws.ToString(cl.Endpoint)
	var caData, issuer string
	if cl.CertificateAuthority != nil {
		caData = aws.ToString(cl.CertificateAuthority.Data)
	}
	if cl.Identity != nil && cl.Identity.Oidc != nil {
		issuer = aws.ToString(cl.Identity.Oidc.Issuer)
	}

	serviceCIDR := defaultServiceCIDR
	ipFamily := "ipv4"
	if kn := cl.KubernetesNetworkConfig; kn != nil {
		if s := aws.ToString(kn.ServiceIpv4Cidr); s != "" {
			serviceCIDR = s
		}
		if kn.IpFamily != "" {
			ipFamily = string(kn.IpFamily)
		}
	}
	var logTypes []string
	if cl.Logging != nil {
		for _, s := range cl.Logging.ClusterLogging {
			if aws.ToBool(s.Enabled) {
				for _, t := range s.Types {
					logTypes = append(logTypes, string(t))
				}
			}
		}
	}
	// enabled_cluster_log_types is a set: keep the configured order when equal.
	if cfg := getStrs(olds, "enabledClusterLogTypes"); sameSet(cfg, logTypes) {
		logTypes = cfg
	}
	vpcOut := map[string]any{"subnetIds": []string{}, "securityGroupIds": []string{}, "publicAccessCidrs": []string{},
		"clusterSecurityGroupId": "", "vpcId": "", "endpointPrivateAccess": false, "endpointPublicAccess": true}
	if v := cl.ResourcesVpcConfig; v != nil {
		vpcOut["subnetIds"] = nonNil(v.SubnetIds)
		vpcOut["securityGroupIds"] = nonNil(v.SecurityGroupIds)
		vpcOut["publicAccessCidrs"] = nonNil(v.PublicAccessCidrs)
		vpcOut["clusterSecurityGroupId"] = aws.ToString(v.ClusterSecurityGroupId)
		vpcOut["vpcId"] = aws.ToString(v.VpcId)
		vpcOut["endpointPrivateAccess"] = resource.NewBoolProperty(v.EndpointPrivateAccess)
		vpcOut["endpointPublicAccess"] = resource.NewBoolProperty(v.EndpointPublicAccess)
	}
	// The endpoint flags are moto's (integration/moto/eks_cluster.py gives them EKS's defaults).
	if cfg := getObj(olds, "vpcConfig"); cfg != nil {
		for _, k := range []string{"subnetIds", "securityGroupIds", "publicAccessCidrs"} {
			if want := getStrs(cfg, k); sameSet(want, vpcOut[k].([]string)) {
				vpcOut[k] = want
			}
		}
	}
	outs := outMap(map[string]any{
		"arn":                    aws.ToString(cl.Arn),
		"name":                   aws.ToString(cl.Name),
		"status":                 string(cl.Status),
		"version":                aws.ToString(cl.Version),
		"platformVersion":        aws.ToString(cl.PlatformVersion),
		"roleArn":                aws.ToString(cl.RoleArn),
		"clusterId":              aws.ToString(cl.Id),
		"endpoint":               endpoint,
		"certificateAuthority":   map[string]any{"data": caData},
		"certificateAuthorities": []map[string]any{{"data": caData}},
		"identities":             []map[string]any{{"oidcs": []map[string]any{{"issuer": issuer}}}},
		"kubernetesNetworkConfig": map[string]any{
			"serviceIpv4Cidr": serviceCIDR, "ipFamily": ipFamily, "serviceIpv6Cidr": "",
		},
		"vpcConfig":              vpcOut,
		"enabledClusterLogTypes": nonNil(logTypes),
	})
	if cl.CreatedAt != nil {
		outs["createdAt"] = resource.NewStringProperty(cl.CreatedAt.UTC().Format(time.RFC3339))
	}
	// The access config as EKS returns it (moto serves it: integration/moto/eks_cluster.py).
	tags := maps.Clone(cl.Tags)
	if ac := cl.AccessConfig; ac != nil && ac.AuthenticationMode != "" {
		outs["accessConfig"] = outVal(map[string]any{"authenticationMode": string(ac.AuthenticationMode),
			"bootstrapClusterCreatorAdminPermissions": resource.NewBoolProperty(aws.ToBool(ac.BootstrapClusterCreatorAdminPermissions))})
	}
	if len(olds) == 0 {
		// An import: terraform-provider-aws's importer sets bootstrap_self_managed_addons to
		// its default, true, which the API cannot read back (hashicorp/terraform-provider-aws
		// #39058: without it every imported cluster was replaced).
		outs["bootstrapSelfManagedAddons"] = resource.NewBoolProperty(true)
	}
	tagsOutputs(outs, tags)
	return withInputs(outs, olds), nil
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func updateCluster(ctx context.Context, c *Clients, id string, olds, news resource.PropertyMap) (resource.PropertyMap, error) {
	// olds are the state's outputs: an input the program leaves out is computed there, not
	// changed, so only what news sets is compared (as Terraform compares config to state).
	setIn := func(m resource.PropertyMap, k string) bool {
		v, ok := m[resource.PropertyKey(k)]
		return ok && !v.IsNull()
	}
	name := aws.String(id)
	if setIn(news, "version") && getStr(olds, "version") != getStr(news, "version") {
		return nil, fmt.Errorf("EKS Cluster (%s): version %q → %q: UpdateClusterVersion is not emulated (moto has none)", id, getStr(olds, "version"), getStr(news, "version"))
	}
	// In terraform-provider-aws's order (internal/service/eks/cluster.go resourceClusterUpdate):
	// access config, logging, endpoint access, subnets, security groups, each its own
	// UpdateClusterConfig ("API only allows one type of update at at time") waited on until
	// DescribeUpdate says Successful before the next is sent.
	changed := func(o, n resource.PropertyMap, k string) bool {
		return setIn(n, k) && !o[resource.PropertyKey(k)].DeepEquals(n[resource.PropertyKey(k)])
	}
	if om, nm := getStr(getObj(olds, "accessConfig"), "authenticationMode"), getStr(getObj(news, "accessConfig"), "authenticationMode"); nm != "" && om != nm {
		if err := updateClusterConfig(ctx, c, &eks.UpdateClusterConfigInput{Name: name,
			AccessConfig: &ekstypes.UpdateAccessConfigRequest{AuthenticationMode: ekstypes.AuthenticationMode(nm)}}, "access configuration"); err != nil {
			return nil, err
		}
	}
	if ol, nl := getStrs(olds, "enabledClusterLogTypes"), getStrs(news, "enabledClusterLogTypes"); !sameSet(ol, nl) {
		if err := updateClusterConfig(ctx, c, &eks.UpdateClusterConfigInput{Name: name, Logging: expandLogging(nl)}, "logging"); err != nil {
			return nil, err
		}
	}
	ov, nv := getObj(olds, "vpcConfig"), getObj(news, "vpcConfig")
	if changed(ov, nv, "endpointPrivateAccess") || changed(ov, nv, "endpointPublicAccess") || changed(ov, nv, "publicAccessCidrs") {
		// Both flags always, from config over state (d.Get), the CIDRs when set.
		flag := func(k string) *bool {
			if v, set := getBool(nv, k); set {
				return aws.Bool(v)
			}
			v, _ := getBool(ov, k)
			return aws.Bool(v)
		}
		req := &ekstypes.VpcConfigRequest{EndpointPrivateAccess: flag("endpointPrivateAccess"), EndpointPublicAccess: flag("endpointPublicAccess")}
		if cidrs := getStrs(nv, "publicAccessCidrs"); len(cidrs) > 0 {
			req.PublicAccessCidrs = cidrs
		}
		if err := updateClusterConfig(ctx, c, &eks.UpdateClusterConfigInput{Name: name, ResourcesVpcConfig: req}, "VPC configuration"); err != nil {
			return nil, err
		}
	}
	if changed(ov, nv, "subnetIds") {
		if err := updateClusterConfig(ctx, c, &eks.UpdateClusterConfigInput{Name: name,
			ResourcesVpcConfig: &ekstypes.VpcConfigRequest{SubnetIds: getStrs(nv, "subnetIds")}}, "VPC configuration"); err != nil {
			return nil, err
		}
	}
	if changed(ov, nv, "securityGroupIds") {
		if err := updateClusterConfig(ctx, c, &eks.UpdateClusterConfigInput{Name: name,
			ResourcesVpcConfig: &ekstypes.VpcConfigRequest{SecurityGroupIds: getStrs(nv, "securityGroupIds")}}, "VPC configuration"); err != nil {
			return nil, err
		}
	}
	clusterARN := func() (*string, error) {
		cur, err := c.EKS.DescribeCluster(ctx, &eks.DescribeClusterInput{Name: name})
		if err != nil {
			return nil, err
		}
		return cur.Cluster.Arn, nil
	}
	if err := updateEKSTags(ctx, c, "EKS Cluster ("+id+")", clusterARN, olds, news); err != nil {
		return nil, err
	}
	return readCluster(ctx, c, id, news)
}

// updateEKSTags brings an EKS resource's tags from olds' to news' through EKS's tagging API
// (terraform-provider-aws internal/service/eks: every EKS resource's tags go through
// TagResource/UntagResource on its ARN, the @Tags identifierAttribute); what names the resource
// in errors ("EKS Add-On (id)"). arn is read only when a tag changed.
func updateEKSTags(ctx context.Context, c *Clients, what string, arn func() (*string, error), olds, news resource.PropertyMap) error {
	set, remove := tagDiff(getStrMap(olds, "tags"), getStrMap(news, "tags"))
	if len(set)+len(remove) == 0 {
		return nil
	}
	resourceARN, err := arn()
	if err != nil {
		return err
	}
	if len(remove) > 0 {
		if _, err := c.EKS.UntagResource(ctx, &eks.UntagResourceInput{ResourceArn: resourceARN, TagKeys: remove}); err != nil {
			return fmt.Errorf("untagging %s: %w", what, err)
		}
	}
	if len(set) > 0 {
		if _, err := c.EKS.TagResource(ctx, &eks.TagResourceInput{ResourceArn: resourceARN, Tags: set}); err != nil {
			return fmt.Errorf("tagging %s: %w", what, err)
		}
	}
	return nil
}

// stateARN is an updateEKSTags arn read from the state's output key.
func stateARN(olds resource.PropertyMap, key string) func() (*string, error) {
	return func() (*string, error) { return aws.String(getStr(olds, key)), nil }
}

// updateClusterConfig sends one UpdateClusterConfig and waits for the update it answers, as
// terraform-provider-aws does (cluster.go: output.Update.Id, then waitClusterUpdateSuccessful).
func updateClusterConfig(ctx context.Context, c *Clients, in *eks.UpdateClusterConfigInput, what string) error {
	id := aws.ToString(in.Name)
	out, err := c.EKS.UpdateClusterConfig(ctx, in)
	if err != nil {
		return fmt.Errorf("updating EKS Cluster (%s) %s: %w", id, what, err)
	}
	if out.Update == nil {
		return fmt.Errorf("updating EKS Cluster (%s) %s: UpdateClusterConfig answered no update", id, what)
	}
	updateID := aws.ToString(out.Update.Id)
	if err := waitClusterUpdateSuccessful(ctx, c, id, updateID); err != nil {
		return fmt.Errorf("waiting for EKS Cluster (%s) %s update (%s): %w", id, what, updateID, err)
	}
	return nil
}

// clusterUpdateTimeout is the real provider's default update timeout for a cluster (60 min).
const clusterUpdateTimeout = 60 * time.Minute

// waitClusterUpdateSuccessful is terraform-provider-aws cluster.go's: DescribeUpdate
// (findClusterUpdateByTwoPartKey) until Successful while InProgress; Failed or Cancelled end
// it with the update's error details (errorDetailsError).
func waitClusterUpdateSuccessful(ctx context.Context, c *Clients, name, updateID string) error {
	return waitFor(ctx, "EKS Cluster ("+name+") update "+updateID, clusterUpdateTimeout, func() (bool, error) {
		out, err := c.EKS.DescribeUpdate(ctx, &eks.DescribeUpdateInput{Name: aws.String(name), UpdateId: aws.String(updateID)})
		if err != nil {
			return false, err
		}
		switch u := out.Update; u.Status {
		case ekstypes.UpdateStatusSuccessful:
			return true, nil
		case ekstypes.UpdateStatusInProgress:
			return false, nil
		default:
			var details []error
			for _, e := range u.Errors {
				details = append(details, fmt.Errorf("%s: %s", e.ErrorCode, aws.ToString(e.ErrorMessage)))
			}
			return false, fmt.Errorf("unexpected state '%s', wanted target 'Successful': %w", u.Status, errors.Join(details...))
		}
	})
}

// expandLogging is terraform-provider-aws cluster.go's: the configured types enabled, every
// other type EKS knows disabled, in one request.
func expandLogging(enabled []string) *ekstypes.Logging {
	on := make([]ekstypes.LogType, 0, len(enabled))
	for _, t := range enabled {
		on = append(on, ekstypes.LogType(t))
	}
	var off []ekstypes.LogType
	for _, t := range ekstypes.LogType("").Values() {
		if !slices.Contains(on, t) {
			off = append(off, t)
		}
	}
	return &ekstypes.Logging{ClusterLogging: []ekstypes.LogSetup{{Enabled: aws.Bool(true), Types: on}, {Enabled: aws.Bool(false), Types: off}}}
}

// deleteCluster deletes and, as the real provider does (waitClusterDeleted), waits until
// DescribeCluster no longer finds it.
func deleteCluster(ctx context.Context, c *Clients, id string, _ resource.PropertyMap) error {
	_, err := c.EKS.DeleteCluster(ctx, &eks.DeleteClusterInput{Name: aws.String(id)})
	if isEKSNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("deleting EKS Cluster (%s): %w", id, err)
	}
	return waitFor(ctx, "EKS Cluster ("+id+") delete", clusterTimeout, func() (bool, error) {
		_, err := c.EKS.DescribeCluster(ctx, &eks.DescribeClusterInput{Name: aws.String(id)})
		if isEKSNotFound(err) {
			return true, nil
		}
		return false, err
	})
}
