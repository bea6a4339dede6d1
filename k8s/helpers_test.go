package k8s

import (
	"fmt"
	"strings"
	"testing"

	"github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/eks-irsa/eks-irsa/internal/recorder"
)

// Type tokens the tests look for.
const (
	stackType      = "pulumi:pulumi:Stack"
	providerType   = "pulumi:providers:kubernetes"
	configMapType  = "kubernetes:core/v1:ConfigMap"
	saType         = "kubernetes:core/v1:ServiceAccount"
	saPatchType    = "kubernetes:core/v1:ServiceAccountPatch"
	namespaceType  = "kubernetes:core/v1:Namespace"
	dsPatchType    = "kubernetes:apps/v1:DaemonSetPatch"
	iamRoleType    = "aws:iam/role:Role"
	testProvider   = "cluster"
	testKubeconfig = "apiVersion: v1\nkind: Config\nclusters: []\n"
)

// fakeRole stands in for the AWS layer's IAM role without importing it: the recorder's fakes
// give an aws:iam/role:Role a realistic ARN, so role ARNs reach this package as Outputs with
// a resource behind them, as they do in the stack.
type fakeRole struct {
	pulumi.CustomResourceState
	Arn pulumi.StringOutput `pulumi:"arn"`
}

func newFakeRole(ctx *pulumi.Context, name string) (*fakeRole, error) {
	r := &fakeRole{}
	err := ctx.RegisterResource(iamRoleType, name, pulumi.Map{"name": pulumi.String(name)}, r)
	return r, err
}

// fakeARN is the ARN the recorder's fakes give the fake role called name.
func fakeARN(name string) string {
	return recorder.DefaultFakes().ARN("iam", "", "role/"+name)
}

// outputOf returns a string Output that is not a pulumi.String, so validation cannot see
// its value and only the Apply-time checks can.
func outputOf(s string) pulumi.StringOutput {
	return pulumi.ToSecret(pulumi.String(s)).(pulumi.StringOutput)
}

func newTestProvider(ctx *pulumi.Context) (*kubernetes.Provider, error) {
	return NewProvider(ctx, testProvider, outputOf(testKubeconfig))
}

// run runs fn under the recorder and fails the test if the program fails.
func run(t *testing.T, fn pulumi.RunFunc) *recorder.Recorder {
	t.Helper()
	r := recorderFor(t)
	if err := r.Run(nil, fn); err != nil {
		t.Fatalf("program failed: %v", err)
	}
	return r
}

// capture stores out's value in *dst once it resolves. The value is exported as a stack
// output because the program run waits for stack outputs, not for unused Applies.
func capture(ctx *pulumi.Context, out pulumi.StringOutput, dst *string) {
	ctx.Export(fmt.Sprintf("capture-%p", dst), out.ApplyT(func(s string) string { *dst = s; return s }))
}

// recorderFor returns a fresh recorder for one program run.
func recorderFor(t *testing.T) *recorder.Recorder {
	t.Helper()
	return recorder.New("eks-irsa", "test")
}

func mustGet(t *testing.T, r *recorder.Recorder, typ, name string) recorder.Registration {
	t.Helper()
	reg, ok := r.Get(typ, name)
	if !ok {
		t.Fatalf("no %s %q registered; have %v", typ, name, r.Types())
	}
	return reg
}

// checkProvider checks that reg uses the one kubernetes provider the test made, by reference.
func checkProvider(t *testing.T, r *recorder.Recorder, reg recorder.Registration) {
	t.Helper()
	providers := r.ByType(providerType)
	if len(providers) != 1 {
		t.Fatalf("want exactly one kubernetes provider, got %d", len(providers))
	}
	if !strings.HasPrefix(reg.Provider, providers[0].URN+"::") {
		t.Errorf("%s %s: provider = %q, want a reference to %s", reg.Type, reg.Name, reg.Provider, providers[0].URN)
	}
}

// prop walks nested objects of a property map, unwrapping secrets, and returns the value at
// path (a null value when any step is missing).
func prop(pm resource.PropertyMap, path ...string) resource.PropertyValue {
	v := resource.NewObjectProperty(pm)
	for _, key := range path {
		for v.IsSecret() {
			v = v.SecretValue().Element
		}
		if !v.IsObject() {
			return resource.NewNullProperty()
		}
		v = v.ObjectValue()[resource.PropertyKey(key)]
	}
	for v.IsSecret() {
		v = v.SecretValue().Element
	}
	return v
}

func propString(pm resource.PropertyMap, path ...string) string {
	v := prop(pm, path...)
	if !v.IsString() {
		return ""
	}
	return v.StringValue()
}

// keys returns the keys of the object at path.
func keys(pm resource.PropertyMap, path ...string) []string {
	v := prop(pm, path...)
	if !v.IsObject() {
		return nil
	}
	var out []string
	for _, k := range v.ObjectValue().StableKeys() {
		out = append(out, string(k))
	}
	return out
}

// kubernetesObjects returns the registrations of Kubernetes objects (not the provider).
func kubernetesObjects(r *recorder.Recorder) []recorder.Registration {
	var out []recorder.Registration
	for _, reg := range r.Registrations() {
		if strings.HasPrefix(reg.Type, "kubernetes:") {
			out = append(out, reg)
		}
	}
	return out
}

// errorLines splits a joined error into its lines, so tests can check that every problem
// was reported once and nothing else was.
func errorLines(err error) []string {
	return strings.Split(err.Error(), "\n")
}
