package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eks"
	ekstypes "github.com/aws/aws-sdk-go-v2/service/eks/types"
	"github.com/pulumi/pulumi/sdk/v3/go/auto"
	"github.com/spf13/cobra"
	authenticationv1 "k8s.io/api/authentication/v1"
	authorizationv1 "k8s.io/api/authorization/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/eks-irsa/eks-irsa/accessentry"
	"github.com/eks-irsa/eks-irsa/infra"
	"github.com/eks-irsa/eks-irsa/k8s"
	"github.com/eks-irsa/eks-irsa/migrate"
	"github.com/eks-irsa/eks-irsa/stack"
	"github.com/eks-irsa/eks-irsa/verify"
)

// migrateOptions are migrate access-entries' decisions.
type migrateOptions struct {
	approve, toAPI bool
	// dropBlocked names each blocked row whose access may go with aws-auth.
	dropBlocked []string
}

// migration carries a plan out. Every phase starts from live state (the plan is read from
// aws-auth, EKS and IAM; the gates read EKS and the cluster), never from a record of its own,
// so a run killed at any moment is resumed by running it again: a phase whose gate holds is
// passed over, one whose configuration is written but whose update did not finish gets the
// update (recovered as up recovers it), nothing is declared or created twice.
type migration struct {
	cmd            *cobra.Command
	opts           *options
	o              migrateOptions
	kubeconfigPath string
	outs           auto.OutputMap
	plan           *migrate.Plan
	// result, when set (--format json), collects the lines instead of printing them.
	result *migrationResult
}

// migrationResult is --approve's --format json document.
type migrationResult struct {
	Passed bool            `json:"passed"`
	Plan   *migrate.Plan   `json:"plan"`
	Steps  []migrationStep `json:"steps"`
	Checks []checkResult   `json:"checks"`
	Error  string          `json:"error,omitempty"`
}

// migrationStep is one line of the text: its status word (PHASE, PASS, PROVEN, STRUCTURAL,
// FAIL, STOP), its phase and the rest.
type migrationStep struct {
	Status string `json:"status"`
	Phase  string `json:"phase"`
	Text   string `json:"text"`
}

// Phase names, one line each as they are passed or done.
const (
	phaseMode    = "mode"
	phaseEntries = "entries"
	phaseProof   = "proof"
	phaseBridge  = "bridge"
	phaseAWSAuth = "aws-auth"
	phaseAPI     = "api"
)

func (m *migration) say(format string, args ...any) {
	var steps *[]migrationStep
	if m.result != nil {
		steps = &m.result.Steps
	}
	sayStep(m.cmd, steps, format, args...)
}

// sayStep prints a migration's line, or, for --format json (steps set), records it as a step.
func sayStep(cmd *cobra.Command, steps *[]migrationStep, format string, args ...any) {
	line := fmt.Sprintf(format, args...)
	if steps == nil {
		fmt.Fprintln(cmd.OutOrStdout(), line)
		return
	}
	status, rest, _ := strings.Cut(line, " ")
	phase, text, _ := strings.Cut(rest, " ")
	*steps = append(*steps, migrationStep{Status: status, Phase: strings.TrimSuffix(phase, ":"), Text: text})
}

// runDocument runs an --approve'd migration for --format json: the updates' progress goes to
// stderr while it runs, then result(err) is written to stdout, the one document there; a
// failure exits 1 without saying the error again (the document holds it).
func runDocument(cmd *cobra.Command, run func() error, result func(err error) any) error {
	out := cmd.OutOrStdout()
	cmd.SetOut(cmd.ErrOrStderr())
	err := run()
	cmd.SetOut(out)
	if werr := writeJSON(out, result(err)); werr != nil {
		return werr
	}
	if err != nil {
		return &exitError{code: exitFailure, err: err, quiet: true}
	}
	return nil
}

// errorText is err's message, or "" for none.
func errorText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

func (m *migration) run(ctx context.Context) error {
	if err := m.mode(ctx); err != nil {
		return err
	}
	if m.plan.Mode == string(ekstypes.AuthenticationModeApi) {
		return m.api(ctx) // the stack's own update may still owe the move (killed after EKS made it)
	}
	if m.plan.AWSAuth {
		migrated, err := m.entries(ctx)
		if err != nil {
			return err
		}
		if err := m.proof(ctx, migrated); err != nil {
			return err
		}
		if err := m.bridge(ctx, migrated); err != nil {
			return err
		}
		if err := m.awsAuth(ctx, migrated); err != nil {
			return err
		}
	} else {
		m.say("PHASE %s: done: the cluster has no aws-auth", phaseAWSAuth)
	}
	return m.api(ctx)
}

// config is the stack's configuration as the stack file has it now.
func (m *migration) config() (*stack.Config, error) {
	raw, err := stack.LoadStackFiles(m.opts.dir, m.opts.stack)
	if err != nil {
		return nil, err
	}
	c, err := stack.Decode(raw)
	if err != nil {
		return nil, &exitError{code: exitConfig, err: err}
	}
	return c, nil
}

// setConfig writes keys of the stack's configuration (pulumi config set-all --json), each an
// object or list.
func (m *migration) setConfig(ctx context.Context, values map[string]any) error {
	return setStackConfig(ctx, m.opts, values)
}

// setStackConfig writes keys of the stack's configuration (pulumi config set-all --json),
// each an object or list: how every migration records where it is.
func setStackConfig(ctx context.Context, opts *options, values map[string]any) error {
	doc := map[string]any{}
	for key, v := range values {
		text, err := json.Marshal(v)
		if err != nil {
			return err
		}
		doc[stack.ProjectName+":"+key] = map[string]any{"value": string(text), "objectValue": v, "secret": false}
	}
	text, err := json.Marshal(doc)
	if err != nil {
		return err
	}
	s, err := opts.open(ctx, opts)
	if err != nil {
		return err
	}
	if err := s.SetAllConfigJson(ctx, string(text), nil); err != nil {
		return fmt.Errorf("migrate: write the stack's configuration: %w", err)
	}
	return nil
}

// update runs the stack's own update, recovering an interrupted one first, and keeps its
// outputs for the gates.
func (m *migration) update(phase string) error {
	m.say("PHASE %s: updating stack %s (eksirsa up)", phase, m.opts.stack)
	res, err := runUpdate(m.cmd, m.opts, updateOptions{yes: true})
	if err != nil {
		return fmt.Errorf("migrate: phase %s: %w; run migrate access-entries --approve again to resume", phase, err)
	}
	m.outs = res.Outputs
	return nil
}

func (m *migration) eks(ctx context.Context) (*eks.Client, error) {
	region, _ := m.outs[stack.OutRegion].Value.(string)
	cfg, err := awsConfig(ctx, m.opts, region)
	if err != nil {
		return nil, err
	}
	return eks.NewFromConfig(cfg), nil
}

// mode: the cluster must allow access entries; the stack always makes API_AND_CONFIG_MAP
// clusters, so one in CONFIG_MAP (made before the stack read the mode) gets it from an update.
func (m *migration) mode(ctx context.Context) error {
	if m.plan.Mode != string(ekstypes.AuthenticationModeConfigMap) {
		m.say("PHASE %s: passed: authentication mode %s", phaseMode, m.plan.Mode)
		return nil
	}
	if err := m.update(phaseMode); err != nil {
		return err
	}
	plan, err := readMigrationPlan(ctx, m.opts, m.outs, m.kubeconfigPath)
	if err != nil {
		return err
	}
	if plan.Mode == string(ekstypes.AuthenticationModeConfigMap) {
		return fmt.Errorf("migrate: phase %s: the cluster is still in CONFIG_MAP after the update", phaseMode)
	}
	m.plan = plan
	m.say("PHASE %s: done: authentication mode %s", phaseMode, m.plan.Mode)
	return nil
}

// migrated is one principal the migration moves, with its entry as the stack declares it.
type migrated struct {
	row   migrate.Row
	entry accessentry.Entry
}

// entries declares every migrated row (and nodes.accessEntry) and makes them with an update;
// gate: each entry live as declared, with its policies.
func (m *migration) entries(ctx context.Context) ([]migrated, error) {
	conf, err := m.config()
	if err != nil {
		return nil, err
	}
	add := m.plan.ToDeclare()
	roles, users := m.plan.Foreign()
	// A run killed after writing the configuration and before its update reads those rows as
	// foreign again (the outputs are the last update's): each is declared once.
	declared := map[string]bool{}
	for _, a := range conf.AWSAuth.Roles {
		if arn, err := k8s.MappedRoleARN(a.ARN); err == nil {
			declared[k8s.MappingKey(arn)] = true
		}
	}
	for _, a := range conf.AWSAuth.Users {
		declared[k8s.MappingKey(a.ARN)] = true
	}
	undeclared := func(a stack.AWSAuthMapping) bool { return declared[k8s.MappingKey(a.ARN)] }
	roles, users = slices.DeleteFunc(roles, undeclared), slices.DeleteFunc(users, undeclared)
	if len(add) > 0 || !conf.NodeAccessEntry() || len(roles)+len(users) > 0 {
		nodes := conf.Nodes
		nodes.AccessEntry = true
		awsAuth := conf.AWSAuth
		awsAuth.Roles = append(slices.Clone(awsAuth.Roles), roles...)
		awsAuth.Users = append(slices.Clone(awsAuth.Users), users...)
		if err := m.setConfig(ctx, map[string]any{"accessEntries": append(slices.Clone(conf.AccessEntries), add...), "nodes": nodes, "awsAuth": awsAuth}); err != nil {
			return nil, err
		}
		m.say("PHASE %s: declared %d access entries and nodes.accessEntry in Pulumi.%s.yaml, and the %d aws-auth rows written by hand in awsAuth (no update drops one before the aws-auth phase)", phaseEntries, len(add), m.opts.stack, len(roles)+len(users))
		if m.plan, err = readMigrationPlan(ctx, m.opts, m.outs, m.kubeconfigPath); err != nil {
			return nil, err
		}
	}
	got, pending, err := m.liveAsDeclared(ctx)
	if err != nil {
		return nil, err
	}
	if len(pending) > 0 {
		m.say("PHASE %s: %d entries not live as declared (%s)", phaseEntries, len(pending), strings.Join(pending, "; "))
		if err := m.update(phaseEntries); err != nil {
			return nil, err
		}
		if got, pending, err = m.liveAsDeclared(ctx); err != nil {
			return nil, err
		}
		if len(pending) > 0 {
			return nil, fmt.Errorf("migrate: phase %s: after the update, not live as declared: %s", phaseEntries, strings.Join(pending, "; "))
		}
	}
	for _, g := range got {
		m.say("PASS %s %s: live as declared", phaseEntries, g.entry.PrincipalARN)
	}
	m.say("PHASE %s: done: %d entries live beside aws-auth", phaseEntries, len(got))
	return got, nil
}

// liveAsDeclared reads each migrated principal's entry from EKS and compares it with the
// stack's accessEntries output (the entries as the last update declared them).
func (m *migration) liveAsDeclared(ctx context.Context) ([]migrated, []string, error) {
	c, err := m.eks(ctx)
	if err != nil {
		return nil, nil, err
	}
	declared := map[string]accessentry.Entry{}
	for _, e := range declaredAccessEntries(m.outs[stack.OutAccessEntries].Value) {
		declared[strings.ToLower(e.PrincipalARN)] = e
	}
	var got []migrated
	var pending []string
	for _, r := range m.plan.Rows {
		if r.Kind != migrate.KindEntry && r.Kind != migrate.KindNodeEntry {
			continue
		}
		want, ok := declared[strings.ToLower(r.Principal)]
		if !ok {
			pending = append(pending, r.Principal+": not in the stack's last update")
			continue
		}
		live, err := accessentry.Read(ctx, c, "migrate", m.plan.Cluster, want.PrincipalARN)
		switch {
		case err != nil:
			return nil, nil, err
		case live == nil:
			pending = append(pending, r.Principal+": no entry")
		case want.Differs(*live) != "":
			pending = append(pending, r.Principal+": "+want.Differs(*live))
		default:
			got = append(got, migrated{row: r, entry: want})
		}
	}
	return got, pending, nil
}

// proof: a token of each principal whose credentials are at hand must map as declared; the
// rest are checked structurally, with verify's checks (nodes Ready among them).
func (m *migration) proof(ctx context.Context, got []migrated) error {
	rc, err := m.restConfig()
	if err != nil {
		return err
	}
	var failed []string
	var structural []string
	for _, g := range got {
		if g.entry.Type != accessentry.TypeStandard || !strings.Contains(g.entry.PrincipalARN, ":role/") {
			structural = append(structural, g.entry.PrincipalARN)
			continue
		}
		user, admin, why, err := selfSubjectReview(ctx, rc, g.entry.PrincipalARN)
		switch {
		case why != "":
			m.say("STRUCTURAL %s %s: no token at hand (%s)", phaseProof, g.entry.PrincipalARN, why)
			structural = append(structural, g.entry.PrincipalARN)
		case err != nil:
			m.say("FAIL %s %s: %v", phaseProof, g.entry.PrincipalARN, err)
			failed = append(failed, g.entry.PrincipalARN)
		default:
			diff := mapsAs(user, g.entry)
			if diff == "" && clusterAdmin(g.entry) && !admin {
				diff = "not cluster admin (SelfSubjectAccessReview of * on * denied), which its " + stack.ClusterAdminPolicy + " grants"
			}
			if diff != "" {
				m.say("FAIL %s %s: SelfSubjectReview says %s in [%s]: %s", phaseProof, g.entry.PrincipalARN, user.Username, strings.Join(user.Groups, ","), diff)
				failed = append(failed, g.entry.PrincipalARN)
			} else {
				also := ""
				if clusterAdmin(g.entry) {
					also = ", and cluster admin (SelfSubjectAccessReview: * on * allowed)"
				}
				m.say("PROVEN %s %s: a token of the role (aws eks get-token --role-arn) is %s in [%s] (SelfSubjectReview), as its entry declares%s", phaseProof, g.entry.PrincipalARN, user.Username, strings.Join(user.Groups, ","), also)
			}
		}
	}
	// Everything else, and the nodes, by verify's checks: each entry as EKS holds it.
	want, err := expectations(m.outs)
	if err != nil {
		return err
	}
	c, err := m.eks(ctx)
	if err != nil {
		return err
	}
	want.Access = &verify.Access{Entries: declaredAccessEntries(m.outs[stack.OutAccessEntries].Value), EKS: c}
	want.Access.ClusterName, _ = m.outs[stack.OutClusterName].Value.(string)
	want.Access.NodeRoleARN, _ = m.outs[stack.OutNodeRoleARN].Value.(string)
	client, err := m.client()
	if err != nil {
		return err
	}
	var rep verify.Reporter = verify.TextReporter{W: m.cmd.OutOrStdout()}
	if m.result != nil {
		rep = collectReporter{&m.result.Checks}
	}
	if err := verify.Run(ctx, client, want, rep); err != nil {
		failed = append(failed, "verify: "+err.Error())
	}
	if len(failed) > 0 {
		return fmt.Errorf("migrate: phase %s: %d principals do not get in as declared (%s); aws-auth is left as it is", phaseProof, len(failed), strings.Join(failed, "; "))
	}
	m.say("PHASE %s: done: %d proven by token, %d structurally (%s)", phaseProof, len(got)-len(structural), len(structural), strings.Join(structural, ", "))
	return nil
}

// selfSubjectReview gets a token of role as the kubeconfig's exec plugin gets the stack's
// (`aws eks get-token`, with --role-arn role instead of the stack's own), then asks the cluster
// who that is (SelfSubjectReview) and whether it is cluster admin (SelfSubjectAccessReview of
// every verb on every resource: what cluster-admin and AmazonEKSClusterAdminPolicy grant, and
// no narrower policy does). why is set when no token could be had (the caller may not assume
// the role): then nothing is proven by token.
func selfSubjectReview(ctx context.Context, rc *rest.Config, role string) (user authenticationv1.UserInfo, admin bool, why string, err error) {
	client, why, err := roleClient(ctx, rc, role)
	if why != "" || err != nil {
		return user, false, why, err
	}
	review, err := client.AuthenticationV1().SelfSubjectReviews().Create(ctx, &authenticationv1.SelfSubjectReview{}, metav1.CreateOptions{})
	if err != nil {
		return user, false, "", fmt.Errorf("SelfSubjectReview with a token of %s: %w", role, err)
	}
	access, err := client.AuthorizationV1().SelfSubjectAccessReviews().Create(ctx, &authorizationv1.SelfSubjectAccessReview{Spec: authorizationv1.SelfSubjectAccessReviewSpec{
		ResourceAttributes: &authorizationv1.ResourceAttributes{Verb: "*", Group: "*", Resource: "*"}}}, metav1.CreateOptions{})
	if err != nil {
		return user, false, "", fmt.Errorf("SelfSubjectAccessReview with a token of %s: %w", role, err)
	}
	return review.Status.UserInfo, access.Status.Allowed, "", nil
}

// clusterAdmin says whether a declared entry grants cluster admin (AmazonEKSClusterAdminPolicy
// at cluster scope), which the proof then asks the cluster about.
func clusterAdmin(e accessentry.Entry) bool {
	return slices.ContainsFunc(e.Policies, func(p accessentry.Policy) bool {
		return accessentry.PolicyName(p.ARN) == stack.ClusterAdminPolicy && p.Scope == infra.ScopeCluster
	})
}

// roleClient is a client of the cluster that presents a token of role, got as the
// kubeconfig's exec plugin gets the stack's; why is set when no token could be had.
func roleClient(ctx context.Context, rc *rest.Config, role string) (kubernetes.Interface, string, error) {
	if rc.ExecProvider == nil {
		return nil, "the kubeconfig has no exec plugin to get a token with", nil
	}
	var args []string
	for i := 0; i < len(rc.ExecProvider.Args); i++ {
		if rc.ExecProvider.Args[i] == "--role-arn" {
			i++
			continue
		}
		args = append(args, rc.ExecProvider.Args[i])
	}
	args = append(args, "--role-arn", role, "--output", "json")
	cmd := exec.CommandContext(ctx, rc.ExecProvider.Command, args...)
	cmd.Env = os.Environ()
	for _, e := range rc.ExecProvider.Env {
		cmd.Env = append(cmd.Env, e.Name+"="+e.Value)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Sprintf("%s %s: %v: %s", rc.ExecProvider.Command, strings.Join(args, " "), err, strings.TrimSpace(lastLine(stderr.String()))), nil
	}
	var cred struct {
		Status struct {
			Token string `json:"token"`
		} `json:"status"`
	}
	if err := json.Unmarshal(out, &cred); err != nil || cred.Status.Token == "" {
		return nil, fmt.Sprintf("%s printed no ExecCredential token", rc.ExecProvider.Command), nil
	}
	as := rest.AnonymousClientConfig(rc)
	as.BearerToken = cred.Status.Token
	client, err := kubernetes.NewForConfig(as)
	if err != nil {
		return nil, "", err
	}
	return client, "", nil
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}

// mapsAs says how the user the cluster made of a token differs from the entry's declaration,
// or "": the username (its {{SessionName}} and {{AccountID}} filled in by EKS; EKS's default
// when none is declared, not compared) and every declared group.
func mapsAs(user authenticationv1.UserInfo, e accessentry.Entry) string {
	var diffs []string
	if e.Username != "" {
		pattern := regexp.QuoteMeta(e.Username)
		pattern = strings.ReplaceAll(pattern, regexp.QuoteMeta("{{SessionName}}"), `[^:]+`)
		pattern = strings.ReplaceAll(pattern, regexp.QuoteMeta("{{AccountID}}"), `\d{12}`)
		if !regexp.MustCompile("^" + pattern + "$").MatchString(user.Username) {
			diffs = append(diffs, fmt.Sprintf("username %s, declared %s", user.Username, e.Username))
		}
	}
	for _, g := range e.Groups {
		if !slices.Contains(user.Groups, g) {
			diffs = append(diffs, "not in group "+g)
		}
	}
	return strings.Join(diffs, "; ")
}

// bridge: an admin's entry was made with the admin bridge's group (adminBridge), bound to
// cluster-admin before the entry existed, so its principal never lost admin between
// CreateAccessEntry and AssociateAccessPolicy. Once the entries phase found each policy live
// (EKS) and the proof phase proved the principal cluster admin, adminBridge goes off in the
// configuration and an update takes the group off the entries and deletes the binding. Found
// again from live state: the group on an entry of the stack, or the binding in the cluster,
// means the update is owed. Gate: neither is left, and each admin whose token is at hand is
// still cluster admin, now by its policy alone.
func (m *migration) bridge(ctx context.Context, got []migrated) error {
	conf, err := m.config()
	if err != nil {
		return err
	}
	entries := slices.Clone(conf.AccessEntries)
	proven := map[string]bool{}
	for _, g := range got {
		proven[strings.ToLower(g.entry.PrincipalARN)] = true
	}
	var dropped []string
	for i, e := range entries {
		if !e.AdminBridge {
			continue
		}
		if !proven[strings.ToLower(e.PrincipalARN)] {
			return fmt.Errorf("migrate: phase %s: accessEntries[%d] (%s) has adminBridge but is not an entry this migration moved and proved; the bridge stays: turn its adminBridge off in Pulumi.%s.yaml once its %s is associated, and run again", phaseBridge, i, e.PrincipalARN, m.opts.stack, stack.ClusterAdminPolicy)
		}
		entries[i].AdminBridge = false
		dropped = append(dropped, e.PrincipalARN)
	}
	if len(dropped) > 0 {
		if err := m.setConfig(ctx, map[string]any{"accessEntries": entries}); err != nil {
			return err
		}
		m.say("PHASE %s: %s live and proven for %s: adminBridge off in Pulumi.%s.yaml", phaseBridge, stack.ClusterAdminPolicy, strings.Join(dropped, ", "), m.opts.stack)
	}
	left, err := m.bridgeLeft(ctx, got)
	if err != nil {
		return err
	}
	if len(left) == 0 {
		m.say("PHASE %s: done: no entry carries %s and its binding is gone", phaseBridge, k8s.AdminBridgeGroup)
		return nil
	}
	m.say("PHASE %s: still bridged: %s", phaseBridge, strings.Join(left, "; "))
	if err := m.update(phaseBridge); err != nil {
		return err
	}
	if left, err = m.bridgeLeft(ctx, got); err != nil {
		return err
	}
	if len(left) > 0 {
		return fmt.Errorf("migrate: phase %s: after the update, still bridged: %s", phaseBridge, strings.Join(left, "; "))
	}
	// Each admin again, now without the group: its policy alone must make it cluster admin.
	rc, err := m.restConfig()
	if err != nil {
		return err
	}
	var failed []string
	for _, g := range got {
		if !clusterAdmin(g.entry) || !strings.Contains(g.entry.PrincipalARN, ":role/") {
			continue
		}
		user, admin, why, err := selfSubjectReview(ctx, rc, g.entry.PrincipalARN)
		switch {
		case why != "":
			m.say("STRUCTURAL %s %s: no token at hand (%s)", phaseBridge, g.entry.PrincipalARN, why)
		case err != nil:
			m.say("FAIL %s %s: %v", phaseBridge, g.entry.PrincipalARN, err)
			failed = append(failed, g.entry.PrincipalARN)
		case !admin || slices.Contains(user.Groups, k8s.AdminBridgeGroup):
			m.say("FAIL %s %s: %s in [%s], cluster admin %v (SelfSubjectAccessReview of * on *)", phaseBridge, g.entry.PrincipalARN, user.Username, strings.Join(user.Groups, ","), admin)
			failed = append(failed, g.entry.PrincipalARN)
		default:
			m.say("PROVEN %s %s: a token of the role is %s in [%s], cluster admin by %s alone (SelfSubjectAccessReview: * on * allowed)", phaseBridge, g.entry.PrincipalARN, user.Username, strings.Join(user.Groups, ","), stack.ClusterAdminPolicy)
		}
	}
	if len(failed) > 0 {
		return fmt.Errorf("migrate: phase %s: not cluster admin without the bridge: %s; set adminBridge: true on their entries in Pulumi.%s.yaml and run eksirsa up to give it back", phaseBridge, strings.Join(failed, ", "), m.opts.stack)
	}
	m.say("PHASE %s: done: no entry carries %s and its binding is gone", phaseBridge, k8s.AdminBridgeGroup)
	return nil
}

// bridgeLeft is what is left of the admin bridge in the cluster: a migrated entry that EKS
// still holds with its group, and its ClusterRoleBinding.
func (m *migration) bridgeLeft(ctx context.Context, got []migrated) ([]string, error) {
	c, err := m.eks(ctx)
	if err != nil {
		return nil, err
	}
	var left []string
	for _, g := range got {
		live, err := accessentry.Read(ctx, c, "migrate", m.plan.Cluster, g.entry.PrincipalARN)
		if err != nil {
			return nil, err
		}
		if live != nil && slices.Contains(live.KubernetesGroups, k8s.AdminBridgeGroup) {
			left = append(left, g.entry.PrincipalARN+"'s entry in "+k8s.AdminBridgeGroup)
		}
	}
	client, err := m.client()
	if err != nil {
		return nil, err
	}
	_, err = client.RbacV1().ClusterRoleBindings().Get(ctx, k8s.AdminBridgeBinding, metav1.GetOptions{})
	switch {
	case err == nil:
		left = append(left, "ClusterRoleBinding "+k8s.AdminBridgeBinding)
	case !apierrors.IsNotFound(err):
		return nil, fmt.Errorf("migrate: get ClusterRoleBinding %s: %w", k8s.AdminBridgeBinding, err)
	}
	return left, nil
}

// awsAuth: the migrated rows (and the blocked ones the user dropped) leave awsAuth, so the
// stack writes no aws-auth and the update deletes it; gate: no aws-auth in the cluster.
func (m *migration) awsAuth(ctx context.Context, got []migrated) error {
	var undecided []string
	for _, r := range m.plan.Blocked() {
		if !slices.Contains(m.o.dropBlocked, r.ARN) {
			undecided = append(undecided, fmt.Sprintf("%s (%s)", r.ARN, r.Reason))
		}
	}
	if len(undecided) > 0 {
		m.say("STOP %s: %d blocked rows would lose their access with aws-auth; keep aws-auth, or pass --drop-blocked <arn> for each: %s", phaseAWSAuth, len(undecided), strings.Join(undecided, "; "))
		return &exitError{code: exitFailure, err: fmt.Errorf("migrate: %d blocked rows undecided", len(undecided)), quiet: true}
	}
	conf, err := m.config()
	if err != nil {
		return err
	}
	gone := map[string]bool{}
	for _, r := range m.plan.Rows {
		gone[k8s.MappingKey(r.ARN)] = true // migrated, EKS-owned, overridden or dropped: every row
	}
	keep := func(ms []stack.AWSAuthMapping, mapped func(string) (string, error)) []stack.AWSAuthMapping {
		return slices.DeleteFunc(slices.Clone(ms), func(a stack.AWSAuthMapping) bool {
			arn, err := mapped(a.ARN) // as aws-auth carries it: a role without its path
			return err == nil && gone[k8s.MappingKey(arn)]
		})
	}
	awsAuth := stack.AWSAuthConfig{Roles: keep(conf.AWSAuth.Roles, k8s.MappedRoleARN), Users: keep(conf.AWSAuth.Users, k8s.MappedUserARN)}
	if len(conf.AWSAuth.Roles)+len(conf.AWSAuth.Users) != len(awsAuth.Roles)+len(awsAuth.Users) || conf.AWSAuth.Adopt {
		if err := m.setConfig(ctx, map[string]any{"awsAuth": awsAuth}); err != nil {
			return err
		}
		m.say("PHASE %s: removed %d rows from awsAuth in Pulumi.%s.yaml", phaseAWSAuth, len(conf.AWSAuth.Roles)+len(conf.AWSAuth.Users)-len(awsAuth.Roles)-len(awsAuth.Users), m.opts.stack)
	}
	present, err := m.awsAuthPresent(ctx)
	if err != nil {
		return err
	}
	if present {
		if err := m.update(phaseAWSAuth); err != nil {
			return err
		}
		if present, err = m.awsAuthPresent(ctx); err != nil {
			return err
		}
		if present {
			return fmt.Errorf("migrate: phase %s: aws-auth is still there after the update (an adopted aws-auth is retained on delete): check it holds nothing needed, then kubectl -n kube-system delete configmap aws-auth, and run migrate access-entries --approve again", phaseAWSAuth)
		}
	}
	m.say("PHASE %s: done: aws-auth is gone; %d principals get in by their entries", phaseAWSAuth, len(got))
	return nil
}

func (m *migration) awsAuthPresent(ctx context.Context) (bool, error) {
	client, err := m.client()
	if err != nil {
		return false, err
	}
	_, err = client.CoreV1().ConfigMaps(k8s.KubeSystemNamespace).Get(ctx, k8s.AWSAuthName, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("migrate: get aws-auth: %w", err)
	}
	return true, nil
}

// api: with --to-api, the mode goes to API (the stack's cluster.authenticationMode and an
// update); gate: EKS says API.
func (m *migration) api(ctx context.Context) error {
	c, err := m.eks(ctx)
	if err != nil {
		return err
	}
	cl, err := c.DescribeCluster(ctx, &eks.DescribeClusterInput{Name: aws.String(m.plan.Cluster)})
	if err != nil {
		return fmt.Errorf("migrate: describe cluster %s: %w", m.plan.Cluster, err)
	}
	live := cl.Cluster.AccessConfig != nil && cl.Cluster.AccessConfig.AuthenticationMode == ekstypes.AuthenticationModeApi
	applied, _ := m.outs[stack.OutAuthenticationMode].Value.(string)
	if live && applied == stack.ModeAPI {
		m.say("PHASE %s: done: authentication mode API, as the stack's last update applied it", phaseAPI)
		return nil
	}
	if !live && !m.o.toAPI {
		m.say("PHASE %s: not asked: the cluster stays in API_AND_CONFIG_MAP; pass --to-api as well to move it to API, which EKS never undoes", phaseAPI)
		return nil
	}
	conf, err := m.config()
	if err != nil {
		return err
	}
	if conf.Cluster.AuthenticationMode != stack.ModeAPI {
		cluster := conf.Cluster
		cluster.AuthenticationMode = stack.ModeAPI
		if err := m.setConfig(ctx, map[string]any{"cluster": cluster}); err != nil {
			return err
		}
		m.say("PHASE %s: cluster.authenticationMode API in Pulumi.%s.yaml", phaseAPI, m.opts.stack)
	}
	if err := m.update(phaseAPI); err != nil {
		return err
	}
	if applied, _ := m.outs[stack.OutAuthenticationMode].Value.(string); applied != stack.ModeAPI {
		return fmt.Errorf("migrate: phase %s: the stack's update applied authentication mode %q, not API", phaseAPI, applied)
	}
	cl, err = c.DescribeCluster(ctx, &eks.DescribeClusterInput{Name: aws.String(m.plan.Cluster)})
	if err != nil {
		return fmt.Errorf("migrate: describe cluster %s: %w", m.plan.Cluster, err)
	}
	if ac := cl.Cluster.AccessConfig; ac == nil || ac.AuthenticationMode != ekstypes.AuthenticationModeApi {
		return fmt.Errorf("migrate: phase %s: the cluster is not in API mode after the update", phaseAPI)
	}
	m.say("PHASE %s: done: authentication mode API", phaseAPI)
	return nil
}

// restConfig is the stack's kubeconfig as a client configuration, which the proofs copy to
// sign as another principal.
func (m *migration) restConfig() (*rest.Config, error) {
	kubeconfig, err := kubeconfigBytes(m.outs, m.opts, m.kubeconfigPath)
	if err != nil {
		return nil, err
	}
	rc, err := clientcmd.RESTConfigFromKubeConfig(kubeconfig)
	if err != nil {
		return nil, fmt.Errorf("kubeconfig: %w", err)
	}
	return rc, nil
}

// client is the caller's Kubernetes client, from the stack's kubeconfig.
func (m *migration) client() (kubernetes.Interface, error) {
	kubeconfig, err := kubeconfigBytes(m.outs, m.opts, m.kubeconfigPath)
	if err != nil {
		return nil, err
	}
	return m.opts.kubeClient(kubeconfig)
}
