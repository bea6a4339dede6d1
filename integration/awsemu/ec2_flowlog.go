package awsemu

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
)

// defaultFlowLogFormat is the format AWS writes when none is given (VPC user guide, flow log
// records: the default format, version 2 fields).
const defaultFlowLogFormat = "${version} ${account-id} ${interface-id} ${srcaddr} ${dstaddr} ${srcport} ${dstport} ${protocol} ${packets} ${bytes} ${start} ${end} ${action} ${log-status}"

func init() {
	register(&Kind{
		Token:  "aws:ec2/flowLog:FlowLog",
		Schema: flowLogSchema,
		Create: createFlowLog,
		Read:   readFlowLog,
		Update: func(ctx context.Context, c *Clients, id string, olds, news resource.PropertyMap) (resource.PropertyMap, error) {
			if err := updateEC2Tags(ctx, c, id, getStrMap(olds, "tags"), getStrMap(news, "tags")); err != nil {
				return nil, err
			}
			return readFlowLog(ctx, c, id, news)
		},
		Delete: func(ctx context.Context, c *Clients, id string, _ resource.PropertyMap) error {
			out, err := c.EC2.DeleteFlowLogs(ctx, &ec2.DeleteFlowLogsInput{FlowLogIds: []string{id}})
			if isCode(err, "InvalidFlowLogId.NotFound") {
				return nil
			}
			if err != nil {
				return err
			}
			for _, u := range out.Unsuccessful {
				if u.Error != nil && !isNotFoundCode(aws.ToString(u.Error.Code)) {
					return fmt.Errorf("deleting %s: %s: %s", id, aws.ToString(u.Error.Code), aws.ToString(u.Error.Message))
				}
			}
			return nil
		},
	})
}

// flowLogTarget is the one resource the flow log watches, as AWS's ResourceType and id.
func flowLogTarget(m resource.PropertyMap) (ec2types.FlowLogsResourceType, string, error) {
	var typ ec2types.FlowLogsResourceType
	var id string
	for _, t := range []struct {
		key string
		typ ec2types.FlowLogsResourceType
	}{
		{"vpcId", ec2types.FlowLogsResourceTypeVpc}, {"subnetId", ec2types.FlowLogsResourceTypeSubnet},
		{"eniId", ec2types.FlowLogsResourceTypeNetworkInterface}, {"transitGatewayId", ec2types.FlowLogsResourceTypeTransitGateway},
		{"transitGatewayAttachmentId", ec2types.FlowLogsResourceTypeTransitGatewayAttachment},
	} {
		if v := getStr(m, t.key); v != "" {
			if id != "" {
				return "", "", fmt.Errorf("more than one of vpcId, subnetId, eniId, transitGatewayId, transitGatewayAttachmentId is set")
			}
			typ, id = t.typ, v
		}
	}
	if id == "" {
		return "", "", fmt.Errorf("one of vpcId, subnetId, eniId, transitGatewayId, transitGatewayAttachmentId must be set")
	}
	return typ, id, nil
}

func createFlowLog(ctx context.Context, c *Clients, news resource.PropertyMap) (string, resource.PropertyMap, error) {
	typ, target, err := flowLogTarget(news)
	if err != nil {
		return "", nil, err
	}
	in := &ec2.CreateFlowLogsInput{
		ResourceIds:              []string{target},
		ResourceType:             typ,
		TrafficType:              ec2types.TrafficType(getStr(news, "trafficType")),
		LogDestinationType:       ec2types.LogDestinationType(getStr(news, "logDestinationType")),
		LogDestination:           getStrPtr(news, "logDestination"),
		LogGroupName:             getStrPtr(news, "logGroupName"),
		DeliverLogsPermissionArn: getStrPtr(news, "iamRoleArn"),
		LogFormat:                getStrPtr(news, "logFormat"),
		MaxAggregationInterval:   getInt32(news, "maxAggregationInterval"),
		TagSpecifications:        tagSpecs(ec2types.ResourceTypeVpcFlowLog, getStrMap(news, "tags")),
	}
	out, err := c.EC2.CreateFlowLogs(ctx, in)
	if err != nil {
		return "", nil, err
	}
	for _, u := range out.Unsuccessful {
		if u.Error != nil {
			return "", nil, fmt.Errorf("%s: %s", aws.ToString(u.Error.Code), aws.ToString(u.Error.Message))
		}
	}
	if len(out.FlowLogIds) != 1 {
		return "", nil, fmt.Errorf("CreateFlowLogs returned %d ids, want 1", len(out.FlowLogIds))
	}
	id := out.FlowLogIds[0]
	outs, err := readFlowLog(ctx, c, id, news)
	return id, outs, err
}

func readFlowLog(ctx context.Context, c *Clients, id string, _ resource.PropertyMap) (resource.PropertyMap, error) {
	out, err := c.EC2.DescribeFlowLogs(ctx, &ec2.DescribeFlowLogsInput{FlowLogIds: []string{id}})
	if isCode(err, "InvalidFlowLogId.NotFound") || (err == nil && len(out.FlowLogs) == 0) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	f := out.FlowLogs[0]
	format := aws.ToString(f.LogFormat)
	if format == "" {
		format = defaultFlowLogFormat
	}
	interval := int(aws.ToInt32(f.MaxAggregationInterval))
	if interval == 0 {
		interval = 600
	}
	outs := outMap(map[string]any{
		"arn":                    ec2ARN(c, "vpc-flow-log", id),
		"trafficType":            string(f.TrafficType),
		"logDestinationType":     string(f.LogDestinationType),
		"logDestination":         aws.ToString(f.LogDestination),
		"logGroupName":           aws.ToString(f.LogGroupName),
		"iamRoleArn":             aws.ToString(f.DeliverLogsPermissionArn),
		"logFormat":              format,
		"maxAggregationInterval": interval,
	})
	// AWS reports the watched resource as one id; the real provider sets it back on the
	// input it came from, which the state already holds.
	tagsOutputs(outs, fromEC2Tags(f.Tags))
	return outs, nil
}
