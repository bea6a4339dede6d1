package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/pulumi/pulumi/sdk/v3/go/auto"
	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/types"

	"github.com/eks-irsa/eks-irsa/k8s"
	"github.com/eks-irsa/eks-irsa/stack"
	"github.com/eks-irsa/eks-irsa/verify"
)

func newVerifyCommand(opts *options) *cobra.Command {
	var kubeconfigPath string
	poll := verify.Poll{Interval: verify.DefaultInterval}
	cmd := &cobra.Command{
		Use:   "verify",
		Short: "Check with client-go that the cluster's pods get AWS credentials through IRSA",
		Long: `verify checks, one line per check: every node Ready, and between the group's minimum and
maximum (cluster-autoscaler owns the count in between); the aws-node
DaemonSet fully updated and available; the aws-node ServiceAccount annotated with the stack's
role ARN; every aws-node pod carrying AWS_ROLE_ARN, AWS_WEB_IDENTITY_TOKEN_FILE and the
projected token volume; coredns Running and Ready; every configured IRSA account annotated.
With --wait it re-checks failing checks until they pass or the time is up.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			outs, err := stackOutputs(cmd.Context(), opts)
			if err != nil {
				return err
			}
			return runVerify(cmd.Context(), cmd.OutOrStdout(), opts, outs, kubeconfigPath, poll)
		},
	}
	cmd.Flags().StringVar(&kubeconfigPath, "kubeconfig", "", "kubeconfig file (default: the stack's kubeconfig output)")
	cmd.Flags().DurationVar(&poll.Timeout, "wait", 0, "re-check failing checks for up to this long (e.g. 10m)")
	cmd.Flags().DurationVar(&poll.Interval, "interval", verify.DefaultInterval, "time between checks while waiting")
	return cmd
}

// runVerify checks the cluster the outputs describe, with kubeconfigPath or else the
// kubeconfig output; a positive poll.Timeout waits for failing checks.
func runVerify(ctx context.Context, out io.Writer, opts *options, outs auto.OutputMap, kubeconfigPath string, poll verify.Poll) error {
	cfg, err := loadStackConfig(opts)
	if err != nil {
		return err
	}
	want, err := expectations(outs, cfg)
	if err != nil {
		return err
	}
	var kubeconfig []byte
	if kubeconfigPath != "" {
		if kubeconfig, err = os.ReadFile(kubeconfigPath); err != nil {
			return fmt.Errorf("kubeconfig: %w", err)
		}
	} else {
		kc, ok := outs[stack.OutKubeconfig].Value.(string)
		if !ok || kc == "" {
			return fmt.Errorf("stack %s has no %s output; pass --kubeconfig", opts.stack, stack.OutKubeconfig)
		}
		kubeconfig = []byte(kc)
	}
	client, err := opts.kubeClient(kubeconfig)
	if err != nil {
		return err
	}
	rep := verify.TextReporter{W: out}
	if poll.Timeout > 0 {
		return verify.Wait(ctx, client, want, rep, poll)
	}
	return verify.Run(ctx, client, want, rep)
}

// loadStackConfig decodes the stack's configuration as the program does.
func loadStackConfig(opts *options) (*stack.Config, error) {
	cfg, err := stack.LoadStackFiles(opts.dir, opts.stack)
	if err != nil {
		return nil, err
	}
	c, err := stack.Decode(cfg)
	var cfgErr *stack.ConfigError
	if errors.As(err, &cfgErr) {
		return nil, &exitError{code: exitConfig, err: cfgErr}
	}
	return c, err
}

// expectations reads what verify checks from the stack's outputs: the group's minimum and
// maximum node counts, the aws-node role and the roles of the accounts the stack annotates or creates (an account
// in mode none is left for something else to annotate).
func expectations(outs auto.OutputMap, cfg *stack.Config) (verify.Expectations, error) {
	want := verify.Expectations{ServiceAccounts: map[types.NamespacedName]string{}}
	for _, o := range []struct {
		name string
		to   *int
	}{{stack.OutMinNodes, &want.MinNodes}, {stack.OutMaxNodes, &want.MaxNodes}} {
		n, ok := outs[o.name].Value.(float64)
		if !ok {
			return want, fmt.Errorf("output %s is %v, want a number (a stack last updated before it existed needs an `up`)", o.name, outs[o.name].Value)
		}
		*o.to = int(n)
	}
	var ok bool
	if want.AWSNodeRoleARN, ok = outs[stack.OutAwsNodeRoleARN].Value.(string); !ok {
		return want, fmt.Errorf("output %s is %v, want a role ARN", stack.OutAwsNodeRoleARN, outs[stack.OutAwsNodeRoleARN].Value)
	}
	arns, _ := outs[stack.OutServiceAccountRoles].Value.(map[string]any)
	for _, r := range cfg.ServiceAccountRoles {
		if r.Account != k8s.AnnotateServiceAccount && r.Account != k8s.CreateServiceAccount {
			continue
		}
		key := r.Namespace + "/" + r.ServiceAccount
		arn, ok := arns[key].(string)
		if !ok {
			return want, fmt.Errorf("output %s has no role for %s", stack.OutServiceAccountRoles, key)
		}
		want.ServiceAccounts[types.NamespacedName{Namespace: r.Namespace, Name: r.ServiceAccount}] = arn
	}
	return want, nil
}
