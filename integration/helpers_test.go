package integration

import (
	"context"
	"encoding/json"
	"maps"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/auto"
	"github.com/pulumi/pulumi/sdk/v3/go/auto/events"
	"github.com/pulumi/pulumi/sdk/v3/go/auto/optdestroy"
	"github.com/pulumi/pulumi/sdk/v3/go/auto/optpreview"
	"github.com/pulumi/pulumi/sdk/v3/go/auto/optup"
	"github.com/pulumi/pulumi/sdk/v3/go/common/apitype"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/aws-iam-authenticator/pkg/config"
	"sigs.k8s.io/aws-iam-authenticator/pkg/mapper/configmap"

	"github.com/eks-irsa/eks-irsa/integration/testcluster"
	"github.com/eks-irsa/eks-irsa/k8s"
)

const (
	project = "eks-irsa-integration"
	stack   = "test"

	nodeRoleARN     = "arn:aws:iam::111122223333:role/eks-irsa-test-node"
	awsNodeRoleARN  = "arn:aws:iam::111122223333:role/eks-irsa-test-aws-node"
	awsNodeRoleARN2 = "arn:aws:iam::111122223333:role/eks-irsa-test-aws-node-2"
	adminRoleARN    = "arn:aws:iam::111122223333:role/platform-admin"
	clusterARN      = "arn:aws:eks:us-west-2:111122223333:cluster/eks-irsa-test"
	clusterIssuer   = "https://oidc.eks.us-west-2.amazonaws.com/id/EKSIRSATESTCLUSTER"

	// upTimeout bounds every Pulumi operation: a DaemonSet patch whose rollout never
	// completes waits far longer than this.
	upTimeout = 3 * time.Minute
)

// layerName is the name the tests give k8s.NewLayer: the aws-node binding's objects are
// layerName+k8s.AWSNodeBindingSuffix+"-service-account" and +"-restart".
const layerName = "eks-irsa-test"

// awsNodeResource is the resource name of one of the aws-node binding's objects ("restart",
// "service-account").
func awsNodeResource(object string) string {
	return layerName + k8s.AWSNodeBindingSuffix + "-" + object
}

// layer is the inputs of the Kubernetes layer, with plain values in place of the AWS
// layer's outputs; program runs k8s.NewLayer, the entry point stack.Build calls.
type layer struct {
	kubeconfig     string
	nodeRoleARN    string
	awsNodeRoleARN string
	roles          []k8s.RoleMapping
	adopt          bool
	bindings       []k8s.Binding
}

func (l layer) program() pulumi.RunFunc {
	return func(ctx *pulumi.Context) error {
		built, err := k8s.NewLayer(ctx, layerName, &k8s.LayerArgs{
			Kubeconfig:        pulumi.ToSecret(pulumi.String(l.kubeconfig)).(pulumi.StringOutput),
			ClusterIdentifier: pulumi.String(clusterARN),
			Cluster:           k8s.ClusterInstance{Issuer: pulumi.String(clusterIssuer)},
			NodeRoleARN:       pulumi.String(l.nodeRoleARN),
			AWSNodeRoleARN:    pulumi.String(l.awsNodeRoleARN),
			Bindings:          l.bindings,
			AWSAuth:           k8s.AWSAuthMappings{Roles: l.roles, Adopt: l.adopt},
		})
		if err != nil {
			return err
		}
		ctx.Export("mapRoles", built.AWSAuth.MapRoles)
		return nil
	}
}

// env is one test's cluster and Pulumi stack.
type env struct {
	t       *testing.T
	cluster *testcluster.Cluster
	stack   auto.Stack
}

// newEnv starts a seeded cluster and an inline stack for l (whose kubeconfig it fills in).
func newEnv(t *testing.T, l layer) (*env, layer) {
	t.Helper()
	c := testcluster.Start(t)
	testcluster.SeedEKS(t, c)
	return newStack(t, c, l)
}

func newStack(t *testing.T, c *testcluster.Cluster, l layer) (*env, layer) {
	t.Helper()
	p := testcluster.NewPulumi(t)
	l.kubeconfig = string(c.Kubeconfig)
	s := p.InlineStack(t.Context(), t, project, stack, l.program())
	return &env{t: t, cluster: c, stack: s}, l
}

// steps records the engine's step for every resource, by "type::name".
type steps struct {
	mu       sync.Mutex
	ops      map[string]apitype.OpType
	received atomic.Bool // an event arrived: the CLI opened its stream
}

func newSteps() *steps { return &steps{ops: map[string]apitype.OpType{}} }

func (s *steps) collect(ch <-chan events.EngineEvent) {
	for ev := range ch {
		s.received.Store(true)
		if ev.ResourcePreEvent == nil {
			continue
		}
		md := ev.ResourcePreEvent.Metadata
		s.mu.Lock()
		s.ops[urnKey(md.URN)] = md.Op
		s.mu.Unlock()
	}
}

// wait returns once the event stream has ended; it is called after the operation returned.
// The Automation API's event server closes the channel when the CLI's stream ends, normally or
// not (then after an error event), so once an event has arrived the close follows. A CLI that
// failed before streaming (a locked stack, a bad flag) never opened a stream: the operation
// has returned and closed the server, so no event will come and there is nothing to wait for.
func (s *steps) wait(t testing.TB, done <-chan struct{}) {
	if s.received.Load() {
		streamEnded(t, done)
	}
}

// streamEnded waits until the reader of an event stream the CLI opened has seen it close
// (done closed), bounded by upTimeout.
func streamEnded(t testing.TB, done <-chan struct{}) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), upTimeout)
	defer cancel()
	select {
	case <-done:
	case <-ctx.Done():
		t.Fatalf("the event stream did not end within %s", upTimeout)
	}
}

func (s *steps) get() map[string]apitype.OpType {
	s.mu.Lock()
	defer s.mu.Unlock()
	return maps.Clone(s.ops)
}

// urnKey shortens urn:pulumi:stack::project::parent$type::name to type::name.
func urnKey(urn string) string {
	parts := strings.Split(urn, "::")
	if len(parts) < 4 {
		return urn
	}
	typ := parts[2]
	if i := strings.LastIndex(typ, "$"); i >= 0 {
		typ = typ[i+1:]
	}
	return typ + "::" + strings.Join(parts[3:], "::")
}

// observe runs one engine operation with an event stream, bounded by upTimeout, and returns
// the step each resource took and the wall time.
func observe(t testing.TB, run func(ctx context.Context, ch chan<- events.EngineEvent) error) (map[string]apitype.OpType, time.Duration, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), upTimeout)
	defer cancel()
	st := newSteps()
	ch := make(chan events.EngineEvent)
	done := make(chan struct{})
	go func() { st.collect(ch); close(done) }()
	start := time.Now()
	err := run(ctx, ch)
	took := time.Since(start)
	st.wait(t, done)
	return st.get(), took, err
}

// up runs `pulumi up` with l's program and returns the steps and the wall time. Here as in
// eksirsa (its stack's undecrypted), the history auto.Stack reads after each operation stays
// encrypted (ShowSecrets(false)): nothing here reads its summary, and each decrypting CLI run
// derives the passphrase's key first (0.2 s of CPU).
func (e *env) up(l layer, opts ...optup.Option) (auto.UpResult, map[string]apitype.OpType, time.Duration, error) {
	e.t.Helper()
	e.stack.Workspace().SetProgram(l.program())
	var res auto.UpResult
	ops, took, err := observe(e.t, func(ctx context.Context, ch chan<- events.EngineEvent) (err error) {
		res, err = e.stack.Up(ctx, append(opts, optup.EventStreams(ch), optup.ShowSecrets(false))...)
		return err
	})
	return res, ops, took, err
}

func (e *env) mustUp(l layer, opts ...optup.Option) (map[string]apitype.OpType, time.Duration) {
	e.t.Helper()
	res, ops, took, err := e.up(l, opts...)
	if err != nil {
		e.t.Fatalf("up: %v\nstdout:\n%s", err, res.StdOut)
	}
	return ops, took
}

func (e *env) preview(l layer) (auto.PreviewResult, error) {
	e.t.Helper()
	e.stack.Workspace().SetProgram(l.program())
	ctx, cancel := context.WithTimeout(e.t.Context(), upTimeout)
	defer cancel()
	return e.stack.Preview(ctx, optpreview.Diff())
}

func (e *env) destroy(l layer) (map[string]apitype.OpType, time.Duration) {
	e.t.Helper()
	e.stack.Workspace().SetProgram(l.program())
	var res auto.DestroyResult
	ops, took, err := observe(e.t, func(ctx context.Context, ch chan<- events.EngineEvent) (err error) {
		res, err = e.stack.Destroy(ctx, optdestroy.EventStreams(ch), optdestroy.ShowSecrets(false))
		return err
	})
	if err != nil {
		e.t.Fatalf("destroy: %v\nstdout:\n%s", err, res.StdOut)
	}
	return ops, took
}

// Kubernetes reads.

func (e *env) serviceAccount(name string) *corev1.ServiceAccount {
	e.t.Helper()
	sa, err := e.cluster.Client.CoreV1().ServiceAccounts(testcluster.KubeSystem).Get(e.t.Context(), name, metav1.GetOptions{})
	if err != nil {
		e.t.Fatalf("get ServiceAccount %s: %v", name, err)
	}
	return sa
}

func (e *env) daemonSet(name string) *appsv1.DaemonSet {
	e.t.Helper()
	ds, err := e.cluster.Client.AppsV1().DaemonSets(testcluster.KubeSystem).Get(e.t.Context(), name, metav1.GetOptions{})
	if err != nil {
		e.t.Fatalf("get DaemonSet %s: %v", name, err)
	}
	return ds
}

func (e *env) awsAuth() (*corev1.ConfigMap, error) {
	return e.cluster.Client.CoreV1().ConfigMaps(testcluster.KubeSystem).Get(e.t.Context(), k8s.AWSAuthName, metav1.GetOptions{})
}

// managers lists the field managers of an object, as "manager/operation".
func managers(obj metav1.Object) []string {
	var out []string
	for _, mf := range obj.GetManagedFields() {
		out = append(out, mf.Manager+"/"+string(mf.Operation))
	}
	slices.Sort(out)
	return out
}

// parseAWSAuth parses a ConfigMap's data the way EKS's authenticator does.
func parseAWSAuth(t *testing.T, cm *corev1.ConfigMap) []config.RoleMapping {
	t.Helper()
	users, roles, accounts, err := configmap.ParseMap(cm.Data)
	if err != nil {
		t.Fatalf("aws-auth does not parse: %v\n%v", err, cm.Data)
	}
	if len(users) != 0 || len(accounts) != 0 {
		t.Errorf("aws-auth: users %v accounts %v, want none", users, accounts)
	}
	return roles
}

func nodeMapping() config.RoleMapping {
	return config.RoleMapping{RoleARN: nodeRoleARN, Username: k8s.NodeUsername, Groups: []string{k8s.BootstrappersGroup, k8s.NodesGroup}}
}

// onlyOps fails unless every step's op is in allowed.
func onlyOps(t *testing.T, what string, ops map[string]apitype.OpType, allowed ...apitype.OpType) {
	t.Helper()
	for res, op := range ops {
		if !slices.Contains(allowed, op) {
			t.Errorf("%s: %s is %q, want one of %q (all: %v)", what, res, op, allowed, ops)
		}
	}
}

func pulumiString(s string) pulumi.StringInput { return pulumi.String(s) }

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}

func jsonString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// state exports the stack's state; after names the moment, for failures.
func (e *env) state(after string) apitype.DeploymentV3 {
	e.t.Helper()
	exported, err := e.stack.Export(e.t.Context())
	if err != nil {
		e.t.Fatalf("export after %s: %v", after, err)
	}
	var dep apitype.DeploymentV3
	if err := json.Unmarshal(exported.Deployment, &dep); err != nil {
		e.t.Fatalf("state after %s: %v", after, err)
	}
	return dep
}
