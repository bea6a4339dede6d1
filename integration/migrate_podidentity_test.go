package integration

import (
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eks"
	ekstypes "github.com/aws/aws-sdk-go-v2/service/eks/types"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/eks-irsa/eks-irsa/integration/moto"
	"github.com/eks-irsa/eks-irsa/integration/testcluster"
	"github.com/eks-irsa/eks-irsa/irsa"
	"github.com/eks-irsa/eks-irsa/k8s"
	"github.com/eks-irsa/eks-irsa/migrate"
	"github.com/eks-irsa/eks-irsa/podidentity"
	program "github.com/eks-irsa/eks-irsa/stack"
)

// The migration's restart phase on a real apiserver with its controllers: a Deployment of an
// account that is annotated and associated runs pods carrying both sets of variables (IRSA
// wins); once the annotation is gone (what identity bothUnannotated's up does) the plan says
// restart; migrate.Restart rolls the Deployment, and its new pods carry Pod Identity's alone
// (the webhook stand-in injects them from moto's association, as EKS's webhook does), so the
// plan moves on to pod-identity. Restarting again with the same value rolls nothing: a rerun
// after an interruption does not restart twice.
func TestMigratePodIdentityRestart(t *testing.T) {
	t.Parallel()
	testcluster.ToolsBin(t)
	m := moto.Start(t)
	cfg := m.Config("us-west-2")
	ctx := t.Context()
	ec := eks.NewFromConfig(cfg)
	if _, err := ec.CreateCluster(ctx, &eks.CreateClusterInput{Name: aws.String("demo"), RoleArn: aws.String("arn:aws:iam::123456789012:role/cluster"), ResourcesVpcConfig: &ekstypes.VpcConfigRequest{}}); err != nil {
		t.Fatal(err)
	}
	role, err := iam.NewFromConfig(cfg).CreateRole(ctx, &iam.CreateRoleInput{RoleName: aws.String("web"), AssumeRolePolicyDocument: aws.String(
		`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"pods.eks.amazonaws.com"},"Action":["sts:AssumeRole","sts:TagSession"]}]}`)})
	if err != nil {
		t.Fatal(err)
	}
	assoc, err := ec.CreatePodIdentityAssociation(ctx, &eks.CreatePodIdentityAssociationInput{ClusterName: aws.String("demo"), Namespace: aws.String("apps"), ServiceAccount: aws.String("web"), RoleArn: role.Role.Arn})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ec.CreateAddon(ctx, &eks.CreateAddonInput{ClusterName: aws.String("demo"), AddonName: aws.String(podidentity.AgentAddon)}); err != nil {
		t.Fatal(err)
	}
	if err := eks.NewAddonActiveWaiter(ec).Wait(ctx, &eks.DescribeAddonInput{ClusterName: aws.String("demo"), AddonName: aws.String(podidentity.AgentAddon)}, time.Minute,
		func(o *eks.AddonActiveWaiterOptions) { o.MinDelay, o.MaxDelay = 100*time.Millisecond, time.Second }); err != nil {
		t.Fatal(err)
	}

	c := testcluster.Start(t)
	c.Associated = func(ctx context.Context, namespace, account string) (bool, error) {
		got, err := podidentity.List(ctx, ec, "webhook stand-in", "demo", namespace, account)
		return len(got) > 0, err
	}
	c.StartPodIdentityWebhook(t)
	c.StartKubelets(t, nil, "node-1")
	kube := c.Client
	if _, err := kube.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "apps"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := kube.CoreV1().ServiceAccounts("apps").Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "web",
		Annotations: map[string]string{irsa.RoleARNAnnotation: aws.ToString(role.Role.Arn)}}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	replicas := int32(2)
	labels := map[string]string{"app": "web"}
	if _, err := kube.AppsV1().Deployments("apps").Create(ctx, &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "web"},
		Spec: appsv1.DeploymentSpec{Replicas: &replicas, Selector: &metav1.LabelSelector{MatchLabels: labels}, Template: corev1.PodTemplateSpec{
			ObjectMeta: metav1.ObjectMeta{Labels: labels},
			Spec:       corev1.PodSpec{ServiceAccountName: "web", Containers: []corev1.Container{{Name: "app", Image: "app"}}},
		}},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}

	plan := func(identity program.Identity) migrate.AccountPlan {
		t.Helper()
		conf := program.Defaults()
		conf.Region = "us-west-2"
		conf.ServiceAccountRoles = []program.ServiceAccountRoleConfig{{Namespace: "apps", ServiceAccount: "web", Identity: identity, Account: k8s.AnnotateServiceAccount}}
		p, err := migrate.ReadPodIdentity(ctx, migrate.PodIdentityInput{Kube: kube, AWS: cfg, Cluster: "demo", Config: &conf})
		if err != nil {
			t.Fatal(err)
		}
		return p.Accounts[0]
	}
	// settled waits until the account's pods are the Deployment's replicas, none terminating,
	// and returns the plan then.
	settled := func(identity program.Identity) migrate.AccountPlan {
		t.Helper()
		deadline := time.Now().Add(time.Minute)
		for {
			pods, err := kube.CoreV1().Pods("apps").List(ctx, metav1.ListOptions{})
			if err != nil {
				t.Fatal(err)
			}
			running := 0
			for _, p := range pods.Items {
				if p.DeletionTimestamp == nil && p.Status.Phase == corev1.PodRunning {
					running++
				}
			}
			if running == int(replicas) && len(pods.Items) == running {
				return plan(identity)
			}
			if time.Now().After(deadline) {
				t.Fatalf("pods %d running of %d, want %d", running, len(pods.Items), replicas)
			}
			time.Sleep(200 * time.Millisecond)
		}
	}

	a := settled(program.IdentityBoth)
	if a.Next != migrate.PhaseUnannotate || len(a.Pods) != 2 || a.Pods[0].Credentials != migrate.CredentialsBoth {
		t.Fatalf("under both: %s", a.Line())
	}
	t.Logf("under both:\n%s", a.Line())

	// What identity bothUnannotated's up does to an annotated account (TestIdentityBothUnannotated).
	if _, err := kube.CoreV1().ServiceAccounts("apps").Patch(ctx, "web", types.MergePatchType,
		[]byte(`{"metadata":{"annotations":{"`+irsa.RoleARNAnnotation+`":null}}}`), metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
	a = plan(program.IdentityBothUnannotated)
	if a.Next != migrate.PhaseRestart {
		t.Fatalf("annotation gone, pods not restarted: %s", a.Line())
	}
	at := aws.ToTime(assoc.Association.CreatedAt).UTC().Format(time.RFC3339)
	lines, err := migrate.Restart(ctx, kube, a, at)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("restart: %v", lines)
	deadline := time.Now().Add(time.Minute)
	for a = settled(program.IdentityBothUnannotated); a.Next != migrate.PhasePodIdentity; a = settled(program.IdentityBothUnannotated) {
		if time.Now().After(deadline) {
			t.Fatalf("after the restart: %s", a.Line())
		}
		time.Sleep(200 * time.Millisecond)
	}
	for _, p := range a.Pods {
		if p.Credentials != migrate.CredentialsPodIdentity {
			t.Errorf("pod %s: %s after the restart", p.Name, p.Credentials)
		}
	}
	t.Logf("after the restart:\n%s", a.Line())

	before, err := kube.AppsV1().Deployments("apps").Get(ctx, "web", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := migrate.Restart(ctx, kube, a, at); err != nil {
		t.Fatal(err)
	}
	after, err := kube.AppsV1().Deployments("apps").Get(ctx, "web", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if after.Generation != before.Generation {
		t.Errorf("the second restart with the same value rolled the Deployment again: generation %d -> %d", before.Generation, after.Generation)
	}
}

// migratedWorkload is a workload that runs as one of the migrated accounts, a different kind
// for each, its pods picked by the credential poller.
type migratedWorkload struct {
	namespace, account, kind, name string
}

func (w migratedWorkload) key() string { return w.namespace + "/" + w.account }

// pollLabel marks the pods of the migrated workloads for the credential poller.
const pollLabel = "credential-poller"

// checkMigratePodIdentity moves the stack's three accounts (each created and annotated by
// the stack; aws-node stays IRSA by design) with one `eksirsa migrate pod-identity a b c
// --approve`, each with a workload of another kind running as it: kube-system/cluster-autoscaler
// a Deployment, kube-system/aws-load-balancer-controller a StatefulSet,
// default/external-secrets a DaemonSet (on one node). The plan names each pod on IRSA; the
// migration is SIGKILLed in its trust-both phase's up, resumed (writing no identity twice),
// SIGKILLed in its unannotate phase's up, resumed, and SIGKILLed as soon as its restart phase
// has rolled a first workload onto Pod Identity alone; rolled back from there (--rollback: the
// annotation back; each workload the restart had rolled rolled back once until its pods carry
// AWS_ROLE_ARN again, the others left alone; then irsa; SIGKILLed in each of those phases and
// resumed);
// then moved again, SIGKILLed as soon as its restart phase has rolled a first workload and in
// its last phase's up, and resumed, writing no identity and rolling no workload twice; it ends
// with every account on podIdentity, every pod carrying Pod Identity's variables alone, each
// workload's generation counting exactly the rolls the runs name, a next up that changes
// nothing and a clean drift. From before the first --approve to the end, a credential poller
// in each pod's place (startCredentialPoller) takes the role's credentials every second through
// whichever path the pod has, IRSA's web identity at the start and Pod Identity's agent at the
// end: any moment without them fails the test, and each account's pods must have used both.
// It runs on the stack as its first up made it, the three accounts on irsa, before
// checkIdentitySwitch moves one of them on by config.
func (e *emulated) checkMigratePodIdentity() {
	t := e.t
	t.Helper()
	ctx := t.Context()
	start := time.Now()
	defer func() { t.Logf("the migration of the three accounts: %s", time.Since(start).Round(time.Second)) }()
	kube := e.cluster.Client
	workloads := []migratedWorkload{
		{"kube-system", "cluster-autoscaler", "Deployment", "autoscaler"},
		{"kube-system", "aws-load-balancer-controller", "StatefulSet", "lb-controller"},
		{"default", "external-secrets", "DaemonSet", "external-secrets"},
	}
	nodes, err := kube.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	if err != nil || len(nodes.Items) == 0 {
		t.Fatalf("nodes: %v, %d", err, len(nodes.Items))
	}
	one := int32(1)
	var keys []string
	for _, w := range workloads {
		keys = append(keys, w.key())
		labels := map[string]string{"app": w.name, pollLabel: "migration"}
		tmpl := corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels},
			Spec: corev1.PodSpec{ServiceAccountName: w.account, Containers: []corev1.Container{{Name: "app", Image: "app"}}}}
		selector := &metav1.LabelSelector{MatchLabels: map[string]string{"app": w.name}}
		meta := metav1.ObjectMeta{Name: w.name}
		switch w.kind {
		case "Deployment":
			_, err = kube.AppsV1().Deployments(w.namespace).Create(ctx, &appsv1.Deployment{ObjectMeta: meta,
				Spec: appsv1.DeploymentSpec{Replicas: &one, Selector: selector, Template: tmpl}}, metav1.CreateOptions{})
		case "StatefulSet":
			_, err = kube.AppsV1().StatefulSets(w.namespace).Create(ctx, &appsv1.StatefulSet{ObjectMeta: meta,
				Spec: appsv1.StatefulSetSpec{Replicas: &one, Selector: selector, Template: tmpl, ServiceName: w.name}}, metav1.CreateOptions{})
		case "DaemonSet":
			// One pod, not one per node: each pod is a poller process fetching every second.
			tmpl.Spec.NodeSelector = map[string]string{corev1.LabelHostname: nodes.Items[0].Name}
			// The emulated nodes keep the not-ready taint the apiserver's TaintNodesByCondition
			// admission puts on every new node (no node lifecycle controller lifts it), which
			// the DaemonSet controller's own tolerations do not cover.
			tmpl.Spec.Tolerations = []corev1.Toleration{{Key: corev1.TaintNodeNotReady, Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoSchedule}}
			_, err = kube.AppsV1().DaemonSets(w.namespace).Create(ctx, &appsv1.DaemonSet{ObjectMeta: meta,
				Spec: appsv1.DaemonSetSpec{Selector: selector, Template: tmpl}}, metav1.CreateOptions{})
		}
		if err != nil {
			t.Fatalf("create %s %s/%s: %v", w.kind, w.namespace, w.name, err)
		}
	}
	deadline := time.Now().Add(time.Minute)
	for {
		out, err := e.eksirsa(append([]string{"migrate", "pod-identity"}, keys...)...)
		onIRSA := err == nil
		for _, w := range workloads {
			onIRSA = onIRSA && strings.Contains(out, "("+w.kind+"/"+w.name+"): irsa")
		}
		if onIRSA {
			for _, key := range keys {
				if !strings.Contains(out, "account "+key+": identity irsa, next trust-both") {
					t.Errorf("the plan: want %s at trust-both:\n%s", key, out)
				}
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the plan never showed every workload's pod on IRSA: %v\n%s", err, out)
		}
		time.Sleep(time.Second)
	}

	outs := e.outputs()
	roleNames := map[string]string{}
	for _, key := range keys {
		role := outs.Roles[key].RoleARN
		if role == "" {
			t.Fatalf("the stack's outputs have no IRSA role for %s", key)
		}
		roleNames[key] = role[strings.LastIndex(role, "/")+1:]
	}
	poller := e.startCredentialPoller(pollLabel+"=migration", roleNames)

	approve := append(append([]string{"migrate", "pod-identity"}, keys...), "--approve", "--wait", "2m")
	// Every run's output, to count what each pass wrote: forward, rollback, forward again.
	var passes [3]strings.Builder
	pass := 0
	// kill SIGKILLs the command and its descendants after into past moment, and returns what
	// it printed.
	kill := func(args []string, moment *regexp.Regexp, into time.Duration) string {
		t.Helper()
		r := e.start(args...)
		if !r.waitFor(moment, 4*time.Minute) || r.done() {
			t.Fatalf("eksirsa %s ended before %s: %v\n%s", strings.Join(args, " "), moment, r.err, r.output())
		}
		time.Sleep(into)
		procs := append([]int{r.cmd.Process.Pid}, descendants(r.cmd.Process.Pid)...)
		for _, pid := range procs {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
		_ = r.wait()
		t.Logf("SIGKILLed eksirsa %s and its %d descendants %s after %s", strings.Join(args, " "), len(procs)-1, into, moment)
		passes[pass].WriteString(r.output())
		return r.output()
	}
	// killInRoleUpdate SIGKILLs the command in phase's up while IAM holds its answer to a
	// role's trust update (the change of the phases that write a trust: pod-identity, irsa):
	// two seconds after the phase's line, the up had ended on a quiet machine (2026-12-07), and
	// the resumed run rightly had nothing left to run. The held requests are carried out when
	// their hold ends (a server finishes what it was sent), with the trust the resumed run
	// writes too; short, so that they land before anything after it.
	killInRoleUpdate := func(args []string, phase migrate.Phase) string {
		t.Helper()
		if err := e.moto.HoldIAM("UpdateAssumeRolePolicy", 3*time.Second); err != nil {
			t.Fatal(err)
		}
		out := kill(args, regexp.MustCompile(`PHASE `+string(phase)+`: updating stack[\s\S]*aws:iam:Role \S+ updating`), 0)
		if err := e.moto.HoldIAM("UpdateAssumeRolePolicy", 0); err != nil {
			t.Fatal(err)
		}
		return out
	}
	document := func(args []string) (string, podIdentityResult, error) {
		t.Helper()
		out, doc, err := e.migratePodIdentityDocument(args...)
		passes[pass].WriteString(out)
		return out, doc, err
	}
	// credentials are the live pods' credentials by workload.
	credentials := func() map[string][]migrate.Credentials {
		t.Helper()
		pods, err := kube.CoreV1().Pods("").List(ctx, metav1.ListOptions{LabelSelector: pollLabel})
		if err != nil {
			t.Fatal(err)
		}
		out := map[string][]migrate.Credentials{}
		for _, p := range pods.Items {
			if p.DeletionTimestamp == nil {
				out[p.Namespace+"/"+p.Labels["app"]] = append(out[p.Namespace+"/"+p.Labels["app"]], migrate.PodCredentials(p))
			}
		}
		return out
	}
	// workload is a workload's generation (one per roll, after its creation's 1) and the
	// restart annotation of its pod template.
	workload := func(w migratedWorkload) (generation int64, restartedAt string) {
		t.Helper()
		var meta metav1.ObjectMeta
		var tmpl corev1.PodTemplateSpec
		switch w.kind {
		case "Deployment":
			d, err := kube.AppsV1().Deployments(w.namespace).Get(ctx, w.name, metav1.GetOptions{})
			if err != nil {
				t.Fatal(err)
			}
			meta, tmpl = d.ObjectMeta, d.Spec.Template
		case "StatefulSet":
			d, err := kube.AppsV1().StatefulSets(w.namespace).Get(ctx, w.name, metav1.GetOptions{})
			if err != nil {
				t.Fatal(err)
			}
			meta, tmpl = d.ObjectMeta, d.Spec.Template
		case "DaemonSet":
			d, err := kube.AppsV1().DaemonSets(w.namespace).Get(ctx, w.name, metav1.GetOptions{})
			if err != nil {
				t.Fatal(err)
			}
			meta, tmpl = d.ObjectMeta, d.Spec.Template
		}
		return meta.Generation, tmpl.Annotations[migrate.RestartedAtAnnotation]
	}
	// restarted counts the lines of a phase that say it rolled w ("restarted already" is not one).
	restarted := func(out string, phase migrate.Phase, w migratedWorkload) int {
		return strings.Count(out, "PHASE "+string(phase)+": "+w.key()+" workload "+w.kind+"/"+w.name+": restarted (")
	}

	// Into the up: as its first association is being created (two seconds after the phase's
	// line, the up had often finished on a quiet machine, 2026-12-07).
	kill(approve, regexp.MustCompile(`PHASE trust-both: updating stack[\s\S]*aws:eks:PodIdentityAssociation \S+ creating`), 0)
	// Resumed: the trust-both config is written already, so only its up is run again, unless
	// the killed up had already made the associations, which is the phase's proof (the agent
	// was ACTIVE before): then the resumed run goes on to unannotate, whose up adopts what the
	// killed one left pending. Either way, no identity is written twice.
	// In its up, at an account's update (the annotation's removal): two seconds after the
	// phase's line, the up could be over on a quiet machine (2026-12-07).
	resumed := kill(approve, regexp.MustCompile(`PHASE unannotate: updating stack[\s\S]*kubernetes:core/v1:ServiceAccount\S* \S+ updating`), 0)
	if strings.Contains(resumed, "identity both for") {
		t.Errorf("the migration resumed in trust-both wrote identity both again:\n%s", resumed)
	}
	t.Logf("the resumed trust-both ran its up again: %t", strings.Contains(resumed, "PHASE trust-both: updating stack"))
	// Resumed again, and SIGKILLed as soon as its restart phase has rolled a first workload:
	// that workload's new pods take Pod Identity alone; the others may or may not be rolled.
	kill(approve, regexp.MustCompile(`PHASE restart: \S+ workload \S+: restarted \(`), 0)
	rolledForward := map[migratedWorkload]bool{}
	for _, w := range workloads {
		_, at := workload(w)
		rolledForward[w] = at != ""
	}

	// Rolled back from there (bothUnannotated written, a workload on Pod Identity): the
	// annotation back, then every workload whose pods had left IRSA restarted until each pod
	// carries AWS_ROLE_ARN again (restart-irsa), then irsa; SIGKILLed in each of the three
	// phases (in annotate's up, as soon as restart-irsa has rolled a workload back, in irsa's
	// up) and resumed, the last run's result as a document (--format json), its steps read back
	// as the text's lines.
	pass = 1
	rollback := append(slices.Clone(approve), "--rollback")
	kill(rollback, regexp.MustCompile(`PHASE annotate: updating stack[\s\S]*kubernetes:core/v1:ServiceAccount\S* \S+ updating`), 0) // as unannotate's
	kill(rollback, regexp.MustCompile(`PHASE restart-irsa: \S+ workload \S+: restarted \(`), 0)
	if out := killInRoleUpdate(rollback, migrate.PhaseIRSA); strings.Contains(out, "identity both for") {
		t.Errorf("the rollback resumed in restart-irsa wrote identity both again:\n%s", out)
	}
	out, doc, err := document(rollback)
	if err != nil || !doc.Passed || !doc.Rollback || len(doc.Plan.Accounts) != len(keys) {
		t.Fatalf("the rollback: %v, document %+v\n%s", err, doc, out)
	}
	if !strings.Contains(out, "PHASE irsa: updating stack") {
		t.Errorf("the resumed rollback did not run the irsa phase's up again:\n%s", out)
	}
	for _, a := range doc.Plan.Accounts {
		if a.Identity != program.IdentityIRSA {
			t.Errorf("the rollback left %s on %s, want irsa", a.Account, a.Identity)
		}
	}
	if strings.Contains(out, "PHASE annotate: identity both for") {
		t.Errorf("the resumed rollback wrote identity both again:\n%s", out)
	}
	for _, key := range keys {
		if want := "ACCOUNT " + key + ": back on irsa"; !strings.Contains(out, want) {
			t.Errorf("the rollback has no %q:\n%s", want, out)
		}
	}
	// A workload the forward restart rolled is rolled back once; one it did not roll keeps its
	// pods, which never left IRSA (RollbackNext: restart-irsa only for a pod without
	// AWS_ROLE_ARN).
	for _, w := range workloads {
		if n, want := restarted(passes[1].String(), migrate.PhaseRestartIRSA, w), map[bool]int{true: 1, false: 0}[rolledForward[w]]; n != want {
			t.Errorf("the rollback restarted %s %s/%s %d times, want %d (rolled by the forward restart: %t):\n%s", w.kind, w.namespace, w.name, n, want, rolledForward[w], passes[1].String())
		}
	}
	for workload, creds := range credentials() {
		for _, c := range creds {
			if c != migrate.CredentialsIRSA && c != migrate.CredentialsBoth {
				t.Errorf("a pod of %s carries %s after the rollback, want AWS_ROLE_ARN", workload, c)
			}
		}
	}

	// Forward again, SIGKILLed as soon as its restart phase has rolled a first workload (the
	// others may not be rolled yet), resumed and SIGKILLed in the last phase's up, and resumed.
	pass = 2
	kill(approve, regexp.MustCompile(`PHASE restart: \S+ workload \S+: restarted \(`), 0)
	out = killInRoleUpdate(approve, migrate.PhasePodIdentity)
	if strings.Contains(out, "identity bothUnannotated for") {
		t.Errorf("the migration resumed in restart wrote identity bothUnannotated again:\n%s", out)
	}
	out, doc, err = document(approve)
	if err != nil || !doc.Passed || doc.Rollback || len(doc.Plan.Accounts) != len(keys) {
		t.Fatalf("the resumed migration: %v, document %+v\n%s", err, doc, out)
	}
	for _, a := range doc.Plan.Accounts {
		if a.Next != migrate.PhaseDone {
			t.Errorf("the migration left %s at %s, want done", a.Account, a.Next)
		}
	}
	if !strings.Contains(out, "PHASE pod-identity: updating stack") {
		t.Errorf("the resumed migration did not run the last phase's up again:\n%s", out)
	}
	for _, again := range []string{"identity both for", "identity bothUnannotated for", "identity podIdentity for", "PHASE restart:"} {
		if strings.Contains(out, again) {
			t.Errorf("the resumed migration did %q again:\n%s", again, out)
		}
	}

	// Per account: each identity written once in each pass, each workload rolled once by the
	// last pass, and no roll anywhere that a line does not name.
	written := regexp.MustCompile(`PHASE \S+: identity (\S+) for \[([^]]*)\]`)
	for i, want := range [][]string{{"both", "bothUnannotated"}, {"both", "irsa"}, {"both", "bothUnannotated", "podIdentity"}} {
		count := map[string]int{}
		for _, m := range written.FindAllStringSubmatch(passes[i].String(), -1) {
			for _, key := range strings.Fields(m[2]) {
				count[key+" "+m[1]]++
			}
		}
		for _, key := range keys {
			for _, identity := range want {
				if n := count[key+" "+identity]; n != 1 {
					t.Errorf("pass %d wrote identity %s for %s %d times, want once:\n%s", i+1, identity, key, n, passes[i].String())
				}
			}
		}
	}
	for _, w := range workloads {
		if n := restarted(passes[2].String(), migrate.PhaseRestart, w); n != 1 {
			t.Errorf("the migration restarted %s/%s %d times, want once:\n%s", w.kind, w.name, n, passes[2].String())
		}
		// Created (1), rolled by the first pass's restart if it got to it before the kill (its
		// annotation, read then: a kill can come between a roll and its line), by the rollback
		// and by the last pass.
		rolls := int64(restarted(passes[1].String(), migrate.PhaseRestartIRSA, w) + restarted(passes[2].String(), migrate.PhaseRestart, w))
		if rolledForward[w] {
			rolls++
		}
		if generation, _ := workload(w); generation != 1+rolls {
			t.Errorf("%s %s/%s: generation %d after the migration, want %d (created, rolled %d times)", w.kind, w.namespace, w.name, generation, 1+rolls, rolls)
		}
	}
	got := credentials()
	for _, w := range workloads {
		creds := got[w.namespace+"/"+w.name]
		if len(creds) == 0 {
			t.Errorf("%s/%s has no pod after the migration", w.kind, w.name)
		}
		for _, c := range creds {
			if c != migrate.CredentialsPodIdentity {
				t.Errorf("a pod of %s/%s carries %s after the migration", w.kind, w.name, c)
			}
		}
	}
	// Each account's pods moved from IRSA's web identity to Pod Identity's agent, and held
	// credentials the whole time (every failure is an error of its own).
	sources := poller.stop()
	procs, cpu := poller.usage()
	t.Logf("credential poller: fetches by account and source %v; %d processes, %s CPU", sources, procs, cpu.Round(time.Millisecond))
	for _, key := range keys {
		if sources[key][webIdentitySource] == 0 || sources[key][containerSource] == 0 {
			t.Errorf("credential poller: %s's fetches by source %v, want both %s (IRSA) and %s (Pod Identity)", key, sources[key], webIdentitySource, containerSource)
		}
	}
	t.Logf("after the migration: %s resources unchanged", e.upChangesNothing("the up after the migration"))
	if out, err := e.eksirsa("drift"); err != nil {
		t.Errorf("drift after the migration: %v\n%s", err, out)
	}
}

// podIdentityResult is what the tests read of migrate pod-identity --approve --format json.
type podIdentityResult struct {
	Passed   bool                    `json:"passed"`
	Rollback bool                    `json:"rollback"`
	Plan     migrate.PodIdentityPlan `json:"plan"`
	Steps    []struct{ Status, Phase, Text string }
	Error    string `json:"error"`
}

// migratePodIdentityDocument runs migrate pod-identity with --format json and returns its
// steps as the text would print them ("STATUS phase: text"), and the document.
func (e *emulated) migratePodIdentityDocument(args ...string) (string, podIdentityResult, error) {
	e.t.Helper()
	out, err := e.eksirsa(append(args, "--format", "json")...)
	var doc podIdentityResult
	// The document is written last, after the progress on stderr (none when nothing was left).
	i := strings.Index("\n"+out, "\n{\n")
	if i < 0 {
		return out, doc, fmt.Errorf("no document after the progress (%v)", err)
	}
	rest := out[i:]
	if jerr := json.Unmarshal([]byte(rest[:strings.LastIndex(rest, "}")+1]), &doc); jerr != nil {
		return out, doc, fmt.Errorf("the document: %v (%v)", jerr, err)
	}
	var lines strings.Builder
	for _, s := range doc.Steps {
		fmt.Fprintf(&lines, "%s %s: %s\n", s.Status, s.Phase, s.Text)
	}
	return lines.String(), doc, err
}
