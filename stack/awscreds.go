package stack

import (
	"errors"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi/config"

	"github.com/eks-irsa/eks-irsa/awsaccess"
)

// execCredentials reads who the AWS provider signs as (awsaccess: aws:profile,
// aws:assumeRole), so the kubeconfig's `aws eks get-token` signs as the same principal. An
// aws: value the provider would refuse, or an assumed role the CLI cannot reproduce, is a
// configuration problem, reported before anything is registered.
func execCredentials(ctx *pulumi.Context) (awsaccess.ExecCredentials, error) {
	access, err := awsaccess.Read(func(key string) string { return config.Get(ctx, key) })
	if err != nil {
		return awsaccess.ExecCredentials{}, configError(err)
	}
	creds, err := access.Exec()
	if err != nil {
		return creds, configError(err)
	}
	return creds, nil
}

// configError turns awsaccess's problems into the program's ConfigError.
func configError(err error) error {
	var problems []Problem
	for _, e := range flatten(err) {
		var p *awsaccess.Problem
		if !errors.As(e, &p) {
			return err
		}
		problems = append(problems, Problem{Key: p.Key, Value: p.Value, Want: p.Want})
	}
	return &ConfigError{Problems: problems}
}

// flatten lists the errors an errors.Join holds.
func flatten(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	return []error{err}
}
