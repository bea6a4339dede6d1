package k8s

import (
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

func binding(name, namespace, account string, mode ServiceAccountMode) Binding {
	return Binding{Name: name, Namespace: namespace, ServiceAccount: account, RoleARN: pulumi.String("arn:aws:iam::123456789012:role/" + name), Mode: mode}
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
	if _, ok := layer.Bindings["chart-owned"]; ok {
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
			name:     "two roles for one account, one name twice",
			bindings: []Binding{binding("x", "a", "b", CreateServiceAccount), binding("x", "a", "b", NoServiceAccount)},
			want: []string{
				`Bindings[1].Name: "x" is also Bindings[0].Name`,
				"Bindings[1]: a/b is also Bindings[0]: one role per account",
			},
		},
		{
			name:     "no name, no mode, no role",
			bindings: []Binding{{Namespace: "a", ServiceAccount: "b"}},
			want: []string{
				"Bindings[0].Name: required: the binding's resource name",
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
