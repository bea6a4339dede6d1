package migrate

// `eksirsa migrate pod-identity`: the move of the stack's accounts from IRSA to EKS Pod
// Identity, planned from live state only (the stack's config says each account's identity;
// EKS its association and the agent; the cluster its annotation, workloads and pods, and
// which credentials each pod carries).

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/aws-sdk-go-v2/service/eks"
	ekstypes "github.com/aws/aws-sdk-go-v2/service/eks/types"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/smithy-go/middleware"
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"

	"github.com/eks-irsa/eks-irsa/awsaccess"
	"github.com/eks-irsa/eks-irsa/internal/rollout"
	"github.com/eks-irsa/eks-irsa/irsa"
	"github.com/eks-irsa/eks-irsa/k8s"
	"github.com/eks-irsa/eks-irsa/podidentity"
	"github.com/eks-irsa/eks-irsa/stack"
)

// Phase is a step of an account's move, each gated by the proof named beside it.
type Phase string

const (
	// PhaseTrustBoth: identity both and an up; proven when the association is live and the
	// agent ACTIVE. Every pod still takes IRSA (new ones get AWS_ROLE_ARN from the annotation).
	PhaseTrustBoth Phase = "trust-both"
	// PhaseUnannotate: identity bothUnannotated and an up; proven when the account has no
	// role annotation. Both trusts stay, so pods started under IRSA keep assuming the role.
	PhaseUnannotate Phase = "unannotate"
	// PhaseRestart: the account's workloads restarted; proven when every pod of the account
	// carries the Pod Identity variables and no AWS_ROLE_ARN (the SDKs would prefer it).
	PhaseRestart Phase = "restart"
	// PhasePodIdentity: identity podIdentity and an up: the OIDC statement leaves the trust.
	PhasePodIdentity Phase = "pod-identity"
	// PhaseDone: nothing left to do.
	PhaseDone Phase = "done"
	// PhaseBlocked: Pod Identity cannot serve the account; Blockers say why.
	PhaseBlocked Phase = "blocked"
)

// Credentials is what a pod's containers carry, read from their env as the webhook set it.
type Credentials string

const (
	CredentialsIRSA        Credentials = "irsa"
	CredentialsPodIdentity Credentials = "pod-identity"
	// CredentialsBoth: both sets of variables; the SDKs try web identity first, so IRSA wins.
	CredentialsBoth Credentials = "irsa+pod-identity"
	CredentialsNone Credentials = "none"
)

// Workload is a controller whose pod template runs as the account.
type Workload struct {
	Kind string `json:"kind"` // Deployment, StatefulSet, DaemonSet, CronJob, Job
	Name string `json:"name"`
	// RestartedAt is its template's RestartedAtAnnotation ("" when none): a restart with
	// this value was written already.
	RestartedAt string `json:"restartedAt,omitempty"`
	// RollingOut is what its controller has yet to do before every pod runs its template, ""
	// once rolled out. Between a pod's deletion and its replacement's creation (a StatefulSet,
	// a DaemonSet) the account may have no pod at all, which proves nothing about the new one.
	RollingOut string `json:"rollingOut,omitempty"`
}

// Pod is one pod of the account and the credentials it carries.
type Pod struct {
	Name        string      `json:"name"`
	Owner       string      `json:"owner,omitempty"` // Kind/name of its workload
	Node        string      `json:"node,omitempty"`
	Credentials Credentials `json:"credentials"`
	Blocker     string      `json:"blocker,omitempty"`
}

// AccountPlan is one account's state and its next phase.
type AccountPlan struct {
	Account string `json:"account"` // namespace/name
	// Identity is the stack config's; "" when the stack does not declare the account.
	Identity stack.Identity `json:"identity,omitempty"`
	// Annotation is the live role annotation ("" when none); AccountLive the account exists.
	Annotation  string `json:"annotation,omitempty"`
	AccountLive bool   `json:"accountLive"`
	// AssociationID and AssociationRole are the live association's ("" when none).
	AssociationID   string `json:"associationId,omitempty"`
	AssociationRole string `json:"associationRoleArn,omitempty"`
	// OIDCTrust: the association's role still trusts an OIDC provider (read from IAM for a
	// podIdentity account: its up has not finished while it does).
	OIDCTrust bool `json:"oidcTrust,omitempty"`
	// UpPending: a podIdentity account the stack's last completed update still had on the
	// OIDC statement (Input.IRSARoles), or an irsa account it still had an association for
	// (Input.Associated), or either while the last update is unfinished (Input.Interrupted):
	// its up has not finished.
	UpPending bool       `json:"upPending,omitempty"`
	Workloads []Workload `json:"workloads"`
	Pods      []Pod      `json:"pods"`
	Next      Phase      `json:"next"`
	Blockers  []string   `json:"blockers,omitempty"`
}

// PodIdentityPlan is the migration of the stack's accounts.
type PodIdentityPlan struct {
	Cluster string `json:"cluster"`
	// Agent is the agent add-on's status ("" when absent); AgentProblem what is wrong with it.
	Agent        string        `json:"agent,omitempty"`
	AgentProblem string        `json:"agentProblem,omitempty"`
	Accounts     []AccountPlan `json:"accounts"`
	// Calls counts the AWS and Kubernetes calls the plan made, by API, for the README's figures.
	Calls map[string]int `json:"calls"`
}

// PodIdentityInput is what the plan reads.
type PodIdentityInput struct {
	Kube    kubernetes.Interface
	AWS     aws.Config
	Cluster string
	// Config is the stack's configuration: each entry's identity and account mode, and the
	// rules that refuse Pod Identity for an account.
	Config *stack.Config
	// Accounts limits the plan to these namespace/name; empty: every entry of the stack.
	Accounts []string
	// IRSARoles are the accounts whose role the stack's last completed update gave the OIDC
	// statement (its irsaRoles output): an update killed after IAM changed the trust has not
	// written its outputs, so a podIdentity account found here is not done.
	IRSARoles map[string]bool
	// Associated are the accounts the stack's last completed update made an association for
	// (its podIdentityAssociations output): an irsa account found here has not finished the up
	// that removes it (a rollback's irsa phase killed in its up).
	Associated map[string]bool
	// Interrupted: the stack's last update did not finish (its state holds pending operations,
	// or a lock its dead process left). The outputs alone do not say so: a rollback's irsa up
	// SIGKILLed while its roles' trust updates were in flight left the outputs without the
	// associations, and the resumed rollback called the accounts back on irsa with the up
	// unfinished (TestEmulatedAPIModeAccessEntries, 2026-12-07). So a podIdentity or irsa
	// account, whose phase is that up, is not done.
	Interrupted bool
}

// ReadPodIdentity makes the plan. Its calls are bounded: EKS's association list (and one
// DescribePodIdentityAssociation per association: the summary has no role) and one
// DescribeAddon; per namespace of the accounts one list each of ServiceAccounts, Deployments,
// StatefulSets, DaemonSets, CronJobs, Jobs and Pods, awsaccess.Concurrency namespaces at a
// time; one list of Nodes.
func ReadPodIdentity(ctx context.Context, in PodIdentityInput) (*PodIdentityPlan, error) {
	var mu sync.Mutex
	calls := map[string]int{}
	count := func(api string) { mu.Lock(); calls[api]++; mu.Unlock() }
	p := &PodIdentityPlan{Cluster: in.Cluster, Calls: calls}

	entries := map[string]stack.ServiceAccountRoleConfig{}
	var order []string
	for _, r := range in.Config.ServiceAccountRoles {
		key := k8s.AccountKey(r.Namespace, r.ServiceAccount)
		entries[key] = r
		order = append(order, key)
	}
	if len(in.Accounts) > 0 {
		order = nil
		for _, a := range in.Accounts {
			ns, name, ok := strings.Cut(a, "/")
			if !ok || ns == "" || name == "" || strings.Contains(name, "/") {
				return nil, fmt.Errorf("migrate pod-identity: account %q: want namespace/name", a)
			}
			if !slices.Contains(order, a) {
				order = append(order, a)
			}
		}
	}

	// Every EKS call is counted as the SDK makes it, pages included.
	c := eks.NewFromConfig(in.AWS, func(o *eks.Options) {
		o.APIOptions = append(o.APIOptions, func(s *middleware.Stack) error {
			return s.Initialize.Add(middleware.InitializeMiddlewareFunc("eksirsaCountCalls", func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
				count("eks:" + awsmiddleware.GetOperationName(ctx))
				return next.HandleInitialize(ctx, in)
			}), middleware.After)
		})
	})
	agent, err := podidentity.Agent(ctx, c, "migrate pod-identity", in.Cluster)
	if err != nil {
		return nil, err
	}
	if agent != nil {
		p.Agent = string(agent.Status)
	}
	p.AgentProblem = podidentity.AgentProblem(agent)
	assocs, err := podidentity.List(ctx, c, "migrate pod-identity", in.Cluster, "", "")
	if err != nil {
		return nil, err
	}
	live := map[string]ekstypes.PodIdentityAssociation{}
	for _, a := range assocs {
		live[k8s.AccountKey(aws.ToString(a.Namespace), aws.ToString(a.ServiceAccount))] = a
	}

	var namespaces []string
	for _, key := range order {
		ns, _, _ := strings.Cut(key, "/")
		if !slices.Contains(namespaces, ns) {
			namespaces = append(namespaces, ns)
		}
	}
	objs := make([]namespaceObjects, len(namespaces))
	errs := make([]error, len(namespaces))
	awsaccess.Parallel(len(namespaces), func(i int) {
		objs[i], errs[i] = readNamespace(ctx, in.Kube, namespaces[i], count)
	})
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	count("kube:list nodes")
	nodes, err := in.Kube.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, fmt.Errorf("migrate pod-identity: list nodes: %w", err)
	}
	nodeBlocker := map[string]string{}
	for _, n := range nodes.Items {
		nodeBlocker[n.Name] = computeBlocker(n.Labels)
	}

	var podIdentityRoles []int // indexes in p.Accounts
	for _, key := range order {
		ns, name, _ := strings.Cut(key, "/")
		o := objs[slices.Index(namespaces, ns)]
		r, declared := entries[key]
		a := AccountPlan{Account: key, Workloads: []Workload{}, Pods: []Pod{}}
		if declared {
			a.Identity = r.Identity
			if a.Identity == "" {
				a.Identity = stack.IdentityIRSA
			}
		} else {
			r = stack.ServiceAccountRoleConfig{Namespace: ns, ServiceAccount: name}
			a.Blockers = append(a.Blockers, "not a serviceAccountRoles entry of the stack: declare it (identity irsa) first")
		}
		for _, refusal := range in.Config.PodIdentityRefusals(r) {
			a.Blockers = append(a.Blockers, refusal.Want)
		}
		if declared && r.Account == k8s.NoServiceAccount {
			a.Blockers = append(a.Blockers, "account: none: the annotation is not the stack's to remove; set account to annotate")
		}
		if sa, ok := o.accounts[name]; ok {
			a.AccountLive, a.Annotation = true, sa.Annotations[irsa.RoleARNAnnotation]
		}
		if l, ok := live[key]; ok {
			a.AssociationID, a.AssociationRole = aws.ToString(l.AssociationId), aws.ToString(l.RoleArn)
		}
		a.Workloads = o.workloads[name]
		if a.Workloads == nil {
			a.Workloads = []Workload{}
		}
		for _, pod := range o.pods[name] {
			if b := nodeBlocker[pod.Node]; b != "" && pod.Blocker == "" {
				pod.Blocker = b
			}
			if pod.Blocker != "" {
				a.Blockers = append(a.Blockers, fmt.Sprintf("pod %s: %s", pod.Name, pod.Blocker))
			}
			a.Pods = append(a.Pods, pod)
		}
		a.Blockers = append(a.Blockers, o.templateBlockers[name]...)
		a.UpPending = a.Identity == stack.IdentityPodIdentity && (in.IRSARoles[key] || in.Interrupted) ||
			a.Identity == stack.IdentityIRSA && (in.Associated[key] || in.Interrupted)
		if a.Identity == stack.IdentityPodIdentity && a.AssociationRole != "" {
			podIdentityRoles = append(podIdentityRoles, len(p.Accounts))
		}
		p.Accounts = append(p.Accounts, a)
	}
	// A podIdentity account's last up removes the OIDC statement: whether it finished is read
	// from IAM, one GetRole per such account, awsaccess.Concurrency at a time.
	ic := iam.NewFromConfig(in.AWS)
	errs = make([]error, len(podIdentityRoles))
	awsaccess.Parallel(len(podIdentityRoles), func(i int) {
		a := &p.Accounts[podIdentityRoles[i]]
		count("iam:GetRole")
		a.OIDCTrust, errs[i] = oidcTrust(ctx, ic, a.AssociationRole)
	})
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	for i := range p.Accounts {
		a := &p.Accounts[i]
		a.Next = a.next(p.AgentProblem == "")
	}
	return p, nil
}

// oidcTrust says whether the role's trust policy has a statement for a federated (OIDC)
// principal.
func oidcTrust(ctx context.Context, c *iam.Client, roleARN string) (bool, error) {
	name := roleARN[strings.LastIndex(roleARN, "/")+1:]
	got, err := c.GetRole(ctx, &iam.GetRoleInput{RoleName: aws.String(name)})
	if err != nil {
		return false, fmt.Errorf("migrate pod-identity: get role %s: %w", name, err)
	}
	// IAM returns the document URL-encoded (API_Role: AssumeRolePolicyDocument).
	doc, err := url.QueryUnescape(aws.ToString(got.Role.AssumeRolePolicyDocument))
	if err != nil {
		return false, fmt.Errorf("migrate pod-identity: role %s trust policy: %w", name, err)
	}
	var trust struct {
		Statement []struct {
			Principal json.RawMessage
		}
	}
	if err := json.Unmarshal([]byte(doc), &trust); err != nil {
		return false, fmt.Errorf("migrate pod-identity: role %s trust policy: %w", name, err)
	}
	for _, st := range trust.Statement {
		var principal map[string]json.RawMessage
		if json.Unmarshal(st.Principal, &principal) == nil && principal["Federated"] != nil {
			return true, nil
		}
	}
	return false, nil
}

// next is the account's next phase, found from live state alone so that a rerun resumes
// where the last one stopped: an up that did not finish leaves its phase not proven.
func (a AccountPlan) next(agentActive bool) Phase {
	if len(a.Blockers) > 0 {
		return PhaseBlocked
	}
	switch a.Identity {
	case stack.IdentityIRSA:
		return PhaseTrustBoth
	case stack.IdentityBoth:
		if a.AssociationID == "" || !agentActive {
			return PhaseTrustBoth
		}
		return PhaseUnannotate
	case stack.IdentityBothUnannotated:
		if a.Annotation != "" {
			return PhaseUnannotate
		}
		for _, p := range a.Pods {
			if p.Credentials != CredentialsPodIdentity {
				return PhaseRestart
			}
		}
		if a.rollingOut() {
			return PhaseRestart // its pods so far prove nothing about those to come
		}
		return PhasePodIdentity
	case stack.IdentityPodIdentity:
		if a.Annotation != "" || a.AssociationID == "" || a.OIDCTrust || a.UpPending {
			return PhasePodIdentity
		}
		return PhaseDone
	}
	return PhaseBlocked
}

// rollingOut says whether a workload of the account has pods still to replace.
func (a AccountPlan) rollingOut() bool {
	return slices.ContainsFunc(a.Workloads, func(w Workload) bool { return w.RollingOut != "" })
}

// The rollback's phases, before the OIDC statement has gone (identity both or bothUnannotated).
const (
	// PhaseAnnotate: identity both and an up: the annotation back; proven by the annotation.
	PhaseAnnotate Phase = "annotate"
	// PhaseRestartIRSA: the workloads restarted until every pod carries AWS_ROLE_ARN again.
	PhaseRestartIRSA Phase = "restart-irsa"
	// PhaseIRSA: identity irsa and an up: the association and the Pod Identity statement go.
	PhaseIRSA Phase = "irsa"
)

// RollbackNext is the account's next phase back to IRSA, from live state as next is. An
// account on podIdentity has lost the OIDC statement: its pods could not take IRSA at once, so
// it is blocked (a move of its own: both, up, restart, irsa).
func (a AccountPlan) RollbackNext() Phase {
	switch a.Identity {
	case stack.IdentityIRSA:
		if a.UpPending {
			return PhaseIRSA // the up that removes the association was interrupted
		}
		return PhaseDone
	case stack.IdentityBothUnannotated:
		return PhaseAnnotate
	case stack.IdentityBoth:
		if a.Annotation == "" {
			return PhaseAnnotate
		}
		for _, p := range a.Pods {
			if p.Credentials != CredentialsIRSA && p.Credentials != CredentialsBoth {
				return PhaseRestartIRSA
			}
		}
		if a.rollingOut() {
			return PhaseRestartIRSA
		}
		return PhaseIRSA
	}
	return PhaseBlocked
}

// namespaceObjects are one namespace's accounts, and its workloads and pods by account.
type namespaceObjects struct {
	accounts         map[string]corev1.ServiceAccount
	workloads        map[string][]Workload
	pods             map[string][]Pod
	templateBlockers map[string][]string
}

// readNamespace lists what the plan needs of one namespace, one call per kind.
func readNamespace(ctx context.Context, kube kubernetes.Interface, ns string, count func(string)) (namespaceObjects, error) {
	o := namespaceObjects{accounts: map[string]corev1.ServiceAccount{}, workloads: map[string][]Workload{}, pods: map[string][]Pod{}, templateBlockers: map[string][]string{}}
	list := func(kind string, fn func() error) error {
		count("kube:list " + kind)
		if err := fn(); err != nil {
			return fmt.Errorf("migrate pod-identity: list %s of namespace %s: %w", kind, ns, err)
		}
		return nil
	}
	template := func(kind, name string, tmpl corev1.PodTemplateSpec, rollingOut string) {
		spec := tmpl.Spec
		account := spec.ServiceAccountName
		if account == "" {
			account = "default"
		}
		o.workloads[account] = append(o.workloads[account], Workload{Kind: kind, Name: name, RestartedAt: tmpl.Annotations[RestartedAtAnnotation], RollingOut: rollingOut})
		if b := templateBlocker(spec); b != "" {
			o.templateBlockers[account] = append(o.templateBlockers[account], fmt.Sprintf("%s/%s: %s", kind, name, b))
		}
	}
	var opts metav1.ListOptions
	if err := list("serviceaccounts", func() error {
		l, err := kube.CoreV1().ServiceAccounts(ns).List(ctx, opts)
		for _, sa := range listItems(l, err, func(l *corev1.ServiceAccountList) []corev1.ServiceAccount { return l.Items }) {
			o.accounts[sa.Name] = sa
		}
		return err
	}); err != nil {
		return o, err
	}
	if err := list("deployments", func() error {
		l, err := kube.AppsV1().Deployments(ns).List(ctx, opts)
		for _, d := range listItems(l, err, func(l *appsv1.DeploymentList) []appsv1.Deployment { return l.Items }) {
			template("Deployment", d.Name, d.Spec.Template, rollout.Deployment(d))
		}
		return err
	}); err != nil {
		return o, err
	}
	if err := list("statefulsets", func() error {
		l, err := kube.AppsV1().StatefulSets(ns).List(ctx, opts)
		for _, d := range listItems(l, err, func(l *appsv1.StatefulSetList) []appsv1.StatefulSet { return l.Items }) {
			template("StatefulSet", d.Name, d.Spec.Template, rollout.StatefulSet(d))
		}
		return err
	}); err != nil {
		return o, err
	}
	if err := list("daemonsets", func() error {
		l, err := kube.AppsV1().DaemonSets(ns).List(ctx, opts)
		for _, d := range listItems(l, err, func(l *appsv1.DaemonSetList) []appsv1.DaemonSet { return l.Items }) {
			template("DaemonSet", d.Name, d.Spec.Template, rollout.DaemonSet(d))
		}
		return err
	}); err != nil {
		return o, err
	}
	if err := list("cronjobs", func() error {
		l, err := kube.BatchV1().CronJobs(ns).List(ctx, opts)
		for _, d := range listItems(l, err, func(l *batchv1.CronJobList) []batchv1.CronJob { return l.Items }) {
			template("CronJob", d.Name, d.Spec.JobTemplate.Spec.Template, "")
		}
		return err
	}); err != nil {
		return o, err
	}
	if err := list("jobs", func() error {
		l, err := kube.BatchV1().Jobs(ns).List(ctx, opts)
		for _, d := range listItems(l, err, func(l *batchv1.JobList) []batchv1.Job { return l.Items }) {
			if ownedBy(d.OwnerReferences, "CronJob") {
				continue // its CronJob's template is the workload
			}
			template("Job", d.Name, d.Spec.Template, "")
		}
		return err
	}); err != nil {
		return o, err
	}
	return o, list("pods", func() error {
		l, err := kube.CoreV1().Pods(ns).List(ctx, opts)
		for _, pod := range listItems(l, err, func(l *corev1.PodList) []corev1.Pod { return l.Items }) {
			if pod.Status.Phase == corev1.PodSucceeded || pod.Status.Phase == corev1.PodFailed {
				continue // holds no credentials any more
			}
			account := pod.Spec.ServiceAccountName
			if account == "" {
				account = "default"
			}
			o.pods[account] = append(o.pods[account], Pod{
				Name: pod.Name, Owner: podOwner(pod), Node: pod.Spec.NodeName,
				Credentials: PodCredentials(pod), Blocker: templateBlocker(pod.Spec),
			})
		}
		return err
	})
}

// listItems is a list's items, none when the list failed.
func listItems[L any, T any](l *L, err error, items func(*L) []T) []T {
	if err != nil || l == nil {
		return nil
	}
	return items(l)
}

func ownedBy(refs []metav1.OwnerReference, kind string) bool {
	return slices.ContainsFunc(refs, func(r metav1.OwnerReference) bool { return r.Kind == kind })
}

// podOwner names the pod's workload: a ReplicaSet's Deployment is its name without the
// pod-template-hash the Deployment controller appends.
func podOwner(pod corev1.Pod) string {
	for _, r := range pod.OwnerReferences {
		if r.Kind == "ReplicaSet" {
			if h := pod.Labels[appsv1.DefaultDeploymentUniqueLabelKey]; h != "" {
				return "Deployment/" + strings.TrimSuffix(r.Name, "-"+h)
			}
		}
		return r.Kind + "/" + r.Name
	}
	return ""
}

// PodCredentials says which credentials a pod's containers carry, from the variables the EKS
// pod identity webhook sets: AWS_ROLE_ARN for IRSA, AWS_CONTAINER_CREDENTIALS_FULL_URI for
// Pod Identity (EKS User Guide, pod-id-how-it-works). A pod carries a set when any container does.
func PodCredentials(pod corev1.Pod) Credentials {
	var roleARN, fullURI bool
	for _, c := range slices.Concat(pod.Spec.InitContainers, pod.Spec.Containers) {
		for _, e := range c.Env {
			switch e.Name {
			case irsa.EnvRoleARN:
				roleARN = true
			case podidentity.EnvCredentialsFullURI:
				fullURI = true
			}
		}
	}
	switch {
	case roleARN && fullURI:
		return CredentialsBoth
	case roleARN:
		return CredentialsIRSA
	case fullURI:
		return CredentialsPodIdentity
	}
	return CredentialsNone
}

// Pod Identity serves only Linux pods on EC2: "You can't use EKS Pod Identities with: Pods
// that run anywhere except Linux Amazon EC2 instances. Linux and Windows pods that run on
// AWS Fargate (Fargate) aren't supported. Pods that run on Windows Amazon EC2 instances
// aren't supported." (EKS User Guide, pod-id-restrictions). Fargate nodes carry
// eks.amazonaws.com/compute-type: fargate (EKS User Guide, fargate-pod-configuration).
const (
	osLabel          = corev1.LabelOSStable // kubernetes.io/os
	computeTypeLabel = "eks.amazonaws.com/compute-type"
)

func computeBlocker(labels map[string]string) string {
	switch {
	case labels[computeTypeLabel] == "fargate":
		return "on Fargate, which Pod Identity does not serve (pod-id-restrictions)"
	case labels[osLabel] == "windows":
		return "on a Windows node, which Pod Identity does not serve (pod-id-restrictions)"
	}
	return ""
}

// templateBlocker is a pod spec that asks for Windows nodes.
func templateBlocker(spec corev1.PodSpec) string {
	if spec.NodeSelector[osLabel] == "windows" || spec.OS != nil && spec.OS.Name == corev1.Windows {
		return "asks for Windows nodes, which Pod Identity does not serve (pod-id-restrictions)"
	}
	return ""
}

// Line is the account's plan in one line, then one indented line per workload and pod.
func (a AccountPlan) Line() string {
	var b strings.Builder
	identity := string(a.Identity)
	if identity == "" {
		identity = "undeclared"
	}
	fmt.Fprintf(&b, "account %s: identity %s, next %s", a.Account, identity, a.Next)
	switch {
	case !a.AccountLive:
		b.WriteString("; account not in the cluster")
	case a.Annotation != "":
		fmt.Fprintf(&b, "; annotated %s", a.Annotation)
	default:
		b.WriteString("; not annotated")
	}
	if a.AssociationID != "" {
		fmt.Fprintf(&b, "; association %s → %s", a.AssociationID, a.AssociationRole)
	} else {
		b.WriteString("; no association")
	}
	for _, x := range a.Blockers {
		fmt.Fprintf(&b, "\n  blocked: %s", x)
	}
	for _, w := range a.Workloads {
		fmt.Fprintf(&b, "\n  workload %s/%s", w.Kind, w.Name)
		if w.RollingOut != "" {
			fmt.Fprintf(&b, ": rolling out (%s)", w.RollingOut)
		}
	}
	for _, p := range a.Pods {
		fmt.Fprintf(&b, "\n  pod %s (%s): %s", p.Name, p.Owner, p.Credentials)
	}
	return b.String()
}

// RestartedAtAnnotation is the pod-template annotation `kubectl rollout restart` writes
// (k8s.io/kubectl pkg/polymorphichelpers/objectrestarter.go): a change of it makes the
// controller replace every pod, and the same value again changes nothing.
const RestartedAtAnnotation = "kubectl.kubernetes.io/restartedAt"

// Restart rolls the account's Deployments, StatefulSets and DaemonSets by writing
// RestartedAtAnnotation with at, so that their new pods, created without the role annotation,
// take Pod Identity. at is derived from the account's state (the association's creation time),
// not the clock, so that a rerun after an interruption writes the same value and rolls
// nothing twice; a workload whose template has the value already (a rerun after an
// interruption) is not patched again. CronJobs and Jobs are not restarted: a CronJob's next
// Job starts without the annotation, and a running Job is waited for. It returns one line per
// workload.
func Restart(ctx context.Context, kube kubernetes.Interface, a AccountPlan, at string) ([]string, error) {
	ns, _, _ := strings.Cut(a.Account, "/")
	patch := fmt.Appendf(nil, `{"spec":{"template":{"metadata":{"annotations":{%q:%q}}}}}`, RestartedAtAnnotation, at)
	var lines []string
	for _, w := range a.Workloads {
		var roll func() error
		switch w.Kind {
		case "Deployment":
			roll = func() error {
				_, err := kube.AppsV1().Deployments(ns).Patch(ctx, w.Name, types.StrategicMergePatchType, patch, metav1.PatchOptions{})
				return err
			}
		case "StatefulSet":
			roll = func() error {
				_, err := kube.AppsV1().StatefulSets(ns).Patch(ctx, w.Name, types.StrategicMergePatchType, patch, metav1.PatchOptions{})
				return err
			}
		case "DaemonSet":
			roll = func() error {
				_, err := kube.AppsV1().DaemonSets(ns).Patch(ctx, w.Name, types.StrategicMergePatchType, patch, metav1.PatchOptions{})
				return err
			}
		case "CronJob":
			lines = append(lines, fmt.Sprintf("workload %s/%s: not restarted, its next Job starts without the annotation", w.Kind, w.Name))
			continue
		default:
			lines = append(lines, fmt.Sprintf("workload %s/%s: not restarted, waited for until it finishes", w.Kind, w.Name))
			continue
		}
		if w.RestartedAt == at {
			lines = append(lines, fmt.Sprintf("workload %s/%s: restarted already (%s=%s)", w.Kind, w.Name, RestartedAtAnnotation, at))
			continue
		}
		if err := roll(); err != nil {
			return lines, fmt.Errorf("migrate pod-identity: restart %s %s/%s: %w", w.Kind, ns, w.Name, err)
		}
		lines = append(lines, fmt.Sprintf("workload %s/%s: restarted (%s=%s)", w.Kind, w.Name, RestartedAtAnnotation, at))
	}
	return lines, nil
}
