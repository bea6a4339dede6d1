package awsemu

import (
	"context"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	astypes "github.com/aws/aws-sdk-go-v2/service/autoscaling/types"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource/plugin"
	"github.com/pulumi/pulumi/sdk/v3/go/common/tokens"
)

// TestDiffAgainstState: the plan compares the program's inputs with the state, not with the
// old inputs, so drift that a refresh wrote into the state is a change even when the program
// did not change (pulumi-terraform-bridge Diff plans against the old outputs).
func TestDiffAgainstState(t *testing.T) {
	sg := kinds["aws:ec2/securityGroup:SecurityGroup"]
	rule := map[string]any{"protocol": "-1", "fromPort": 0, "toPort": 0, "cidrBlocks": []any{"0.0.0.0/0"}}
	inputs := pm(map[string]any{"name": "g", "vpcId": "vpc-1", "description": "d", "egress": []any{rule}, "__defaults": []any{}})
	// The state as AWS reports the same group: every rule field present, protocol as AWS
	// spells it, plus outputs the program never sets.
	state := pm(map[string]any{"name": "g", "vpcId": "vpc-1", "description": "d", "arn": "arn:x", "ownerId": "1",
		"egress": []any{map[string]any{"protocol": "-1", "fromPort": 0, "toPort": 0, "cidrBlocks": []any{"0.0.0.0/0"},
			"ipv6CidrBlocks": []any{}, "prefixListIds": []any{}, "securityGroups": []any{}, "self": false, "description": ""}},
		"ingress": []any{}, "revokeRulesOnDelete": false})
	if d := sg.diff(state, inputs); d.Changes != plugin.DiffNone {
		t.Fatalf("state equal to the program: %+v, want no change", d)
	}
	drifted := state.Copy()
	drifted["egress"] = resource.NewArrayProperty(nil)
	// Through the provider as the engine calls it: the old inputs equal the new ones.
	p := &Provider{}
	d, err := p.Diff(t.Context(), plugin.DiffRequest{Type: "aws:ec2/securityGroup:SecurityGroup", ID: "sg-1",
		OldInputs: inputs, OldOutputs: drifted, NewInputs: inputs})
	if err != nil {
		t.Fatal(err)
	}
	if d.Changes != plugin.DiffSome || d.DetailedDiff["egress"].Kind != plugin.DiffUpdate || len(d.ReplaceKeys) != 0 {
		t.Errorf("egress gone from the state: %+v, want an in-place update of egress", d)
	}
	// Ingress is Optional+Computed: the program leaves it out, the state's rules stand.
	withIngress := state.Copy()
	withIngress["ingress"] = pm(map[string]any{"x": []any{rule}})["x"]
	if d := sg.diff(withIngress, inputs); d.Changes != plugin.DiffNone {
		t.Errorf("ingress the program leaves out: %+v, want no change", d)
	}
	// A nested ForceNew change replaces (accessConfig.bootstrapClusterCreatorAdminPermissions).
	cl := kinds["aws:eks/cluster:Cluster"]
	clState := pm(map[string]any{"name": "c", "roleArn": "r", "bootstrapSelfManagedAddons": true,
		"vpcConfig":    map[string]any{"subnetIds": []any{"a", "b"}, "endpointPrivateAccess": false, "endpointPublicAccess": true},
		"accessConfig": map[string]any{"authenticationMode": "API", "bootstrapClusterCreatorAdminPermissions": true}})
	clNew := clState.Copy()
	clNew["accessConfig"] = pm(map[string]any{"x": map[string]any{"authenticationMode": "API", "bootstrapClusterCreatorAdminPermissions": false}})["x"]
	if d := cl.diff(clState, clNew); d.DetailedDiff["accessConfig.bootstrapClusterCreatorAdminPermissions"].Kind != plugin.DiffUpdateReplace ||
		len(d.ReplaceKeys) != 1 || d.ReplaceKeys[0] != "accessConfig" {
		t.Errorf("nested ForceNew change: %+v, want a replacement at accessConfig.bootstrapClusterCreatorAdminPermissions", d)
	}
	// A set in another order is the same set (vpcConfig.subnetIds).
	reordered := clState.Copy()
	reordered["vpcConfig"] = pm(map[string]any{"x": map[string]any{"subnetIds": []any{"b", "a"}, "endpointPrivateAccess": false, "endpointPublicAccess": true}})["x"]
	if d := cl.diff(clState, reordered); d.Changes != plugin.DiffNone {
		t.Errorf("subnets reordered: %+v, want no change", d)
	}
}

// TestRefreshRepairsNestedDrift changes nested state by hand in moto, the way someone would in
// the console, and checks what `up --refresh` does: Read brings the nested drift into the
// outputs and the inputs, the next plan against that state is an in-place update, and the
// update puts the program's value back in moto.
func TestRefreshRepairsNestedDrift(t *testing.T) {
	h := newHarness(t)
	ctx := t.Context()
	subnets := testSubnets(t, h)
	vpc := vpcOfSubnet(t, h, subnets[0].(string))

	allEgress := []any{map[string]any{"protocol": "-1", "fromPort": 0, "toPort": 0, "cidrBlocks": []any{"0.0.0.0/0"}}}
	sgIn := map[string]any{"vpcId": vpc, "description": "nodes", "egress": allEgress}
	sg := h.create("aws:ec2/securityGroup:SecurityGroup", "nodes", sgIn)

	oidcIn := map[string]any{"url": "https://oidc.example.com/id/ABC", "clientIdLists": []any{"sts.amazonaws.com"},
		"thumbprintLists": []any{"9e99a48a9960b14926bb7f3b02e22da2b0ab7280"}}
	oidc := h.create("aws:iam/openIdConnectProvider:OpenIdConnectProvider", "oidc", oidcIn)

	ltIn := map[string]any{"imageId": "ami-12c6146b", "instanceType": "t3.medium", "updateDefaultVersion": true,
		"metadataOptions": map[string]any{"httpEndpoint": "enabled", "httpTokens": "required", "httpPutResponseHopLimit": 1},
		"blockDeviceMappings": []any{map[string]any{"deviceName": "/dev/xvda",
			"ebs": map[string]any{"volumeSize": 20, "volumeType": "gp3", "encrypted": "true", "deleteOnTermination": "true"}}}}
	lt := h.create("aws:ec2/launchTemplate:LaunchTemplate", "nodes", ltIn)

	asgIn := map[string]any{"name": "workers", "minSize": 0, "maxSize": 2, "desiredCapacity": 0, "vpcZoneIdentifiers": subnets,
		"launchTemplate": map[string]any{"id": string(lt.id), "version": "$Latest"}, "waitForCapacityTimeout": "0",
		"tags": []any{map[string]any{"key": "owner", "value": "eksirsa", "propagateAtLaunch": true}}}
	asg := h.create("aws:autoscaling/group:Group", "workers", asgIn)

	for _, tc := range []struct {
		r     *live
		in    map[string]any
		path  string                                        // the detailed-diff path the drift shows at
		drift func(ctx context.Context) error               // the change made by hand
		check func(t *testing.T, outs resource.PropertyMap) // moto holds the program's value again
	}{
		{sg, sgIn, "egress", func(ctx context.Context) error {
			_, err := h.c.EC2.RevokeSecurityGroupEgress(ctx, &ec2.RevokeSecurityGroupEgressInput{GroupId: aws.String(string(sg.id)),
				IpPermissions: []ec2types.IpPermission{{IpProtocol: aws.String("-1"), IpRanges: []ec2types.IpRange{{CidrIp: aws.String("0.0.0.0/0")}}}}})
			return err
		}, func(t *testing.T, outs resource.PropertyMap) {
			if n := len(outs["egress"].ArrayValue()); n != 1 {
				t.Errorf("egress after the repair: %v", outs["egress"])
			}
		}},
		{oidc, oidcIn, "thumbprintLists", func(ctx context.Context) error {
			_, err := h.c.IAM.UpdateOpenIDConnectProviderThumbprint(ctx, &iam.UpdateOpenIDConnectProviderThumbprintInput{
				OpenIDConnectProviderArn: aws.String(string(oidc.id)), ThumbprintList: []string{"0000000000000000000000000000000000000000"}})
			return err
		}, func(t *testing.T, outs resource.PropertyMap) {
			if got := getStrs(outs, "thumbprintLists"); len(got) != 1 || got[0] != "9e99a48a9960b14926bb7f3b02e22da2b0ab7280" {
				t.Errorf("thumbprints after the repair: %v", got)
			}
		}},
		{lt, ltIn, "metadataOptions.httpPutResponseHopLimit", func(ctx context.Context) error {
			_, err := h.c.EC2.CreateLaunchTemplateVersion(ctx, &ec2.CreateLaunchTemplateVersionInput{LaunchTemplateId: aws.String(string(lt.id)),
				LaunchTemplateData: &ec2types.RequestLaunchTemplateData{ImageId: aws.String("ami-12c6146b"), InstanceType: "t3.medium",
					MetadataOptions: &ec2types.LaunchTemplateInstanceMetadataOptionsRequest{HttpEndpoint: "enabled", HttpTokens: "optional", HttpPutResponseHopLimit: aws.Int32(2)},
					BlockDeviceMappings: []ec2types.LaunchTemplateBlockDeviceMappingRequest{{DeviceName: aws.String("/dev/xvda"),
						Ebs: &ec2types.LaunchTemplateEbsBlockDeviceRequest{VolumeSize: aws.Int32(20), VolumeType: "gp3", Encrypted: aws.Bool(true), DeleteOnTermination: aws.Bool(true)}}}}})
			return err
		}, func(t *testing.T, outs resource.PropertyMap) {
			if n, _ := getInt(getObj(outs, "metadataOptions"), "httpPutResponseHopLimit"); n != 1 {
				t.Errorf("hop limit after the repair: %v", outs["metadataOptions"])
			}
		}},
		{asg, asgIn, "tags", func(ctx context.Context) error {
			_, err := h.c.AutoScaling.DeleteTags(ctx, &autoscaling.DeleteTagsInput{Tags: []astypes.Tag{{Key: aws.String("owner"),
				ResourceId: aws.String("workers"), ResourceType: aws.String(asgResourceType)}}})
			return err
		}, func(t *testing.T, outs resource.PropertyMap) {
			if n := len(getObjs(outs, "tags")); n != 1 {
				t.Errorf("tags after the repair: %v", outs["tags"])
			}
		}},
	} {
		t.Run(tc.r.token, func(t *testing.T) {
			if err := tc.drift(ctx); err != nil {
				t.Fatalf("drift by hand: %v", err)
			}
			resp, err := h.refresh(tc.r)
			if err != nil || resp.ID == "" {
				t.Fatalf("refresh: %v %+v", err, resp)
			}
			before := tc.r.inputs
			tc.r.inputs, tc.r.outputs = resp.Inputs, resp.Outputs
			if resp.Inputs.DeepEquals(before) {
				t.Errorf("refresh left the inputs as they were: the drift is not in them")
			}
			news, err := h.check(tc.r.token, tc.r.name, tc.r.inputs, tc.in)
			if err != nil {
				t.Fatal(err)
			}
			d, err := h.p.Diff(ctx, plugin.DiffRequest{URN: urn(tc.r.token, tc.r.name), Name: tc.r.name, Type: tokens.Type(tc.r.token),
				ID: tc.r.id, OldInputs: tc.r.inputs, OldOutputs: tc.r.outputs, NewInputs: news})
			if err != nil {
				t.Fatal(err)
			}
			if d.Changes != plugin.DiffSome || len(d.ReplaceKeys) != 0 {
				t.Fatalf("plan after the refresh: %+v, want an in-place update", d)
			}
			if _, ok := d.DetailedDiff[tc.path]; !ok {
				t.Errorf("plan after the refresh: detailed %v, want a change at %s", d.DetailedDiff, tc.path)
			}
			h.update(tc.r, tc.in)
			again, err := h.refresh(tc.r)
			if err != nil {
				t.Fatal(err)
			}
			tc.check(t, again.Outputs)
		})
	}
}

func vpcOfSubnet(t *testing.T, h *harness, subnet string) string {
	t.Helper()
	out, err := h.c.EC2.DescribeSubnets(t.Context(), &ec2.DescribeSubnetsInput{SubnetIds: []string{subnet}})
	if err != nil || len(out.Subnets) != 1 {
		t.Fatalf("subnet %s: %v", subnet, err)
	}
	return aws.ToString(out.Subnets[0].VpcId)
}
