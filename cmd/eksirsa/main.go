// Command eksirsa drives the eks-irsa program through the Pulumi Automation API: `plan`
// shows offline, with no cloud account and no Pulumi CLI, what `pulumi up` would build and
// how long it would take; `preview`, `up`, `refresh` and `destroy` run stack.Program on the
// same project and stack files as the Pulumi CLI; `outputs` and `kubeconfig` read the stack;
// `verify` checks with client-go that IRSA works on the cluster.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
)

// Exit codes.
const (
	exitFailure = 1
	// exitConfig means the stack's configuration is invalid; only its problems are printed.
	exitConfig = 2
	// exitLoadBalancers means destroy refused: the cluster still has load balancers in the VPC.
	exitLoadBalancers = 3
	// exitDrift means drift found live state that differs from the stack's.
	exitDrift = 3
)

// exitError carries the exit code an error ends the process with.
type exitError struct {
	code int
	err  error
	// quiet: the command already printed what went wrong (a JSON report, drift's findings).
	quiet bool
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

func main() {
	os.Exit(runWith(interruptible(os.Stderr), newRootCommand(os.Stdout, os.Stderr), os.Args[1:], os.Stderr))
}

// run executes the command line and returns the process exit code.
func run(args []string, stdout, stderr io.Writer) int {
	return runWith(context.Background(), newRootCommand(stdout, stderr), args, stderr)
}

func runWith(ctx context.Context, root *cobra.Command, args []string, stderr io.Writer) int {
	root.SetArgs(args)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return 0
	}
	var exit *exitError
	if errors.As(err, &exit) {
		if !exit.quiet {
			fmt.Fprintln(stderr, exit.err)
		}
		return exit.code
	}
	fmt.Fprintf(stderr, "eksirsa: %v\n", err)
	return exitFailure
}

// options are the flags every command shares, and the seams tests replace.
type options struct {
	stack   string
	dir     string
	backend string

	// open returns the Automation API stack (openAutoStack).
	open func(context.Context, *options) (stackAPI, error)
	// kubeClient builds a Kubernetes client from kubeconfig bytes (kubeClientFromConfig).
	kubeClient func(kubeconfig []byte) (kubernetes.Interface, error)
	// dynamicClient builds a dynamic client (Gateway API, TargetGroupBindings) from
	// kubeconfig bytes (dynamicClientFromConfig); nil reads no custom resources.
	dynamicClient func(kubeconfig []byte) (dynamic.Interface, error)
	// logGroups returns a CloudWatch Logs client for region (cloudWatchLogs).
	logGroups func(ctx context.Context, opts *options, region string) (logGroupsAPI, error)
	// findPending looks up what an interrupted create made (findInStackAccount);
	// nil finds nothing, so such a create stops the update.
	findPending func(*options) findCreated
}

func newRootCommand(stdout, stderr io.Writer) *cobra.Command {
	return newRootCommandWith(stdout, stderr, realOptions())
}

// realOptions are the options' functions of a real run: the Automation API's stack, opened once
// per run (openOnce), and real clients.
func realOptions() *options {
	return &options{open: openOnce(openAutoStack), kubeClient: kubeClientFromConfig, dynamicClient: dynamicClientFromConfig, logGroups: cloudWatchLogs, findPending: findInStackAccount}
}

func newRootCommandWith(stdout, stderr io.Writer, opts *options) *cobra.Command {
	root := &cobra.Command{
		Use:           "eksirsa",
		Short:         "Plan, deploy and verify an EKS cluster with IAM Roles for Service Accounts",
		SilenceErrors: true, // run prints errors once, with the right exit code
		SilenceUsage:  true,
	}
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.PersistentFlags().StringVarP(&opts.stack, "stack", "s", "test", "stack name (reads Pulumi.<stack>.yaml)")
	root.PersistentFlags().StringVarP(&opts.dir, "cwd", "C", ".", "project directory (holds Pulumi.yaml)")
	root.PersistentFlags().StringVar(&opts.backend, "backend", "",
		"state backend URL (default $"+envBackendURL+", else file://<cwd>/"+stateDir+")")
	root.AddCommand(
		newPlanCommand(opts),
		newPreviewCommand(opts),
		newUpCommand(opts),
		newRefreshCommand(opts),
		newDestroyCommand(opts),
		newOutputsCommand(opts),
		newKubeconfigCommand(opts),
		newVerifyCommand(opts),
		newDriftCommand(opts),
		newMigrateCommand(opts),
	)
	return root
}
