package awsemu

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
)

func init() {
	register(&Kind{
		Token:    "aws:ec2/launchTemplate:LaunchTemplate",
		Schema:   launchTemplateSchema,
		AutoName: true,
		Create:   createLaunchTemplate,
		Read:     readLaunchTemplate,
		Update:   updateLaunchTemplate,
		Delete: func(ctx context.Context, c *Clients, id string, _ resource.PropertyMap) error {
			_, err := c.EC2.DeleteLaunchTemplate(ctx, &ec2.DeleteLaunchTemplateInput{LaunchTemplateId: aws.String(id)})
			if isCode(err, "InvalidLaunchTemplateId.NotFound", "InvalidLaunchTemplateName.NotFoundException", "InvalidLaunchTemplateId.Malformed") {
				return nil
			}
			return err
		},
	})
}

// templateDataKeys are the inputs that make up a template version; a change to any of them
// is a new version.
var templateDataKeys = []string{"blockDeviceMappings", "capacityReservationSpecification", "cpuOptions", "creditSpecification",
	"disableApiStop", "disableApiTermination", "ebsOptimized", "elasticGpuSpecifications", "elasticInferenceAccelerator",
	"enclaveOptions", "hibernationOptions", "iamInstanceProfile", "imageId", "instanceInitiatedShutdownBehavior",
	"instanceMarketOptions", "instanceRequirements", "instanceType", "kernelId", "keyName", "licenseSpecifications",
	"maintenanceOptions", "metadataOptions", "monitoring", "networkInterfaces", "placement", "privateDnsNameOptions",
	"ramDiskId", "securityGroupNames", "tagSpecifications", "userData", "vpcSecurityGroupIds", "description"}

// emulatedTemplateKeys are the ones templateData carries to AWS; the rest are refused.
var emulatedTemplateKeys = map[string]bool{"blockDeviceMappings": true, "iamInstanceProfile": true, "imageId": true,
	"instanceType": true, "keyName": true, "metadataOptions": true, "monitoring": true, "tagSpecifications": true,
	"userData": true, "vpcSecurityGroupIds": true, "securityGroupNames": true, "ebsOptimized": true, "description": true,
	"disableApiTermination": true}

// boolString is the real provider's tri-state string ("true", "false", "") as a *bool.
func boolString(m resource.PropertyMap, k string) (*bool, error) {
	switch s := getStr(m, k); s {
	case "":
		return nil, nil
	case "true", "false":
		return aws.Bool(s == "true"), nil
	default:
		return nil, fmt.Errorf("%s = %q: want \"true\" or \"false\"", k, s)
	}
}

func templateData(news resource.PropertyMap) (*ec2types.RequestLaunchTemplateData, error) {
	for _, k := range templateDataKeys {
		if v, ok := news[resource.PropertyKey(k)]; ok && !v.IsNull() && !emulatedTemplateKeys[k] {
			return nil, fmt.Errorf("launch template input %q is not emulated (the program does not set it)", k)
		}
	}
	d := &ec2types.RequestLaunchTemplateData{
		ImageId:          getStrPtr(news, "imageId"),
		InstanceType:     ec2types.InstanceType(getStr(news, "instanceType")),
		UserData:         getStrPtr(news, "userData"),
		KeyName:          getStrPtr(news, "keyName"),
		SecurityGroupIds: getStrs(news, "vpcSecurityGroupIds"),
		SecurityGroups:   getStrs(news, "securityGroupNames"),
	}
	if v, set := getBool(news, "disableApiTermination"); set {
		d.DisableApiTermination = aws.Bool(v)
	}
	opt, err := boolString(news, "ebsOptimized")
	if err != nil {
		return nil, err
	}
	d.EbsOptimized = opt
	if p := getObj(news, "iamInstanceProfile"); p != nil {
		d.IamInstanceProfile = &ec2types.LaunchTemplateIamInstanceProfileSpecificationRequest{Arn: getStrPtr(p, "arn"), Name: getStrPtr(p, "name")}
	}
	if m := getObj(news, "metadataOptions"); m != nil {
		d.MetadataOptions = &ec2types.LaunchTemplateInstanceMetadataOptionsRequest{
			HttpEndpoint:            ec2types.LaunchTemplateInstanceMetadataEndpointState(getStr(m, "httpEndpoint")),
			HttpTokens:              ec2types.LaunchTemplateHttpTokensState(getStr(m, "httpTokens")),
			HttpPutResponseHopLimit: getInt32(m, "httpPutResponseHopLimit"),
			HttpProtocolIpv6:        ec2types.LaunchTemplateInstanceMetadataProtocolIpv6(getStr(m, "httpProtocolIpv6")),
			InstanceMetadataTags:    ec2types.LaunchTemplateInstanceMetadataTagsState(getStr(m, "instanceMetadataTags")),
		}
	}
	if m := getObj(news, "monitoring"); m != nil {
		on, _ := getBool(m, "enabled")
		d.Monitoring = &ec2types.LaunchTemplatesMonitoringRequest{Enabled: aws.Bool(on)}
	}
	for _, b := range getObjs(news, "blockDeviceMappings") {
		bd := ec2types.LaunchTemplateBlockDeviceMappingRequest{DeviceName: getStrPtr(b, "deviceName"),
			NoDevice: getStrPtr(b, "noDevice"), VirtualName: getStrPtr(b, "virtualName")}
		if e := getObj(b, "ebs"); e != nil {
			enc, err := boolString(e, "encrypted")
			if err != nil {
				return nil, fmt.Errorf("blockDeviceMappings ebs: %w", err)
			}
			del, err := boolString(e, "deleteOnTermination")
			if err != nil {
				return nil, fmt.Errorf("blockDeviceMappings ebs: %w", err)
			}
			bd.Ebs = &ec2types.LaunchTemplateEbsBlockDeviceRequest{
				Encrypted: enc, DeleteOnTermination: del, VolumeSize: getInt32(e, "volumeSize"),
				VolumeType: ec2types.VolumeType(getStr(e, "volumeType")), Iops: getInt32(e, "iops"),
				Throughput: getInt32(e, "throughput"), KmsKeyId: getStrPtr(e, "kmsKeyId"), SnapshotId: getStrPtr(e, "snapshotId"),
			}
		}
		d.BlockDeviceMappings = append(d.BlockDeviceMappings, bd)
	}
	for _, t := range getObjs(news, "tagSpecifications") {
		d.TagSpecifications = append(d.TagSpecifications, ec2types.LaunchTemplateTagSpecificationRequest{
			ResourceType: ec2types.ResourceType(getStr(t, "resourceType")), Tags: ec2Tags(getStrMap(t, "tags")),
		})
	}
	return d, nil
}

func createLaunchTemplate(ctx context.Context, c *Clients, news resource.PropertyMap) (string, resource.PropertyMap, error) {
	name := getStr(news, "name")
	if name == "" {
		if prefix := getStr(news, "namePrefix"); prefix != "" {
			n, err := resource.NewUniqueName(nil, prefix, 26, 128, []rune("0123456789"))
			if err != nil {
				return "", nil, err
			}
			name = n
		}
	}
	if name == "" {
		return "", nil, errors.New("no name: Check names every launch template")
	}
	data, err := templateData(news)
	if err != nil {
		return "", nil, err
	}
	out, err := c.EC2.CreateLaunchTemplate(ctx, &ec2.CreateLaunchTemplateInput{
		LaunchTemplateName: aws.String(name),
		VersionDescription: getStrPtr(news, "description"),
		LaunchTemplateData: data,
		TagSpecifications:  tagSpecs(ec2types.ResourceTypeLaunchTemplate, getStrMap(news, "tags")),
	})
	if err != nil {
		return "", nil, err
	}
	id := aws.ToString(out.LaunchTemplate.LaunchTemplateId)
	outs, err := readLaunchTemplate(ctx, c, id, news)
	return id, outs, err
}

func readLaunchTemplate(ctx context.Context, c *Clients, id string, _ resource.PropertyMap) (resource.PropertyMap, error) {
	out, err := c.EC2.DescribeLaunchTemplates(ctx, &ec2.DescribeLaunchTemplatesInput{LaunchTemplateIds: []string{id}})
	if isCode(err, "InvalidLaunchTemplateId.NotFound", "InvalidLaunchTemplateName.NotFoundException", "InvalidLaunchTemplateId.Malformed") || (err == nil && len(out.LaunchTemplates) == 0) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	lt := out.LaunchTemplates[0]
	latest := aws.ToInt64(lt.LatestVersionNumber)
	outs := outMap(map[string]any{
		"arn":            ec2ARN(c, "launch-template", id),
		"name":           aws.ToString(lt.LaunchTemplateName),
		"latestVersion":  int(latest),
		"defaultVersion": int(aws.ToInt64(lt.DefaultVersionNumber)),
	})
	// The version's data, as the real provider reads it back (flattenResponseLaunchTemplateData).
	vs, err := c.EC2.DescribeLaunchTemplateVersions(ctx, &ec2.DescribeLaunchTemplateVersionsInput{
		LaunchTemplateId: aws.String(id), Versions: []string{strconv.FormatInt(latest, 10)},
	})
	if err != nil {
		return nil, fmt.Errorf("reading version %d of %s: %w", latest, id, err)
	}
	if len(vs.LaunchTemplateVersions) > 0 {
		v := vs.LaunchTemplateVersions[0]
		outs["description"] = resource.NewStringProperty(aws.ToString(v.VersionDescription))
		if d := v.LaunchTemplateData; d != nil {
			outs["imageId"] = resource.NewStringProperty(aws.ToString(d.ImageId))
			outs["instanceType"] = resource.NewStringProperty(string(d.InstanceType))
			outs["userData"] = resource.NewStringProperty(aws.ToString(d.UserData))
			outs["keyName"] = resource.NewStringProperty(aws.ToString(d.KeyName))
			outs["vpcSecurityGroupIds"] = outVal(orEmpty(d.SecurityGroupIds))
			templateDataOutputs(outs, d)
		}
	}
	tagsOutputs(outs, fromEC2Tags(lt.Tags))
	return outs, nil
}

// updateLaunchTemplate makes a new version when the template's data changed, and makes it
// the default when updateDefaultVersion is set, as the real provider does.
func updateLaunchTemplate(ctx context.Context, c *Clients, id string, olds, news resource.PropertyMap) (resource.PropertyMap, error) {
	changed := false
	for _, k := range templateDataKeys {
		if !olds[resource.PropertyKey(k)].DeepEquals(news[resource.PropertyKey(k)]) {
			changed = true
		}
	}
	if changed {
		data, err := templateData(news)
		if err != nil {
			return nil, err
		}
		out, err := c.EC2.CreateLaunchTemplateVersion(ctx, &ec2.CreateLaunchTemplateVersionInput{
			LaunchTemplateId: aws.String(id), VersionDescription: getStrPtr(news, "description"), LaunchTemplateData: data,
		})
		if err != nil {
			return nil, err
		}
		version := aws.ToInt64(out.LaunchTemplateVersion.VersionNumber)
		if def, _ := getBool(news, "updateDefaultVersion"); def {
			if _, err := c.EC2.ModifyLaunchTemplate(ctx, &ec2.ModifyLaunchTemplateInput{
				LaunchTemplateId: aws.String(id), DefaultVersion: aws.String(strconv.FormatInt(version, 10)),
			}); err != nil {
				return nil, fmt.Errorf("making version %d the default of %s: %w", version, id, err)
			}
		}
	}
	if err := updateEC2Tags(ctx, c, id, getStrMap(olds, "tags"), getStrMap(news, "tags")); err != nil {
		return nil, err
	}
	return readLaunchTemplate(ctx, c, id, news)
}

// templateDataOutputs adds the nested blocks of a version's data as the real provider
// flattens them (ec2_launch_template.go flattenResponseLaunchTemplateData), so a refresh sees
// metadata options, block devices, the instance profile and tag specifications as AWS has them.
func templateDataOutputs(outs resource.PropertyMap, d *ec2types.ResponseLaunchTemplateData) {
	if p := d.IamInstanceProfile; p != nil {
		outs["iamInstanceProfile"] = outVal(map[string]any{"arn": aws.ToString(p.Arn), "name": aws.ToString(p.Name)})
	}
	if m := d.MetadataOptions; m != nil {
		outs["metadataOptions"] = outVal(map[string]any{
			"httpEndpoint": string(m.HttpEndpoint), "httpTokens": string(m.HttpTokens),
			"httpPutResponseHopLimit": aws.ToInt32(m.HttpPutResponseHopLimit),
			"httpProtocolIpv6":        string(m.HttpProtocolIpv6), "instanceMetadataTags": string(m.InstanceMetadataTags),
		})
	}
	if m := d.Monitoring; m != nil {
		outs["monitoring"] = outVal(map[string]any{"enabled": resource.NewBoolProperty(aws.ToBool(m.Enabled))})
	}
	// ebs_optimized and the ebs booleans are tri-state strings upstream.
	triState := func(b *bool) string {
		if b == nil {
			return ""
		}
		return strconv.FormatBool(*b)
	}
	devices := []map[string]any{}
	for _, b := range d.BlockDeviceMappings {
		m := map[string]any{"deviceName": aws.ToString(b.DeviceName), "noDevice": aws.ToString(b.NoDevice), "virtualName": aws.ToString(b.VirtualName)}
		if e := b.Ebs; e != nil {
			m["ebs"] = map[string]any{
				"deleteOnTermination": triState(e.DeleteOnTermination), "encrypted": triState(e.Encrypted),
				"iops": aws.ToInt32(e.Iops), "throughput": aws.ToInt32(e.Throughput), "volumeSize": aws.ToInt32(e.VolumeSize),
				"volumeType": string(e.VolumeType), "kmsKeyId": aws.ToString(e.KmsKeyId), "snapshotId": aws.ToString(e.SnapshotId),
			}
		}
		devices = append(devices, m)
	}
	outs["blockDeviceMappings"] = outVal(devices)
	specs := []map[string]any{}
	for _, t := range d.TagSpecifications {
		specs = append(specs, map[string]any{"resourceType": string(t.ResourceType), "tags": fromEC2Tags(t.Tags)})
	}
	outs["tagSpecifications"] = outVal(specs)
	if d.EbsOptimized != nil {
		outs["ebsOptimized"] = resource.NewStringProperty(triState(d.EbsOptimized))
	}
}
