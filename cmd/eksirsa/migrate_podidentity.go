package main

import (
	"context"
	"fmt"
	"io"
	"slices"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/auto"
	"github.com/spf13/cobra"

	"github.com/eks-irsa/eks-irsa/internal/statelock"
	"github.com/eks-irsa/eks-irsa/migrate"
	"github.com/eks-irsa/eks-irsa/stack"
)

func newMigratePodIdentityCommand(opts *options) *cobra.Command {
	var kubeconfigPath, format string
	var approve, rollback bool
	var wait time.Duration
	cmd := &cobra.Command{
		Use:   "pod-identity [namespace/account ...]",
		Short: "Plan the move of the stack's accounts from IRSA to EKS Pod Identity",
		Long: `migrate pod-identity reads, and only reads, each account's identity in the stack's
configuration (every serviceAccountRoles entry, or the accounts named), its association and
the eks-pod-identity-agent add-on (EKS), its role annotation, the workloads that run as it
(Deployments, StatefulSets, DaemonSets, CronJobs, Jobs) and its pods with the credentials each
carries (AWS_ROLE_ARN: IRSA; AWS_CONTAINER_CREDENTIALS_FULL_URI: Pod Identity), and prints per
account the next phase of the move, found from live state: trust-both (identity both and an
up: the association and the agent), unannotate (identity bothUnannotated and an up: the
annotation goes, both trusts stay), restart (the workloads, until every pod takes Pod
Identity), pod-identity (identity podIdentity and an up: the OIDC statement goes), done, or
blocked with the reason (aws-node, the agent's own account, account: none, Windows or Fargate
pods, an account the stack does not declare).

With --approve it carries the plan out: each pass reads the plan again from live state and
moves the accounts at the earliest phase one step (the identity word in the stack's config and
the stack's own up; the restart of their workloads, then a wait until every pod of theirs
carries Pod Identity), until every account is done or blocked. Killed at any moment, it
resumes by being run again. With --rollback too it moves the accounts back to irsa, as long
as their OIDC statement has not gone (identity both or bothUnannotated): identity both and up
(the annotation back), the workloads restarted until every pod carries AWS_ROLE_ARN, then
identity irsa and up.`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkFormat(format); err != nil {
				return err
			}
			ctx, out := cmd.Context(), cmd.OutOrStdout()
			if rollback && !approve {
				return &exitError{code: exitConfig, err: fmt.Errorf("--rollback moves the accounts back: it needs --approve too")}
			}
			if approve && len(args) == 0 {
				// Every account of the stack at once is rarely meant: each is named.
				return &exitError{code: exitConfig, err: fmt.Errorf("--approve moves the accounts named: give each as namespace/name (the plan without --approve lists them)")}
			}
			if approve {
				m := &podIdentityMigration{cmd: cmd, opts: opts, kubeconfigPath: kubeconfigPath, accounts: args, wait: wait, rollback: rollback}
				if format == formatText {
					return m.run(ctx)
				}
				m.result = &podIdentityResult{Rollback: rollback, Steps: []migrationStep{}}
				return runDocument(cmd, func() error { return m.run(ctx) }, func(err error) any {
					m.result.Passed, m.result.Error = err == nil, errorText(err)
					return m.result
				})
			}
			outs, err := stackOutputs(ctx, opts)
			if err != nil {
				return err
			}
			interrupted, err := lastUpdateInterrupted(ctx, opts)
			if err != nil {
				return err
			}
			plan, err := readPodIdentityPlan(ctx, opts, outs, interrupted, kubeconfigPath, args)
			if err != nil {
				return err
			}
			if format == formatJSON {
				return writeJSON(out, plan)
			}
			printPodIdentityPlan(out, plan)
			return nil
		},
	}
	cmd.Flags().StringVar(&format, "format", formatText, "output format: text (a line per account, workload and pod, then per phase) or json (the plan as a document; with --approve, the plan as the last pass read it and each phase's steps)")
	cmd.Flags().StringVar(&kubeconfigPath, "kubeconfig", "", "kubeconfig file (default: the stack's kubeconfig output)")
	cmd.Flags().BoolVar(&approve, "approve", false, "carry the plan out, phase by phase, resuming where live state says it stopped")
	cmd.Flags().BoolVar(&rollback, "rollback", false, "with --approve, move the accounts back to irsa (before their OIDC statement has gone): the annotation back, the workloads restarted onto IRSA, then irsa")
	cmd.Flags().DurationVar(&wait, "wait", 10*time.Minute, "with --approve, how long the restart phase waits for the accounts' pods to carry Pod Identity")
	return cmd
}

// readPodIdentityPlan reads the plan from live state: EKS (as eksirsa reaches the stack's AWS)
// and the cluster (with the stack's kubeconfig); the stack's configuration says each
// account's identity, which is where the move stands.
func readPodIdentityPlan(ctx context.Context, opts *options, outs auto.OutputMap, interrupted bool, kubeconfigPath string, accounts []string) (*migrate.PodIdentityPlan, error) {
	client, cfg, conf, err := migrationSources(ctx, opts, outs, kubeconfigPath)
	if err != nil {
		return nil, err
	}
	in := migrate.PodIdentityInput{Kube: client, AWS: cfg, Config: conf, Accounts: accounts, Interrupted: interrupted}
	in.Cluster, _ = outs[stack.OutClusterName].Value.(string)
	roles, _ := outs[stack.OutIRSARoles].Value.(map[string]any)
	in.IRSARoles = map[string]bool{}
	for key := range roles {
		in.IRSARoles[key] = true
	}
	associated, _ := outs[stack.OutPodIdentity].Value.(map[string]any)
	in.Associated = map[string]bool{}
	for key := range associated {
		in.Associated[key] = true
	}
	return migrate.ReadPodIdentity(ctx, in)
}

// printPodIdentityPlan prints the agent, one line per account (its workloads and pods
// indented), then the counts by phase.
func printPodIdentityPlan(out io.Writer, p *migrate.PodIdentityPlan) {
	agent := "ACTIVE"
	if p.AgentProblem != "" {
		agent = p.AgentProblem
	}
	fmt.Fprintf(out, "Cluster %s: pod identity agent %s; %d accounts:\n", p.Cluster, agent, len(p.Accounts))
	counts := map[migrate.Phase]int{}
	for _, a := range p.Accounts {
		counts[a.Next]++
		fmt.Fprintln(out, a.Line())
	}
	fmt.Fprintf(out, "%d trust-both, %d unannotate, %d restart, %d pod-identity, %d done, %d blocked.\n",
		counts[migrate.PhaseTrustBoth], counts[migrate.PhaseUnannotate], counts[migrate.PhaseRestart], counts[migrate.PhasePodIdentity], counts[migrate.PhaseDone], counts[migrate.PhaseBlocked])
}

// lastUpdateInterrupted says whether the stack's last update did not finish: its state holds
// pending operations (pulumi stack export), or a lock whose process is provably dead (which
// the next up releases: releaseDeadLocks). The stack's outputs cannot say it: see
// migrate.PodIdentityInput.Interrupted.
func lastUpdateInterrupted(ctx context.Context, opts *options) (bool, error) {
	s, err := opts.open(ctx, opts)
	if err != nil {
		return false, err
	}
	dep, err := exportDeployment(ctx, s)
	if err != nil {
		return false, err
	}
	if len(dep.PendingOperations) > 0 {
		return true, nil
	}
	url, err := opts.backendURL()
	if err != nil {
		return false, err
	}
	locks, err := readLocks(ctx, url, opts)
	if err != nil {
		return false, err
	}
	return slices.ContainsFunc(locks, statelock.Lock.Dead), nil
}
