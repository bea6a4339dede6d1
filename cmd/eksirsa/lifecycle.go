package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/auto"
	"github.com/pulumi/pulumi/sdk/v3/go/auto/optimport"
	"github.com/pulumi/pulumi/sdk/v3/go/auto/optpreview"
	"github.com/pulumi/pulumi/sdk/v3/go/auto/optrefresh"
	"github.com/pulumi/pulumi/sdk/v3/go/auto/optup"
	"github.com/pulumi/pulumi/sdk/v3/go/common/apitype"
	"github.com/spf13/cobra"

	"github.com/eks-irsa/eks-irsa/internal/statelock"
	"github.com/eks-irsa/eks-irsa/k8s"
	"github.com/eks-irsa/eks-irsa/stack"
	"github.com/eks-irsa/eks-irsa/verify"
)

// defaultUpVerifyWait covers the nodes joining after the update: the ASG is created last
// and its instances take 2-3 min to become Ready.
const defaultUpVerifyWait = 10 * time.Minute

func newPreviewCommand(opts *options) *cobra.Command {
	return &cobra.Command{
		Use:   "preview",
		Short: "Show what `up` would change",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			s, err := openShown(cmd, opts)
			if err != nil {
				return err
			}
			_, err = s.Preview(cmd.Context(), optpreview.ProgressStreams(cmd.OutOrStdout()), optpreview.ErrorProgressStreams(cmd.ErrOrStderr()))
			return err
		},
	}
}

func newUpCommand(opts *options) *cobra.Command {
	var yes, noVerify, cancel, refresh bool
	identities := true
	poll := verify.Poll{Timeout: defaultUpVerifyWait, Interval: verify.DefaultInterval}
	cmd := &cobra.Command{
		Use:   "up",
		Short: "Create or update the stack, then verify IRSA on the cluster",
		Long: `up runs stack.Program through the Automation API with the project's Pulumi.yaml and
the stack's file, streaming progress. Without --yes it previews and asks first. An update
interrupted earlier is recovered first: a lock in a file or S3 backend whose CLI eksirsa
started in this boot and pid namespace, and which is gone, is released (that lock alone;
--cancel runs pulumi cancel, which deletes every lock of the stack), while any other lock
stops up at once, naming it; then pending creates are
cleared by a refresh (pulumi refresh --clear-pending-creates), and a pending create of an AWS
resource whose id follows from its inputs (the cluster, roles, log groups, instance profile
and ASG by name; routes, route-table associations, role policies and attachments) or is found
by its tags (NAT gateways, interface endpoints) is then imported under its own URN (pulumi
import); any other pending AWS create stops the update with how to find and import it. With --refresh the update first reads the live state
of every resource, so it puts back what someone changed by hand (what drift reports).
Afterwards it runs verify --identities, waiting for the nodes, unless --no-verify.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			res, err := runUpdate(cmd, opts, updateOptions{yes: yes, cancel: cancel, refresh: refresh})
			if err != nil {
				return err
			}
			ctx, out := cmd.Context(), cmd.OutOrStdout()
			if noVerify {
				return nil
			}
			fmt.Fprintln(out, "\nVerifying IRSA on the cluster:")
			return runVerify(ctx, out, opts, res.Outputs, verifyOptions{poll: poll, identities: identities, format: formatText})
		},
	}
	cmd.Flags().BoolVarP(&yes, "yes", "y", false, "update without previewing and asking")
	cmd.Flags().BoolVar(&noVerify, "no-verify", false, "skip verify after the update")
	cmd.Flags().BoolVar(&identities, "identities", true, "verify proves each identity with IAM and STS, Pod Identity accounts through EKS Auth (--identities=false: the cluster checks only)")
	cmd.Flags().BoolVar(&refresh, "refresh", false, "read the live state of every resource first, so the update repairs what drift reports")
	cmd.Flags().BoolVar(&cancel, "cancel", false, "first cancel the update holding the stack's lock (pulumi cancel)")
	cmd.Flags().DurationVar(&poll.Timeout, "verify-wait", defaultUpVerifyWait, "how long verify waits for the cluster to become healthy")
	return cmd
}

// updateOptions are up's choices that runUpdate takes.
type updateOptions struct {
	yes, cancel, refresh bool
}

// runUpdate is `up` without its verify: the dead lock released (or, with cancel, every lock),
// the mode change checked, an interrupted update recovered, then the update, previewed and
// confirmed unless yes. `migrate access-entries` runs each of its updates through it, so a
// migration killed mid-update is recovered exactly as an `up` is.
func runUpdate(cmd *cobra.Command, opts *options, o updateOptions) (auto.UpResult, error) {
	ctx, out, errOut := cmd.Context(), cmd.OutOrStdout(), cmd.ErrOrStderr()
	s, err := openShown(cmd, opts)
	if err != nil {
		return auto.UpResult{}, err
	}
	if o.cancel {
		fmt.Fprintf(out, "Cancelling the update that holds stack %s's lock (pulumi cancel).\n", opts.stack)
		if err := s.Cancel(ctx); err != nil {
			return auto.UpResult{}, fmt.Errorf("cancel: %w", err)
		}
	} else if err := releaseDeadLocks(ctx, out, opts); err != nil {
		return auto.UpResult{}, err
	}
	var find findCreated
	if opts.findPending != nil {
		find = opts.findPending(opts)
	}
	url, err := opts.backendURL()
	if err != nil {
		return auto.UpResult{}, err
	}
	deployment, err := exportDeployment(ctx, s)
	if err != nil {
		return auto.UpResult{}, err
	}
	if err := checkModeChange(deployment, opts); err != nil {
		return auto.UpResult{}, err
	}
	if err := clearPendingCreates(ctx, s, deployment, out, errOut, opts.stack, find, adoptionStore{backendURL: url, dir: opts.dir, stack: opts.stack}); err != nil {
		return auto.UpResult{}, err
	}
	if !o.yes {
		if _, err := s.Preview(ctx, optpreview.ProgressStreams(out), optpreview.ErrorProgressStreams(errOut)); err != nil {
			return auto.UpResult{}, err
		}
		if ok, err := confirm(cmd.InOrStdin(), out, "Perform this update?"); err != nil || !ok {
			return auto.UpResult{}, cancelled(err, "update")
		}
	}
	upOpts := []optup.Option{optup.ProgressStreams(out), optup.ErrorProgressStreams(errOut)}
	if o.refresh {
		upOpts = append(upOpts, optup.Refresh())
	}
	res, err := s.Up(ctx, upOpts...)
	if auto.IsConcurrentUpdateError(err) {
		return res, fmt.Errorf("stack %s is locked by another update; if none is running (an interrupted run left the lock), run `eksirsa up --cancel`: %w", opts.stack, err)
	}
	if err != nil {
		// aws-auth or an account someone else wrote stops the update untouched; say how to go on.
		return res, k8s.ExplainExistingObject(k8s.ExplainAWSAuthConflict(err))
	}
	return res, nil
}

// releaseDeadLocks reads the stack's locks in a file or S3 backend before anything reads the
// state. A lock whose update is provably dead (statelock.Lock.Dead: eksirsa started its CLI in
// this boot and pid namespace, and that process is gone) is released, that lock alone, after
// reading the locks again; any other lock stops this up at once, naming it and why it may be
// live, since that update's pending operations are not an interrupted update's. Other backends
// lock on their server, which refuses a second update by itself; --cancel is the way out there.
func releaseDeadLocks(ctx context.Context, out io.Writer, opts *options) error {
	url, err := opts.backendURL()
	if err != nil {
		return err
	}
	locks, err := readLocks(ctx, url, opts)
	if err != nil {
		return err
	}
	var live []string
	for _, l := range locks {
		if why := l.Unproven(); why != "" {
			live = append(live, fmt.Sprintf("  * %s\n    not provably dead: %s", l, why))
		}
	}
	if len(live) > 0 {
		return fmt.Errorf("stack %s is locked by an update that may still be running:\n%s\n"+
			"wait for it to finish; if you know it is not running (killed on another machine or in another container), "+
			"run `eksirsa up --cancel` (or `pulumi cancel --stack %s`), which deletes every lock of the stack",
			opts.stack, strings.Join(live, "\n"), opts.stack)
	}
	for _, l := range locks {
		fmt.Fprintf(out, "An update killed at %s (pid %d on this host, no longer running) left stack %s locked; releasing that lock (%s).\n",
			l.Timestamp.Format(time.RFC3339), l.Pid, opts.stack, l.URL)
		if err := statelock.Release(ctx, url, stack.ProjectName, opts.stack, locks, l); errors.Is(err, statelock.ErrLocksChanged) {
			return fmt.Errorf("%w: another update may have started; nothing was released, run `eksirsa up` again", err)
		} else if err != nil {
			return err
		}
	}
	return nil
}

// checkModeChange refuses, before anything runs, a configuration whose
// cluster.authenticationMode goes back from the mode the last update applied, as its
// authenticationMode output in the state says (stack.CheckModeChange). A configuration the
// program would refuse anyway is left to the program, which reports every problem.
func checkModeChange(deployment apitype.DeploymentV3, opts *options) error {
	applied := ""
	for _, r := range deployment.Resources {
		if r.Type == stackResourceType && r.Parent == "" {
			if mode, ok := r.Outputs[stack.OutAuthenticationMode].(string); ok {
				applied = mode
			}
		}
	}
	raw, err := stack.LoadStackFiles(opts.dir, opts.stack)
	if err != nil {
		return nil
	}
	cfg, err := stack.Decode(raw)
	if err != nil {
		return nil
	}
	if err := stack.CheckModeChange(applied, cfg); err != nil {
		return &exitError{code: exitConfig, err: err}
	}
	return nil
}

// readLocks reads the stack's update locks from its backend; none where the backend keeps
// them on its server (statelock.ErrUnreadable), which refuses a second update by itself.
func readLocks(ctx context.Context, backendURL string, opts *options) ([]statelock.Lock, error) {
	locks, err := statelock.Read(ctx, backendURL, stack.ProjectName, opts.stack)
	if errors.Is(err, statelock.ErrUnreadable) {
		return nil, nil
	}
	return locks, err
}

// stackResourceType is the root resource whose outputs are the stack's outputs.
const stackResourceType = "pulumi:pulumi:Stack"

// openShown opens the stack for a command that changes or previews it, first saying on
// stderr which stack and which backend (where the state lives).
func openShown(cmd *cobra.Command, opts *options) (stackAPI, error) {
	url, err := opts.backendURL()
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(cmd.ErrOrStderr(), "Stack %s, state in %s\n", opts.stack, url)
	return opts.open(cmd.Context(), opts)
}

// clearPendingCreates recovers from an interrupted update: operations Pulumi started but never
// heard back about are refreshed away, so the update does not create them twice. Only when
// that loses nothing: a pending create of an AWS resource stops the update with what to do, or
// is adopted by an import. The imports are saved (store) before the pending operations are
// cleared and each is struck off once done, so a failed or killed import is made by the next
// up, never forgotten.
func clearPendingCreates(ctx context.Context, s stackAPI, deployment apitype.DeploymentV3, out, errOut io.Writer, stackName string, find findCreated, store adoptionStore) error {
	owed, err := store.load(ctx)
	if err != nil {
		return err
	}
	if len(deployment.PendingOperations) == 0 && len(owed) == 0 {
		return nil
	}
	if len(deployment.PendingOperations) > 0 {
		fmt.Fprintf(out, "The last update was interrupted with %d operations pending:\n", len(deployment.PendingOperations))
		for _, op := range deployment.PendingOperations {
			fmt.Fprintf(out, "  * %s, interrupted while %s\n", op.Resource.URN, op.Type)
		}
		imports, err := planRecovery(ctx, stackName, deployment.PendingOperations, find)
		if err != nil {
			return err
		}
		owed = mergePlans(owed, imports)
		if err := store.save(ctx, owed); err != nil {
			return fmt.Errorf("%w; nothing was cleared", err)
		}
		fmt.Fprintln(out, "Refreshing with --clear-pending-creates before the update (pulumi refresh --clear-pending-creates).")
		if _, err := s.Refresh(ctx, optrefresh.ClearPendingCreates(), optrefresh.ProgressStreams(out), optrefresh.ErrorProgressStreams(errOut)); err != nil {
			return fmt.Errorf("refresh --clear-pending-creates: %w", err)
		}
	} else {
		fmt.Fprintf(out, "An earlier recovery left %d imports to make (its adoption plan).\n", len(owed))
	}
	inState := urnsOf(deployment)
	// An AWS resource found by the name the program sets, or by its tags, is adopted under its
	// own URN, so the update neither orphans it nor creates it twice. All in one import first:
	// each `pulumi import` is a whole engine run (a killed update's 8 routes, associations and
	// attachments took 52 s one at a time, 2026-12-06).
	if batch := notIn(owed, inState); len(batch) > 1 {
		err := importPending(ctx, s, out, errOut, batch)
		if err == nil {
			return store.save(ctx, nil)
		}
		// What the engine imported before the failure is in the state: import the rest one at
		// a time, so each gets its own answer (one that does not exist is left to the update).
		reason, _, _ := strings.Cut(err.Error(), "\n")
		fmt.Fprintf(out, "Importing them together failed (%s); importing each on its own.\n", reason)
		dep, xerr := exportDeployment(ctx, s)
		if xerr != nil {
			return fmt.Errorf("after a failed import: %w", xerr)
		}
		inState = urnsOf(dep)
	}
	for len(owed) > 0 {
		imp := owed[0]
		if inState[string(imp.Op.Resource.URN)] {
			// Imported by an earlier recovery killed before it struck the import off.
			fmt.Fprintf(out, "%s %s is in the stack already.\n", imp.Type, imp.Name)
		} else if err := importPending(ctx, s, out, errOut, owed[:1]); err != nil {
			if !strings.Contains(err.Error(), "does not exist") {
				return fmt.Errorf("import %s %s: %w; the next `eksirsa up` tries this import again (the adoption plan is kept beside the state); "+
					"to adopt it by hand:\n%s", imp.Type, imp.ID, err, describePendingCreate(stackName, imp.Op))
			}
			// Interrupted before AWS answered the create: the update creates it.
			fmt.Fprintf(out, "%s %s does not exist in AWS: the update creates it.\n", imp.Type, imp.ID)
		}
		owed = owed[1:]
		if err := store.save(ctx, owed); err != nil {
			return err
		}
	}
	return nil
}

// importPending adopts, in one `pulumi import`, resources an interrupted update may have
// created, each under its own URN.
func importPending(ctx context.Context, s stackAPI, out, errOut io.Writer, imps []pendingImport) error {
	resources := make([]*optimport.ImportResource, len(imps))
	names := map[string]string{}
	for i, imp := range imps {
		fmt.Fprintf(out, "Importing %s %s (id %s), which the interrupted update may have created (pulumi import).\n", imp.Type, imp.Name, imp.ID)
		resources[i] = &optimport.ImportResource{Type: imp.Type, Name: imp.Name, ID: imp.ID}
		if imp.Parent != "" {
			// An import file names a parent through its name table.
			resources[i].Parent = fmt.Sprintf("parent%d", i)
			names[resources[i].Parent] = imp.Parent
		}
	}
	_, err := s.ImportResources(ctx, optimport.Resources(resources), optimport.NameTable(names),
		optimport.Protect(false), optimport.GenerateCode(false),
		optimport.ProgressStreams(out), optimport.ErrorProgressStreams(errOut))
	return err
}

// urnsOf is the set of URNs of a deployment's resources.
func urnsOf(dep apitype.DeploymentV3) map[string]bool {
	urns := make(map[string]bool, len(dep.Resources))
	for _, r := range dep.Resources {
		urns[string(r.URN)] = true
	}
	return urns
}

// notIn is the imports whose resources are not in the state yet.
func notIn(imps []pendingImport, inState map[string]bool) []pendingImport {
	var out []pendingImport
	for _, imp := range imps {
		if !inState[string(imp.Op.Resource.URN)] {
			out = append(out, imp)
		}
	}
	return out
}

func newRefreshCommand(opts *options) *cobra.Command {
	var clear bool
	cmd := &cobra.Command{
		Use:   "refresh",
		Short: "Read the cloud's state of every resource into the stack",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			s, err := openShown(cmd, opts)
			if err != nil {
				return err
			}
			options := []optrefresh.Option{optrefresh.ProgressStreams(cmd.OutOrStdout()), optrefresh.ErrorProgressStreams(cmd.ErrOrStderr())}
			if clear {
				options = append(options, optrefresh.ClearPendingCreates())
			}
			_, err = s.Refresh(cmd.Context(), options...)
			return err
		},
	}
	cmd.Flags().BoolVar(&clear, "clear-pending-creates", false, "drop creates an interrupted update left pending")
	return cmd
}

// confirm asks a yes/no question on in; anything but y or yes is no.
func confirm(in io.Reader, out io.Writer, question string) (bool, error) {
	fmt.Fprintf(out, "%s [y/N] ", question)
	line, err := bufio.NewReader(in).ReadString('\n')
	if err != nil && line == "" {
		if err == io.EOF {
			return false, nil
		}
		return false, fmt.Errorf("read answer: %w", err)
	}
	answer := strings.ToLower(strings.TrimSpace(line))
	return answer == "y" || answer == "yes", nil
}

func cancelled(err error, what string) error {
	if err != nil {
		return err
	}
	return fmt.Errorf("%s cancelled (pass --yes to skip the question)", what)
}
