package awsemu

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/smithy-go"
)

// apiCode is the AWS error code of err ("InvalidVpcID.NotFound"), or "".
func apiCode(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}

// isCode reports whether err is an AWS error with one of codes.
func isCode(err error, codes ...string) bool {
	return err != nil && slices.Contains(codes, apiCode(err))
}

// ec2ARN is the ARN the real provider computes for an EC2 resource: arn:<partition>:ec2:<region>:<account>:<kind>/<id>.
func ec2ARN(c *Clients, kind, id string) string {
	return fmt.Sprintf("arn:%s:ec2:%s:%s:%s/%s", c.Partition, c.Region, c.AccountID, kind, id)
}

func ec2Tags(tags map[string]string) []ec2types.Tag {
	out := make([]ec2types.Tag, 0, len(tags))
	for _, k := range sortedKeys(tags) {
		out = append(out, ec2types.Tag{Key: aws.String(k), Value: aws.String(tags[k])})
	}
	return out
}

// tagSpecs tags a resource at creation, as the real provider does; nil without tags.
func tagSpecs(rt ec2types.ResourceType, tags map[string]string) []ec2types.TagSpecification {
	if len(tags) == 0 {
		return nil
	}
	return []ec2types.TagSpecification{{ResourceType: rt, Tags: ec2Tags(tags)}}
}

// fromEC2Tags is the tag map AWS reports, without AWS's own aws:* tags (the real provider
// ignores them too).
func fromEC2Tags(tags []ec2types.Tag) map[string]string {
	out := map[string]string{}
	for _, t := range tags {
		k := aws.ToString(t.Key)
		if len(k) >= 4 && k[:4] == "aws:" {
			continue
		}
		out[k] = aws.ToString(t.Value)
	}
	return out
}

// updateEC2Tags makes the resource's tags news: removed keys deleted, changed keys set.
func updateEC2Tags(ctx context.Context, c *Clients, id string, olds, news map[string]string) error {
	var gone []ec2types.Tag
	for k := range olds {
		if _, ok := news[k]; !ok {
			gone = append(gone, ec2types.Tag{Key: aws.String(k)})
		}
	}
	if len(gone) > 0 {
		if _, err := c.EC2.DeleteTags(ctx, &ec2.DeleteTagsInput{Resources: []string{id}, Tags: gone}); err != nil {
			return fmt.Errorf("untagging %s: %w", id, err)
		}
	}
	set := map[string]string{}
	for k, v := range news {
		if old, ok := olds[k]; !ok || old != v {
			set[k] = v
		}
	}
	if len(set) > 0 {
		if _, err := c.EC2.CreateTags(ctx, &ec2.CreateTagsInput{Resources: []string{id}, Tags: ec2Tags(set)}); err != nil {
			return fmt.Errorf("tagging %s: %w", id, err)
		}
	}
	return nil
}

// pollInterval is how often a wait asks the emulator again; it answers at once, so short.
const pollInterval = 200 * time.Millisecond

// waitFor polls done until it reports true, fails, or timeout passes: the waits the real
// provider does (NAT gateway available, endpoint deleted), bounded as its own are.
func waitFor(ctx context.Context, what string, timeout time.Duration, done func() (bool, error)) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	for {
		ok, err := done()
		if err != nil {
			return fmt.Errorf("waiting for %s: %w", what, err)
		}
		if ok {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for %s: not done after %s", what, timeout)
		case <-time.After(pollInterval):
		}
	}
}
