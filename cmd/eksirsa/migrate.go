package main

import (
	"context"
	"fmt"
	"io"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/pulumi/pulumi/sdk/v3/go/auto"
	"github.com/spf13/cobra"
	"k8s.io/client-go/kubernetes"

	"github.com/eks-irsa/eks-irsa/k8s"
	"github.com/eks-irsa/eks-irsa/migrate"
	"github.com/eks-irsa/eks-irsa/stack"
)

func newMigrateCommand(opts *options) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "migrate",
		Short: "Move the cluster's access from one mechanism to another",
		Args:  cobra.NoArgs,
	}
	cmd.AddCommand(newMigrateAccessEntriesCommand(opts))
	cmd.AddCommand(newMigratePodIdentityCommand(opts))
	return cmd
}

func newMigrateAccessEntriesCommand(opts *options) *cobra.Command {
	var kubeconfigPath, format string
	var o migrateOptions
	cmd := &cobra.Command{
		Use:   "access-entries",
		Short: "Move aws-auth's mappings to EKS access entries: the plan, then, with --approve, the move",
		Long: `migrate access-entries reads, and only reads, the live aws-auth (the stack's rows and
everyone else's), the cluster's authentication mode and access entries (EKS), and each role's
ARN as IAM has it (aws-auth drops a role's path), and prints one line per row of aws-auth: an
access entry (STANDARD, system:masters as AmazonEKSClusterAdminPolicy at cluster scope, other
groups kept), the node entry (EC2_LINUX), EKS-owned (the principal has an entry already),
overridden (another mapping of the identity applies) or blocked, with the reason.

With --approve it carries the plan out in phases, each found again from live state (EKS,
the cluster) when run again after any interruption, each gated by the proof of the one
before, and all through the stack's own program (its updates, so the next up changes nothing):
  mode      the cluster in API_AND_CONFIG_MAP (an update, if it is in CONFIG_MAP);
  entries   the stack's accessEntries gain an entry per migrated row and nodes.accessEntry is
            set (Pulumi.<stack>.yaml), then an update makes them; gate: each entry live as
            declared, with its policies;
  proof     each role's token (aws eks get-token --role-arn, as the kubeconfig runs it) must get
            the declared username and groups from SelfSubjectReview; what has no credentials
            here is checked structurally (verify's checks, with every node Ready), and says so;
            a cluster admin's token must be allowed * on * (SelfSubjectAccessReview);
  bridge    each admin was declared with adminBridge (a group bound to cluster-admin before
            its entry is made, so no moment between CreateAccessEntry and AssociateAccessPolicy
            leaves it without admin): once its policy is live and proven, adminBridge goes off
            and an update takes the group off and deletes the binding;
  aws-auth  the migrated rows leave awsAuth and the update deletes aws-auth; blocked rows stop
            here unless each is named with --drop-blocked;
  api       with --to-api as well (irreversible: EKS never goes back), cluster.authenticationMode
            API and an update.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkFormat(format); err != nil {
				return err
			}
			if o.toAPI && !o.approve {
				return &exitError{code: exitConfig, err: fmt.Errorf("--to-api moves the cluster to API mode, which EKS never undoes: it needs --approve too")}
			}
			ctx, out := cmd.Context(), cmd.OutOrStdout()
			outs, err := stackOutputs(ctx, opts)
			if err != nil {
				return err
			}
			plan, err := readMigrationPlan(ctx, opts, outs, kubeconfigPath)
			if err != nil {
				return err
			}
			if format == formatJSON && !o.approve {
				return writeJSON(out, plan)
			}
			if format == formatText {
				printPlan(out, plan)
			}
			if !o.approve {
				return nil
			}
			m := &migration{cmd: cmd, opts: opts, o: o, kubeconfigPath: kubeconfigPath, outs: outs, plan: plan}
			if format == formatText {
				return m.run(ctx)
			}
			m.result = &migrationResult{Plan: plan, Steps: []migrationStep{}, Checks: []checkResult{}}
			return runDocument(cmd, func() error { return m.run(ctx) }, func(err error) any {
				m.result.Passed, m.result.Error = err == nil, errorText(err)
				return m.result
			})
		},
	}
	cmd.Flags().StringVar(&format, "format", formatText, "output format: text (a line per row, then per phase) or json (the plan as a document; with --approve, the plan, each phase's steps and verify's checks)")
	cmd.Flags().StringVar(&kubeconfigPath, "kubeconfig", "", "kubeconfig file (default: the stack's kubeconfig output)")
	cmd.Flags().BoolVar(&o.approve, "approve", false, "carry the plan out, phase by phase, resuming where live state says it stopped")
	cmd.Flags().BoolVar(&o.toAPI, "to-api", false, "after aws-auth is gone, move the cluster to authentication mode API (irreversible)")
	cmd.Flags().StringSliceVar(&o.dropBlocked, "drop-blocked", nil, "a blocked row's ARN (or mapAccounts account) whose access may go with aws-auth; once per blocked row")
	return cmd
}

// migrationSources are what a migration's plan reads: the cluster (with the stack's
// kubeconfig, or kubeconfigPath), the stack's AWS (as eksirsa reaches it) and the stack's
// configuration, which says what is declared already.
func migrationSources(ctx context.Context, opts *options, outs auto.OutputMap, kubeconfigPath string) (kubernetes.Interface, aws.Config, *stack.Config, error) {
	kubeconfig, err := kubeconfigBytes(outs, opts, kubeconfigPath)
	if err != nil {
		return nil, aws.Config{}, nil, err
	}
	client, err := opts.kubeClient(kubeconfig)
	if err != nil {
		return nil, aws.Config{}, nil, err
	}
	region, _ := outs[stack.OutRegion].Value.(string)
	cfg, err := awsConfig(ctx, opts, region)
	if err != nil {
		return nil, aws.Config{}, nil, err
	}
	raw, err := stack.LoadStackFiles(opts.dir, opts.stack)
	if err != nil {
		return nil, aws.Config{}, nil, err
	}
	conf, err := stack.Decode(raw)
	if err != nil {
		return nil, aws.Config{}, nil, &exitError{code: exitConfig, err: err}
	}
	return client, cfg, conf, nil
}

// readMigrationPlan reads the plan from live state: the cluster's aws-auth, EKS and IAM; the
// stack's outputs say which rows are the stack's own, its configuration which entries it
// declares already.
func readMigrationPlan(ctx context.Context, opts *options, outs auto.OutputMap, kubeconfigPath string) (*migrate.Plan, error) {
	client, cfg, conf, err := migrationSources(ctx, opts, outs, kubeconfigPath)
	if err != nil {
		return nil, err
	}
	in := migrate.Input{Kube: client, AWS: cfg, Declared: conf.AccessEntries, NodeEntry: conf.NodeAccessEntry()}
	in.Cluster, _ = outs[stack.OutClusterName].Value.(string)
	in.NodeRoleARN, _ = outs[stack.OutNodeRoleARN].Value.(string)
	if awsAuth, ok := outs[stack.OutAWSAuth].Value.(map[string]any); ok {
		in.StackAWSAuth = map[string]string{}
		for _, key := range []string{k8s.MapRolesKey, k8s.MapUsersKey} {
			in.StackAWSAuth[key], _ = awsAuth[key].(string)
		}
	}
	return migrate.Read(ctx, in)
}

// printPlan prints one line per row, then the counts.
func printPlan(out io.Writer, p *migrate.Plan) {
	fmt.Fprintf(out, "Cluster %s: authentication mode %s, partition %s; aws-auth ", p.Cluster, p.Mode, p.Partition)
	if !p.AWSAuth {
		fmt.Fprintln(out, "absent: nothing to move.")
		return
	}
	fmt.Fprintf(out, "has %d rows:\n", len(p.Rows))
	counts := map[migrate.Kind]int{}
	for _, r := range p.Rows {
		counts[r.Kind]++
		fmt.Fprintln(out, r.Line(p.Partition))
	}
	fmt.Fprintf(out, "%d to declare, %d entries, %d node entries, %d EKS-owned, %d overridden, %d blocked.\n",
		len(p.ToDeclare()), counts[migrate.KindEntry], counts[migrate.KindNodeEntry], counts[migrate.KindEKSOwned], counts[migrate.KindOverridden], counts[migrate.KindBlocked])
}
