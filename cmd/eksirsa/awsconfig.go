package main

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/eks-irsa/eks-irsa/awsaccess"
	"github.com/eks-irsa/eks-irsa/stack"
)

// awsConfig is the configuration of eksirsa's own AWS calls (IAM and STS for verify
// --identities and drift, EC2 to find what an interrupted update made, CloudWatch Logs for
// destroy's log-group check): awsaccess's reading of the stack file's aws: config (profile,
// assumed role, endpoints), in region (the stack's aws:region when empty), so they reach the
// account the provider deployed to as the principal it deployed as.
func awsConfig(ctx context.Context, opts *options, region string) (aws.Config, error) {
	raw, err := stack.LoadStackFiles(opts.dir, opts.stack)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return aws.Config{}, err
	}
	access, err := awsaccess.Read(func(key string) string { return raw[key] })
	if err != nil {
		return aws.Config{}, fmt.Errorf("stack %s: %w", opts.stack, err)
	}
	if region != "" {
		access.Region = region
	}
	return access.Config(ctx)
}
