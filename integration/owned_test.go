package integration

import (
	"context"
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes"
	corev1pulumi "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/core/v1"
	metav1pulumi "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/meta/v1"
	"github.com/pulumi/pulumi/sdk/v3/go/auto"
	"github.com/pulumi/pulumi/sdk/v3/go/auto/events"
	"github.com/pulumi/pulumi/sdk/v3/go/auto/optdestroy"
	"github.com/pulumi/pulumi/sdk/v3/go/auto/optup"
	"github.com/pulumi/pulumi/sdk/v3/go/common/apitype"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/eks-irsa/eks-irsa/integration/testcluster"
	"github.com/eks-irsa/eks-irsa/irsa"
	"github.com/eks-irsa/eks-irsa/k8s"
)

const (
	// chartManager writes the accounts and namespaces that exist before our first up, as a
	// Helm release would.
	chartManager = "helm"
	chartRoleARN = "arn:aws:iam::111122223333:role/chart-own-role"
	ownedRoleARN = "arn:aws:iam::111122223333:role/eks-irsa-test-addon"
)

// binding is one ServiceAccountBinding in Mode create on its own providers: these tests exercise
// the component itself (and its upgrade from the legacy wiring), not the whole layer.
type binding struct {
	kubeconfig      string
	namespace       string
	account         string
	createNamespace bool
}

func (b binding) program() pulumi.RunFunc {
	return func(ctx *pulumi.Context) error {
		providers, err := k8s.NewProviders(ctx, "cluster", &k8s.ProviderArgs{
			Kubeconfig:        pulumi.ToSecret(pulumi.String(b.kubeconfig)).(pulumi.StringOutput),
			ClusterIdentifier: pulumi.String(clusterARN),
		})
		if err != nil {
			return err
		}
		_, err = k8s.NewServiceAccountBinding(ctx, "addon", &k8s.ServiceAccountBindingArgs{
			Provider:        providers.Apply,
			CreateProvider:  providers.Create,
			Namespace:       b.namespace,
			ServiceAccount:  b.account,
			RoleARN:         pulumi.String(ownedRoleARN),
			Mode:            k8s.CreateServiceAccount,
			CreateNamespace: b.createNamespace,
		})
		return err
	}
}

// TestCreateNeverAdopts: Mode create and CreateNamespace must fail on an account or namespace
// that already exists, leave it exactly as it was, and leave it in place after destroy; what
// they create themselves is ours, stable across ups and deleted by destroy.
func TestCreateNeverAdopts(t *testing.T) {
	t.Parallel() // its own cluster and Pulumi environment: see testcluster.NewPulumi
	c := testcluster.Start(t)
	p := testcluster.NewPulumi(t)
	ctx := t.Context()

	// The chart's namespace and account, each written by another field manager.
	ns, err := c.Client.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{
		ObjectMeta: metav1.ObjectMeta{Name: "chart", Labels: map[string]string{"app.kubernetes.io/managed-by": "Helm"}},
	}, metav1.CreateOptions{FieldManager: chartManager})
	if err != nil {
		t.Fatal(err)
	}
	// With server-side apply, an up would have adopted the first silently and failed on the
	// second only because its role annotation conflicts.
	accounts := map[string]*corev1.ServiceAccount{}
	for name, annotations := range map[string]map[string]string{
		"controller": {"meta.helm.sh/release-name": "chart"},
		"worker":     {"meta.helm.sh/release-name": "chart", irsa.RoleARNAnnotation: chartRoleARN},
	} {
		sa, err := c.Client.CoreV1().ServiceAccounts("chart").Create(ctx, &corev1.ServiceAccount{
			ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "chart", Annotations: annotations},
		}, metav1.CreateOptions{FieldManager: chartManager})
		if err != nil {
			t.Fatal(err)
		}
		accounts[name] = sa
	}

	cases := []struct {
		name    string
		b       binding
		wantErr string        // in the failed up's error
		exists  metav1.Object // the pre-existing object the up must leave alone
		absent  string        // an account the failed up must not have created ("" for none)
	}{
		{
			name:    "an account the chart created",
			b:       binding{namespace: "chart", account: "controller"},
			wantErr: `serviceaccounts "controller" already exists`,
			exists:  accounts["controller"],
		},
		{
			name:    "an account the chart created with a role of its own",
			b:       binding{namespace: "chart", account: "worker"},
			wantErr: `serviceaccounts "worker" already exists`,
			exists:  accounts["worker"],
		},
		{
			name:    "a namespace the chart created",
			b:       binding{namespace: "chart", account: "addon", createNamespace: true},
			wantErr: `namespaces "chart" already exists`,
			exists:  ns,
			absent:  "addon",
		},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tc.b.kubeconfig = string(c.Kubeconfig)
			s := p.InlineStack(ctx, t, project, "existing-"+string(rune('a'+i)), tc.b.program())

			ops, err := upStack(t, s)
			t.Logf("up: %v", ops)
			if err == nil {
				t.Fatalf("up succeeded over an object it did not create")
			}
			t.Logf("up failed as it must: %s", errorLine(err, tc.wantErr))
			if !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("up failed, but not with %q: %v", tc.wantErr, err)
			}
			if explained := k8s.ExplainExistingObject(err); explained == err {
				t.Errorf("ExplainExistingObject did not recognise the failure")
			}
			checkUntouched(t, c, tc.exists)
			if tc.absent != "" {
				if _, err := c.Client.CoreV1().ServiceAccounts(tc.b.namespace).Get(ctx, tc.absent, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
					t.Errorf("account %s/%s after the failed namespace create: err = %v, want NotFound", tc.b.namespace, tc.absent, err)
				}
			}

			destroyStack(t, s)
			checkUntouched(t, c, tc.exists)
		})
	}

	t.Run("what we create is ours", func(t *testing.T) {
		b := binding{kubeconfig: string(c.Kubeconfig), namespace: "addons", account: "addon", createNamespace: true}
		s := p.InlineStack(ctx, t, project, "owned", b.program())
		ops, err := upStack(t, s)
		if err != nil {
			t.Fatalf("first up: %v", err)
		}
		for _, key := range []string{"kubernetes:core/v1:Namespace::addon-namespace", "kubernetes:core/v1:ServiceAccount::addon-service-account"} {
			if ops[key] != apitype.OpCreate {
				t.Errorf("first up: %s is %q, want create (all: %v)", key, ops[key], ops)
			}
		}
		got, err := c.Client.CoreV1().ServiceAccounts("addons").Get(ctx, "addon", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if v := got.Annotations[irsa.RoleARNAnnotation]; v != ownedRoleARN {
			t.Errorf("%s = %q, want %q", irsa.RoleARNAnnotation, v, ownedRoleARN)
		}
		// Without server-side apply the provider writes as its own fixed manager.
		if m := managers(got); !slices.Equal(m, []string{k8s.CreateFieldManager + "/Update"}) {
			t.Errorf("created account managers = %v, want only %s/Update", m, k8s.CreateFieldManager)
		}

		// Client-side three-way merge: a repeated up changes nothing.
		ops, err = upStack(t, s)
		if err != nil {
			t.Fatalf("second up: %v", err)
		}
		onlyOps(t, "second up", ops, apitype.OpSame)

		destroyStack(t, s)
		if _, err := c.Client.CoreV1().ServiceAccounts("addons").Get(ctx, "addon", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
			t.Errorf("our account after destroy: err = %v, want NotFound", err)
		}
		// Namespace deletion finalizes asynchronously: Terminating or gone both mean deleted.
		if got, err := c.Client.CoreV1().Namespaces().Get(ctx, "addons", metav1.GetOptions{}); err == nil && got.DeletionTimestamp == nil {
			t.Errorf("our namespace after destroy is still active")
		} else if err != nil && !apierrors.IsNotFound(err) {
			t.Fatal(err)
		}
	})
}

// legacyProgram is b as the program wrote it before the Create provider existed: one
// server-side apply provider under the same name, no clusterIdentifier, and the created
// objects carrying the field-manager annotation, under the same component and names.
func (b binding) legacyProgram() pulumi.RunFunc {
	return func(ctx *pulumi.Context) error {
		provider, err := kubernetes.NewProvider(ctx, "cluster", &kubernetes.ProviderArgs{
			Kubeconfig:             pulumi.ToSecret(pulumi.String(b.kubeconfig)).(pulumi.StringOutput),
			EnableServerSideApply:  pulumi.Bool(true),
			DeleteUnreachable:      pulumi.Bool(true),
			EnableConfigMapMutable: pulumi.Bool(true),
		})
		if err != nil {
			return err
		}
		var comp legacyComponent
		if err := ctx.RegisterComponentResource(k8s.ServiceAccountBindingType, "addon", &comp); err != nil {
			return err
		}
		opts := []pulumi.ResourceOption{pulumi.Parent(&comp), pulumi.Provider(provider), pulumi.DeleteBeforeReplace(true)}
		managed := pulumi.StringMap{k8s.PatchFieldManagerAnnotation: pulumi.String(k8s.FieldManager)}
		ns, err := corev1pulumi.NewNamespace(ctx, "addon-namespace", &corev1pulumi.NamespaceArgs{
			Metadata: &metav1pulumi.ObjectMetaArgs{Name: pulumi.String(b.namespace), Annotations: managed},
		}, opts...)
		if err != nil {
			return err
		}
		_, err = corev1pulumi.NewServiceAccount(ctx, "addon-service-account", &corev1pulumi.ServiceAccountArgs{
			Metadata: &metav1pulumi.ObjectMetaArgs{
				Name:      pulumi.String(b.account),
				Namespace: pulumi.String(b.namespace),
				Annotations: pulumi.StringMap{
					k8s.PatchFieldManagerAnnotation: pulumi.String(k8s.FieldManager),
					irsa.RoleARNAnnotation:          pulumi.String(ownedRoleARN),
				},
			},
		}, append(opts, pulumi.DependsOn([]pulumi.Resource{ns}))...)
		if err != nil {
			return err
		}
		return ctx.RegisterResourceOutputs(&comp, pulumi.Map{"roleArn": pulumi.String(ownedRoleARN)})
	}
}

type legacyComponent struct{ pulumi.ResourceState }

// TestUpgradeKeepsCreatedObjects: a stack whose account and namespace were created before the
// Create provider existed moves them to it with an in-place update, never a replacement
// (which, delete-before-replace, would delete the namespace and everything in it).
func TestUpgradeKeepsCreatedObjects(t *testing.T) {
	t.Parallel() // its own cluster and Pulumi environment: see testcluster.NewPulumi
	c := testcluster.Start(t)
	p := testcluster.NewPulumi(t)
	ctx := t.Context()
	b := binding{kubeconfig: string(c.Kubeconfig), namespace: "addons", account: "addon", createNamespace: true}
	s := p.InlineStack(ctx, t, project, "upgrade", b.legacyProgram())
	if _, err := upStack(t, s); err != nil {
		t.Fatalf("legacy up: %v", err)
	}
	ns, err := c.Client.CoreV1().Namespaces().Get(ctx, "addons", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	sa, err := c.Client.CoreV1().ServiceAccounts("addons").Get(ctx, "addon", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}

	s.Workspace().SetProgram(b.program())
	ops, err := upStack(t, s)
	t.Logf("upgrading up: %v", ops)
	if err != nil {
		t.Fatalf("upgrading up: %v", err)
	}
	want := map[string]apitype.OpType{
		"pulumi:providers:kubernetes::cluster":                     apitype.OpUpdate, // clusterIdentifier added
		"pulumi:providers:kubernetes::cluster-create":              apitype.OpCreate,
		"kubernetes:core/v1:Namespace::addon-namespace":            apitype.OpUpdate,
		"kubernetes:core/v1:ServiceAccount::addon-service-account": apitype.OpUpdate,
	}
	for key, op := range want {
		if ops[key] != op {
			t.Errorf("upgrading up: %s is %q, want %q", key, ops[key], op)
		}
	}
	for _, obj := range []struct {
		before metav1.Object
		get    func() (metav1.Object, error)
	}{
		{ns, func() (metav1.Object, error) {
			return c.Client.CoreV1().Namespaces().Get(ctx, "addons", metav1.GetOptions{})
		}},
		{sa, func() (metav1.Object, error) {
			return c.Client.CoreV1().ServiceAccounts("addons").Get(ctx, "addon", metav1.GetOptions{})
		}},
	} {
		after, err := obj.get()
		if err != nil {
			t.Fatalf("%s after the upgrade: %v", obj.before.GetName(), err)
		}
		if after.GetUID() != obj.before.GetUID() || after.GetDeletionTimestamp() != nil {
			t.Errorf("%s was recreated or is being deleted: uid %s -> %s", after.GetName(), obj.before.GetUID(), after.GetUID())
		}
		if _, ok := after.GetAnnotations()[k8s.PatchFieldManagerAnnotation]; ok {
			t.Errorf("%s still carries %s", after.GetName(), k8s.PatchFieldManagerAnnotation)
		}
		t.Logf("%s managers after the upgrade: %v", after.GetName(), managers(after))
	}

	ops, err = upStack(t, s)
	if err != nil {
		t.Fatalf("up after the upgrade: %v", err)
	}
	onlyOps(t, "up after the upgrade", ops, apitype.OpSame)
	destroyStack(t, s)
}

// checkUntouched fails unless the object's live copy is the one the test created: same
// resourceVersion (no write at all), annotations, labels and field managers.
func checkUntouched(t *testing.T, c *testcluster.Cluster, want metav1.Object) {
	t.Helper()
	var got metav1.Object
	var err error
	switch want.(type) {
	case *corev1.ServiceAccount:
		got, err = c.Client.CoreV1().ServiceAccounts(want.GetNamespace()).Get(t.Context(), want.GetName(), metav1.GetOptions{})
	case *corev1.Namespace:
		got, err = c.Client.CoreV1().Namespaces().Get(t.Context(), want.GetName(), metav1.GetOptions{})
	default:
		t.Fatalf("checkUntouched: unexpected %T", want)
	}
	if err != nil {
		t.Fatalf("%s is gone: %v", want.GetName(), err)
	}
	if got.GetDeletionTimestamp() != nil {
		t.Errorf("%s is being deleted", want.GetName())
	}
	if got.GetResourceVersion() != want.GetResourceVersion() {
		t.Errorf("%s was written: resourceVersion %s -> %s", want.GetName(), want.GetResourceVersion(), got.GetResourceVersion())
	}
	if !maps.Equal(got.GetAnnotations(), want.GetAnnotations()) || !maps.Equal(got.GetLabels(), want.GetLabels()) {
		t.Errorf("%s changed: annotations %v labels %v, want %v %v", want.GetName(), got.GetAnnotations(), got.GetLabels(), want.GetAnnotations(), want.GetLabels())
	}
	if m := managers(got); !slices.Equal(m, []string{chartManager + "/Update"}) {
		t.Errorf("%s managers = %v, want only %s/Update", want.GetName(), m, chartManager)
	}
}

// errorLine returns the last line of err's text that mentions want (the engine's error
// comes after the provider's retry status), or its first line.
func errorLine(err error, want string) string {
	lines := strings.Split(err.Error(), "\n")
	for i := len(lines) - 1; i >= 0; i-- {
		if strings.Contains(lines[i], want) {
			return strings.TrimSpace(lines[i])
		}
	}
	return firstLine(err.Error())
}

// upStack runs `pulumi up` on s and returns every resource's step.
func upStack(t *testing.T, s auto.Stack) (map[string]apitype.OpType, error) {
	t.Helper()
	ops, _, err := observe(t, func(ctx context.Context, ch chan<- events.EngineEvent) error {
		_, err := s.Up(ctx, optup.EventStreams(ch), optup.ShowSecrets(false)) // as env.up
		return err
	})
	return ops, err
}

func destroyStack(t *testing.T, s auto.Stack) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), upTimeout)
	defer cancel()
	if res, err := s.Destroy(ctx, optdestroy.Remove(), optdestroy.ShowSecrets(false)); err != nil {
		t.Fatalf("destroy: %v\nstdout:\n%s", err, res.StdOut)
	}
}
