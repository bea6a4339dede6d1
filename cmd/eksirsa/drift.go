package main

import (
	"context"
	"fmt"
	"io"

	"github.com/pulumi/pulumi/sdk/v3/go/auto"
	"github.com/spf13/cobra"

	"github.com/eks-irsa/eks-irsa/drift"
	"github.com/eks-irsa/eks-irsa/stack"
)

func newDriftCommand(opts *options) *cobra.Command {
	var kubeconfigPath, format string
	cmd := &cobra.Command{
		Use:   "drift",
		Short: "Compare each identity the stack declared with what is live in IAM and the cluster",
		Long: `drift reads, identity by identity, what the stack's outputs declare and what is live, and
prints one line per check: each IRSA role's trust policy, attached and inline policies (IAM);
the OIDC provider's client ids, and its thumbprints against the root of the issuer's current
TLS chain (with how long that root is valid); each annotated account's role annotation and the
aws-node pods' AWS_ROLE_ARN; aws-auth's mappings, parsed as EKS's authenticator parses them:
the stack's (present, changed, missing) and foreign ones. It only reads. Each finding says
what to run to repair it. Exit 0 when everything matches, 3 on drift.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkFormat(format); err != nil {
				return err
			}
			outs, err := stackOutputs(cmd.Context(), opts)
			if err != nil {
				return err
			}
			return runDrift(cmd.Context(), cmd.OutOrStdout(), opts, outs, kubeconfigPath, format)
		},
	}
	cmd.Flags().StringVar(&kubeconfigPath, "kubeconfig", "", "kubeconfig file (default: the stack's kubeconfig output)")
	cmd.Flags().StringVar(&format, "format", formatText, "output format: text (a line per check) or json")
	return cmd
}

// driftReport is drift's --format json document.
type driftReport struct {
	Drifted  bool            `json:"drifted"`
	Checks   []drift.Line    `json:"checks"`
	Findings []drift.Finding `json:"findings"`
}

func runDrift(ctx context.Context, out io.Writer, opts *options, outs auto.OutputMap, kubeconfigPath, format string) error {
	decl, err := declaredIdentities(outs, opts.stack)
	if err != nil {
		return err
	}
	kubeconfig, err := kubeconfigBytes(outs, opts, kubeconfigPath)
	if err != nil {
		return err
	}
	client, err := opts.kubeClient(kubeconfig)
	if err != nil {
		return err
	}
	region, _ := outs[stack.OutRegion].Value.(string)
	cfg, err := awsConfig(ctx, opts, region)
	if err != nil {
		return err
	}
	report := driftReport{Checks: []drift.Line{}, Findings: []drift.Finding{}}
	detector := drift.Detector{Kube: client, AWS: cfg}
	findings, err := detector.Detect(ctx, decl, func(l drift.Line) {
		report.Checks = append(report.Checks, l)
		if format == formatText {
			fmt.Fprintln(out, driftLine(l))
		}
	})
	if err != nil {
		return err
	}
	report.Findings = append(report.Findings, findings...)
	report.Drifted = len(findings) > 0
	if format == formatJSON {
		if err := writeJSON(out, report); err != nil {
			return err
		}
	} else if report.Drifted {
		fmt.Fprintf(out, "%d findings: the live identities differ from stack %s.\n", len(findings), opts.stack)
	} else {
		fmt.Fprintf(out, "No drift: every identity matches stack %s.\n", opts.stack)
	}
	if report.Drifted {
		return &exitError{code: exitDrift, err: fmt.Errorf("%d findings", len(findings)), quiet: true}
	}
	return nil
}

// driftLine is one check's line: OK with what matched, or DRIFT with what differs and the repair.
func driftLine(l drift.Line) string {
	if l.Finding == nil {
		return fmt.Sprintf("OK    %s %s: %s", l.Check, l.Subject, l.Summary)
	}
	return fmt.Sprintf("DRIFT %s %s: %s\n      repair: %s", l.Check, l.Subject, l.Finding.Detail, l.Finding.Repair)
}
