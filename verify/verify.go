// Package verify owns the post-deploy proof that IRSA works on a cluster built by eks-irsa:
// the checks the walkthrough did by hand (nodes joined, aws-node rolled out with credentials
// injected by the EKS pod identity webhook, coredns no longer stuck, service accounts
// annotated), run with client-go against any kubernetes.Interface, so the fake clientset, a
// loopback kube-apiserver and a real EKS cluster are checked by the same code.
package verify

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	iamarn "sigs.k8s.io/aws-iam-authenticator/pkg/arn"

	"github.com/eks-irsa/eks-irsa/k8s"
)

// The kube-system objects EKS creates and the checks look at.
const (
	KubeSystem      = k8s.KubeSystemNamespace
	AWSNode         = k8s.AWSNodeName
	AWSNodeSelector = k8s.AWSNodeSelector
	CoreDNSSelector = "k8s-app=kube-dns"
)

// DefaultInterval is how often Wait re-runs failing checks: pods and nodes change on a scale
// of seconds, and a check is a handful of GETs.
const DefaultInterval = 5 * time.Second

// Expectations is what the stack says the cluster must look like.
type Expectations struct {
	// MinNodes and MaxNodes bound the Ready worker count: the Auto Scaling group's minimum
	// and maximum. Desired capacity is cluster-autoscaler's to move between them.
	MinNodes, MaxNodes int
	// AWSNodeRoleARN is the IAM role the VPC CNI's service account must carry.
	AWSNodeRoleARN string
	// ServiceAccounts maps every other configured IRSA service account to its role ARN.
	ServiceAccounts map[types.NamespacedName]string
	// Access, for a stack in API mode, is what its access entries must be; nil otherwise.
	Access *Access
	// PodIdentity, for a stack with Pod Identity accounts, is what its associations and agent
	// add-on must be; nil otherwise.
	PodIdentity *PodIdentity
}

// Validate reports every problem with e at once.
func (e Expectations) Validate() error {
	var errs []error
	if e.MaxNodes < 1 {
		errs = append(errs, fmt.Errorf("maximum node count is %d, want at least 1 (coredns needs a node)", e.MaxNodes))
	}
	if e.MinNodes < 0 || e.MinNodes > e.MaxNodes {
		errs = append(errs, fmt.Errorf("minimum node count is %d, want 0 to the maximum %d", e.MinNodes, e.MaxNodes))
	}
	if err := roleARN(e.AWSNodeRoleARN); err != nil {
		errs = append(errs, fmt.Errorf("aws-node role ARN: %w", err))
	}
	for _, sa := range sortedAccounts(e.ServiceAccounts) {
		if sa.Namespace == "" || sa.Name == "" {
			errs = append(errs, fmt.Errorf("service account %q: want namespace/name", sa))
		}
		if err := roleARN(e.ServiceAccounts[sa]); err != nil {
			errs = append(errs, fmt.Errorf("service account %s role ARN: %w", sa, err))
		}
	}
	if e.Access != nil {
		errs = append(errs, e.Access.Validate())
	}
	if e.PodIdentity != nil {
		errs = append(errs, e.PodIdentity.Validate())
	}
	return errors.Join(errs...)
}

// roleARN accepts what the authenticator accepts as an IAM role ARN.
func roleARN(s string) error {
	if s == "" {
		return errors.New("empty, want arn:<partition>:iam::<account>:role/<name>")
	}
	kind, _, err := iamarn.Canonicalize(s)
	if err != nil {
		return err
	}
	if kind != iamarn.ROLE {
		return fmt.Errorf("%q is not an IAM role ARN", s)
	}
	return nil
}

func sortedAccounts(m map[types.NamespacedName]string) []types.NamespacedName {
	return slices.SortedFunc(maps.Keys(m), func(a, b types.NamespacedName) int {
		return strings.Compare(a.String(), b.String())
	})
}

// Check is one named health check. Eval returns a one-line summary of what it saw when the
// check passes, and an error saying what it saw and what it wanted when it fails.
type Check struct {
	Name string
	Eval func(ctx context.Context, client kubernetes.Interface, want Expectations) (string, error)
	// NeedsAccess: the check reads the cluster with verify's credentials, so it is not run
	// while CheckClusterAccess fails.
	NeedsAccess bool
}

// Result is the outcome of one check.
type Result struct {
	Check   string
	Summary string // what was seen, when the check passed
	Err     error  // nil when the check passed
}

// Passed reports whether the check passed.
func (r Result) Passed() bool { return r.Err == nil }

// Progress is the state of a wait after a round that left checks failing.
type Progress struct {
	Round     int
	Failing   []Result
	Remaining time.Duration
}

// Reporter receives results as they are known.
type Reporter interface {
	// Result is called once per check: when it passes, or when it has failed for good.
	Result(Result)
	// Waiting is called after each round of Wait that leaves checks failing with time left.
	Waiting(Progress)
}

// Poll says how long Wait retries failing checks, and how often.
type Poll struct {
	Timeout  time.Duration
	Interval time.Duration // DefaultInterval when zero
}

// Error is returned when checks fail. It names each failed check with what was seen and
// what was wanted.
type Error struct {
	Failed []Result
	Checks int           // how many checks ran
	Waited time.Duration // the wait's timeout; zero when the checks ran once
}

func (e *Error) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d of %d IRSA checks failed", len(e.Failed), e.Checks)
	if e.Waited > 0 {
		fmt.Fprintf(&b, " after waiting %s", e.Waited)
	}
	b.WriteString(":")
	for _, r := range e.Failed {
		fmt.Fprintf(&b, "\n  %s: %v", r.Check, r.Err)
	}
	return b.String()
}

// Unwrap returns each failed check's error, so errors.Is reaches API errors such as
// Forbidden or connection refused.
func (e *Error) Unwrap() []error {
	errs := make([]error, 0, len(e.Failed))
	for _, r := range e.Failed {
		errs = append(errs, r.Err)
	}
	return errs
}

// Run runs every check once, reporting each result, and returns an *Error naming the
// failed ones.
func Run(ctx context.Context, client kubernetes.Interface, want Expectations, rep Reporter) error {
	return run(ctx, client, want, rep, stackChecks(want), Poll{})
}

// Wait runs every check, then re-runs the failing ones every poll.Interval, or as soon as
// something they read changes, until all pass or poll.Timeout (or ctx) ends the wait. Each check is reported once, as it passes or when the
// wait gives up; rep.Waiting hears about every round in between.
func Wait(ctx context.Context, client kubernetes.Interface, want Expectations, rep Reporter, poll Poll) error {
	if poll.Timeout <= 0 {
		return fmt.Errorf("verify: wait timeout is %s, want a positive duration", poll.Timeout)
	}
	return run(ctx, client, want, rep, stackChecks(want), poll)
}

// stackChecks are the cluster checks, then the access entries' (API mode) and Pod Identity's.
func stackChecks(want Expectations) []Check {
	return append(append(Checks(), accessChecks(want.Access)...), podIdentityChecks(want.PodIdentity)...)
}

func run(ctx context.Context, client kubernetes.Interface, want Expectations, rep Reporter, checks []Check, poll Poll) error {
	if err := want.Validate(); err != nil {
		return fmt.Errorf("verify: expectations: %w", err)
	}
	pending := checks
	failed := map[string]Result{}
	round := 0
	evaluate := func(ctx context.Context) {
		round++
		var still []Check
		refused := false // CheckClusterAccess failed this round
		for _, c := range pending {
			if c.NeedsAccess && refused {
				still = append(still, c)
				failed[c.Name] = Result{Check: c.Name, Err: fmt.Errorf("not checked: %s failed", CheckClusterAccess)}
				continue
			}
			summary, err := c.Eval(ctx, client, want)
			refused = refused || (err != nil && c.Name == CheckClusterAccess)
			if err == nil {
				delete(failed, c.Name)
				rep.Result(Result{Check: c.Name, Summary: summary})
				continue
			}
			still = append(still, c)
			// A round cut short by the deadline says nothing about the cluster: keep what the
			// previous round saw.
			if _, seen := failed[c.Name]; seen && ctx.Err() != nil && errors.Is(err, ctx.Err()) {
				continue
			}
			failed[c.Name] = Result{Check: c.Name, Err: err}
		}
		pending = still
	}
	failing := func() []Result {
		out := make([]Result, 0, len(pending))
		for _, c := range pending {
			out = append(out, failed[c.Name])
		}
		return out
	}

	if poll.Timeout <= 0 {
		evaluate(ctx)
	} else {
		interval := poll.Interval
		if interval <= 0 {
			interval = DefaultInterval
		}
		// A change to what the checks read wakes the wait early; settle lets the burst of
		// events one change makes (a rollout, a node joining) land before the next round, and
		// rounds stay at least a second apart so the WAIT lines stay readable.
		settle, gap := min(interval, 250*time.Millisecond), min(interval, time.Second)
		ctx, cancel := context.WithTimeout(ctx, poll.Timeout)
		defer cancel()
		changed := changes(ctx, client, want)
		for {
			started := time.Now()
			evaluate(ctx)
			if len(pending) == 0 || ctx.Err() != nil {
				break
			}
			var remaining time.Duration
			if deadline, ok := ctx.Deadline(); ok {
				remaining = time.Until(deadline).Round(time.Second)
			}
			rep.Waiting(Progress{Round: round, Failing: failing(), Remaining: remaining})
			if !sleep(ctx, interval, changed, max(settle, gap-time.Since(started))) {
				break
			}
		}
	}

	results := failing()
	for _, r := range results {
		rep.Result(r)
	}
	if len(results) == 0 {
		return nil
	}
	return &Error{Failed: results, Checks: len(checks), Waited: poll.Timeout}
}

// sleep waits for interval to pass or for a change (then a further settle, draining the
// changes that arrive meanwhile); it reports false when ctx ended first.
func sleep(ctx context.Context, interval time.Duration, changed <-chan struct{}, settle time.Duration) bool {
	timer := time.NewTimer(interval)
	defer timer.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-timer.C:
		return true
	case <-changed:
	}
	select {
	case <-ctx.Done():
		return false
	case <-time.After(settle):
	}
	select {
	case <-changed:
	default:
	}
	return true
}
