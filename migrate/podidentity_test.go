package migrate

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eks"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/eks-irsa/eks-irsa/integration/moto"
	"github.com/eks-irsa/eks-irsa/irsa"
	"github.com/eks-irsa/eks-irsa/k8s"
	"github.com/eks-irsa/eks-irsa/podidentity"
	"github.com/eks-irsa/eks-irsa/stack"
)

// podTrust is the least trust moto (as EKS) accepts for an association's role
// (integration/moto/eks_pod_identity.py).
const podTrust = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"pods.eks.amazonaws.com"},"Action":["sts:AssumeRole","sts:TagSession"]}]}`

// bothTrust is a role's trust under identity both: the OIDC statement beside Pod Identity's.
const bothTrust = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Federated":"arn:aws:iam::123456789012:oidc-provider/oidc.eks.us-west-2.amazonaws.com/id/X"},"Action":"sts:AssumeRoleWithWebIdentity"},` +
	`{"Effect":"Allow","Principal":{"Service":"pods.eks.amazonaws.com"},"Action":["sts:AssumeRole","sts:TagSession"]}]}`

// associate makes a Pod Identity role for ns/name and its association in moto's cluster demo.
func associate(t testing.TB, cfg aws.Config, ns, name string) {
	associateWith(t, cfg, ns, name, podTrust)
}

func associateWith(t testing.TB, cfg aws.Config, ns, name, trust string) {
	t.Helper()
	role := "pi-" + ns + "-" + name
	got, err := iam.NewFromConfig(cfg).CreateRole(t.Context(), &iam.CreateRoleInput{RoleName: aws.String(role), AssumeRolePolicyDocument: aws.String(trust)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := eks.NewFromConfig(cfg).CreatePodIdentityAssociation(t.Context(), &eks.CreatePodIdentityAssociationInput{
		ClusterName: aws.String("demo"), Namespace: aws.String(ns), ServiceAccount: aws.String(name), RoleArn: got.Role.Arn,
	}); err != nil {
		t.Fatal(err)
	}
}

func agentAddon(t testing.TB, cfg aws.Config) {
	t.Helper()
	c := eks.NewFromConfig(cfg)
	if _, err := c.CreateAddon(t.Context(), &eks.CreateAddonInput{ClusterName: aws.String("demo"), AddonName: aws.String(podidentity.AgentAddon)}); err != nil {
		t.Fatal(err)
	}
	if err := eks.NewAddonActiveWaiter(c).Wait(t.Context(), &eks.DescribeAddonInput{ClusterName: aws.String("demo"), AddonName: aws.String(podidentity.AgentAddon)}, time.Minute, func(o *eks.AddonActiveWaiterOptions) {
		o.MinDelay, o.MaxDelay = 100*time.Millisecond, time.Second
	}); err != nil {
		t.Fatal(err)
	}
}

func entry(ns, name string, identity stack.Identity, mode k8s.ServiceAccountMode) stack.ServiceAccountRoleConfig {
	return stack.ServiceAccountRoleConfig{Namespace: ns, ServiceAccount: name, Identity: identity, Account: mode, ManagedPolicyARNs: []string{"arn:aws:iam::aws:policy/ReadOnlyAccess"}}
}

func config(entries ...stack.ServiceAccountRoleConfig) *stack.Config {
	c := stack.Defaults()
	c.Region = "us-west-2"
	c.ServiceAccountRoles = entries
	return &c
}

func sa(ns, name, roleARN string) *corev1.ServiceAccount {
	sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}}
	if roleARN != "" {
		sa.Annotations = map[string]string{irsa.RoleARNAnnotation: roleARN}
	}
	return sa
}

func template(account string) corev1.PodTemplateSpec {
	return corev1.PodTemplateSpec{Spec: corev1.PodSpec{ServiceAccountName: account, Containers: []corev1.Container{{Name: "app", Image: "app"}}}}
}

func deployment(ns, name, account string) *appsv1.Deployment {
	return &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}, Spec: appsv1.DeploymentSpec{Template: template(account)}}
}

// pod is a running pod of Deployment owner (through its ReplicaSet, as the controller names
// them) with the variables the webhook set: irsa and/or pod identity.
func pod(ns, name, owner, account, node string, creds ...string) *corev1.Pod {
	var env []corev1.EnvVar
	for _, c := range creds {
		switch c {
		case "irsa":
			env = append(env, corev1.EnvVar{Name: irsa.EnvRoleARN, Value: "arn:aws:iam::123456789012:role/x"}, corev1.EnvVar{Name: irsa.EnvTokenFile, Value: irsa.TokenFile})
		case "pod-identity":
			env = append(env, corev1.EnvVar{Name: podidentity.EnvCredentialsFullURI, Value: "http://169.254.170.23/v1/credentials"},
				corev1.EnvVar{Name: podidentity.EnvAuthorizationTokenFile, Value: "/var/run/secrets/pods.eks.amazonaws.com/serviceaccount/eks-pod-identity-token"})
		}
	}
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, Labels: map[string]string{appsv1.DefaultDeploymentUniqueLabelKey: "5d8f"},
			OwnerReferences: []metav1.OwnerReference{{Kind: "ReplicaSet", Name: owner + "-5d8f"}}},
		Spec:   corev1.PodSpec{ServiceAccountName: account, NodeName: node, Containers: []corev1.Container{{Name: "app", Image: "app", Env: env}}},
		Status: corev1.PodStatus{Phase: corev1.PodRunning},
	}
}

func node(name string, labels map[string]string) *corev1.Node {
	return &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels}}
}

// Each state an account can be found in, read from moto's EKS and the cluster: the next phase
// follows from live state alone (an up that stopped leaves its phase unproven), each pod's
// credentials from the variables the webhook set, and what Pod Identity cannot serve blocks.
func TestPodIdentityPlanPhases(t *testing.T) {
	cfg := cluster(t)
	agentAddon(t, cfg)
	const arn = "arn:aws:iam::" + account + ":role/r"
	for _, a := range []string{"both-done", "unannotated", "restarting", "restarted", "rolling", "moved"} {
		associate(t, cfg, "apps", a)
	}
	associateWith(t, cfg, "apps", "moving", bothTrust)
	associate(t, cfg, "apps", "outputs-behind")
	associate(t, cfg, "apps", "rolled-back")
	kube := fake.NewClientset([]runtime.Object{
		node("ip-10-0-1-1", map[string]string{corev1.LabelOSStable: "linux"}),
		node("fargate-ip-10-0-2-2", map[string]string{corev1.LabelOSStable: "linux", "eks.amazonaws.com/compute-type": "fargate"}),
		sa("apps", "fresh", arn), deployment("apps", "fresh", "fresh"), pod("apps", "fresh-5d8f-a", "fresh", "fresh", "ip-10-0-1-1", "irsa"),
		sa("apps", "both-pending", arn),
		sa("apps", "both-done", arn),
		sa("apps", "unannotated", arn),
		sa("apps", "restarting", ""), deployment("apps", "restarting", "restarting"),
		pod("apps", "restarting-5d8f-a", "restarting", "restarting", "ip-10-0-1-1", "irsa", "pod-identity"),
		pod("apps", "restarting-5d8f-b", "restarting", "restarting", "ip-10-0-1-1", "pod-identity"),
		sa("apps", "restarted", ""), deployment("apps", "restarted", "restarted"),
		&batchv1.CronJob{ObjectMeta: metav1.ObjectMeta{Namespace: "apps", Name: "nightly"}, Spec: batchv1.CronJobSpec{JobTemplate: batchv1.JobTemplateSpec{Spec: batchv1.JobSpec{Template: template("restarted")}}}},
		pod("apps", "restarted-5d8f-a", "restarted", "restarted", "ip-10-0-1-1", "pod-identity"),
		// A StatefulSet between its old pod's deletion and its new pod's creation: no pod at all.
		sa("apps", "rolling", ""), &appsv1.StatefulSet{ObjectMeta: metav1.ObjectMeta{Namespace: "apps", Name: "rolling", Generation: 2},
			Spec:   appsv1.StatefulSetSpec{Replicas: aws.Int32(1), Template: template("rolling")},
			Status: appsv1.StatefulSetStatus{ObservedGeneration: 2, Replicas: 0, ReadyReplicas: 0}},
		sa("apps", "moved", ""), sa("apps", "moving", ""), sa("apps", "outputs-behind", ""),
		sa("apps", "on-fargate", arn), pod("apps", "on-fargate-5d8f-a", "on-fargate", "on-fargate", "fargate-ip-10-0-2-2", "irsa"),
		sa("apps", "windows", arn),
		&appsv1.DaemonSet{ObjectMeta: metav1.ObjectMeta{Namespace: "apps", Name: "win"}, Spec: appsv1.DaemonSetSpec{Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{
			ServiceAccountName: "windows", NodeSelector: map[string]string{corev1.LabelOSStable: "windows"}}}}},
		sa("apps", "external", ""),
		sa("apps", "rolled-back", arn),
	}...)
	conf := config(
		entry("apps", "fresh", "", k8s.AnnotateServiceAccount),
		entry("apps", "both-pending", stack.IdentityBoth, k8s.AnnotateServiceAccount),
		entry("apps", "both-done", stack.IdentityBoth, k8s.CreateServiceAccount),
		entry("apps", "unannotated", stack.IdentityBothUnannotated, k8s.AnnotateServiceAccount),
		entry("apps", "restarting", stack.IdentityBothUnannotated, k8s.AnnotateServiceAccount),
		entry("apps", "restarted", stack.IdentityBothUnannotated, k8s.AnnotateServiceAccount),
		entry("apps", "rolling", stack.IdentityBothUnannotated, k8s.AnnotateServiceAccount),
		entry("apps", "moved", stack.IdentityPodIdentity, k8s.AnnotateServiceAccount),
		entry("apps", "moving", stack.IdentityPodIdentity, k8s.AnnotateServiceAccount),
		entry("apps", "outputs-behind", stack.IdentityPodIdentity, k8s.AnnotateServiceAccount),
		entry("apps", "on-fargate", stack.IdentityIRSA, k8s.AnnotateServiceAccount),
		entry("apps", "windows", stack.IdentityIRSA, k8s.AnnotateServiceAccount),
		entry("apps", "external", stack.IdentityIRSA, k8s.NoServiceAccount),
		entry("apps", "rolled-back", stack.IdentityIRSA, k8s.AnnotateServiceAccount),
	)
	p, err := ReadPodIdentity(t.Context(), PodIdentityInput{Kube: kube, AWS: cfg, Cluster: "demo", Config: conf, IRSARoles: map[string]bool{"apps/outputs-behind": true, "apps/restarted": true},
		Associated: map[string]bool{"apps/rolled-back": true, "apps/moved": true}})
	if err != nil {
		t.Fatal(err)
	}
	if p.Agent != "ACTIVE" || p.AgentProblem != "" {
		t.Errorf("agent %q (%s), want ACTIVE", p.Agent, p.AgentProblem)
	}
	want := map[string]Phase{
		"apps/fresh":          PhaseTrustBoth,
		"apps/both-pending":   PhaseTrustBoth,   // no association yet: the up did not finish
		"apps/both-done":      PhaseUnannotate,  // association live, agent ACTIVE
		"apps/unannotated":    PhaseUnannotate,  // the annotation is still live
		"apps/restarting":     PhaseRestart,     // a pod still carries AWS_ROLE_ARN
		"apps/restarted":      PhasePodIdentity, // every pod on Pod Identity
		"apps/rolling":        PhaseRestart,     // no pod left on IRSA, but its StatefulSet's new pod not yet made
		"apps/moved":          PhaseDone,
		"apps/moving":         PhasePodIdentity, // its up did not finish: the role still trusts the OIDC provider
		"apps/outputs-behind": PhasePodIdentity, // IAM changed, the up killed before its outputs
		"apps/on-fargate":     PhaseBlocked,
		"apps/windows":        PhaseBlocked,
		"apps/external":       PhaseBlocked,
		"apps/rolled-back":    PhaseTrustBoth, // forward: an irsa account starts again
	}
	var lines []string
	for _, a := range p.Accounts {
		lines = append(lines, a.Line())
		if a.Next != want[a.Account] {
			t.Errorf("%s: next %s, want %s (%+v)", a.Account, a.Next, want[a.Account], a)
		}
	}
	// A rollback's irsa phase killed in its up: identity irsa written, the association still in
	// the last completed update's outputs, so the rollback runs that up again.
	for _, a := range p.Accounts {
		wantBack := map[string]Phase{"apps/rolled-back": PhaseIRSA, "apps/fresh": PhaseDone}[a.Account]
		if got := a.RollbackNext(); wantBack != "" && got != wantBack {
			t.Errorf("%s: rollback next %s, want %s (%+v)", a.Account, got, wantBack, a)
		}
	}
	got := strings.Join(lines, "\n")
	t.Logf("plan:\n%s", got)
	for _, line := range []string{
		"account apps/fresh: identity irsa, next trust-both; annotated " + arn + "; no association\n  workload Deployment/fresh\n  pod fresh-5d8f-a (Deployment/fresh): irsa",
		"pod restarting-5d8f-a (Deployment/restarting): irsa+pod-identity",
		"pod restarting-5d8f-b (Deployment/restarting): pod-identity",
		"workload Deployment/restarted\n  workload CronJob/nightly",
		"workload StatefulSet/rolling: rolling out (0 of 1 pods ready)",
		"blocked: pod on-fargate-5d8f-a: on Fargate, which Pod Identity does not serve (pod-id-restrictions)",
		"blocked: DaemonSet/win: asks for Windows nodes",
		"blocked: account: none: the annotation is not the stack's to remove",
	} {
		if !strings.Contains(got, line) {
			t.Errorf("the plan has no %q", line)
		}
	}

	// Named accounts only; one the stack does not declare, and aws-node, are blocked by the
	// configuration's own rules.
	p, err = ReadPodIdentity(t.Context(), PodIdentityInput{Kube: kube, AWS: cfg, Cluster: "demo", Config: conf, Accounts: []string{"apps/fresh", "kube-system/aws-node", "apps/other"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Accounts) != 3 || p.Accounts[0].Next != PhaseTrustBoth {
		t.Fatalf("accounts %+v, want the three named, apps/fresh first", p.Accounts)
	}
	if b := strings.Join(p.Accounts[1].Blockers, "; "); p.Accounts[1].Next != PhaseBlocked || !strings.Contains(b, "the VPC CNI (kube-system/aws-node) stays on IRSA") {
		t.Errorf("kube-system/aws-node: next %s, blockers %q, want the CNI's refusal", p.Accounts[1].Next, b)
	}
	if b := strings.Join(p.Accounts[2].Blockers, "; "); !strings.Contains(b, "not a serviceAccountRoles entry") {
		t.Errorf("apps/other: blockers %q", b)
	}
	if _, err := ReadPodIdentity(t.Context(), PodIdentityInput{Kube: kube, AWS: cfg, Cluster: "demo", Config: conf, Accounts: []string{"fresh"}}); err == nil || !strings.Contains(err.Error(), `account "fresh": want namespace/name`) {
		t.Errorf("account without namespace: %v", err)
	}

	// The last update unfinished (pending operations or a dead process's lock), with outputs
	// that no longer show it: a rollback's irsa up SIGKILLed while its roles' trust updates were
	// in flight left them without the associations (TestEmulatedAPIModeAccessEntries,
	// 2026-12-07). Neither the podIdentity nor the irsa account is done: each phase's up runs
	// again.
	p, err = ReadPodIdentity(t.Context(), PodIdentityInput{Kube: kube, AWS: cfg, Cluster: "demo", Config: conf,
		Accounts: []string{"apps/moved", "apps/rolled-back"}, Interrupted: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Accounts) != 2 || p.Accounts[0].Next != PhasePodIdentity || p.Accounts[1].RollbackNext() != PhaseIRSA {
		t.Errorf("with the last update interrupted: %+v, want apps/moved at pod-identity and apps/rolled-back's rollback at irsa", p.Accounts)
	}
}

// The plan of 200 accounts, each with a Deployment and a pod, in 10 namespaces, all with an
// association, against moto, in under 5 s: AWS calls are one DescribeAddon, one
// ListPodIdentityAssociations page and one Describe per association; Kubernetes calls seven
// lists per namespace and one of nodes, whatever the number of accounts.
func TestPodIdentityPlanOf200Accounts(t *testing.T) {
	const n, namespaces = 200, 10
	cfg := cluster(t)
	agentAddon(t, cfg)
	var objs []runtime.Object
	var entries []stack.ServiceAccountRoleConfig
	objs = append(objs, node("ip-10-0-1-1", nil))
	for i := range n {
		ns, name := fmt.Sprintf("team-%02d", i%namespaces), fmt.Sprintf("app-%03d", i)
		associate(t, cfg, ns, name)
		entries = append(entries, entry(ns, name, stack.IdentityBoth, k8s.AnnotateServiceAccount))
		objs = append(objs, sa(ns, name, "arn:aws:iam::"+account+":role/"+name), deployment(ns, name, name),
			pod(ns, name+"-5d8f-a", name, name, "ip-10-0-1-1", "irsa", "pod-identity"))
	}
	calls := moto.CountCalls(&cfg)
	kube := fake.NewClientset(objs...)
	start := time.Now()
	p, err := ReadPodIdentity(t.Context(), PodIdentityInput{Kube: kube, AWS: cfg, Cluster: "demo", Config: config(entries...)})
	elapsed := time.Since(start)
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range p.Accounts {
		if a.Next != PhaseUnannotate || len(a.Workloads) != 1 || len(a.Pods) != 1 || a.Pods[0].Credentials != CredentialsBoth {
			t.Fatalf("%s: %+v, want next unannotate with its Deployment and pod", a.Account, a)
		}
	}
	byOp := calls.ByOperation()
	kubeCalls := 0
	for api, c := range p.Calls {
		if strings.HasPrefix(api, "kube:") {
			kubeCalls += c
		}
	}
	t.Logf("%d accounts in %s; AWS calls %v; the plan's count %v", n, elapsed.Round(time.Millisecond), byOp, p.Calls)
	// ListPodIdentityAssociations answers 100 a page (moto, as EKS's maxResults default).
	pages := byOp["EKS ListPodIdentityAssociations"]
	if len(p.Accounts) != n || byOp["EKS DescribeAddon"] != 1 || pages != n/100 || byOp["EKS DescribePodIdentityAssociation"] != n || calls.Total() != n+1+pages {
		t.Errorf("%d accounts, AWS calls %v: want %d accounts, one DescribeAddon, %d ListPodIdentityAssociations pages, %d Describe", len(p.Accounts), byOp, n, n/100, n)
	}
	if p.Calls["eks:ListPodIdentityAssociations"] != pages || p.Calls["eks:DescribePodIdentityAssociation"] != n || p.Calls["eks:DescribeAddon"] != 1 {
		t.Errorf("the plan counted %v, moto saw %v", p.Calls, byOp)
	}
	if kubeCalls != 7*namespaces+1 || len(kube.Actions()) != kubeCalls {
		t.Errorf("%d Kubernetes calls counted, %d made, want %d (seven lists per namespace, one of nodes)", kubeCalls, len(kube.Actions()), 7*namespaces+1)
	}
	if elapsed > 5*time.Second {
		t.Errorf("the plan of %d accounts took %s, want under 5 s", n, elapsed)
	}
}

// The rollback's phases from live state: the annotation first, then the pods back on
// AWS_ROLE_ARN, only then irsa (the association and the Pod Identity statement go); an
// account whose OIDC statement is gone is not rolled back by this command.
func TestPodIdentityRollbackNext(t *testing.T) {
	pods := func(creds ...Credentials) []Pod {
		var out []Pod
		for i, c := range creds {
			out = append(out, Pod{Name: fmt.Sprint("p", i), Credentials: c})
		}
		return out
	}
	for _, c := range []struct {
		name string
		a    AccountPlan
		want Phase
	}{
		{"middle state", AccountPlan{Identity: stack.IdentityBothUnannotated, Pods: pods(CredentialsPodIdentity)}, PhaseAnnotate},
		{"both, up not finished", AccountPlan{Identity: stack.IdentityBoth, Pods: pods(CredentialsPodIdentity)}, PhaseAnnotate},
		{"annotated, a pod on Pod Identity", AccountPlan{Identity: stack.IdentityBoth, Annotation: "r", Pods: pods(CredentialsBoth, CredentialsPodIdentity)}, PhaseRestartIRSA},
		{"annotated, a pod with nothing", AccountPlan{Identity: stack.IdentityBoth, Annotation: "r", Pods: pods(CredentialsNone)}, PhaseRestartIRSA},
		{"every pod on IRSA", AccountPlan{Identity: stack.IdentityBoth, Annotation: "r", Pods: pods(CredentialsBoth, CredentialsIRSA)}, PhaseIRSA},
		{"every pod on IRSA, a workload rolling out", AccountPlan{Identity: stack.IdentityBoth, Annotation: "r", Pods: pods(CredentialsIRSA),
			Workloads: []Workload{{Kind: "DaemonSet", Name: "d", RollingOut: "0 of 1 new pods updated"}}}, PhaseRestartIRSA},
		{"back", AccountPlan{Identity: stack.IdentityIRSA, Annotation: "r"}, PhaseDone},
		{"irsa written, its up killed", AccountPlan{Identity: stack.IdentityIRSA, Annotation: "r", AssociationID: "a-1", UpPending: true}, PhaseIRSA},
		{"OIDC statement gone", AccountPlan{Identity: stack.IdentityPodIdentity}, PhaseBlocked},
	} {
		if got := c.a.RollbackNext(); got != c.want {
			t.Errorf("%s: %s, want %s", c.name, got, c.want)
		}
	}
}

// A rerun of the restart phase after an interruption finds the workloads whose template has
// the value already and writes nothing to them: one patch, for the workload not yet restarted.
func TestRestartSkipsWhatIsRestarted(t *testing.T) {
	const at = "2026-12-07T05:00:00Z"
	done := deployment("apps", "done", "web")
	done.Spec.Template.Annotations = map[string]string{RestartedAtAnnotation: at}
	kube := fake.NewClientset(done, deployment("apps", "next", "web"))
	a := AccountPlan{Account: "apps/web", Workloads: []Workload{{Kind: "Deployment", Name: "done", RestartedAt: at}, {Kind: "Deployment", Name: "next"}}}
	lines, err := Restart(t.Context(), kube, a, at)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"workload Deployment/done: restarted already (" + RestartedAtAnnotation + "=" + at + ")",
		"workload Deployment/next: restarted (" + RestartedAtAnnotation + "=" + at + ")",
	}
	if strings.Join(lines, "\n") != strings.Join(want, "\n") {
		t.Errorf("lines %q, want %q", lines, want)
	}
	var patched []string
	for _, act := range kube.Actions() {
		if act.GetVerb() == "patch" {
			patched = append(patched, act.(interface{ GetName() string }).GetName())
		}
	}
	if strings.Join(patched, ",") != "next" {
		t.Errorf("patched %q, want only next", patched)
	}
}
