package awsemu

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/arn"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/eks"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	"github.com/aws/aws-sdk-go-v2/service/sts"
)

// The loopback kube-apiserver an emulated EKS cluster reports (ClusterFromEnv).
const (
	ClusterEndpointEnv = "EKSIRSA_EMU_CLUSTER_ENDPOINT"
	ClusterCAFileEnv   = "EKSIRSA_EMU_CLUSTER_CA_FILE"
	ClusterIssuerEnv   = "EKSIRSA_EMU_CLUSTER_ISSUER"
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
// Partition and AccountID come from STS GetCallerIdentity, as the real provider's do, and
// Cluster from ClusterFromEnv.
func NewClients(ctx context.Context, endpointURL, region string) (*Clients, error) {
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
		Credentials: aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
			return creds, nil
		}),
	}
	cluster, err := ClusterFromEnv()
	if err != nil {
		return nil, err
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
		Cluster:     cluster,
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

// ClusterFromEnv reads the loopback kube-apiserver that emulated EKS clusters report:
// EKSIRSA_EMU_CLUSTER_ENDPOINT (https://127.0.0.1:PORT), EKSIRSA_EMU_CLUSTER_CA_FILE (a PEM
// file; CAData is its base64, as EKS's certificateAuthority.data) and
// EKSIRSA_EMU_CLUSTER_ISSUER (the apiserver's --service-account-issuer). All three or none:
// with none the override is empty and clusters report moto's own values.
func ClusterFromEnv() (ClusterOverride, error) {
	endpoint := os.Getenv(ClusterEndpointEnv)
	caFile := os.Getenv(ClusterCAFileEnv)
	issuer := os.Getenv(ClusterIssuerEnv)
	if endpoint == "" && caFile == "" && issuer == "" {
		return ClusterOverride{}, nil
	}
	var errs []error
	for _, v := range []struct{ name, value, want string }{
		{ClusterEndpointEnv, endpoint, "https://"},
		{ClusterIssuerEnv, issuer, "https://"},
	} {
		if !strings.HasPrefix(v.value, v.want) {
			errs = append(errs, fmt.Errorf("%s=%q: want an %s URL", v.name, v.value, v.want))
		}
	}
	var ca []byte
	if caFile == "" {
		errs = append(errs, fmt.Errorf("%s is empty: want the path of the apiserver's CA certificate (PEM)", ClusterCAFileEnv))
	} else {
		var err error
		ca, err = os.ReadFile(caFile)
		switch {
		case err != nil:
			errs = append(errs, fmt.Errorf("%s=%q: %w", ClusterCAFileEnv, caFile, err))
		case !strings.Contains(string(ca), "-----BEGIN CERTIFICATE-----"):
			errs = append(errs, fmt.Errorf("%s=%q: no PEM certificate in it", ClusterCAFileEnv, caFile))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return ClusterOverride{}, fmt.Errorf("awsemu: emulated cluster: %w", err)
	}
	return ClusterOverride{
		Endpoint: endpoint,
		CAData:   base64.StdEncoding.EncodeToString(ca),
		Issuer:   issuer,
	}, nil
}
