package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/common/apitype"
)

// interruptedState is a deployment an interrupted `up` left: a create of a Kubernetes object
// never acknowledged, which is safe to clear.
var interruptedState = json.RawMessage(`{"resources":[],"pending_operations":[` +
	`{"resource":{"urn":"urn:pulumi:test::eks-irsa::kubernetes:core/v1:ServiceAccount::sa","type":"kubernetes:core/v1:ServiceAccount"},"type":"creating"}]}`)

// interruptedAWSState left pending creates of AWS resources: a role (imported by its name)
// under its component, and a NAT gateway (its id is AWS's).
// interruptedRoleState: killed while creating a role the program names, which is imported.
var interruptedRoleState = json.RawMessage(`{"resources":[],"pending_operations":[` +
	`{"resource":{"urn":"urn:pulumi:test::eks-irsa::eksirsa:infra:IRSARole$aws:iam/role:Role::demo-aws-node","type":"aws:iam/role:Role","custom":true,` +
	`"parent":"urn:pulumi:test::eks-irsa::eksirsa:infra:IRSARole::demo-aws-node","inputs":{"name":"demo-aws-node"}},"type":"creating"}]}`)

// apiModeState is a stack whose last update made its cluster in API mode.
var apiModeState = json.RawMessage(`{"resources":[{"urn":"urn:pulumi:test::eks-irsa::pulumi:pulumi:Stack::eks-irsa-test","type":"pulumi:pulumi:Stack",` +
	`"outputs":{"authenticationMode":"API"}}]}`)

var interruptedAWSState = json.RawMessage(`{"resources":[],"pending_operations":[` +
	`{"resource":{"urn":"urn:pulumi:test::eks-irsa::eksirsa:infra:IRSARole$aws:iam/role:Role::demo-aws-node","type":"aws:iam/role:Role","custom":true,` +
	`"parent":"urn:pulumi:test::eks-irsa::eksirsa:infra:IRSARole::demo-aws-node","inputs":{"name":"demo-aws-node","tags":{"Environment":"test"}}},"type":"creating"},` +
	`{"resource":{"urn":"urn:pulumi:test::eks-irsa::aws:ec2/natGateway:NatGateway::nat","type":"aws:ec2/natGateway:NatGateway","custom":true,` +
	`"inputs":{"tags":{"Name":"demo-nat","Environment":"test"}}},"type":"creating"},` +
	// A component's create is pending as the engine records it (seen on an S3 backend's
	// checkpoint mid-update): nothing of it exists outside the state.
	`{"resource":{"urn":"urn:pulumi:test::eks-irsa::eksirsa:infra:IRSARole::demo-aws-node","type":"eksirsa:infra:IRSARole","custom":false},"type":"creating"},` +
	`{"resource":{"urn":"urn:pulumi:test::eks-irsa::eksirsa:infra:Network$aws:ec2/route:Route::demo-private-default","type":"aws:ec2/route:Route","custom":true,` +
	`"parent":"urn:pulumi:test::eks-irsa::eksirsa:infra:Network::demo","inputs":{"routeTableId":"rtb-0a1","destinationCidrBlock":"0.0.0.0/0","natGatewayId":"nat-9"}},"type":"creating"}]}`)

func TestLifecycle(t *testing.T) {
	t.Setenv(envBackendURL, "file://"+t.TempDir()) // a file backend of its own, whatever the caller's environment
	tests := []struct {
		name      string
		args      []string
		stdin     string
		state     json.RawMessage
		upErr     error
		wantCode  int
		wantCalls []string
		wantOut   []string
		wantErr   string
		cleared   bool // a refresh cleared pending creates
		verified  bool // a client was built (by verify, or destroy listing load balancers)
	}{
		{
			name: "preview", args: []string{"preview"},
			wantCalls: []string{"preview"},
		},
		{
			name: "up --yes updates and verifies", args: []string{"up", "--yes", "--verify-wait", "1m", "--identities=false"},
			wantCalls: []string{"export", "up"},
			wantOut:   []string{"Verifying IRSA on the cluster:\n", "PASS coredns-ready: 1 coredns pods Running and Ready\n"},
			verified:  true,
		},
		{
			name: "up --no-verify", args: []string{"up", "-y", "--no-verify"},
			wantCalls: []string{"export", "up"},
		},
		{
			name: "up asks after the preview", args: []string{"up", "--no-verify"}, stdin: "yes\n",
			wantCalls: []string{"export", "preview", "up"},
			wantOut:   []string{"Perform this update? [y/N] "},
		},
		{
			name: "up declined", args: []string{"up"}, stdin: "n\n",
			wantCode: exitFailure, wantCalls: []string{"export", "preview"},
			wantErr: "update cancelled (pass --yes to skip the question)",
		},
		{
			name: "up without an answer", args: []string{"up"},
			wantCode: exitFailure, wantCalls: []string{"export", "preview"},
			wantErr: "update cancelled",
		},
		{
			name: "up recovers an interrupted update", args: []string{"up", "-y", "--no-verify"}, state: interruptedState,
			wantCalls: []string{"export", "refresh", "up"},
			wantOut: []string{
				"The last update was interrupted with 1 operations pending:\n",
				"  * urn:pulumi:test::eks-irsa::kubernetes:core/v1:ServiceAccount::sa, interrupted while creating\n",
				"Refreshing with --clear-pending-creates before the update",
			},
			cleared: true,
		},
		{
			name: "up stops on an interrupted create of AWS resources, saying how to import them", args: []string{"up", "-y", "--no-verify"},
			state: interruptedAWSState, wantCode: exitFailure, wantCalls: []string{"export"},
			wantErr: "clearing them would lose track of them, so nothing was changed",
			wantOut: []string{"The last update was interrupted with 4 operations pending:\n"},
		},
		{
			name: "up imports an interrupted create of a role the program names", args: []string{"up", "-y", "--no-verify"},
			state:     interruptedRoleState,
			wantCalls: []string{"export", "refresh", "import aws:iam/role:Role demo-aws-node demo-aws-node", "up"},
			wantOut:   []string{"Importing aws:iam/role:Role demo-aws-node (id demo-aws-node), which the interrupted update may have created (pulumi import).\n"},
			cleared:   true,
		},
		{
			name: "up --cancel releases the lock first", args: []string{"up", "-y", "--no-verify", "--cancel"},
			wantCalls: []string{"cancel", "export", "up"},
			wantOut:   []string{"Cancelling the update that holds stack test's lock (pulumi cancel).\n"},
		},
		{
			name: "up explains an aws-auth written by someone else", args: []string{"up", "-y"},
			upErr: errors.New(`kubernetes:core/v1:ConfigMap (aws-auth): error: Server-Side Apply field conflict detected.` +
				` conflict with "kubectl-client-side-apply": .data.mapRoles`),
			wantCode: exitFailure, wantCalls: []string{"export", "up"},
			wantErr: "copy every entry of mapRoles and mapUsers except the node role into the stack config",
		},
		{
			name: "up explains an account that already exists", args: []string{"up", "-y"},
			upErr: errors.New(`kubernetes:core/v1:ServiceAccount (sa): error: resource default/external-secrets was not ` +
				`successfully created by the Kubernetes API server: serviceaccounts "external-secrets" already exists`),
			wantCode: exitFailure, wantCalls: []string{"export", "up"},
			wantErr: `set that role's account to "annotate"`,
		},
		{
			name: "up refuses to take an API-mode cluster back to API_AND_CONFIG_MAP", args: []string{"up", "-y", "--no-verify"},
			state: apiModeState, wantCode: exitConfig, wantCalls: []string{"export"},
			wantErr: `eks-irsa:cluster.authenticationMode = "API_AND_CONFIG_MAP": the stack's cluster is in API (its last update's authenticationMode output)`,
		},
		{
			name: "refresh", args: []string{"refresh"},
			wantCalls: []string{"refresh"},
		},
		{
			name: "refresh --clear-pending-creates", args: []string{"refresh", "--clear-pending-creates"},
			wantCalls: []string{"refresh"}, cleared: true,
		},
		{
			name: "destroy --yes", args: []string{"destroy", "--yes"},
			wantCalls: []string{"outputs", "destroy"}, verified: true,
		},
		{
			name: "destroy asks", args: []string{"destroy"}, stdin: "y\n",
			wantCalls: []string{"outputs", "destroy"}, verified: true,
			wantOut: []string{"Delete every resource of stack test? [y/N] "},
		},
		{
			name: "destroy declined", args: []string{"destroy"}, stdin: "no\n",
			wantCode: exitFailure, wantCalls: []string{"outputs"}, wantErr: "destroy cancelled", verified: true,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := &cli{
				stack:  &fakeStack{outputs: testStackOutputs(), state: tc.state, upErr: tc.upErr},
				client: fakeCluster(healthyCluster()...),
			}
			code, stdout, stderr := c.runWithInput(t, tc.stdin, tc.args...)
			if code != tc.wantCode {
				t.Errorf("exit %d, want %d; stderr %q", code, tc.wantCode, stderr)
			}
			if !slices.Equal(c.stack.calls, tc.wantCalls) {
				t.Errorf("stack calls %q, want %q", c.stack.calls, tc.wantCalls)
			}
			for _, w := range tc.wantOut {
				if !strings.Contains(stdout, w) {
					t.Errorf("stdout\n%s\nwant it to contain %q", stdout, w)
				}
			}
			if !strings.HasPrefix(stderr, "Stack test, state in file://") {
				t.Errorf("stderr %q does not start with the stack and its backend", stderr)
			}
			if tc.wantErr != "" && !strings.Contains(stderr, tc.wantErr) {
				t.Errorf("stderr %q, want it to contain %q", stderr, tc.wantErr)
			}
			if c.stack.clearedPendingCreates != tc.cleared {
				t.Errorf("cleared pending creates %v, want %v", c.stack.clearedPendingCreates, tc.cleared)
			}
			if verified := c.kubeconfig != nil; verified != tc.verified {
				t.Errorf("verify ran %v, want %v", verified, tc.verified)
			}
		})
	}
}

func TestConfirm(t *testing.T) {
	for input, want := range map[string]bool{"y\n": true, "YES\n": true, " yes ": true, "n\n": false, "\n": false, "": false, "sure\n": false} {
		var out strings.Builder
		got, err := confirm(strings.NewReader(input), &out, "Go?")
		if err != nil || got != want {
			t.Errorf("confirm(%q) = %v, %v; want %v", input, got, err, want)
		}
		if out.String() != "Go? [y/N] " {
			t.Errorf("prompt %q", out.String())
		}
	}
}

// Each AWS pending create is imported by the name the program sets or, for a NAT gateway, by
// its tags when exactly one matches; any other is named with how to find it and the exact
// import command, and then nothing is imported.
func TestPlanRecovery(t *testing.T) {
	dep, err := readDeployment(apitype.UntypedDeployment{Version: 3, Deployment: interruptedAWSState})
	if err != nil {
		t.Fatal(err)
	}
	role := pendingImport{Type: "aws:iam/role:Role", Name: "demo-aws-node", ID: "demo-aws-node", Parent: "urn:pulumi:test::eks-irsa::eksirsa:infra:IRSARole::demo-aws-node"}
	route := pendingImport{Type: "aws:ec2/route:Route", Name: "demo-private-default", ID: "rtb-0a1_0.0.0.0/0", Parent: "urn:pulumi:test::eks-irsa::eksirsa:infra:Network::demo"}
	same := func(a, b pendingImport) bool {
		return a.Type == b.Type && a.Name == b.Name && a.ID == b.ID && a.Parent == b.Parent
	}

	// No lookup by tags: the NAT gateway stops the update.
	_, err = planRecovery(t.Context(), "test", dep.PendingOperations, nil)
	if err == nil {
		t.Fatal("a pending NAT gateway was found clearable")
	}
	for _, want := range []string{
		"clearing them would lose track of them, so nothing was changed",
		"find it by its tags: Environment=test, Name=demo-nat",
		"pulumi import --stack test 'aws:ec2/natGateway:NatGateway' 'nat' '<its id>'",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
	for _, importable := range []string{"aws:iam/role:Role", "aws:ec2/route:Route", "eksirsa:infra:IRSARole"} {
		if strings.Contains(err.Error(), importable) {
			t.Errorf("%s, importable by its inputs or a component, was listed:\n%v", importable, err)
		}
	}

	for _, tc := range []struct {
		name    string
		found   []string
		imports []pendingImport
		wantErr string
	}{
		{"one NAT gateway with its tags", []string{"nat-1"}, []pendingImport{role, {Type: "aws:ec2/natGateway:NatGateway", Name: "nat", ID: "nat-1"}, route}, ""},
		{"none: never made", nil, []pendingImport{role, route}, ""},
		{"two: ambiguous", []string{"nat-1", "nat-2"}, nil, "(2 match: nat-1, nat-2)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var asked []string
			find := func(_ context.Context, op apitype.OperationV2) ([]string, error) {
				asked = append(asked, string(op.Resource.Type))
				return tc.found, nil
			}
			imports, err := planRecovery(t.Context(), "test", dep.PendingOperations, find)
			if !slices.Equal(asked, []string{"aws:ec2/natGateway:NatGateway"}) {
				t.Errorf("looked up by tags: %q, want the NAT gateway only", asked)
			}
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) || imports != nil {
					t.Errorf("planRecovery = %+v, %v; want no imports and %q", imports, err, tc.wantErr)
				}
				return
			}
			if err != nil || len(imports) != len(tc.imports) {
				t.Fatalf("planRecovery = %+v, %v; want %+v", imports, err, tc.imports)
			}
			for i := range imports {
				if !same(imports[i], tc.imports[i]) {
					t.Errorf("import %d = %+v, want %+v", i, imports[i], tc.imports[i])
				}
			}
		})
	}
	if got := describePendingCreate("test", dep.PendingOperations[0]); !strings.Contains(got,
		"pulumi import --stack test 'aws:iam/role:Role' 'demo-aws-node' 'demo-aws-node' --parent 'demo-aws-node=urn:pulumi:test::eks-irsa::eksirsa:infra:IRSARole::demo-aws-node'") {
		t.Errorf("the manual import command of the role:\n%s", got)
	}

	k8sOnly, err := readDeployment(apitype.UntypedDeployment{Version: 3, Deployment: interruptedState})
	if err != nil {
		t.Fatal(err)
	}
	if imports, err := planRecovery(t.Context(), "test", k8sOnly.PendingOperations, nil); err != nil || len(imports) > 0 {
		t.Errorf("a pending Kubernetes create: %+v, %v; want it cleared only", imports, err)
	}
}

// An access entry, a policy association and an add-on killed mid-create are imported by the
// ids pulumi-aws gives them (its import sections: cluster:principal, cluster#principal#policy,
// cluster:addon), so a killed migration's recovery adopts them instead of stopping the update.
func TestImportIDOfEKSResources(t *testing.T) {
	in := map[string]any{"clusterName": "demo", "principalArn": "arn:aws:iam::123456789012:role/teams/ci/deployer",
		"policyArn": "arn:aws:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy", "addonName": "eks-pod-identity-agent"}
	for typ, want := range map[string]string{
		"aws:eks/accessEntry:AccessEntry":                         "demo:arn:aws:iam::123456789012:role/teams/ci/deployer",
		"aws:eks/accessPolicyAssociation:AccessPolicyAssociation": "demo#arn:aws:iam::123456789012:role/teams/ci/deployer#arn:aws:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy",
		"aws:eks/addon:Addon":                                     "demo:eks-pod-identity-agent",
	} {
		if got, ok := importID(typ, in); !ok || got != want {
			t.Errorf("importID(%s) = %q, %t; want %q", typ, got, ok, want)
		}
	}
}

// A pending add-on is adopted only through findCreated, which waits until it is ACTIVE (see
// TestAddonWhenActive): what it answers is imported, nothing means never made.
func TestPendingAddonIsAwaited(t *testing.T) {
	op := apitype.OperationV2{Type: apitype.OperationTypeCreating, Resource: apitype.ResourceV3{
		URN:    "urn:pulumi:test::eks-irsa::eksirsa:infra:PodIdentityAgent$aws:eks/addon:Addon::demo-pod-identity-agent",
		Parent: "urn:pulumi:test::eks-irsa::eksirsa:infra:PodIdentityAgent::demo",
		Custom: true, Type: "aws:eks/addon:Addon",
		Inputs: map[string]any{"clusterName": "demo", "addonName": "eks-pod-identity-agent"},
	}}
	for _, found := range [][]string{{"demo:eks-pod-identity-agent"}, nil} {
		asked := 0
		find := func(_ context.Context, got apitype.OperationV2) ([]string, error) {
			asked++
			return found, nil
		}
		imports, err := planRecovery(t.Context(), "test", []apitype.OperationV2{op}, find)
		if err != nil || asked != 1 || len(imports) != len(found) {
			t.Fatalf("found %q: planRecovery = %+v, %v after %d lookups; want %d imports after one", found, imports, err, asked, len(found))
		}
		if len(found) == 1 && (imports[0].ID != found[0] || imports[0].Name != "demo-pod-identity-agent" || imports[0].Parent != string(op.Resource.Parent)) {
			t.Errorf("import %+v", imports[0])
		}
	}
}

// An import that fails after the pending operations were cleared is not forgotten: the next
// up, whose state no longer has the pending create, still adopts the NAT gateway (from the
// adoption plan kept beside the state) instead of letting the update create a second one, and
// imports nothing twice.
func TestFailedImportIsMadeByTheNextUp(t *testing.T) {
	t.Setenv(envBackendURL, "")
	backend := "file://" + t.TempDir()
	f := &fakeStack{outputs: testStackOutputs(), state: interruptedAWSState,
		importErrs: map[string]error{"aws:ec2/natGateway:NatGateway": errors.New("EC2 DescribeNatGateways: RequestLimitExceeded")}}
	find := func(*options) findCreated {
		return func(context.Context, apitype.OperationV2) ([]string, error) { return []string{"nat-1"}, nil }
	}
	up := func() (int, string, string) {
		var out, errOut bytes.Buffer
		opts := &options{open: func(context.Context, *options) (stackAPI, error) { return f, nil }, findPending: find}
		root := newRootCommandWith(&out, &errOut, opts)
		code := runWith(t.Context(), root, []string{"--backend", backend, "up", "-y", "--no-verify", "-C", projectDir}, &errOut)
		return code, out.String(), errOut.String()
	}
	nat := "import aws:ec2/natGateway:NatGateway nat nat-1"
	role := "import aws:iam/role:Role demo-aws-node demo-aws-node"
	route := "import aws:ec2/route:Route demo-private-default rtb-0a1_0.0.0.0/0"

	// All three in one import, which fails at the NAT gateway after the role is in; then each
	// left on its own: the NAT gateway fails again.
	code, stdout, stderr := up()
	if code == 0 {
		t.Fatal("up succeeded although an import failed")
	}
	if want := []string{"export", "refresh", role, nat, "export", nat}; !slices.Equal(f.calls, want) {
		t.Errorf("first up: calls %q, want %q", f.calls, want)
	}
	if !strings.Contains(stdout, "Importing them together failed (EC2 DescribeNatGateways: RequestLimitExceeded); importing each on its own.") ||
		!strings.Contains(stdout, "aws:iam/role:Role demo-aws-node is in the stack already.") {
		t.Errorf("the first up does not say how it imported:\n%s", stdout)
	}
	if !strings.Contains(stderr, "the next `eksirsa up` tries this import again") {
		t.Errorf("stderr does not say the import is kept:\n%s", stderr)
	}

	delete(f.importErrs, "aws:ec2/natGateway:NatGateway")
	f.calls, f.importRuns = nil, 0
	code, stdout, stderr = up()
	if code != 0 {
		t.Fatalf("second up: exit %d: %s", code, stderr)
	}
	if want := []string{"export", nat, route, "up"}; !slices.Equal(f.calls, want) {
		t.Errorf("second up: calls %q, want %q (the NAT gateway adopted, the role not imported twice)", f.calls, want)
	}
	if f.importRuns != 1 {
		t.Errorf("second up: %d imports, want the two owed in one", f.importRuns)
	}
	if !strings.Contains(stdout, "An earlier recovery left 2 imports to make") {
		t.Errorf("the second up does not say it resumes:\n%s", stdout)
	}

	f.calls = nil
	if code, _, stderr := up(); code != 0 {
		t.Fatalf("third up: %s", stderr)
	}
	if want := []string{"export", "up"}; !slices.Equal(f.calls, want) {
		t.Errorf("third up: calls %q, want %q (the plan done and dropped)", f.calls, want)
	}
}
