package moto_test

import (
	"context"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/eks-irsa/eks-irsa/integration/moto"
)

// A launch template's own tags (CreateLaunchTemplate's TagSpecifications, resource type
// launch-template) tag the template; its data keeps only the specifications the request put
// in LaunchTemplateData, as EC2 returns them (ec2_launch_templates.py).
func TestLaunchTemplateOwnTagsStayOutOfItsData(t *testing.T) {
	s := moto.Start(t)
	ctx := context.Background()
	c := ec2.NewFromConfig(s.Config(""))
	tag := func(k, v string) []ec2types.Tag { return []ec2types.Tag{{Key: aws.String(k), Value: aws.String(v)}} }
	out, err := c.CreateLaunchTemplate(ctx, &ec2.CreateLaunchTemplateInput{
		LaunchTemplateName: aws.String("workers"),
		LaunchTemplateData: &ec2types.RequestLaunchTemplateData{
			InstanceType: ec2types.InstanceTypeT3Medium,
			TagSpecifications: []ec2types.LaunchTemplateTagSpecificationRequest{
				{ResourceType: ec2types.ResourceTypeInstance, Tags: tag("Name", "node")},
			},
		},
		TagSpecifications: []ec2types.TagSpecification{
			{ResourceType: ec2types.ResourceTypeLaunchTemplate, Tags: tag("Environment", "test")},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	versions, err := c.DescribeLaunchTemplateVersions(ctx, &ec2.DescribeLaunchTemplateVersionsInput{
		LaunchTemplateId: out.LaunchTemplate.LaunchTemplateId, Versions: []string{"$Latest"},
	})
	if err != nil {
		t.Fatal(err)
	}
	specs := versions.LaunchTemplateVersions[0].LaunchTemplateData.TagSpecifications
	if len(specs) != 1 || specs[0].ResourceType != ec2types.ResourceTypeInstance {
		var got []string
		for _, s := range specs {
			got = append(got, string(s.ResourceType))
		}
		t.Errorf("the template's data has tag specifications for %q, want [instance] only", got)
	}
	templates, err := c.DescribeLaunchTemplates(ctx, &ec2.DescribeLaunchTemplatesInput{LaunchTemplateIds: []string{aws.ToString(out.LaunchTemplate.LaunchTemplateId)}})
	if err != nil {
		t.Fatal(err)
	}
	if tags := templates.LaunchTemplates[0].Tags; len(tags) != 1 || aws.ToString(tags[0].Key) != "Environment" {
		t.Errorf("the template's tags are %v, want Environment=test", tags)
	}
}
