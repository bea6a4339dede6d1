package main

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eks"
	"github.com/pulumi/pulumi/sdk/v3/go/auto"
	"github.com/spf13/cobra"

	"github.com/eks-irsa/eks-irsa/migrate"
	"github.com/eks-irsa/eks-irsa/podidentity"
	"github.com/eks-irsa/eks-irsa/stack"
)

// podIdentityMigration carries migrate pod-identity's plan out. Each pass reads the plan
// again from live state (the stack's config for the identity, EKS, the cluster) and does the
// next phase of every account that is at it, so a run killed at any moment resumes by being
// run again: a phase whose config is written but whose up did not finish gets the up, a
// restart writes the same template value and rolls nothing twice, no statement is written
// twice (the trust is the program's, from the identity word).
type podIdentityMigration struct {
	cmd            *cobra.Command
	opts           *options
	kubeconfigPath string
	accounts       []string
	wait           time.Duration
	rollback       bool
	// result, when set (--format json), collects the lines instead of printing them.
	result *podIdentityResult
	// outs are the stack's outputs as the last read or the migration's last update gave them
	// (nil: read them): see outputs. interrupted is whether the last update did not finish
	// (lastUpdateInterrupted), read with them.
	outs        auto.OutputMap
	interrupted bool
}

// outputs are the stack's outputs, read once and then taken from each of the migration's own
// updates (the Automation API reads them right after the up): only an update changes them,
// and a read is two CLI runs (`stack output`, with and without secrets), which a restart's
// wait, reading the plan every second, paid on every poll (89 `stack output` runs in the
// API-mode scenario, 2026-12-07). The plan's live parts (EKS, the cluster's pods and
// workloads) are read on every pass as before.
func (m *podIdentityMigration) outputs(ctx context.Context) (auto.OutputMap, error) {
	if m.outs == nil {
		outs, err := stackOutputs(ctx, m.opts)
		if err != nil {
			return nil, err
		}
		if m.interrupted, err = lastUpdateInterrupted(ctx, m.opts); err != nil {
			return nil, err
		}
		m.outs = outs
	}
	return m.outs, nil
}

// podIdentityResult is --approve's --format json document: the plan as the last pass read it
// (every account done, or where the run stopped) and one step per line of the text.
type podIdentityResult struct {
	Passed   bool                     `json:"passed"`
	Rollback bool                     `json:"rollback"`
	Plan     *migrate.PodIdentityPlan `json:"plan"`
	Steps    []migrationStep          `json:"steps"`
	Error    string                   `json:"error,omitempty"`
}

func (m *podIdentityMigration) say(format string, args ...any) {
	var steps *[]migrationStep
	if m.result != nil {
		steps = &m.result.Steps
	}
	sayStep(m.cmd, steps, format, args...)
}

func (m *podIdentityMigration) plan(ctx context.Context) (*migrate.PodIdentityPlan, error) {
	outs, err := m.outputs(ctx)
	if err != nil {
		return nil, err
	}
	p, err := readPodIdentityPlan(ctx, m.opts, outs, m.interrupted, m.kubeconfigPath, m.accounts)
	if err == nil && m.result != nil {
		m.result.Plan = p
	}
	return p, err
}

// setIdentities writes identity for the accounts named, in the stack's serviceAccountRoles as
// the stack file has them (every other field as written).
func (m *podIdentityMigration) setIdentities(ctx context.Context, identity stack.Identity, accounts []string) error {
	raw, err := stack.LoadStackFiles(m.opts.dir, m.opts.stack)
	if err != nil {
		return err
	}
	var roles []map[string]any
	if err := json.Unmarshal([]byte(raw[stack.ProjectName+":serviceAccountRoles"]), &roles); err != nil {
		return fmt.Errorf("migrate pod-identity: read serviceAccountRoles: %w", err)
	}
	for _, r := range roles {
		ns, _ := r["namespace"].(string)
		name, _ := r["serviceAccount"].(string)
		if slices.Contains(accounts, ns+"/"+name) {
			r["identity"] = string(identity)
		}
	}
	if err := setStackConfig(ctx, m.opts, map[string]any{"serviceAccountRoles": roles}); err != nil {
		return err
	}
	phase := phaseFor(identity)
	if m.rollback && identity == stack.IdentityBoth {
		phase = migrate.PhaseAnnotate
	}
	m.say("PHASE %s: identity %s for %v in Pulumi.%s.yaml", phase, identity, accounts, m.opts.stack)
	return nil
}

func phaseFor(identity stack.Identity) migrate.Phase {
	switch identity {
	case stack.IdentityIRSA:
		return migrate.PhaseIRSA
	case stack.IdentityBoth:
		return migrate.PhaseTrustBoth
	case stack.IdentityBothUnannotated:
		return migrate.PhaseUnannotate
	case stack.IdentityPodIdentity:
		return migrate.PhasePodIdentity
	}
	return "rollback"
}

func (m *podIdentityMigration) update(phase migrate.Phase) error {
	m.say("PHASE %s: updating stack %s (eksirsa up)", phase, m.opts.stack)
	res, err := runUpdate(m.cmd, m.opts, updateOptions{yes: true})
	m.outs = nil
	if err != nil {
		return fmt.Errorf("migrate pod-identity: phase %s: %w; run migrate pod-identity --approve again to resume", phase, err)
	}
	if len(res.Outputs) > 0 {
		m.outs, m.interrupted = res.Outputs, false // the update finished
	}
	return nil
}

// at is the account's restart value: its association's creation time, fixed for the account's
// migration, so that a resumed restart writes what the first wrote.
func (m *podIdentityMigration) at(ctx context.Context, a migrate.AccountPlan) (string, error) {
	outs, err := m.outputs(ctx)
	if err != nil {
		return "", err
	}
	_, cfg, _, err := migrationSources(ctx, m.opts, outs, m.kubeconfigPath)
	if err != nil {
		return "", err
	}
	cluster, _ := outs[stack.OutClusterName].Value.(string)
	ns, name, _ := strings.Cut(a.Account, "/")
	got, err := podidentity.List(ctx, eks.NewFromConfig(cfg), "migrate pod-identity", cluster, ns, name)
	if err != nil {
		return "", err
	}
	if len(got) != 1 {
		return "", fmt.Errorf("migrate pod-identity: %s has %d associations, want 1", a.Account, len(got))
	}
	at := aws.ToTime(got[0].CreatedAt).UTC()
	if m.rollback {
		// A value of its own, fixed per association as the forward one is: the same value
		// again would roll nothing.
		at = at.Add(time.Second)
	}
	return at.Format(time.RFC3339), nil
}

// run moves every account of the plan one phase per pass until each is done or blocked.
func (m *podIdentityMigration) run(ctx context.Context) error {
	for pass := 0; ; pass++ {
		p, err := m.plan(ctx)
		if err != nil {
			return err
		}
		if p.AgentProblem != "" && pass > 0 && slices.ContainsFunc(p.Accounts, func(a migrate.AccountPlan) bool { return a.Identity == stack.IdentityBoth }) {
			return fmt.Errorf("migrate pod-identity: phase %s: %s", migrate.PhaseTrustBoth, p.AgentProblem)
		}
		if m.rollback {
			done, err := m.rollbackPass(ctx, p)
			if err != nil || done {
				return err
			}
			if pass > 8 {
				return fmt.Errorf("migrate pod-identity: no progress after %d passes", pass)
			}
			continue
		}
		byPhase := map[migrate.Phase][]string{}
		for _, a := range p.Accounts {
			byPhase[a.Next] = append(byPhase[a.Next], a.Account)
		}
		for _, a := range p.Accounts {
			switch a.Next {
			case migrate.PhaseBlocked:
				m.say("ACCOUNT %s: blocked: %v", a.Account, a.Blockers)
			case migrate.PhaseDone:
				m.say("ACCOUNT %s: done: identity podIdentity, association %s, no annotation", a.Account, a.AssociationID)
			}
		}
		// The earliest phase first: an account never runs ahead of its own proof.
		switch {
		case len(byPhase[migrate.PhaseTrustBoth]) > 0:
			err = m.step(ctx, stack.IdentityBoth, migrate.PhaseTrustBoth, byPhase[migrate.PhaseTrustBoth], p)
		case len(byPhase[migrate.PhaseUnannotate]) > 0:
			err = m.step(ctx, stack.IdentityBothUnannotated, migrate.PhaseUnannotate, byPhase[migrate.PhaseUnannotate], p)
		case len(byPhase[migrate.PhaseRestart]) > 0:
			err = m.restart(ctx, p)
		case len(byPhase[migrate.PhasePodIdentity]) > 0:
			err = m.step(ctx, stack.IdentityPodIdentity, migrate.PhasePodIdentity, byPhase[migrate.PhasePodIdentity], p)
		default:
			if len(byPhase[migrate.PhaseBlocked]) > 0 {
				return &exitError{code: exitFailure, err: fmt.Errorf("migrate pod-identity: %d accounts blocked", len(byPhase[migrate.PhaseBlocked]))}
			}
			return nil
		}
		if err != nil {
			return err
		}
		if pass > 8 {
			return fmt.Errorf("migrate pod-identity: no progress after %d passes", pass)
		}
	}
}

// step writes identity for accounts unless the config says it already (an up that did not
// finish: the up alone), then runs the stack's update as phase, forward or back.
func (m *podIdentityMigration) step(ctx context.Context, identity stack.Identity, phase migrate.Phase, accounts []string, p *migrate.PodIdentityPlan) error {
	var toWrite []string
	for _, a := range p.Accounts {
		if slices.Contains(accounts, a.Account) && a.Identity != identity {
			toWrite = append(toWrite, a.Account)
		}
	}
	if len(toWrite) > 0 {
		if err := m.setIdentities(ctx, identity, toWrite); err != nil {
			return err
		}
	}
	return m.update(phase)
}

// restart rolls the workloads of every account at restart (restart-irsa when rolling back)
// and waits until each account's workloads have rolled out and its pods all carry Pod
// Identity's variables and no AWS_ROLE_ARN (AWS_ROLE_ARN again when rolling back).
func (m *podIdentityMigration) restart(ctx context.Context, p *migrate.PodIdentityPlan) error {
	phase, next := migrate.PhaseRestart, func(a migrate.AccountPlan) migrate.Phase { return a.Next }
	if m.rollback {
		phase, next = migrate.PhaseRestartIRSA, migrate.AccountPlan.RollbackNext
	}
	outs, err := m.outputs(ctx)
	if err != nil {
		return err
	}
	kube, _, _, err := migrationSources(ctx, m.opts, outs, m.kubeconfigPath)
	if err != nil {
		return err
	}
	for _, a := range p.Accounts {
		if next(a) != phase {
			continue
		}
		at, err := m.at(ctx, a)
		if err != nil {
			return err
		}
		lines, err := migrate.Restart(ctx, kube, a, at)
		for _, l := range lines {
			m.say("PHASE %s: %s %s", phase, a.Account, l)
		}
		if err != nil {
			return err
		}
	}
	deadline := time.Now().Add(m.wait)
	for {
		p, err := m.plan(ctx)
		if err != nil {
			return err
		}
		waiting := 0
		for _, a := range p.Accounts {
			if next(a) != phase {
				continue
			}
			waiting++
			if time.Now().After(deadline) {
				return fmt.Errorf("migrate pod-identity: phase %s: %s still has pods without the credentials it moves to, or a workload rolling out, after %s:\n%s", phase, a.Account, m.wait, a.Line())
			}
		}
		if waiting == 0 {
			for _, a := range p.Accounts {
				for _, pod := range a.Pods {
					m.say("PROVEN %s pod %s: %s", a.Account, pod.Name, pod.Credentials)
				}
			}
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Second):
		}
	}
}

// rollbackPass moves the accounts back toward IRSA one step, the earliest phase first:
// identity both and up (the annotation back), the restart until every pod carries
// AWS_ROLE_ARN, then identity irsa and up. done when every account is on irsa.
func (m *podIdentityMigration) rollbackPass(ctx context.Context, p *migrate.PodIdentityPlan) (done bool, err error) {
	byPhase := map[migrate.Phase][]string{}
	for _, a := range p.Accounts {
		next := a.RollbackNext()
		byPhase[next] = append(byPhase[next], a.Account)
		switch next {
		case migrate.PhaseBlocked:
			m.say("ACCOUNT %s: not rolled back: identity %s, its role no longer trusts the OIDC provider: move it as a migration of its own (identity both, up, restart, irsa)", a.Account, a.Identity)
		case migrate.PhaseDone:
			m.say("ACCOUNT %s: back on irsa", a.Account)
		}
	}
	switch {
	case len(byPhase[migrate.PhaseAnnotate]) > 0:
		return false, m.step(ctx, stack.IdentityBoth, migrate.PhaseAnnotate, byPhase[migrate.PhaseAnnotate], p)
	case len(byPhase[migrate.PhaseRestartIRSA]) > 0:
		return false, m.restart(ctx, p)
	case len(byPhase[migrate.PhaseIRSA]) > 0:
		return false, m.step(ctx, stack.IdentityIRSA, migrate.PhaseIRSA, byPhase[migrate.PhaseIRSA], p)
	}
	if n := len(byPhase[migrate.PhaseBlocked]); n > 0 {
		return true, &exitError{code: exitFailure, err: fmt.Errorf("migrate pod-identity --rollback: %d accounts not rolled back", n)}
	}
	return true, nil
}
