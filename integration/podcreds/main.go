// Command podcreds is a workload's first AWS call, run by the integration tests in a pod's
// place with the environment the pod's container has: the AWS SDK for Go v2 picks the
// credentials as it would in the pod (config.LoadDefaultConfig: the web-identity provider for
// AWS_ROLE_ARN and AWS_WEB_IDENTITY_TOKEN_FILE, which it tries first, else the
// container-credentials provider for AWS_CONTAINER_CREDENTIALS_FULL_URI and
// AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE), then asks STS who they are. It prints one JSON
// line {"arn", "source"} or exits 1 with the SDK's error.
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/sts"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

func run() error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		return fmt.Errorf("load the SDK's configuration from the environment: %w", err)
	}
	creds, err := cfg.Credentials.Retrieve(ctx)
	if err != nil {
		return fmt.Errorf("retrieve credentials: %w", err)
	}
	who, err := sts.NewFromConfig(cfg).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if err != nil {
		return fmt.Errorf("STS GetCallerIdentity with the %s credentials: %w", creds.Source, err)
	}
	return json.NewEncoder(os.Stdout).Encode(map[string]string{"arn": aws.ToString(who.Arn), "source": creds.Source})
}
