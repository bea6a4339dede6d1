package k8s

import (
	"fmt"
	"strings"
	"testing"

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
	testKubeconfig = "apiVersion: v1\nkind: Config\nclusters: []\n"
	testClusterARN = "arn:aws:eks:us-west-2:123456789012:cluster/test"
	testIssuer     = "https://oidc.eks.us-west-2.amazonaws.com/id/EXAMPLED539D4633E53DE1B71EXAMPLE"

	// testProvider and testCreateProvider are the names NewProviders gives the test's
	// Apply and Create providers.
	testProvider       = "cluster"
	testCreateProvider = testProvider + CreateProviderSuffix
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

func newTestProviders(ctx *pulumi.Context) (*Providers, error) {
	return NewProviders(ctx, testProvider, &ProviderArgs{
		Kubeconfig:        outputOf(testKubeconfig),
		ClusterIdentifier: pulumi.String(testClusterARN),
	})
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

// providerFor names the provider an object of type typ must use: what we create goes through
// Providers.Create, so an existing object fails instead of being taken over; patches and
// aws-auth go through Providers.Apply.
func providerFor(typ string) string {
	switch typ {
	case namespaceType, saType:
		return testCreateProvider
	}
	return testProvider
}

// providerOf returns the name of the kubernetes provider reg references ("" for none: the
// default provider).
func providerOf(r *recorder.Recorder, reg recorder.Registration) string {
	for _, p := range r.ByType(providerType) {
		if strings.HasPrefix(reg.Provider, p.URN+"::") {
			return p.Name
		}
	}
	return ""
}

// checkProvider checks that reg uses, by reference, the provider providerFor names.
func checkProvider(t *testing.T, r *recorder.Recorder, reg recorder.Registration) {
	t.Helper()
	if got, want := providerOf(r, reg), providerFor(reg.Type); got != want {
		t.Errorf("%s %s: provider %q (reference %q), want %q", reg.Type, reg.Name, got, reg.Provider, want)
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
