package k8s

import (
	"errors"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/eks-irsa/eks-irsa/internal/recorder"
	"github.com/eks-irsa/eks-irsa/irsa"
)

// TestServiceAccountBindingGraph checks, per mode, which objects are registered, that each is a
// child of the component using the right provider (Create for what we create, Apply for
// patches), that the annotation is the role's ARN output, and that the restart waits for the
// annotation.
func TestServiceAccountBindingGraph(t *testing.T) {
	cases := []struct {
		name      string
		args      ServiceAccountBindingArgs // Provider and RoleARN are filled in
		wantTypes map[string]int            // Kubernetes objects under the component
		// account is the type holding the annotation ("" for none).
		account string
	}{
		{
			name:      "aws-node: annotate EKS's account and roll its DaemonSet",
			args:      ServiceAccountBindingArgs{Namespace: KubeSystemNamespace, ServiceAccount: AWSNodeName, Mode: AnnotateServiceAccount, RestartDaemonSet: AWSNodeName},
			wantTypes: map[string]int{saPatchType: 1, dsPatchType: 1},
			account:   saPatchType,
		},
		{
			name:      "annotate a chart's account, nothing to restart",
			args:      ServiceAccountBindingArgs{Namespace: KubeSystemNamespace, ServiceAccount: "cluster-autoscaler", Mode: AnnotateServiceAccount},
			wantTypes: map[string]int{saPatchType: 1},
			account:   saPatchType,
		},
		{
			name:      "create the account and its namespace",
			args:      ServiceAccountBindingArgs{Namespace: "external-secrets", ServiceAccount: "external-secrets", Mode: CreateServiceAccount, CreateNamespace: true},
			wantTypes: map[string]int{namespaceType: 1, saType: 1},
			account:   saType,
		},
		{
			name:      "create the account in an existing namespace and roll a DaemonSet",
			args:      ServiceAccountBindingArgs{Namespace: "monitoring", ServiceAccount: "node-exporter", Mode: CreateServiceAccount, RestartDaemonSet: "node-exporter"},
			wantTypes: map[string]int{saType: 1, dsPatchType: 1},
			account:   saType,
		},
		{
			name:      "none: the role only",
			args:      ServiceAccountBindingArgs{Namespace: KubeSystemNamespace, ServiceAccount: "aws-load-balancer-controller", Mode: NoServiceAccount},
			wantTypes: map[string]int{},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var roleOut string
			r := run(t, func(ctx *pulumi.Context) error {
				p, err := newTestProviders(ctx)
				if err != nil {
					return err
				}
				role, err := newFakeRole(ctx, "irsa")
				if err != nil {
					return err
				}
				args := tc.args
				args.Provider, args.CreateProvider, args.RoleARN = p.Apply, p.Create, role.Arn
				c, err := NewServiceAccountBinding(ctx, "binding", &args)
				if err != nil {
					return err
				}
				if n := len(c.Resources()); n != countAll(tc.wantTypes) {
					t.Errorf("Resources() has %d entries, want %d", n, countAll(tc.wantTypes))
				}
				capture(ctx, c.RoleARN, &roleOut)
				return nil
			})
			role := mustGet(t, r, iamRoleType, "irsa")
			wantARN := fakeARN("irsa")
			if roleOut != wantARN {
				t.Errorf("RoleARN output = %q, want %q", roleOut, wantARN)
			}
			comp := mustGet(t, r, ServiceAccountBindingType, "binding")

			children := r.Children(comp.URN)
			got := map[string]int{}
			for _, c := range children {
				got[c.Type]++
				checkProvider(t, r, c)
			}
			if !maps.Equal(got, tc.wantTypes) {
				t.Errorf("children = %v, want %v", got, tc.wantTypes)
			}
			if objs := kubernetesObjects(r); len(objs) != len(children) {
				t.Errorf("%d Kubernetes objects registered, %d of them under the component", len(objs), len(children))
			}
			if tc.args.Mode == AnnotateServiceAccount {
				if n := len(r.ByType(saType)); n != 0 {
					t.Errorf("annotate mode registered %d ServiceAccount resources; destroy would delete an account we do not own", n)
				}
			}
			if tc.account == "" {
				return
			}

			account := mustGet(t, r, tc.account, "binding-service-account")
			if got := propString(account.Inputs, "metadata", "name"); got != tc.args.ServiceAccount {
				t.Errorf("account name = %q, want %q", got, tc.args.ServiceAccount)
			}
			if got := propString(account.Inputs, "metadata", "namespace"); got != tc.args.Namespace {
				t.Errorf("account namespace = %q, want %q", got, tc.args.Namespace)
			}
			if got := propString(account.Inputs, "metadata", "annotations", irsa.RoleARNAnnotation); got != wantARN {
				t.Errorf("%s = %q, want the role output %q", irsa.RoleARNAnnotation, got, wantARN)
			}
			if !slices.Contains(account.PropertyDependencies["metadata"], role.URN) {
				t.Errorf("account metadata does not come from the role: property dependencies %v", account.PropertyDependencies)
			}
			// A patch names our field manager; a created account does not, since without
			// server-side apply the provider writes as CreateFieldManager whatever it says.
			wantManager := FieldManager
			if tc.account == saType {
				wantManager = ""
			}
			if got := propString(account.Inputs, "metadata", "annotations", PatchFieldManagerAnnotation); got != wantManager {
				t.Errorf("field manager annotation = %q, want %q", got, wantManager)
			}

			if tc.args.CreateNamespace {
				ns := mustGet(t, r, namespaceType, "binding-namespace")
				if got := propString(ns.Inputs, "metadata", "name"); got != tc.args.Namespace {
					t.Errorf("namespace name = %q, want %q", got, tc.args.Namespace)
				}
				if got := keys(ns.Inputs, "metadata"); !reflect.DeepEqual(got, []string{"name"}) {
					t.Errorf("namespace metadata sets %v, want only name", got)
				}
				if !r.DependsOn(account.URN, ns.URN) {
					t.Errorf("the account does not wait for its namespace")
				}
			}

			if tc.args.RestartDaemonSet == "" {
				return
			}
			ds := mustGet(t, r, dsPatchType, "binding-restart")
			if !r.DependsOn(ds.URN, account.URN) {
				t.Errorf("the DaemonSet restart does not wait for the annotation: dependencies %v", ds.Dependencies)
			}
			if got := propString(ds.Inputs, "metadata", "name"); got != tc.args.RestartDaemonSet {
				t.Errorf("DaemonSet name = %q, want %q", got, tc.args.RestartDaemonSet)
			}
			if got := propString(ds.Inputs, "metadata", "namespace"); got != tc.args.Namespace {
				t.Errorf("DaemonSet namespace = %q, want %q", got, tc.args.Namespace)
			}
			if got := propString(ds.Inputs, "spec", "template", "metadata", "annotations", RestartAnnotation); got != RestartToken(wantARN) {
				t.Errorf("restart annotation = %q, want RestartToken(role) = %q", got, RestartToken(wantARN))
			}
			// The patch must claim nothing but the annotation: owning the selector or the
			// containers would fight EKS's manager for them.
			if got := keys(ds.Inputs, "spec"); !reflect.DeepEqual(got, []string{"template"}) {
				t.Errorf("DaemonSet patch spec sets %v, want only template", got)
			}
			if got := keys(ds.Inputs, "spec", "template"); !reflect.DeepEqual(got, []string{"metadata"}) {
				t.Errorf("DaemonSet patch template sets %v, want only metadata", got)
			}
			if got := keys(ds.Inputs, "spec", "template", "metadata", "annotations"); !reflect.DeepEqual(got, []string{RestartAnnotation}) {
				t.Errorf("DaemonSet patch template annotations %v, want only %s", got, RestartAnnotation)
			}
		})
	}
}

func countAll(m map[string]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}

// TestRestartAnnotationFollowsTheRole runs the aws-node binding as separate `pulumi up`s
// would: the pod-template annotation must be identical for the same role (no restart on a
// no-op update) and different when the role changes (one restart).
func TestRestartAnnotationFollowsTheRole(t *testing.T) {
	restartFor := func(t *testing.T, roleName string) string {
		t.Helper()
		r := run(t, func(ctx *pulumi.Context) error {
			p, err := newTestProviders(ctx)
			if err != nil {
				return err
			}
			role, err := newFakeRole(ctx, roleName)
			if err != nil {
				return err
			}
			_, err = NewServiceAccountBinding(ctx, "aws-node", &ServiceAccountBindingArgs{
				Provider: p.Apply, Namespace: KubeSystemNamespace, ServiceAccount: AWSNodeName,
				RoleARN: role.Arn, Mode: AnnotateServiceAccount, RestartDaemonSet: AWSNodeName,
			})
			return err
		})
		ds := mustGet(t, r, dsPatchType, "aws-node-restart")
		token := propString(ds.Inputs, "spec", "template", "metadata", "annotations", RestartAnnotation)
		if token == "" {
			t.Fatalf("no %s on the pod template", RestartAnnotation)
		}
		return token
	}
	cases := []struct {
		name         string
		first, again string
		wantSame     bool
	}{
		{name: "same role twice", first: "aws-node-irsa", again: "aws-node-irsa", wantSame: true},
		{name: "role replaced", first: "aws-node-irsa", again: "aws-node-irsa-v2", wantSame: false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			first, again := restartFor(t, tc.first), restartFor(t, tc.again)
			if (first == again) != tc.wantSame {
				t.Errorf("restart annotation %q then %q; want same = %v", first, again, tc.wantSame)
			}
		})
	}
}

func TestRestartToken(t *testing.T) {
	a := "arn:aws:iam::123456789012:role/aws-node-irsa"
	cases := []struct {
		name     string
		x, y     string
		wantSame bool
	}{
		{name: "deterministic", x: a, y: a, wantSame: true},
		{name: "another role", x: a, y: a + "-v2", wantSame: false},
		{name: "another account", x: a, y: "arn:aws:iam::210987654321:role/aws-node-irsa", wantSame: false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			x, y := RestartToken(tc.x), RestartToken(tc.y)
			if (x == y) != tc.wantSame {
				t.Errorf("RestartToken(%q) = %q, RestartToken(%q) = %q; want same = %v", tc.x, x, tc.y, y, tc.wantSame)
			}
			if x == "" || x == tc.x {
				t.Errorf("RestartToken(%q) = %q, want a digest", tc.x, x)
			}
		})
	}
}

func TestServiceAccountBindingValidation(t *testing.T) {
	const roleARN = "arn:aws:iam::123456789012:role/aws-node-irsa"
	valid := func() *ServiceAccountBindingArgs {
		return &ServiceAccountBindingArgs{
			Namespace: KubeSystemNamespace, ServiceAccount: AWSNodeName, RoleARN: pulumi.String(roleARN),
			Mode: AnnotateServiceAccount, RestartDaemonSet: AWSNodeName,
		}
	}
	cases := []struct {
		name         string
		noProv       bool // leave Provider nil
		noCreateProv bool // leave CreateProvider nil
		edit         func(a *ServiceAccountBindingArgs) *ServiceAccountBindingArgs
		wantErr      []string
	}{
		{
			name:    "nil args",
			edit:    func(*ServiceAccountBindingArgs) *ServiceAccountBindingArgs { return nil },
			wantErr: []string{"args: required"},
		},
		{
			name:    "no provider",
			noProv:  true,
			edit:    func(a *ServiceAccountBindingArgs) *ServiceAccountBindingArgs { return a },
			wantErr: []string{"Provider: required: Providers.Apply from NewProviders"},
		},
		{
			name:         "creating an account with no CreateProvider",
			noCreateProv: true,
			edit: func(a *ServiceAccountBindingArgs) *ServiceAccountBindingArgs {
				a.ServiceAccount, a.Mode = "cluster-autoscaler", CreateServiceAccount
				return a
			},
			wantErr: []string{"CreateProvider: required: Providers.Create from NewProviders"},
		},
		{
			name:         "creating a namespace and its account with no CreateProvider",
			noCreateProv: true,
			edit: func(a *ServiceAccountBindingArgs) *ServiceAccountBindingArgs {
				a.Namespace, a.ServiceAccount, a.Mode, a.CreateNamespace, a.RestartDaemonSet = "addons", "addons", CreateServiceAccount, true, ""
				return a
			},
			wantErr: []string{"CreateProvider: required: Providers.Create from NewProviders"},
		},
		{
			name: "creating through the Apply provider",
			edit: func(a *ServiceAccountBindingArgs) *ServiceAccountBindingArgs {
				a.ServiceAccount, a.Mode, a.CreateProvider = "cluster-autoscaler", CreateServiceAccount, a.Provider
				return a
			},
			wantErr: []string{"CreateProvider: is Provider (server-side apply would take over an existing account); pass Providers.Create"},
		},
		{
			name:         "no providers at all, creating",
			noProv:       true,
			noCreateProv: true,
			edit: func(a *ServiceAccountBindingArgs) *ServiceAccountBindingArgs {
				a.ServiceAccount, a.Mode = "cluster-autoscaler", CreateServiceAccount
				return a
			},
			wantErr: []string{"Provider: required", "CreateProvider: required"},
		},
		{
			name: "names that are not DNS-1123",
			edit: func(a *ServiceAccountBindingArgs) *ServiceAccountBindingArgs {
				a.Namespace, a.ServiceAccount, a.RestartDaemonSet = "Kube_System", "aws_node", "aws-node."
				return a
			},
			wantErr: []string{
				`Namespace: "Kube_System" is not a DNS-1123 label`,
				`ServiceAccount: "aws_node" is not a DNS-1123 subdomain`,
				`RestartDaemonSet: "aws-node." is not a DNS-1123 subdomain`,
			},
		},
		{
			name: "everything missing",
			edit: func(a *ServiceAccountBindingArgs) *ServiceAccountBindingArgs {
				return &ServiceAccountBindingArgs{Provider: a.Provider}
			},
			wantErr: []string{
				`Namespace: required: a DNS-1123 label such as "kube-system"`,
				`ServiceAccount: required: a DNS-1123 subdomain such as "aws-node"`,
				"RoleARN: required: an IAM role ARN",
				`Mode: "" is not one of ["annotate" "create" "none"]`,
			},
		},
		{
			name: "policy ARN instead of a role",
			edit: func(a *ServiceAccountBindingArgs) *ServiceAccountBindingArgs {
				a.RoleARN = pulumi.String("arn:aws:iam::aws:policy/AmazonEKS_CNI_Policy")
				return a
			},
			wantErr: []string{`RoleARN: "arn:aws:iam::aws:policy/AmazonEKS_CNI_Policy" is not an IAM role ARN (want arn:<partition>:iam::<account-id>:role/<name>)`},
		},
		{
			name: "namespace for an account we do not create",
			edit: func(a *ServiceAccountBindingArgs) *ServiceAccountBindingArgs {
				a.Namespace, a.CreateNamespace = "addons", true
				return a
			},
			wantErr: []string{`CreateNamespace: only with Mode "create"`},
		},
		{
			name: "creating kube-system",
			edit: func(a *ServiceAccountBindingArgs) *ServiceAccountBindingArgs {
				a.ServiceAccount, a.Mode, a.CreateNamespace = "cluster-autoscaler", CreateServiceAccount, true
				return a
			},
			wantErr: []string{`CreateNamespace: "kube-system" exists in every cluster and destroy would delete it`},
		},
		{
			name: "creating EKS's aws-node account",
			edit: func(a *ServiceAccountBindingArgs) *ServiceAccountBindingArgs {
				a.Mode = CreateServiceAccount
				return a
			},
			wantErr: []string{`Mode: EKS owns kube-system/aws-node and destroy would delete it; use "annotate"`},
		},
		{
			name: "restart with no account to change",
			edit: func(a *ServiceAccountBindingArgs) *ServiceAccountBindingArgs {
				a.Mode = NoServiceAccount
				return a
			},
			wantErr: []string{`RestartDaemonSet: needs Mode "annotate" or "create"`},
		},
		{
			name: "mode spelled differently",
			edit: func(a *ServiceAccountBindingArgs) *ServiceAccountBindingArgs {
				a.Mode = "Annotate"
				return a
			},
			wantErr: []string{`Mode: "Annotate" is not one of ["annotate" "create" "none"]`},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var gotErr error
			r := run(t, func(ctx *pulumi.Context) error {
				p, err := newTestProviders(ctx)
				if err != nil {
					return err
				}
				a := valid()
				if !tc.noProv {
					a.Provider = p.Apply
				}
				if !tc.noCreateProv {
					a.CreateProvider = p.Create
				}
				_, gotErr = NewServiceAccountBinding(ctx, "aws-node", tc.edit(a))
				return nil
			})
			checkValidationError(t, gotErr, "service account role aws-node: ", tc.wantErr)
			checkNothingRegistered(t, r)
		})
	}
}

// TestCreateProviderOnlyWhenCreating: CreateProvider is required exactly when the args
// create an object, so bindings that only annotate need not be given it.
func TestCreateProviderOnlyWhenCreating(t *testing.T) {
	cases := []struct {
		mode            ServiceAccountMode
		createNamespace bool
		wantErr         bool
	}{
		{mode: AnnotateServiceAccount, wantErr: false},
		{mode: NoServiceAccount, wantErr: false},
		{mode: CreateServiceAccount, wantErr: true},
		{mode: CreateServiceAccount, createNamespace: true, wantErr: true},
	}
	for _, tc := range cases {
		t.Run(fmt.Sprintf("%s/namespace=%v", tc.mode, tc.createNamespace), func(t *testing.T) {
			var gotErr error
			run(t, func(ctx *pulumi.Context) error {
				p, err := newTestProviders(ctx)
				if err != nil {
					return err
				}
				_, gotErr = NewServiceAccountBinding(ctx, "binding", &ServiceAccountBindingArgs{
					Provider: p.Apply, Namespace: "addons", ServiceAccount: "addons",
					RoleARN: pulumi.String("arn:aws:iam::123456789012:role/addons"),
					Mode:    tc.mode, CreateNamespace: tc.createNamespace,
				})
				return nil
			})
			if tc.wantErr {
				checkValidationError(t, gotErr, "service account role binding: ", []string{"CreateProvider: required"})
			} else if gotErr != nil {
				t.Errorf("error = %v, want none: nothing is created", gotErr)
			}
		})
	}
}

// checkNothingRegistered asserts that only the test's providers were registered.
func checkNothingRegistered(t *testing.T, r *recorder.Recorder) {
	t.Helper()
	for _, reg := range r.Registrations() {
		if reg.Type != providerType {
			t.Errorf("registered %s %s despite invalid args", reg.Type, reg.Name)
		}
	}
}

func TestExplainExistingObject(t *testing.T) {
	const urn = `urn:pulumi:test::eks-irsa::eksirsa:k8s:ServiceAccountRole$kubernetes:core/v1:`
	account := errors.New(`error: resource "` + urn + `ServiceAccount::addon-service-account" was not successfully created ` +
		`by the Kubernetes API server: serviceaccounts "controller" already exists`)
	namespace := errors.New(`error: resource "` + urn + `Namespace::addon-namespace" was not successfully created ` +
		`by the Kubernetes API server: namespaces "chart" already exists`)
	cases := []struct {
		name     string
		err      error
		wantHelp string // "" for an error returned unchanged
	}{
		{name: "account", err: account, wantHelp: fmt.Sprintf(ExistingAccountHelp, "controller")},
		{name: "namespace", err: namespace, wantHelp: fmt.Sprintf(ExistingNamespaceHelp, "chart")},
		{name: "aws-auth conflict", err: errors.New(`Server-Side Apply field conflict detected on kube-system/aws-auth`)},
		{name: "another create failure", err: errors.New(`was not successfully created by the Kubernetes API server: namespaces "x" not found`)},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := ExplainExistingObject(tc.err)
			if !errors.Is(got, tc.err) {
				t.Errorf("the explained error does not wrap the original")
			}
			if tc.wantHelp == "" {
				if got != tc.err {
					t.Errorf("error changed to %v, want it unchanged", got)
				}
				return
			}
			if !strings.HasSuffix(got.Error(), "\n\n"+tc.wantHelp) {
				t.Errorf("error = %v, want the help %q appended", got, tc.wantHelp)
			}
		})
	}
	if ExplainExistingObject(nil) != nil {
		t.Errorf("ExplainExistingObject(nil) != nil")
	}
}
