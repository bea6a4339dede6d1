package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/auto"
	"github.com/pulumi/pulumi/sdk/v3/go/auto/optdestroy"
	"github.com/pulumi/pulumi/sdk/v3/go/auto/optimport"
	"github.com/pulumi/pulumi/sdk/v3/go/auto/optpreview"
	"github.com/pulumi/pulumi/sdk/v3/go/auto/optrefresh"
	"github.com/pulumi/pulumi/sdk/v3/go/auto/optup"
	"github.com/pulumi/pulumi/sdk/v3/go/common/apitype"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/common/tokens"
	appsv1 "k8s.io/api/apps/v1"
	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"

	"github.com/eks-irsa/eks-irsa/irsa"
	"github.com/eks-irsa/eks-irsa/k8s"
	"github.com/eks-irsa/eks-irsa/stack"
	"github.com/eks-irsa/eks-irsa/verify"
)

// fakeStack records the Automation API calls a command makes.
type fakeStack struct {
	outputs auto.OutputMap
	// state is the exported deployment (pending operations live there).
	state json.RawMessage
	calls []string
	// clearedPendingCreates records whether a refresh asked to clear pending creates.
	clearedPendingCreates bool
	// upErr is what Up fails with, if anything.
	upErr error
	// beforeDestroy, if set, runs when Destroy is called (to look at the cluster then).
	beforeDestroy func()
	// importErrs fails every import of a type with its error.
	importErrs map[string]error
	// importRuns counts ImportResources calls (each a `pulumi import` of its own).
	importRuns int
}

func (f *fakeStack) Export(context.Context) (apitype.UntypedDeployment, error) {
	f.calls = append(f.calls, "export")
	return apitype.UntypedDeployment{Version: 3, Deployment: f.state}, nil
}

func (f *fakeStack) Preview(context.Context, ...optpreview.Option) (auto.PreviewResult, error) {
	f.calls = append(f.calls, "preview")
	return auto.PreviewResult{}, nil
}

func (f *fakeStack) Up(context.Context, ...optup.Option) (auto.UpResult, error) {
	f.calls = append(f.calls, "up")
	if f.upErr != nil {
		return auto.UpResult{}, f.upErr
	}
	return auto.UpResult{Outputs: f.outputs}, nil
}

func (f *fakeStack) Refresh(_ context.Context, opts ...optrefresh.Option) (auto.RefreshResult, error) {
	f.calls = append(f.calls, "refresh")
	var o optrefresh.Options
	for _, opt := range opts {
		opt.ApplyOption(&o)
	}
	f.clearedPendingCreates = o.ClearPendingCreates
	if o.ClearPendingCreates && len(f.state) > 0 {
		// As the CLI does: the pending operations are gone from the state.
		var dep map[string]any
		if err := json.Unmarshal(f.state, &dep); err != nil {
			return auto.RefreshResult{}, err
		}
		delete(dep, "pending_operations")
		f.state, _ = json.Marshal(dep)
	}
	return auto.RefreshResult{}, nil
}

func (f *fakeStack) Destroy(context.Context, ...optdestroy.Option) (auto.DestroyResult, error) {
	f.calls = append(f.calls, "destroy")
	if f.beforeDestroy != nil {
		f.beforeDestroy()
	}
	return auto.DestroyResult{}, nil
}

func (f *fakeStack) Outputs(context.Context) (auto.OutputMap, error) {
	f.calls = append(f.calls, "outputs")
	return f.outputs, nil
}

// ImportResources records each import as "import <type> <name> <id>" and, as the engine
// saves each step, puts each resource imported before the first failure in the state.
func (f *fakeStack) ImportResources(_ context.Context, opts ...optimport.Option) (auto.ImportResult, error) {
	f.importRuns++
	var o optimport.Options
	for _, opt := range opts {
		opt.ApplyOption(&o)
	}
	var dep apitype.DeploymentV3
	if len(f.state) > 0 {
		if err := json.Unmarshal(f.state, &dep); err != nil {
			return auto.ImportResult{}, err
		}
	}
	defer func() { f.state, _ = json.Marshal(dep) }()
	for _, r := range o.Resources {
		f.calls = append(f.calls, "import "+r.Type+" "+r.Name+" "+r.ID)
		if err := f.importErrs[r.Type]; err != nil {
			return auto.ImportResult{}, err
		}
		parentType := tokens.Type(resource.RootStackType)
		if parent := o.NameTable[r.Parent]; parent != "" {
			parentType = resource.URN(parent).QualifiedType()
		}
		urn := resource.NewURN("test", "eks-irsa", parentType, tokens.Type(r.Type), r.Name)
		dep.Resources = append(dep.Resources, apitype.ResourceV3{URN: urn, Type: tokens.Type(r.Type), ID: resource.ID(r.ID), Custom: true})
	}
	return auto.ImportResult{}, nil
}

func (f *fakeStack) SetAllConfigJson(_ context.Context, configJSON string, _ *auto.ConfigOptions) error {
	f.calls = append(f.calls, "config set-all "+configJSON)
	return nil
}

func (f *fakeStack) Cancel(context.Context) error {
	f.calls = append(f.calls, "cancel")
	return nil
}

const (
	testAccount    = "123456789012"
	testKubeconfig = "apiVersion: v1\nkind: Config\nclusters: []\n"
)

func roleARN(name string) string {
	return "arn:aws:iam::" + testAccount + ":role/demo-eks-oidc-test-" + name
}

// testStackOutputs are the outputs of the test stack after `up`, as the Automation API
// decodes them (JSON numbers are float64).
func testStackOutputs() auto.OutputMap {
	return auto.OutputMap{
		stack.OutClusterName:    {Value: "demo-eks-oidc-test"},
		stack.OutKubeconfig:     {Value: testKubeconfig, Secret: true},
		stack.OutDesiredNodes:   {Value: float64(4)},
		stack.OutMinNodes:       {Value: float64(1)},
		stack.OutMaxNodes:       {Value: float64(6)},
		stack.OutAWSNodeRoleARN: {Value: roleARN("aws-node")},
		stack.OutServiceAccountRoles: {Value: map[string]any{
			"kube-system/aws-node":                     roleARN("aws-node"),
			"kube-system/aws-load-balancer-controller": roleARN("aws-load-balancer-controller"),
			"kube-system/cluster-autoscaler":           roleARN("cluster-autoscaler"),
			"default/external-secrets":                 roleARN("external-secrets"),
		}},
		stack.OutServiceAccounts: {Value: map[string]any{
			"kube-system/aws-node":                     boundAccount("aws-node", k8s.AnnotateServiceAccount),
			"kube-system/aws-load-balancer-controller": boundAccount("aws-load-balancer-controller", k8s.CreateServiceAccount),
			"kube-system/cluster-autoscaler":           boundAccount("cluster-autoscaler", k8s.CreateServiceAccount),
			"default/external-secrets":                 boundAccount("external-secrets", k8s.CreateServiceAccount),
		}},
	}
}

// boundAccount is one entry of the serviceAccounts output as the Automation API decodes it.
func boundAccount(name string, mode k8s.ServiceAccountMode) map[string]any {
	return map[string]any{k8s.AccountRoleARNKey: roleARN(name), k8s.AccountModeKey: string(mode)}
}

// cli runs the command line against fakes: the stack, for verify and destroy a fake
// clientset, for destroy's log group check fake CloudWatch Logs.
type cli struct {
	stack      *fakeStack
	client     kubernetes.Interface
	dyn        dynamic.Interface // nil: the cluster serves no custom resources
	logs       *fakeLogGroups
	kubeconfig []byte // what the command built its client from
	logsRegion string // the region the CloudWatch Logs client was made for
}

func (c *cli) run(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	return c.runWithInput(t, "", args...)
}

// runWithInput answers the command's questions with stdin.
func (c *cli) runWithInput(t *testing.T, stdin string, args ...string) (int, string, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	opts := &options{
		open: func(context.Context, *options) (stackAPI, error) { return c.stack, nil },
		kubeClient: func(kubeconfig []byte) (kubernetes.Interface, error) {
			c.kubeconfig = kubeconfig
			return c.client, nil
		},
		dynamicClient: func([]byte) (dynamic.Interface, error) { return c.dyn, nil },
		logGroups: func(_ context.Context, _ *options, region string) (logGroupsAPI, error) {
			c.logsRegion = region
			if c.logs == nil {
				c.logs = &fakeLogGroups{}
			}
			return c.logs, nil
		},
	}
	root := newRootCommandWith(&out, &errOut, opts)
	root.SetIn(strings.NewReader(stdin))
	code := runWith(t.Context(), root, append(args, "-C", projectDir), &errOut)
	return code, out.String(), errOut.String()
}

func TestOutputs(t *testing.T) {
	tests := []struct {
		name        string
		args        []string
		want        []string
		mustNotShow string
	}{
		{
			name: "text hides secrets",
			args: []string{"outputs"},
			want: []string{
				"awsNodeRoleArn: " + roleARN("aws-node") + "\n", "desiredNodes: 4\n", "kubeconfig: [secret]\n",
				`serviceAccountRoleArns: {"default/external-secrets":`,
			},
			mustNotShow: "kind: Config",
		},
		{
			name: "show secrets",
			args: []string{"outputs", "--show-secrets"},
			want: []string{"kubeconfig: |\n  apiVersion: v1\n  kind: Config\n"},
		},
		{
			name:        "json",
			args:        []string{"outputs", "--json"},
			want:        []string{`"kubeconfig": "[secret]"`, `"desiredNodes": 4`},
			mustNotShow: "kind: Config",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := &cli{stack: &fakeStack{outputs: testStackOutputs()}}
			code, stdout, stderr := c.run(t, tc.args...)
			if code != 0 {
				t.Fatalf("exit %d: %s", code, stderr)
			}
			for _, w := range tc.want {
				if !strings.Contains(stdout, w) {
					t.Errorf("output\n%s\nwant it to contain %q", stdout, w)
				}
			}
			if tc.mustNotShow != "" && strings.Contains(stdout, tc.mustNotShow) {
				t.Errorf("output shows the secret %q:\n%s", tc.mustNotShow, stdout)
			}
		})
	}
}

func TestOutputsJSONDecodes(t *testing.T) {
	c := &cli{stack: &fakeStack{outputs: testStackOutputs()}}
	_, stdout, _ := c.run(t, "outputs", "--json")
	var got map[string]any
	if err := json.Unmarshal([]byte(stdout), &got); err != nil || got[stack.OutClusterName] != "demo-eks-oidc-test" {
		t.Errorf("outputs --json = %v (%v), want an object with %s", got, err, stack.OutClusterName)
	}
}

func TestNoStackYet(t *testing.T) {
	for _, cmd := range []string{"outputs", "kubeconfig", "verify"} {
		c := &cli{stack: &fakeStack{}}
		code, _, stderr := c.run(t, cmd)
		if code != exitFailure || !strings.Contains(stderr, "run `eksirsa up` first") {
			t.Errorf("%s on an empty stack: exit %d, %q", cmd, code, stderr)
		}
	}
}

func TestKubeconfig(t *testing.T) {
	c := &cli{stack: &fakeStack{outputs: testStackOutputs()}}
	code, stdout, _ := c.run(t, "kubeconfig")
	if code != 0 || stdout != testKubeconfig {
		t.Errorf("kubeconfig printed %q (exit %d), want the output", stdout, code)
	}

	// An existing, world-readable file is overwritten and tightened.
	path := filepath.Join(t.TempDir(), "config")
	if err := os.WriteFile(path, []byte("old"), 0o644); err != nil {
		t.Fatal(err)
	}
	if code, stdout, stderr := c.run(t, "kubeconfig", "-o", path); code != 0 || stdout != "" {
		t.Fatalf("kubeconfig -o: exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
	info, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if info.Mode().Perm() != 0o600 {
		t.Errorf("mode %v, want 0600", info.Mode().Perm())
	}
	if b, _ := os.ReadFile(path); string(b) != testKubeconfig {
		t.Errorf("file holds %q", b)
	}
}

// fakeCluster is a fake cluster holding objs that answers SelfSubjectReview as kube-apiserver
// does (the fake's tracker cannot store one): the caller is an admin.
func fakeCluster(objs ...runtime.Object) *fake.Clientset {
	c := fake.NewClientset(objs...)
	c.PrependReactor("create", "selfsubjectreviews", func(k8stesting.Action) (bool, runtime.Object, error) {
		return true, &authenticationv1.SelfSubjectReview{Status: authenticationv1.SelfSubjectReviewStatus{UserInfo: authenticationv1.UserInfo{
			Username: "kubernetes-admin", Groups: []string{"system:masters", "system:authenticated"},
		}}}, nil
	})
	return c
}

// healthyCluster holds what the test stack's cluster looks like once IRSA works.
func healthyCluster() []runtime.Object {
	var objs []runtime.Object
	ready := []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionTrue}}
	for i := range 4 {
		objs = append(objs, &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("node-%d", i)}, Status: corev1.NodeStatus{Conditions: ready}})
	}
	objs = append(objs, &appsv1.DaemonSet{
		ObjectMeta: metav1.ObjectMeta{Name: verify.AWSNode, Namespace: verify.KubeSystem, Generation: 2},
		Status:     appsv1.DaemonSetStatus{ObservedGeneration: 2, DesiredNumberScheduled: 4, UpdatedNumberScheduled: 4, NumberAvailable: 4},
	})
	for ns, names := range map[string][]string{
		"kube-system": {"aws-node", "aws-load-balancer-controller", "cluster-autoscaler"},
		"default":     {"external-secrets"},
	} {
		for _, name := range names {
			objs = append(objs, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{
				Name: name, Namespace: ns, Annotations: map[string]string{irsa.RoleARNAnnotation: roleARN(name)},
			}})
		}
	}
	objs = append(objs, &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "aws-node-0", Namespace: verify.KubeSystem, Labels: map[string]string{"k8s-app": "aws-node"}},
		Spec: corev1.PodSpec{
			Containers: []corev1.Container{{
				Name: verify.AWSNode,
				Env: []corev1.EnvVar{
					{Name: irsa.EnvRoleARN, Value: roleARN("aws-node")},
					{Name: irsa.EnvTokenFile, Value: irsa.TokenFile},
				},
				VolumeMounts: []corev1.VolumeMount{{Name: "aws-iam-token", MountPath: irsa.TokenDir}},
			}},
			Volumes: []corev1.Volume{{Name: "aws-iam-token", VolumeSource: corev1.VolumeSource{Projected: &corev1.ProjectedVolumeSource{
				Sources: []corev1.VolumeProjection{{ServiceAccountToken: &corev1.ServiceAccountTokenProjection{Audience: irsa.Audience, Path: "token"}}},
			}}}},
		},
	}, &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "coredns-0", Namespace: verify.KubeSystem, Labels: map[string]string{"k8s-app": "kube-dns"}},
		Status:     corev1.PodStatus{Phase: corev1.PodRunning, Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}}},
	})
	return objs
}

func TestVerify(t *testing.T) {
	c := &cli{stack: &fakeStack{outputs: testStackOutputs()}, client: fakeCluster(healthyCluster()...)}
	code, stdout, stderr := c.run(t, "verify")
	if code != 0 {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	for _, w := range []string{
		"PASS nodes-ready: 4 of 4 nodes Ready, within 1 to 6\n",
		"PASS aws-node-annotation: kube-system/aws-node eks.amazonaws.com/role-arn=" + roleARN("aws-node") + "\n",
		// Every configured account is create mode in the test stack, so all three are checked.
		"PASS irsa-service-accounts: 3 service accounts annotated",
	} {
		if !strings.Contains(stdout, w) {
			t.Errorf("output\n%s\nwant it to contain %q", stdout, w)
		}
	}
	if string(c.kubeconfig) != testKubeconfig {
		t.Errorf("client built from %q, want the stack's kubeconfig output", c.kubeconfig)
	}
}

// verify checks the accounts the last up bound, as its outputs say, whatever the stack file
// says now: here the file no longer lists "default/removed-since", an account in mode none
// is not checked, and the bound account missing from the cluster fails the check.
func TestVerifyChecksTheAccountsTheOutputsName(t *testing.T) {
	outs := testStackOutputs()
	accounts := outs[stack.OutServiceAccounts].Value.(map[string]any)
	accounts["default/removed-since"] = boundAccount("removed-since", k8s.CreateServiceAccount)
	accounts["default/chart-owned"] = boundAccount("chart-owned", k8s.NoServiceAccount)
	c := &cli{stack: &fakeStack{outputs: outs}, client: fakeCluster(healthyCluster()...)}
	code, stdout, stderr := c.run(t, "verify")
	if code != exitFailure {
		t.Errorf("exit %d, want %d\nstderr:\n%s", code, exitFailure, stderr)
	}
	if want := "FAIL irsa-service-accounts: 1 of 4 service accounts wrong: service account default/removed-since not found"; !strings.Contains(stdout, want) {
		t.Errorf("stdout\n%s\nwant it to contain %q", stdout, want)
	}
	if strings.Contains(stdout, "chart-owned") {
		t.Errorf("an account in mode none was checked:\n%s", stdout)
	}

	delete(outs, stack.OutServiceAccounts)
	c = &cli{stack: &fakeStack{outputs: outs}, client: fakeCluster(healthyCluster()...)}
	if code, _, stderr := c.run(t, "verify"); code == 0 || !strings.Contains(stderr, "output "+stack.OutServiceAccounts) {
		t.Errorf("without the %s output: exit %d, stderr %q; want a failure naming the output", stack.OutServiceAccounts, code, stderr)
	}
}

func TestVerifyFailsNamingChecks(t *testing.T) {
	objs := healthyCluster()
	for _, o := range objs {
		if sa, ok := o.(*corev1.ServiceAccount); ok && sa.Name == "cluster-autoscaler" {
			sa.Annotations = nil
		}
	}
	c := &cli{stack: &fakeStack{outputs: testStackOutputs()}, client: fakeCluster(objs...)}
	kubeconfig := filepath.Join(t.TempDir(), "kubeconfig")
	if err := os.WriteFile(kubeconfig, []byte("from-file"), 0o600); err != nil {
		t.Fatal(err)
	}
	code, stdout, stderr := c.run(t, "verify", "--kubeconfig", kubeconfig)
	if code != exitFailure {
		t.Errorf("exit %d, want %d", code, exitFailure)
	}
	if !strings.Contains(stdout, "FAIL irsa-service-accounts: 1 of 3 service accounts wrong: kube-system/cluster-autoscaler has no eks.amazonaws.com/role-arn annotation") {
		t.Errorf("stdout lacks the FAIL line:\n%s", stdout)
	}
	if !strings.Contains(stderr, "1 of 7 IRSA checks failed:\n  irsa-service-accounts:") {
		t.Errorf("stderr does not name the failed check:\n%s", stderr)
	}
	if string(c.kubeconfig) != "from-file" {
		t.Errorf("client built from %q, want the --kubeconfig file", c.kubeconfig)
	}
}
