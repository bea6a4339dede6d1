package k8s

import (
	"maps"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// TestProviderSettings checks the settings of both providers: they differ in server-side
// apply alone, and both name the cluster by its ARN.
func TestProviderSettings(t *testing.T) {
	r := run(t, func(ctx *pulumi.Context) error {
		_, err := newTestProviders(ctx)
		return err
	})
	if n := len(r.Registrations()); n != 2 {
		t.Errorf("%d registrations, want the two providers", n)
	}
	cases := []struct {
		provider string
		key      string
		want     bool
	}{
		// Apply: patches and aws-auth's conflict check need server-side apply.
		{provider: testProvider, key: "enableServerSideApply", want: true},
		{provider: testProvider, key: "deleteUnreachable", want: true},
		{provider: testProvider, key: "enableConfigMapMutable", want: true},
		// Create: without server-side apply a create is a POST and fails on an existing object.
		{provider: testCreateProvider, key: "enableServerSideApply", want: false},
		{provider: testCreateProvider, key: "deleteUnreachable", want: true},
		{provider: testCreateProvider, key: "enableConfigMapMutable", want: true},
	}
	for _, tc := range cases {
		t.Run(tc.provider+"/"+tc.key, func(t *testing.T) {
			p := mustGet(t, r, providerType, tc.provider)
			if got, ok := boolInput(p.Inputs, tc.key); !ok || got != tc.want {
				t.Errorf("%s = %v (set: %v), want %v", tc.key, got, ok, tc.want)
			}
		})
	}
	for _, name := range []string{testProvider, testCreateProvider} {
		t.Run(name+"/cluster", func(t *testing.T) {
			p := mustGet(t, r, providerType, name)
			if !p.Inputs["kubeconfig"].ContainsSecrets() {
				t.Errorf("kubeconfig input lost its secretness")
			}
			if got := propString(p.Inputs, "kubeconfig"); got != testKubeconfig {
				t.Errorf("kubeconfig = %q, want the one given", got)
			}
			if got := propString(p.Inputs, "clusterIdentifier"); got != testClusterARN {
				t.Errorf("clusterIdentifier = %q, want the cluster ARN %q", got, testClusterARN)
			}
		})
	}
}

// boolInput reads a provider setting, which the SDK may send as a bool or as its JSON text.
func boolInput(pm resource.PropertyMap, key string) (bool, bool) {
	v := prop(pm, key)
	switch {
	case v.IsBool():
		return v.BoolValue(), true
	case v.IsString():
		return v.StringValue() == "true", true
	}
	return false, false
}

func TestNewProvidersValidation(t *testing.T) {
	cases := []struct {
		name    string
		args    *ProviderArgs
		wantErr []string
	}{
		{name: "nil args", args: nil, wantErr: []string{"args: required"}},
		{
			name:    "no kubeconfig",
			args:    &ProviderArgs{ClusterIdentifier: pulumi.String(testClusterARN)},
			wantErr: []string{"Kubeconfig: required: the cluster's kubeconfig output"},
		},
		{
			name:    "no cluster identifier",
			args:    &ProviderArgs{Kubeconfig: outputOf(testKubeconfig)},
			wantErr: []string{"ClusterIdentifier: required: the cluster's ARN"},
		},
		{
			name:    "nothing",
			args:    &ProviderArgs{},
			wantErr: []string{"Kubeconfig: required", "ClusterIdentifier: required"},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var gotErr error
			r := run(t, func(ctx *pulumi.Context) error {
				_, gotErr = NewProviders(ctx, "cluster", tc.args)
				return nil
			})
			checkValidationError(t, gotErr, "k8s providers cluster: ", tc.wantErr)
			if n := len(r.Registrations()); n != 0 {
				t.Errorf("%d registrations, want none", n)
			}
		})
	}
}

// wholeLayer builds the Kubernetes layer as the stack does: aws-auth, the aws-node binding
// with its restart, and an extra role whose account and namespace are created.
func wholeLayer(ctx *pulumi.Context) error {
	p, err := newTestProviders(ctx)
	if err != nil {
		return err
	}
	node, err := newFakeRole(ctx, "eks-node")
	if err != nil {
		return err
	}
	cni, err := newFakeRole(ctx, "aws-node-irsa")
	if err != nil {
		return err
	}
	if _, err := NewAWSAuth(ctx, "aws-auth", &AWSAuthArgs{Provider: p.Apply, NodeRoleARN: node.Arn}); err != nil {
		return err
	}
	if _, err := NewServiceAccountBinding(ctx, "aws-node", &ServiceAccountBindingArgs{
		Provider: p.Apply, CreateProvider: p.Create, Namespace: KubeSystemNamespace, ServiceAccount: AWSNodeName, RoleARN: cni.Arn,
		Mode: AnnotateServiceAccount, RestartDaemonSet: AWSNodeName,
	}); err != nil {
		return err
	}
	_, err = NewServiceAccountBinding(ctx, "external-secrets", &ServiceAccountBindingArgs{
		Provider: p.Apply, CreateProvider: p.Create, Namespace: "external-secrets", ServiceAccount: "external-secrets",
		RoleARN: pulumi.String("arn:aws:iam::123456789012:role/external-secrets"),
		Mode:    CreateServiceAccount, CreateNamespace: true,
	})
	return err
}

// TestEveryObjectUsesTheRightProvider checks that no object can fall back to the default
// provider (the ambient kubeconfig), that every object we create goes through the Create
// provider and every patch and ConfigMap through the Apply provider, and that each sits under
// one of our components.
func TestEveryObjectUsesTheRightProvider(t *testing.T) {
	r := run(t, wholeLayer)
	objs := kubernetesObjects(r)
	if len(objs) != 5 {
		t.Fatalf("%d Kubernetes objects, want 5 (ConfigMap, SA patch, DaemonSet patch, Namespace, ServiceAccount)", len(objs))
	}
	if n := len(r.ByType(providerType)); n != 2 {
		t.Errorf("%d kubernetes providers, want 2 (Apply and Create)", n)
	}
	perProvider := map[string]int{}
	for _, reg := range objs {
		checkProvider(t, r, reg)
		perProvider[providerOf(r, reg)]++
		parent, ok := r.ByURN(reg.Parent)
		if !ok || (parent.Type != AWSAuthType && parent.Type != ServiceAccountBindingType) {
			t.Errorf("%s %s: parent %s is not one of this package's components", reg.Type, reg.Name, reg.Parent)
		}
	}
	if want := map[string]int{testProvider: 3, testCreateProvider: 2}; !maps.Equal(perProvider, want) {
		t.Errorf("objects per provider = %v, want %v", perProvider, want)
	}
}

// TestFixedNameObjectsAreDeletedBeforeReplaced: with a fixed name, a create-before-delete
// replacement would delete (or relinquish) what the new object just wrote through the Apply
// provider, and fail on the name the old object holds through the Create provider.
func TestFixedNameObjectsAreDeletedBeforeReplaced(t *testing.T) {
	objs := kubernetesObjects(run(t, wholeLayer))
	if len(objs) == 0 {
		t.Fatal("no Kubernetes objects registered")
	}
	for _, reg := range objs {
		if !reg.DeleteBeforeReplace {
			t.Errorf("%s %s is not deleteBeforeReplace", reg.Type, reg.Name)
		}
	}
}
