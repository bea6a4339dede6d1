package awsemu

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	logstypes "github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs/types"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
)

func init() {
	register(&Kind{
		Token:    "aws:cloudwatch/logGroup:LogGroup",
		Schema:   logGroupSchema,
		AutoName: true,
		Create:   createLogGroup,
		Read:     readLogGroup,
		Update:   updateLogGroup,
		Delete: func(ctx context.Context, c *Clients, id string, olds resource.PropertyMap) error {
			if skip, _ := getBool(olds, "skipDestroy"); skip {
				return nil // the real provider only forgets it
			}
			_, err := c.Logs.DeleteLogGroup(ctx, &cloudwatchlogs.DeleteLogGroupInput{LogGroupName: aws.String(id)})
			var nf *logstypes.ResourceNotFoundException
			if errors.As(err, &nf) {
				return nil
			}
			return err
		},
	})
}

func createLogGroup(ctx context.Context, c *Clients, news resource.PropertyMap) (string, resource.PropertyMap, error) {
	name := getStr(news, "name")
	if name == "" {
		return "", nil, errors.New("no name: Check names every log group")
	}
	in := &cloudwatchlogs.CreateLogGroupInput{
		LogGroupName: aws.String(name),
		KmsKeyId:     getStrPtr(news, "kmsKeyId"),
	}
	if class := getStr(news, "logGroupClass"); class != "" {
		in.LogGroupClass = logstypes.LogGroupClass(class)
	}
	if tags := getStrMap(news, "tags"); len(tags) > 0 {
		in.Tags = tags
	}
	if _, err := c.Logs.CreateLogGroup(ctx, in); err != nil {
		return "", nil, fmt.Errorf("creating CloudWatch Logs Log Group (%s): %w", name, err)
	}
	if days, _ := getInt(news, "retentionInDays"); days > 0 {
		if err := putRetention(ctx, c, name, days); err != nil {
			return "", nil, err
		}
	}
	outs, err := readLogGroup(ctx, c, name, news)
	return name, outs, err
}

func putRetention(ctx context.Context, c *Clients, name string, days int) error {
	var err error
	if days > 0 {
		_, err = c.Logs.PutRetentionPolicy(ctx, &cloudwatchlogs.PutRetentionPolicyInput{LogGroupName: aws.String(name), RetentionInDays: aws.Int32(int32(days))})
	} else {
		_, err = c.Logs.DeleteRetentionPolicy(ctx, &cloudwatchlogs.DeleteRetentionPolicyInput{LogGroupName: aws.String(name)})
	}
	if err != nil {
		return fmt.Errorf("setting CloudWatch Logs Log Group (%s) retention policy: %w", name, err)
	}
	return nil
}

func readLogGroup(ctx context.Context, c *Clients, id string, olds resource.PropertyMap) (resource.PropertyMap, error) {
	pages := cloudwatchlogs.NewDescribeLogGroupsPaginator(c.Logs, &cloudwatchlogs.DescribeLogGroupsInput{LogGroupNamePrefix: aws.String(id)})
	var group *logstypes.LogGroup
	for pages.HasMorePages() && group == nil {
		page, err := pages.NextPage(ctx)
		if err != nil {
			return nil, err
		}
		for i := range page.LogGroups {
			if aws.ToString(page.LogGroups[i].LogGroupName) == id {
				group = &page.LogGroups[i]
				break
			}
		}
	}
	if group == nil {
		return nil, ErrNotFound
	}
	// The real provider's arn drops the ":*" DescribeLogGroups appends.
	arn := strings.TrimSuffix(aws.ToString(group.Arn), ":*")
	outs := outMap(map[string]any{
		"arn":             arn,
		"name":            id,
		"retentionInDays": aws.ToInt32(group.RetentionInDays),
		"kmsKeyId":        aws.ToString(group.KmsKeyId),
	})
	if group.LogGroupClass != "" {
		outs["logGroupClass"] = resource.NewStringProperty(string(group.LogGroupClass))
	}
	tags, err := c.Logs.ListTagsForResource(ctx, &cloudwatchlogs.ListTagsForResourceInput{ResourceArn: aws.String(arn)})
	if err != nil {
		return nil, err
	}
	tagsOutputs(outs, tags.Tags)
	return withInputs(outs, olds), nil
}

func updateLogGroup(ctx context.Context, c *Clients, id string, olds, news resource.PropertyMap) (resource.PropertyMap, error) {
	o, _ := getInt(olds, "retentionInDays")
	if n, _ := getInt(news, "retentionInDays"); n != o {
		if err := putRetention(ctx, c, id, n); err != nil {
			return nil, err
		}
	}
	if o, n := getStr(olds, "kmsKeyId"), getStr(news, "kmsKeyId"); o != n {
		var err error
		if n == "" {
			_, err = c.Logs.DisassociateKmsKey(ctx, &cloudwatchlogs.DisassociateKmsKeyInput{LogGroupName: aws.String(id)})
		} else {
			_, err = c.Logs.AssociateKmsKey(ctx, &cloudwatchlogs.AssociateKmsKeyInput{LogGroupName: aws.String(id), KmsKeyId: aws.String(n)})
		}
		if err != nil {
			return nil, fmt.Errorf("updating CloudWatch Logs Log Group (%s) KMS key: %w", id, err)
		}
	}
	set, remove := tagDiff(getStrMap(olds, "tags"), getStrMap(news, "tags"))
	if len(set)+len(remove) > 0 {
		cur, err := readLogGroup(ctx, c, id, olds)
		if err != nil {
			return nil, err
		}
		arn := aws.String(getStr(cur, "arn"))
		if len(remove) > 0 {
			if _, err := c.Logs.UntagResource(ctx, &cloudwatchlogs.UntagResourceInput{ResourceArn: arn, TagKeys: remove}); err != nil {
				return nil, err
			}
		}
		if len(set) > 0 {
			if _, err := c.Logs.TagResource(ctx, &cloudwatchlogs.TagResourceInput{ResourceArn: arn, Tags: set}); err != nil {
				return nil, err
			}
		}
	}
	return readLogGroup(ctx, c, id, news)
}
