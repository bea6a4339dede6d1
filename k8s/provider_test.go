package k8s

import (
	"strings"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// TestProviderSettings checks the settings destroy and aws-auth updates depend on.
func TestProviderSettings(t *testing.T) {
	r := run(t, func(ctx *pulumi.Context) error {
		_, err := newTestProvider(ctx)
		return err
	})
	p := mustGet(t, r, providerType, testProvider)
	kc := p.Inputs["kubeconfig"]
	if !kc.ContainsSecrets() {
		t.Errorf("kubeconfig input lost its secretness")
	}
	if got := propString(p.Inputs, "kubeconfig"); got != testKubeconfig {
		t.Errorf("kubeconfig = %q, want the one given", got)
	}
	cases := []struct {
		key  string
		want bool
	}{
		{key: "enableServerSideApply", want: true},
		{key: "deleteUnreachable", want: true},
		{key: "enableConfigMapMutable", want: true},
	}
	for _, tc := range cases {
		t.Run(tc.key, func(t *testing.T) {
			if got, ok := boolInput(p.Inputs, tc.key); !ok || got != tc.want {
				t.Errorf("%s = %v (set: %v), want %v", tc.key, got, ok, tc.want)
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

func TestNewProviderRequiresKubeconfig(t *testing.T) {
	var gotErr error
	r := run(t, func(ctx *pulumi.Context) error {
		_, gotErr = NewProvider(ctx, "cluster", nil)
		return nil
	})
	if gotErr == nil || !strings.Contains(gotErr.Error(), "k8s provider cluster: kubeconfig: required") {
		t.Errorf("error = %v, want the missing kubeconfig named", gotErr)
	}
	if n := len(r.Registrations()); n != 0 {
		t.Errorf("%d registrations, want none", n)
	}
}

// wholeLayer builds the Kubernetes layer as the stack does: aws-auth, the aws-node binding
// with its restart, and an extra role whose account and namespace are created.
func wholeLayer(ctx *pulumi.Context) error {
	p, err := newTestProvider(ctx)
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
	if _, err := NewAwsAuth(ctx, "aws-auth", &AwsAuthArgs{Provider: p, NodeRoleARN: node.Arn}); err != nil {
		return err
	}
	if _, err := NewServiceAccountRole(ctx, "aws-node", &ServiceAccountRoleArgs{
		Provider: p, Namespace: KubeSystemNamespace, ServiceAccount: AWSNodeName, RoleARN: cni.Arn,
		Mode: AnnotateServiceAccount, RestartDaemonSet: AWSNodeName,
	}); err != nil {
		return err
	}
	_, err = NewServiceAccountRole(ctx, "external-secrets", &ServiceAccountRoleArgs{
		Provider: p, Namespace: "external-secrets", ServiceAccount: "external-secrets",
		RoleARN: pulumi.String("arn:aws:iam::123456789012:role/external-secrets"),
		Mode:    CreateServiceAccount, CreateNamespace: true,
	})
	return err
}

// TestEveryObjectUsesTheClusterProvider checks that no object can fall back to the default
// provider (the ambient kubeconfig) and that each sits under one of our components.
func TestEveryObjectUsesTheClusterProvider(t *testing.T) {
	r := run(t, wholeLayer)
	objs := kubernetesObjects(r)
	if len(objs) != 5 {
		t.Fatalf("%d Kubernetes objects, want 5 (ConfigMap, SA patch, DaemonSet patch, Namespace, ServiceAccount)", len(objs))
	}
	for _, reg := range objs {
		checkProvider(t, r, reg)
		parent, ok := r.ByURN(reg.Parent)
		if !ok || (parent.Type != AwsAuthType && parent.Type != ServiceAccountRoleType) {
			t.Errorf("%s %s: parent %s is not one of this package's components", reg.Type, reg.Name, reg.Parent)
		}
	}
}

// TestFixedNameObjectsAreDeletedBeforeReplaced: with a fixed name and server-side apply, a
// create-before-delete replacement would delete (or relinquish) what the new object just wrote.
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
