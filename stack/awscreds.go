package stack

import (
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi/config"

	"github.com/eks-irsa/eks-irsa/infra"
)

// execCredentials reads who the AWS provider signs as (aws:profile, aws:assumeRole), so the
// kubeconfig's `aws eks get-token` signs as the same principal. An assumed role the CLI
// cannot reproduce is a configuration problem, reported before anything is registered.
func execCredentials(ctx *pulumi.Context) (infra.ExecCredentials, error) {
	creds, err := infra.ExecCredentialsFromConfig(ctx)
	if err != nil {
		return creds, &ConfigError{Problems: []Problem{{
			Key: infra.AssumeRoleKey, Value: config.Get(ctx, infra.AssumeRoleKey), Want: err.Error(),
		}}}
	}
	return creds, nil
}
