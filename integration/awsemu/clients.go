package awsemu

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/arn"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/eks"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/eks-irsa/eks-irsa/awsaccess"
)

// Credentials used when the environment has none: the emulator checks no signature, but the
// SDK refuses to sign a request without keys.
const (
	dummyAccessKeyID     = "testing"
	dummySecretAccessKey = "testing"
)

// NewClients returns the emulator's clients for region, every one sending to endpointURL,
// signed with AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY/AWS_SESSION_TOKEN when set and dummy
// keys otherwise. No shared config or profile is read: nothing here may reach real AWS.
// With role (aws:assumeRole), every call is signed with the role's credentials, assumed
// through the emulator's STS with those keys, as pulumi-aws v6 assumes it once at Configure
// (terraform-provider-aws: aws-sdk-go-base's assume_role): moto keeps accounts apart by
// access key, so the stack's resources land in the role's account.
// Partition and AccountID come from STS GetCallerIdentity, as the real provider's do.
func NewClients(ctx context.Context, endpointURL, region string, role *awsaccess.AssumeRole) (*Clients, error) {
	if endpointURL == "" {
		return nil, errors.New("awsemu: no emulator endpoint URL: refusing to default to real AWS")
	}
	if region == "" {
		return nil, errors.New("awsemu: no region (aws:region)")
	}
	creds := aws.Credentials{
		AccessKeyID:     os.Getenv("AWS_ACCESS_KEY_ID"),
		SecretAccessKey: os.Getenv("AWS_SECRET_ACCESS_KEY"),
		SessionToken:    os.Getenv("AWS_SESSION_TOKEN"),
		Source:          "environment",
	}
	if creds.AccessKeyID == "" || creds.SecretAccessKey == "" {
		creds = aws.Credentials{AccessKeyID: dummyAccessKeyID, SecretAccessKey: dummySecretAccessKey, Source: "awsemu dummy"}
	}
	cfg := aws.Config{
		Region:       region,
		BaseEndpoint: aws.String(endpointURL),
		HTTPClient:   awsaccess.PlainBodies(nil),
		Credentials: aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
			return creds, nil
		}),
	}
	if role != nil {
		// awsaccess's provider, so the call carries exactly what eksirsa's own calls send.
		cfg.Credentials = role.Credentials(sts.NewFromConfig(cfg))
		if _, err := cfg.Credentials.Retrieve(ctx); err != nil {
			return nil, fmt.Errorf("awsemu: assume role %s: %w", role.RoleARN, err)
		}
	}
	c := &Clients{
		EC2:         ec2.NewFromConfig(cfg),
		IAM:         iam.NewFromConfig(cfg),
		EKS:         eks.NewFromConfig(cfg),
		Logs:        cloudwatchlogs.NewFromConfig(cfg),
		AutoScaling: autoscaling.NewFromConfig(cfg),
		SSM:         ssm.NewFromConfig(cfg),
		STS:         sts.NewFromConfig(cfg),
		Region:      region,
	}
	id, err := c.STS.GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if err != nil {
		return nil, fmt.Errorf("awsemu: STS GetCallerIdentity at %s: %w", endpointURL, err)
	}
	caller, err := arn.Parse(aws.ToString(id.Arn))
	if err != nil {
		return nil, fmt.Errorf("awsemu: caller ARN %q: %w", aws.ToString(id.Arn), err)
	}
	c.Partition = caller.Partition
	c.AccountID = aws.ToString(id.Account)
	return c, nil
}
