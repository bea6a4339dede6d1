// Command podcreds is a workload's AWS calls, run by the integration tests in a pod's place
// for the pod's whole life, with the environment the pod's container has: the AWS SDK for Go
// v2 picks the credentials once, at start, as it would in the pod (config.LoadDefaultConfig:
// the web-identity provider for AWS_ROLE_ARN and AWS_WEB_IDENTITY_TOKEN_FILE, which it tries
// first, else the container-credentials provider for AWS_CONTAINER_CREDENTIALS_FULL_URI and
// AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE). Then, once a second until its stdin closes, it
// fetches credentials through that provider and asks STS who they are, printing one JSON line
// per fetch: {"arn", "source"}, or {"error"} for a fetch that failed (it goes on fetching).
//
// Every second really fetches: LoadDefaultConfig wraps the provider in aws.CredentialsCache,
// which would answer from memory until the credentials near expiry (an hour); the cache's
// Invalidate before each Retrieve makes the Retrieve call the provider itself (its doc: "The
// next call to Retrieve will cause the provider's Retrieve method to be called"), which reads
// the token file again and calls STS or the agent. No cached credentials can hide a failure:
// after Invalidate the cache holds none to fall back on (and only the IMDS provider, disabled
// here, has a fallback strategy).
//
// One process per pod, not one per fetch: a race-built process's start and exit cost more CPU
// than the fetch itself.
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/sts"
)

// Fetch is one line podcreds prints.
type Fetch struct {
	ARN    string `json:"arn,omitempty"`
	Source string `json:"source,omitempty"`
	Error  string `json:"error,omitempty"`
}

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

func run() error {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	// The test ends the pod's process by closing its stdin (or by dying).
	go func() {
		_, _ = io.Copy(io.Discard, os.Stdin)
		cancel()
	}()
	cfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		return fmt.Errorf("load the SDK's configuration from the environment: %w", err)
	}
	cache, ok := cfg.Credentials.(*aws.CredentialsCache)
	if !ok {
		return fmt.Errorf("the SDK's credentials are a %T, not the aws.CredentialsCache LoadDefaultConfig makes", cfg.Credentials)
	}
	out := json.NewEncoder(os.Stdout)
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		got := fetch(ctx, cfg, cache)
		if ctx.Err() != nil {
			return nil // ended mid-fetch: not a failure of the path
		}
		if err := out.Encode(got); err != nil {
			return err
		}
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
	}
}

// fetch takes new credentials from the provider and asks STS whose they are.
func fetch(ctx context.Context, cfg aws.Config, cache *aws.CredentialsCache) Fetch {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	cache.Invalidate()
	creds, err := cache.Retrieve(ctx)
	if err != nil {
		return Fetch{Error: fmt.Sprintf("retrieve credentials: %v", err)}
	}
	who, err := sts.NewFromConfig(cfg, func(o *sts.Options) {
		o.Credentials = aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) { return creds, nil })
	}).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if err != nil {
		return Fetch{Source: creds.Source, Error: fmt.Sprintf("STS GetCallerIdentity with the %s credentials: %v", creds.Source, err)}
	}
	return Fetch{ARN: aws.ToString(who.Arn), Source: creds.Source}
}
