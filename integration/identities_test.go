package integration

import (
	"encoding/json"
	"errors"
	"net/url"
	"os/exec"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/eks-irsa/eks-irsa/identity"
	"github.com/eks-irsa/eks-irsa/integration/moto"
	"github.com/eks-irsa/eks-irsa/irsa"
	"github.com/eks-irsa/eks-irsa/k8s"
)

// exitCode is the process's exit code: 0 without error, -1 when it did not exit on its own.
func exitCode(err error) int {
	var exit *exec.ExitError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &exit):
		return exit.ExitCode()
	}
	return -1
}

// jsonAfter decodes the JSON document a command printed after its progress lines.
func jsonAfter(t testing.TB, out string, v any) {
	t.Helper()
	i := strings.Index(out, "{")
	if i < 0 {
		t.Fatalf("no JSON in:\n%s", out)
	}
	if err := json.NewDecoder(strings.NewReader(out[i:])).Decode(v); err != nil {
		t.Fatalf("decode JSON: %v\n%s", err, out)
	}
}

// stackOutputs is what the tests read of `eksirsa outputs --json`.
type stackOutputs struct {
	Issuer      string `json:"oidcIssuer"`
	ProviderARN string `json:"oidcProviderArn"`
	Roles       map[string]struct {
		RoleARN string `json:"roleArn"`
	} `json:"irsaRoles"`
}

// outputs runs `eksirsa outputs --json` and decodes what it printed.
func (e *emulated) outputs() stackOutputs {
	e.t.Helper()
	out, err := e.eksirsa("outputs", "--json")
	if err != nil {
		e.t.Fatal(err)
	}
	var outs stackOutputs
	jsonAfter(e.t, out, &outs)
	return outs
}

type identityReport struct {
	Passed     bool `json:"passed"`
	Identities []struct {
		Account        string            `json:"account"`
		Identity       string            `json:"identity"`
		RoleARN        string            `json:"roleArn"`
		AssociationID  string            `json:"associationId"`
		SessionTags    map[string]string `json:"sessionTags"`
		Passed         bool              `json:"passed"`
		Token          identity.Claims   `json:"token"`
		AssumedRoleARN string            `json:"assumedRoleArn"`
		Foreign        string            `json:"foreignAccount"`
		ForeignRefused string            `json:"foreignRefused"`
		Step           string            `json:"step"`
		Failure        string            `json:"failure"`
	} `json:"identities"`
}

type driftReport struct {
	Drifted  bool `json:"drifted"`
	Findings []struct {
		Check   string `json:"check"`
		Subject string `json:"subject"`
		Detail  string `json:"detail"`
		Repair  string `json:"repair"`
	} `json:"findings"`
}

// TestEmulatedIdentitiesAndDrift proves every identity of the real program on moto and the
// loopback cluster (whose apiserver issues real tokens from its own issuer), then breaks three
// of them by hand as users do and checks that drift names each, that verify --identities
// catches the trust policy that now admits another account, and that `up --refresh` repairs
// what the stack owns.
//
// The stack lives in a second account, reached through aws:assumeRole as a multi-account
// setup deploys: the provider creates everything there and nothing in the creator's account,
// the kubeconfig's `aws eks get-token --role-arn` is admitted as the cluster's creator, drift
// and verify --identities read the second account (awsaccess), and destroy leaves nothing in
// either.
//
// eksirsa takes no emulator's STS as proof (moto's refuses another account's token as STS
// does, integration/moto/sts_web_identity.py, but eksirsa cannot tell that from the endpoint),
// so its refusal of another account's token rests on the trust policy; the test also asserts it
// structurally: each role's trust policy, read back from moto's IAM, admits exactly its own
// account's sub and aud claims, as found in the token the apiserver issued, and no other
// account's. The live tier shows the real AccessDenied.
func TestEmulatedIdentitiesAndDrift(t *testing.T) {
	t.Parallel() // see startEmulated
	e := startEmulatedWith(t, emuOptions{assumeRole: true})
	ctx := t.Context()
	if _, err := e.eksirsa("up", "--yes", "--verify-wait", "3m"); err != nil {
		t.Fatalf("eksirsa up: %v", err)
	}
	// Everything the stack made is in the role's account, nothing in the creator's.
	stackAccount, err := moto.LeftoversAs(ctx, e.aws)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"eks-cluster " + e.name, "iam-role " + e.name + "-aws-node", "iam-role " + e.nodeRole, "vpc "} {
		if !slices.ContainsFunc(stackAccount, func(s string) bool { return strings.HasPrefix(s, want) }) {
			t.Errorf("no %q in the stack's account %s after up:\n  %s", want, emuStackAccount, strings.Join(stackAccount, "\n  "))
		}
	}
	if left, err := e.moto.Leftovers(ctx); err != nil || len(left) > 0 {
		t.Errorf("up made %d resources in the creator's account (%v):\n  %s", len(left), err, strings.Join(left, "\n  "))
	}
	kubeconfig, err := e.eksirsa("kubeconfig")
	if err != nil || !strings.Contains(kubeconfig, emuDeployerRole) {
		t.Errorf("the kubeconfig does not get its token as %s (%v):\n%s", emuDeployerRole, err, kubeconfig)
	}
	outs := e.outputs()
	if outs.Issuer != e.cluster.ServiceAccountIssuer {
		t.Fatalf("oidcIssuer output is %q, want the apiserver's issuer %q", outs.Issuer, e.cluster.ServiceAccountIssuer)
	}

	// Every identity is proven with a real token.
	out, err := e.eksirsa("verify", "--identities", "--format", "json")
	if err != nil {
		t.Fatalf("verify --identities: %v", err)
	}
	var proof identityReport
	jsonAfter(t, out, &proof)
	if !proof.Passed || len(proof.Identities) != len(outs.Roles) {
		t.Fatalf("verify --identities proved %d identities (passed %v), want all %d roles:\n%s", len(proof.Identities), proof.Passed, len(outs.Roles), out)
	}
	if got := proof.Identities[0].Account; got != "kube-system/aws-node" {
		t.Errorf("first identity is %s, want aws-node first", got)
	}
	iamClient := iam.NewFromConfig(e.aws)
	subjects := map[string]identity.Claims{}
	for _, id := range proof.Identities {
		ns, name, _ := strings.Cut(id.Account, "/")
		role := strings.TrimPrefix(id.RoleARN[strings.LastIndex(id.RoleARN, ":"):], ":role/")
		switch {
		case !id.Passed:
			t.Errorf("%s failed at %s: %s", id.Account, id.Step, id.Failure)
		case id.Token.Issuer != e.cluster.ServiceAccountIssuer || id.Token.Subject != irsa.Subject(ns, name) || !slices.Equal(id.Token.Audience, []string{irsa.Audience}):
			t.Errorf("%s's token claims are %+v", id.Account, id.Token)
		case !strings.Contains(id.AssumedRoleARN, ":assumed-role/"+role+"/"):
			t.Errorf("%s: STS said %s, want a session of %s", id.Account, id.AssumedRoleARN, role)
		case !strings.Contains(id.ForeignRefused, "refused by the trust policy") || !strings.Contains(id.ForeignRefused, "the STS half is not proven: aws:endpoints sends STS to "+e.moto.URL):
			// moto's STS refuses the foreign token (AccessDenied), which eksirsa does not
			// count: the endpoint is not AWS's.
			t.Errorf("%s: another account's token: %q", id.Account, id.ForeignRefused)
		}
		if !strings.Contains(id.RoleARN, ":"+emuStackAccount+":role/") {
			t.Errorf("%s's role %s is not in the stack's account %s", id.Account, id.RoleARN, emuStackAccount)
		}
		if want := outs.Roles[id.Account].RoleARN; id.RoleARN != want {
			t.Errorf("%s was proven against %s, the stack's role is %s", id.Account, id.RoleARN, want)
		}
		subjects[id.Account] = id.Token
	}
	// The structural refusal, independently of the command: each role's trust policy in
	// moto admits its own account's token and no other's.
	for account, r := range outs.Roles {
		got, err := iamClient.GetRole(ctx, &iam.GetRoleInput{RoleName: aws.String(r.RoleARN[strings.LastIndex(r.RoleARN, "/")+1:])})
		if err != nil {
			t.Fatal(err)
		}
		policy, err := identity.ParseTrustPolicy(aws.ToString(got.Role.AssumeRolePolicyDocument))
		if err != nil {
			t.Fatal(err)
		}
		for other, claims := range subjects {
			want := identity.Refused
			if other == account {
				want = identity.Admitted
			}
			if d := policy.Admits(outs.ProviderARN, claims); d.Verdict != want {
				t.Errorf("%s's trust policy and %s's token: %v (%s), want %v", account, other, d.Verdict, d.Reason, want)
			}
		}
	}

	out, err = e.eksirsa("drift")
	if err != nil {
		t.Fatalf("drift after up: exit %d: %v\n%s", exitCode(err), err, out)
	}
	if !strings.Contains(out, "No drift") {
		t.Errorf("drift after up:\n%s", out)
	}

	// By hand, as users do: widen a trust policy to the whole namespace, remove an
	// annotation, and map an admin role in aws-auth with kubectl edit.
	autoscaler := outs.Roles["kube-system/cluster-autoscaler"].RoleARN
	autoscalerRole := autoscaler[strings.LastIndex(autoscaler, "/")+1:]
	got, err := iamClient.GetRole(ctx, &iam.GetRoleInput{RoleName: aws.String(autoscalerRole)})
	if err != nil {
		t.Fatal(err)
	}
	doc, err := url.QueryUnescape(aws.ToString(got.Role.AssumeRolePolicyDocument))
	if err != nil {
		t.Fatal(err)
	}
	widened := strings.Replace(strings.Replace(doc, "StringEquals", "StringLike", 1), irsa.Subject("kube-system", "cluster-autoscaler"), irsa.Subject("kube-system", "*"), 1)
	if widened == doc {
		t.Fatalf("could not widen the trust policy:\n%s", doc)
	}
	if _, err := iamClient.UpdateAssumeRolePolicy(ctx, &iam.UpdateAssumeRolePolicyInput{RoleName: aws.String(autoscalerRole), PolicyDocument: aws.String(widened)}); err != nil {
		t.Fatal(err)
	}
	patch := `{"metadata":{"annotations":{"` + irsa.RoleARNAnnotation + `":null}}}`
	if _, err := e.cluster.Client.CoreV1().ServiceAccounts("default").Patch(ctx, "external-secrets", types.MergePatchType, []byte(patch), metav1.PatchOptions{FieldManager: "kubectl-annotate"}); err != nil {
		t.Fatal(err)
	}
	const admin = "arn:aws:iam::123456789012:role/hand-added-admin"
	cm, err := e.cluster.Client.CoreV1().ConfigMaps(k8s.KubeSystemNamespace).Get(ctx, k8s.AWSAuthName, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	cm.Data[k8s.MapRolesKey] += "- rolearn: " + admin + "\n  username: admin\n  groups:\n    - system:masters\n"
	if _, err := e.cluster.Client.CoreV1().ConfigMaps(k8s.KubeSystemNamespace).Update(ctx, cm, metav1.UpdateOptions{FieldManager: "kubectl-edit"}); err != nil {
		t.Fatal(err)
	}

	out, err = e.eksirsa("drift")
	if code := exitCode(err); code != 3 || !strings.Contains(out, "DRIFT trust-policy kube-system/cluster-autoscaler") || !strings.Contains(out, "3 findings") {
		t.Errorf("drift after the hand edits: exit %d, want 3 with a DRIFT line per edit:\n%s", code, out)
	}
	out, err = e.eksirsa("drift", "--format", "json")
	if code := exitCode(err); code != 3 {
		t.Fatalf("drift after the hand edits: exit %d (%v), want 3:\n%s", code, err, out)
	}
	var report driftReport
	jsonAfter(t, out, &report)
	want := map[string]string{
		"trust-policy":     "kube-system/cluster-autoscaler (role " + autoscalerRole + ")",
		"annotation":       "default/external-secrets",
		"aws-auth-foreign": admin,
	}
	for _, f := range report.Findings {
		if want[f.Check] == f.Subject {
			delete(want, f.Check)
			if f.Check == "trust-policy" && (!strings.Contains(f.Detail, "and it admits the tokens of") || !strings.Contains(f.Detail, "kube-system/aws-node")) {
				t.Errorf("the widened trust policy's finding does not say whom else it admits: %s", f.Detail)
			}
			if f.Repair == "" {
				t.Errorf("finding %s %s has no repair", f.Check, f.Subject)
			}
			continue
		}
		t.Errorf("unexpected finding %s %s: %s", f.Check, f.Subject, f.Detail)
	}
	for check, subject := range want {
		t.Errorf("drift did not report %s of %s:\n%s", check, subject, out)
	}

	// The widened trust policy admits aws-node's token: verify --identities fails there.
	out, err = e.eksirsa("verify", "--identities", "--format", "json")
	if err == nil {
		t.Fatalf("verify --identities passed with a trust policy that admits another account:\n%s", out)
	}
	proof = identityReport{}
	jsonAfter(t, out, &proof)
	caught := false
	for _, id := range proof.Identities {
		if id.Account == "kube-system/cluster-autoscaler" {
			caught = !id.Passed && id.Step == identity.StepForeign && strings.Contains(id.Failure, "kube-system/aws-node")
			if !caught {
				t.Errorf("cluster-autoscaler: passed %v at step %q: %s", id.Passed, id.Step, id.Failure)
			}
		}
	}
	if !caught {
		t.Errorf("verify --identities did not prove cluster-autoscaler's identity (the removed annotation fails a cluster check, which must not hide it):\n%s", out)
	}

	// drift's repair: up --refresh reads the live state, so the update puts back the trust
	// policy and the annotation, and rewrites aws-auth as declared. Measured: the mapping
	// added with kubectl edit goes too (drift's hint says to declare it first to keep it);
	// nothing else changes (the ASG's computed launch-template name is not a diff).
	out, err = e.eksirsa("up", "--yes", "--refresh", "--verify-wait", "3m")
	if err != nil {
		t.Fatalf("up --refresh: %v", err)
	}
	if !strings.Contains(out, "PASS identity kube-system/cluster-autoscaler") {
		t.Errorf("up --refresh's verify did not prove cluster-autoscaler again:\n%s", out)
	}
	out, err = e.eksirsa("drift")
	if err != nil || !strings.Contains(out, "No drift") {
		t.Errorf("drift after up --refresh: exit %d:\n%s", exitCode(err), out)
	}
	cm, err = e.cluster.Client.CoreV1().ConfigMaps(k8s.KubeSystemNamespace).Get(ctx, k8s.AWSAuthName, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(cm.Data[k8s.MapRolesKey], admin) {
		t.Errorf("up --refresh kept the undeclared mapping; drift's hint says it removes it:\n%s", cm.Data[k8s.MapRolesKey])
	}

	e.destroyLeavesNothing()
}
