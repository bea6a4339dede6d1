package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"

	"github.com/eks-irsa/eks-irsa/infra"
	"github.com/eks-irsa/eks-irsa/stack"
)

// EndpointsKey is the Pulumi AWS provider's per-service endpoint override (a list of
// {service: url} objects; pulumi-aws docs, "Configuration options: endpoints"), which points
// a stack at an emulator such as LocalStack or moto. eksirsa's own AWS calls honour it too, so
// they reach the AWS the stack was deployed to.
const EndpointsKey = "aws:endpoints"

// endpointServices maps the provider's endpoint keys to the SDK's service IDs that eksirsa
// calls.
var endpointServices = map[string]string{
	"ec2":            "EC2",
	"iam":            "IAM",
	"sts":            "STS",
	"logs":           "CloudWatch Logs",
	"cloudwatchlogs": "CloudWatch Logs",
}

// awsConfig is the configuration of eksirsa's own AWS calls (IAM and STS for verify
// --identities and drift, EC2 to find what an interrupted update made): the default credential chain in region, as the Pulumi AWS provider
// uses it, with the stack file's aws:profile and aws:endpoints.
func awsConfig(ctx context.Context, opts *options, region string) (aws.Config, error) {
	raw, err := stack.LoadStackFiles(opts.dir, opts.stack)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return aws.Config{}, err
	}
	loaders := []func(*awsconfig.LoadOptions) error{awsconfig.WithRegion(region)}
	if profile := raw[infra.ProfileKey]; profile != "" {
		loaders = append(loaders, awsconfig.WithSharedConfigProfile(profile))
	}
	endpoints, err := parseEndpoints(raw[EndpointsKey])
	if err != nil {
		return aws.Config{}, err
	}
	if len(endpoints) > 0 {
		//nolint:staticcheck // the per-service resolver is the SDK's one hook for a service-specific URL in an aws.Config
		loaders = append(loaders, awsconfig.WithEndpointResolverWithOptions(aws.EndpointResolverWithOptionsFunc(
			func(service, region string, _ ...any) (aws.Endpoint, error) {
				if url, ok := endpoints[service]; ok {
					return aws.Endpoint{URL: url, SigningRegion: region, HostnameImmutable: true}, nil
				}
				return aws.Endpoint{}, &aws.EndpointNotFoundError{}
			})))
	}
	cfg, err := awsconfig.LoadDefaultConfig(ctx, loaders...)
	if err != nil {
		return cfg, fmt.Errorf("AWS configuration for region %s: %w", region, err)
	}
	return cfg, nil
}

// parseEndpoints reads aws:endpoints into SDK service ID → URL, for the services eksirsa calls.
func parseEndpoints(value string) (map[string]string, error) {
	if value == "" {
		return nil, nil
	}
	var list []map[string]string
	if err := json.Unmarshal([]byte(value), &list); err != nil {
		return nil, fmt.Errorf("%s is %s, want a list of {service: url} objects: %w", EndpointsKey, value, err)
	}
	out := map[string]string{}
	for _, m := range list {
		for key, url := range m {
			if id, ok := endpointServices[strings.ToLower(key)]; ok && url != "" {
				out[id] = url
			}
		}
	}
	return out, nil
}
