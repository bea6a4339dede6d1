package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/eks"
	"github.com/pulumi/pulumi/sdk/v3/go/auto"
	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"

	"github.com/eks-irsa/eks-irsa/identity"
	"github.com/eks-irsa/eks-irsa/k8s"
	"github.com/eks-irsa/eks-irsa/stack"
	"github.com/eks-irsa/eks-irsa/verify"
)

func newVerifyCommand(opts *options) *cobra.Command {
	var kubeconfigPath, format string
	var identities bool
	poll := verify.Poll{Interval: verify.DefaultInterval}
	cmd := &cobra.Command{
		Use:   "verify",
		Short: "Check with client-go that the cluster's pods get AWS credentials through IRSA",
		Long: `verify checks, one line per check: every node Ready, and between the group's minimum and
maximum (cluster-autoscaler owns the count in between); the aws-node
DaemonSet fully updated and available; the aws-node ServiceAccount annotated with the stack's
role ARN; every aws-node pod carrying AWS_ROLE_ARN, AWS_WEB_IDENTITY_TOKEN_FILE and the
projected token volume; coredns Running and Ready; every configured IRSA account annotated. In API mode also, read
from EKS, the node role's EC2_LINUX entry and each declared access entry (type, username,
groups, policies and scopes as declared), a line each.
With --wait it re-checks failing checks until they pass or the time is up.

With --identities it also proves, whether or not those passed, each account the stack annotates or creates (aws-node
first) can take its role, as a pod would: a token from the TokenRequest API with audience
sts.amazonaws.com whose iss, sub and aud are the stack's issuer, the account and STS, and
whose signature verifies against the issuer's discovery document and keys; the role's trust
policy, read from IAM, admits it; STS AssumeRoleWithWebIdentity gives credentials that
GetCallerIdentity names as the role's session; and another account's token is refused.
Each Pod Identity account (the podIdentityAssociations output) the same way through EKS Auth:
a token for pods.eks.amazonaws.com, the trust admitting the session tags EKS sets,
AssumeRoleForPodIdentity giving a session of the association's role that GetCallerIdentity
names, and another account's token refused.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkFormat(format); err != nil {
				return err
			}
			outs, err := stackOutputs(cmd.Context(), opts)
			if err != nil {
				return err
			}
			return runVerify(cmd.Context(), cmd.OutOrStdout(), opts, outs, verifyOptions{kubeconfig: kubeconfigPath, poll: poll, identities: identities, format: format})
		},
	}
	cmd.Flags().BoolVar(&identities, "identities", false, "also prove each identity with a real token, IAM and STS (EKS Auth for Pod Identity)")
	cmd.Flags().StringVar(&format, "format", formatText, "output format: text (a line per check as it passes) or json")
	cmd.Flags().StringVar(&kubeconfigPath, "kubeconfig", "", "kubeconfig file (default: the stack's kubeconfig output)")
	cmd.Flags().DurationVar(&poll.Timeout, "wait", 0, "re-check failing checks for up to this long (e.g. 10m)")
	cmd.Flags().DurationVar(&poll.Interval, "interval", verify.DefaultInterval, "time between checks while waiting")
	return cmd
}

// verifyOptions say what runVerify checks and how it reports.
type verifyOptions struct {
	kubeconfig string // a kubeconfig file; empty for the stack's kubeconfig output
	poll       verify.Poll
	identities bool
	format     string
}

// verifyReport is verify's --format json document.
type verifyReport struct {
	Passed     bool              `json:"passed"`
	Checks     []checkResult     `json:"checks"`
	Identities []identity.Result `json:"identities,omitempty"`
	Error      string            `json:"error,omitempty"`
}

type checkResult struct {
	Check   string `json:"check"`
	Passed  bool   `json:"passed"`
	Summary string `json:"summary,omitempty"`
	Error   string `json:"error,omitempty"`
}

// collectReporter keeps every result for the JSON report.
type collectReporter struct{ results *[]checkResult }

func (c collectReporter) Result(r verify.Result) {
	res := checkResult{Check: r.Check, Passed: r.Passed(), Summary: r.Summary}
	if r.Err != nil {
		res.Error = r.Err.Error()
	}
	*c.results = append(*c.results, res)
}

func (collectReporter) Waiting(verify.Progress) {}

// kubeconfigBytes reads path, or else the stack's kubeconfig output.
func kubeconfigBytes(outs auto.OutputMap, opts *options, path string) ([]byte, error) {
	if path != "" {
		kubeconfig, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("kubeconfig: %w", err)
		}
		return kubeconfig, nil
	}
	kc, ok := outs[stack.OutKubeconfig].Value.(string)
	if !ok || kc == "" {
		return nil, fmt.Errorf("stack %s has no %s output; pass --kubeconfig", opts.stack, stack.OutKubeconfig)
	}
	return []byte(kc), nil
}

// proveIdentities runs the identity checks, one line per identity in text; while verify waits
// (o.poll.Timeout) it retries them for the same time, since IAM and STS take a while to see a
// new provider and role.
func proveIdentities(ctx context.Context, out io.Writer, opts *options, outs auto.OutputMap, client kubernetes.Interface, o verifyOptions) ([]identity.Result, error) {
	checker, target, err := identityChecker(ctx, opts, outs, client)
	if err != nil {
		return nil, err
	}
	report := func(r identity.Result) {
		if o.format == formatText {
			fmt.Fprintln(out, identityLine(r))
		}
	}
	if o.format == formatText {
		if len(target.PodIdentity) > 0 {
			fmt.Fprintln(out, "Proving each identity (TokenRequest, the issuer's keys, IAM, STS; EKS Auth for Pod Identity):")
		} else {
			fmt.Fprintln(out, "Proving each IRSA identity (TokenRequest, the issuer's keys, IAM, STS):")
		}
	}
	deadline := time.Now().Add(o.poll.Timeout)
	for {
		results, err := checker.Run(ctx, target, report)
		var failed *identity.Error
		if !errors.As(err, &failed) || time.Now().Add(o.poll.Interval).After(deadline) {
			return results, err
		}
		if o.format == formatText {
			fmt.Fprintf(out, "WAIT identities: %d failing, retrying for %s\n", len(failed.Failed), time.Until(deadline).Round(time.Second))
		}
		select {
		case <-ctx.Done():
			return results, ctx.Err()
		case <-time.After(o.poll.Interval):
		}
	}
}

// runVerify checks the cluster the outputs describe, with o.kubeconfig or else the
// kubeconfig output; a positive o.poll.Timeout waits for failing checks. With o.identities
// it then proves each identity.
func runVerify(ctx context.Context, out io.Writer, opts *options, outs auto.OutputMap, o verifyOptions) error {
	want, err := expectations(outs)
	if err != nil {
		return err
	}
	if want.Access, err = accessExpectations(ctx, opts, outs); err != nil {
		return err
	}
	if want.PodIdentity, err = podIdentityExpectations(ctx, opts, outs); err != nil {
		return err
	}
	kubeconfig, err := kubeconfigBytes(outs, opts, o.kubeconfig)
	if err != nil {
		return err
	}
	client, err := opts.kubeClient(kubeconfig)
	if err != nil {
		return err
	}
	report := verifyReport{Checks: []checkResult{}}
	var rep verify.Reporter = verify.TextReporter{W: out}
	if o.format == formatJSON {
		rep = collectReporter{&report.Checks}
	}
	if o.poll.Timeout > 0 {
		err = verify.Wait(ctx, client, want, rep, o.poll)
	} else {
		err = verify.Run(ctx, client, want, rep)
	}
	if o.identities {
		// An identity does not depend on the cluster checks, so it is proven even when they
		// failed, then once: they have already spent the wait.
		idOpts := o
		if err != nil {
			idOpts.poll.Timeout = 0
		}
		var idErr error
		report.Identities, idErr = proveIdentities(ctx, out, opts, outs, client, idOpts)
		err = errors.Join(err, idErr)
	}
	if o.format != formatJSON {
		return err
	}
	report.Passed = err == nil
	if err != nil {
		report.Error = err.Error()
	}
	if werr := writeJSON(out, report); werr != nil {
		return werr
	}
	if err != nil {
		return &exitError{code: exitFailure, err: err, quiet: true}
	}
	return nil
}

// accessExpectations is, for a stack in API mode, the access entries verify reads from EKS
// (the nodes' and the declared ones, from the outputs); nil in the other modes, where the
// nodes join by aws-auth.
func accessExpectations(ctx context.Context, opts *options, outs auto.OutputMap) (*verify.Access, error) {
	if mode, _ := outs[stack.OutAuthenticationMode].Value.(string); mode != stack.ModeAPI {
		return nil, nil
	}
	a := &verify.Access{Entries: declaredAccessEntries(outs[stack.OutAccessEntries].Value)}
	a.ClusterName, _ = outs[stack.OutClusterName].Value.(string)
	a.NodeRoleARN, _ = outs[stack.OutNodeRoleARN].Value.(string)
	region, _ := outs[stack.OutRegion].Value.(string)
	cfg, err := awsConfig(ctx, opts, region)
	if err != nil {
		return nil, err
	}
	a.EKS = eks.NewFromConfig(cfg)
	return a, nil
}

// podIdentityExpectations is, for a stack with Pod Identity accounts, the associations and
// the agent add-on verify reads from EKS (from the outputs); nil for a stack without them.
func podIdentityExpectations(ctx context.Context, opts *options, outs auto.OutputMap) (*verify.PodIdentity, error) {
	associations, err := declaredAssociations(outs)
	if err != nil || len(associations) == 0 {
		return nil, err
	}
	p := &verify.PodIdentity{Associations: associations}
	p.ClusterName, _ = outs[stack.OutClusterName].Value.(string)
	region, _ := outs[stack.OutRegion].Value.(string)
	cfg, err := awsConfig(ctx, opts, region)
	if err != nil {
		return nil, err
	}
	p.EKS = eks.NewFromConfig(cfg)
	return p, nil
}

// expectations reads what verify checks from the stack's outputs alone, never from the
// stack file (which may have changed since the last up): the group's minimum and maximum
// node counts, the aws-node role and the roles of the accounts the stack annotates or
// creates (an account in mode none is left for something else to annotate).
func expectations(outs auto.OutputMap) (verify.Expectations, error) {
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
	if want.AWSNodeRoleARN, ok = outs[stack.OutAWSNodeRoleARN].Value.(string); !ok {
		return want, fmt.Errorf("output %s is %v, want a role ARN", stack.OutAWSNodeRoleARN, outs[stack.OutAWSNodeRoleARN].Value)
	}
	accounts, ok := outs[stack.OutServiceAccounts].Value.(map[string]any)
	if !ok {
		return want, fmt.Errorf("output %s is %v, want a map of namespace/name to {%s, %s}; an up with this version of eksirsa writes it",
			stack.OutServiceAccounts, outs[stack.OutServiceAccounts].Value, k8s.AccountRoleARNKey, k8s.AccountModeKey)
	}
	for key, v := range accounts {
		entry, _ := v.(map[string]any)
		arn, _ := entry[k8s.AccountRoleARNKey].(string)
		mode, _ := entry[k8s.AccountModeKey].(string)
		namespace, name, ok := strings.Cut(key, "/")
		if !ok || arn == "" || mode == "" {
			return want, fmt.Errorf("output %s[%q] is %v, want namespace/name to {%s, %s}", stack.OutServiceAccounts, key, v, k8s.AccountRoleARNKey, k8s.AccountModeKey)
		}
		account := types.NamespacedName{Namespace: namespace, Name: name}
		if account == (types.NamespacedName{Namespace: k8s.KubeSystemNamespace, Name: k8s.AWSNodeName}) {
			continue // checked on its own, with its pods
		}
		switch k8s.ServiceAccountMode(mode) {
		case k8s.AnnotateServiceAccount, k8s.CreateServiceAccount:
			want.ServiceAccounts[account] = arn
		}
	}
	return want, nil
}
