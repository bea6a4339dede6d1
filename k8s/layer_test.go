package k8s

import (
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

const testLayer = "demo"

func layerArgs(bindings ...Binding) *LayerArgs {
	return &LayerArgs{
		Kubeconfig:        outputOf(testKubeconfig),
		ClusterIdentifier: pulumi.String(testClusterARN),
		Cluster:           ClusterInstance{Issuer: pulumi.String(testIssuer)},
		NodeRoleARN:       pulumi.String("arn:aws:iam::123456789012:role/node"),
		AWSNodeRoleARN:    pulumi.String("arn:aws:iam::123456789012:role/aws-node"),
		Bindings:          bindings,
	}
}

func binding(role, namespace, account string, mode ServiceAccountMode) Binding {
	return Binding{Namespace: namespace, ServiceAccount: account, RoleARN: pulumi.String("arn:aws:iam::123456789012:role/" + role), Mode: mode}
}

// The objects nodes wait for are exactly the layer's Kubernetes objects: aws-auth, aws-node's
// annotation and restart, and every binding's objects; an account in mode none adds nothing.
func TestLayerNodesWaitForEveryKubernetesObject(t *testing.T) {
	var layer *Layer
	var urns []string
	r := run(t, func(ctx *pulumi.Context) error {
		var err error
		layer, err = NewLayer(ctx, testLayer, layerArgs(
			binding("created", "addons", "created", CreateServiceAccount),
			binding("annotated", "kube-system", "chart", AnnotateServiceAccount),
			binding("chart-owned", "kube-system", "other", NoServiceAccount),
		))
		if err != nil {
			return err
		}
		urns = make([]string, len(layer.NodesWaitFor))
		for i, res := range layer.NodesWaitFor {
			capture(ctx, res.URN().ToStringOutput(), &urns[i])
		}
		return nil
	})
	var got []string
	for _, urn := range urns {
		reg, ok := r.ByURN(urn)
		if !ok {
			t.Errorf("nodes wait for %q, which is not registered", urn)
			continue
		}
		got = append(got, reg.Type+"::"+reg.Name)
	}
	var want []string
	for _, reg := range kubernetesObjects(r) {
		want = append(want, reg.Type+"::"+reg.Name)
	}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("nodes wait for %v\nwant every Kubernetes object %v", got, want)
	}
	for _, name := range []string{testLayer + AWSNodeBindingSuffix + "-service-account", testLayer + AWSNodeBindingSuffix + "-restart"} {
		if !slices.ContainsFunc(got, func(s string) bool { return strings.HasSuffix(s, "::"+name) }) {
			t.Errorf("nodes do not wait for aws-node's %s", name)
		}
	}
	ds := mustGet(t, r, dsPatchType, testLayer+AWSNodeBindingSuffix+"-restart")
	if propString(ds.Inputs, "metadata", "name") != AWSNodeDaemonSet || propString(ds.Inputs, "metadata", "namespace") != KubeSystemNamespace {
		t.Errorf("restart patches %v, want %s/%s", ds.Inputs["metadata"], KubeSystemNamespace, AWSNodeDaemonSet)
	}
	if _, ok := layer.Bindings["kube-system/other"]; ok {
		t.Error("an account in mode none got a binding")
	}
	wantAccounts := map[string]ServiceAccountMode{
		"kube-system/aws-node": AnnotateServiceAccount,
		"addons/created":       CreateServiceAccount,
		"kube-system/chart":    AnnotateServiceAccount,
		"kube-system/other":    NoServiceAccount,
	}
	if len(layer.Accounts) != len(wantAccounts) {
		t.Errorf("accounts %v, want %v", layer.Accounts, wantAccounts)
	}
	for key, mode := range wantAccounts {
		if a, ok := layer.Accounts[key]; !ok || a.Mode != mode {
			t.Errorf("account %s = %+v, want mode %s", key, a, mode)
		}
	}
}

// A binding is named after its account, so renaming its role (a new ARN) changes its
// annotation, not its name: a new name would be a new binding, whose create of the account
// fails on the old one's. A binding named before (after its role) is aliased.
func TestLayerNamesBindingsAfterTheirAccounts(t *testing.T) {
	names := func(role string) map[string][]string {
		b := binding(role, "addons", "created", CreateServiceAccount)
		b.FormerName = "demo-created"
		r := run(t, func(ctx *pulumi.Context) error {
			_, err := NewLayer(ctx, testLayer, layerArgs(b))
			return err
		})
		got := map[string][]string{}
		for _, reg := range r.Registrations() {
			if reg.Type == ServiceAccountBindingType || reg.Type == "kubernetes:core/v1:ServiceAccount" {
				got[reg.Type+"::"+reg.Name] = reg.AliasNames
			}
		}
		return got
	}
	want := map[string][]string{
		ServiceAccountBindingType + "::demo" + AWSNodeBindingSuffix:              nil,
		ServiceAccountBindingType + "::demo-addons/created":                      {"demo-created"},
		"kubernetes:core/v1:ServiceAccount::demo-addons/created-service-account": nil,
	}
	for _, role := range []string{"demo-created", "demo-created-v2"} {
		if got := names(role); !reflect.DeepEqual(got, want) {
			t.Errorf("role %s: bindings and aliases %v, want %v", role, got, want)
		}
	}
}

func TestLayerRefusesBadBindings(t *testing.T) {
	cases := []struct {
		name     string
		bindings []Binding
		want     []string
	}{
		{
			name:     "aws-node among the other bindings",
			bindings: []Binding{binding("x", KubeSystemNamespace, AWSNodeName, AnnotateServiceAccount)},
			want:     []string{"Bindings[0]: kube-system/aws-node is bound by AWSNodeRoleARN; remove it from Bindings"},
		},
		{
			name: "two roles for one account, one former name twice",
			bindings: []Binding{
				{FormerName: "x", Namespace: "a", ServiceAccount: "b", RoleARN: pulumi.String("arn:aws:iam::123456789012:role/x"), Mode: CreateServiceAccount},
				{FormerName: "x", Namespace: "a", ServiceAccount: "b", RoleARN: pulumi.String("arn:aws:iam::123456789012:role/x"), Mode: NoServiceAccount},
			},
			want: []string{
				`Bindings[1].FormerName: "x" is also Bindings[0].FormerName`,
				"Bindings[1]: a/b is also Bindings[0]: one role per account",
			},
		},
		{
			name:     "no mode, no role",
			bindings: []Binding{{Namespace: "a", ServiceAccount: "b"}},
			want: []string{
				"Bindings[0].RoleARN: required: an IAM role ARN (" + roleARNShape + ")",
				`Bindings[0].Mode: "" is not one of ["annotate" "create" "none"]`,
			},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var err error
			r := recorderFor(t)
			_ = r.Run(nil, func(ctx *pulumi.Context) error {
				_, err = NewLayer(ctx, testLayer, layerArgs(tc.bindings...))
				return nil
			})
			if err == nil {
				t.Fatal("NewLayer accepted the bindings")
			}
			msg := err.Error()
			for _, w := range tc.want {
				if !strings.Contains(msg, w) {
					t.Errorf("error lacks %q:\n%s", w, msg)
				}
			}
			if got := len(errorLines(err)); got != len(tc.want) {
				t.Errorf("%d problems reported, want %d:\n%s", got, len(tc.want), msg)
			}
			if regs := r.Registrations(); len(regs) > 1 { // the root stack only
				t.Errorf("registered %d resources before refusing", len(regs))
			}
		})
	}
}

// Every Kubernetes object lives and dies with the cluster instance it was applied to: the
// cluster's issuer is its replacement trigger (a cluster replaced under its name gets it
// again) and it is deleted with the cluster resource (a gone cluster is not asked to delete
// it). The providers carry neither: replacing them would not replace the objects.
func TestLayerObjectsLiveAndDieWithTheirCluster(t *testing.T) {
	var clusterURN string
	r := run(t, func(ctx *pulumi.Context) error {
		cluster, err := newFakeRole(ctx, "cluster")
		if err != nil {
			return err
		}
		cluster.URN().ApplyT(func(u pulumi.URN) string { clusterURN = string(u); return "" })
		args := layerArgs(binding("created", "addons", "created", CreateServiceAccount))
		args.Bindings[0].CreateNamespace = true
		args.Cluster.Resource = cluster
		_, err = NewLayer(ctx, testLayer, args)
		return err
	})
	objects := 0
	for _, reg := range r.Registrations() {
		switch {
		case strings.HasPrefix(reg.Type, "pulumi:providers:kubernetes"):
			if reg.DeletedWith != "" || reg.ReplacementTrigger != "" {
				t.Errorf("provider %s: deletedWith %q, trigger %q, want neither", reg.Name, reg.DeletedWith, reg.ReplacementTrigger)
			}
		case strings.HasPrefix(reg.Type, "kubernetes:"):
			objects++
			if reg.ReplacementTrigger != testIssuer {
				t.Errorf("%s %s: replacement trigger %q, want the cluster's issuer", reg.Type, reg.Name, reg.ReplacementTrigger)
			}
			if reg.DeletedWith == "" || reg.DeletedWith != clusterURN {
				t.Errorf("%s %s: deleted with %q, want the cluster %q", reg.Type, reg.Name, reg.DeletedWith, clusterURN)
			}
		}
	}
	// aws-auth; aws-node's annotation and restart; the created namespace and account.
	if objects != 5 {
		t.Errorf("%d Kubernetes objects, want 5", objects)
	}
}
