package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/eks-irsa/eks-irsa/internal/deploytime"
	"github.com/eks-irsa/eks-irsa/internal/plan"
	"github.com/eks-irsa/eks-irsa/internal/recorder"
	"github.com/eks-irsa/eks-irsa/stack"
)

// outputsTimeout bounds the wait for stack outputs after the program has run; under the
// mocks they resolve at once.
const outputsTimeout = 10 * time.Second

func newPlanCommand(opts *options) *cobra.Command {
	var format string
	cmd := &cobra.Command{
		Use:   "plan",
		Short: "Show offline what the stack would build, and its deploy-time model",
		Long: `plan runs the program in-process under the Pulumi SDK's mocks, with the project's and
the stack's configuration and fake AWS answers: it needs no AWS credentials and no Pulumi CLI.
It prints the Kubernetes version's EKS support status and any warnings (a version in extended
support, a controller that needs flags), the resource tree, each IRSA trust policy, the aws-auth ConfigMap, the aws-node
patches, the stack outputs and the deploy-time model (critical path, serial sum, floor).
An invalid configuration exits with code 2 and lists every problem.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if !slices.Contains(plan.Formats, format) {
				return &exitError{code: exitConfig, err: fmt.Errorf("--format %q, want one of %s", format, strings.Join(plan.Formats, ", "))}
			}
			return runPlan(cmd.Context(), cmd.OutOrStdout(), opts, format)
		},
	}
	cmd.Flags().StringVar(&format, "format", "text", "output format: "+strings.Join(plan.Formats, ", "))
	return cmd
}

func runPlan(ctx context.Context, out io.Writer, opts *options, format string) error {
	cfg, err := stack.LoadStackFiles(opts.dir, opts.stack)
	if err != nil {
		return err
	}
	rec := recorder.New(stack.ProjectName, opts.stack)
	var outputs plan.Outputs
	// stack.Build is what stack.Program runs; outputs.Program exports its outputs the same
	// way and records them, which the mocks do not.
	if err := rec.Run(cfg, outputs.Program(stack.Build)); err != nil {
		// The SDK wraps the program's error in a multierror: print the problems alone.
		var cfgErr *stack.ConfigError
		if errors.As(err, &cfgErr) {
			return &exitError{code: exitConfig, err: cfgErr}
		}
		return fmt.Errorf("plan %s: run program: %w", opts.stack, err)
	}
	ctx, cancel := context.WithTimeout(ctx, outputsTimeout)
	defer cancel()
	outs, err := outputs.Wait(ctx)
	if err != nil {
		return fmt.Errorf("plan %s: %w", opts.stack, err)
	}
	p, err := plan.Build(stack.ProjectName, opts.stack, rec.Graph(), outs, deploytime.Default())
	if err != nil {
		return fmt.Errorf("plan %s: %w", opts.stack, err)
	}
	// The program accepted this configuration, so it decodes.
	c, err := stack.Decode(cfg)
	if err != nil {
		return fmt.Errorf("plan %s: %w", opts.stack, err)
	}
	p.AddConfig(c)
	return p.Write(out, format)
}
