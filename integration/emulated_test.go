package integration

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	asgtypes "github.com/aws/aws-sdk-go-v2/service/autoscaling/types"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/eks"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/aws-iam-authenticator/pkg/mapper/configmap"

	"github.com/eks-irsa/eks-irsa/accessentry"
	"github.com/eks-irsa/eks-irsa/integration/awsemu"
	"github.com/eks-irsa/eks-irsa/integration/moto"
	"github.com/eks-irsa/eks-irsa/integration/stackfile"
	"github.com/eks-irsa/eks-irsa/integration/testbin"
	"github.com/eks-irsa/eks-irsa/integration/testcluster"
	"github.com/eks-irsa/eks-irsa/irsa"
	"github.com/eks-irsa/eks-irsa/k8s"
	program "github.com/eks-irsa/eks-irsa/stack"
)

// The emulated tier: the real eksirsa binary runs the real stack.Program through the real
// Pulumi engine. AWS is moto behind the test-only pulumi-resource-aws plugin (awsemu), TLS the
// test-only pulumi-resource-tls that dials for real, and the cluster a loopback
// kube-apiserver that accepts the program's own kubeconfig (exec of the real `aws eks
// get-token`) through an authenticator standing in for EKS's. Nodes join as EKS nodes do:
// one per instance moto's ASG launches, once aws-auth maps the node role.

// The creator's dummy keys: the aws CLI signs tokens with them, the authenticator stand-in
// checks the signature with them, moto accepts any.
const (
	emuAccessKeyID = "AKIDEKSIRSACREATOR"
	emuSecretKey   = "eks-irsa-creator-secret"
	emuRegion      = "us-west-2"
	emuPassphrase  = "emulated-tier"
	emuOpTimeout   = 10 * time.Minute
)

// emulated is one stack of the real program on moto and a loopback cluster.
type emulated struct {
	t    testing.TB
	moto *moto.Server
	asg  *autoscaling.Client
	ec2  *ec2.Client
	// cluster is the control plane the stack's first cluster gets; planes gives each later
	// one (a replacement) its own.
	cluster  *testcluster.Cluster
	planes   *testcluster.ControlPlanes
	kubelets *testcluster.Kubelets
	// cni is the nodes' pod network: holding aws-node stalls its rollouts.
	cni *cni
	// dir is the project directory: the repository's Pulumi.yaml and a copy of Pulumi.test.yaml.
	dir  string
	env  []string
	bin  string
	name string // the cluster's name
	// nodeRole is the node role's name, which aws-auth must map before a node can join.
	nodeRole string
	// rollBase is aws-node's generation before an up whose rollouts a test counts.
	rollBase int64
	// minted holds the kubelets of each control plane the service minted (currentNodes).
	nodesMu sync.Mutex
	minted  map[*testcluster.Cluster]*testcluster.Kubelets
	// joined holds, per set of kubelets, the instances whose node has joined them: joinNodes
	// describes only the others, so a stack whose nodes are all in costs moto one
	// DescribeAutoScalingGroups a poll (before: a DescribeInstances of every node too, 5 times
	// a second for the test's whole life, 2.5 of moto's 11 CPU-seconds in
	// TestEmulatedUpVerifySecondUpDestroy, 2026-12-07).
	joined map[*testcluster.Kubelets]map[string]bool
	// aws signs as the principal the stack's AWS provider acts as, in the stack's account:
	// moto's default account, or with emuOptions.assumeRole the role's.
	aws aws.Config
}

// The account a stack with emuOptions.assumeRole lives in, reached from the creator's
// credentials in moto's default account through aws:assumeRole, as a multi-account setup
// deploys (moto keeps accounts apart by the keys its AssumeRole hands out:
// integration/moto TestAssumedCredentialsAreAnotherAccount).
const (
	emuStackAccount = "222222222222"
	emuDeployerRole = "arn:aws:iam::" + emuStackAccount + ":role/deployer"
	emuSessionName  = "eksirsa-emulated"
)

// emuOptions are the variations of one emulated stack.
type emuOptions struct {
	// assumeRole sets aws:assumeRole to emuDeployerRole: the provider, eksirsa's own calls and
	// the kubeconfig's `aws eks get-token --role-arn` all act in emuStackAccount.
	assumeRole bool
	// mapByEKS makes the authenticator stand-in map tokens as EKS does, from the cluster's
	// access entries (and aws-auth where the mode reads it) in moto, instead of admitting the
	// creator as its admin (testcluster.EKSAccess).
	mapByEKS bool
}

// startEmulated starts one test's own moto_server, loopback cluster, project directory and
// state backend; nothing process-wide is read or set, so emulated tests run in parallel
// (go test's -parallel, GOMAXPROCS by default): most of their time is spent waiting on the
// engine, the emulator's scaled create times and the controllers.
func startEmulated(t testing.TB) *emulated {
	t.Helper()
	return startEmulatedWith(t, emuOptions{})
}

func startEmulatedWith(t testing.TB, opts emuOptions) *emulated {
	t.Helper()
	tools := testcluster.ToolsBin(t)
	for _, tool := range []string{"aws"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s is not on PATH: the emulated tier needs it (it ships with this machine kind's image)", tool)
		}
	}
	// The driver and the test-only plugins, first on PATH.
	setup := time.Now()
	bin := testbin.Dir(t)
	built := time.Now()
	m := moto.Start(t)
	motoUp := time.Now()
	ctx := t.Context()

	dir := t.TempDir()
	for _, f := range []string{"Pulumi.yaml", "Pulumi.test.yaml"} {
		data, err := os.ReadFile(filepath.Join("..", f))
		if err != nil {
			t.Fatal(err)
		}
		if f == "Pulumi.test.yaml" {
			// eksirsa's own IAM, STS, EC2, EKS and CloudWatch Logs calls (verify --identities,
			// drift, recovery waiting for a pending cluster, destroy's log-group check) reach moto
			// the way a stack on LocalStack points its AWS provider: aws:endpoints.
			data = fmt.Appendf(data, "  aws:endpoints:\n    - iam: %s\n      sts: %s\n      ec2: %s\n      eks: %s\n      logs: %s\n", m.URL, m.URL, m.URL, m.URL, m.URL)
			if opts.assumeRole {
				data = fmt.Appendf(data, "  aws:assumeRole:\n    roleArn: %s\n    sessionName: %s\n    duration: 1h\n", emuDeployerRole, emuSessionName)
			}
		}
		if err := os.WriteFile(filepath.Join(dir, f), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	raw, err := program.LoadStackFiles(dir, "test")
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := program.Decode(raw)
	if err != nil {
		t.Fatal(err)
	}
	name := cfg.Name()
	if _, err := m.SeedEKSAMIParameters(ctx, emuRegion, cfg.Cluster.Version); err != nil {
		t.Fatal(err)
	}

	auth := &testcluster.AWSIAMAuth{
		ClusterName: name, Region: emuRegion, AccessKeyID: emuAccessKeyID, SecretAccessKey: emuSecretKey,
		Username: "eks-irsa-creator",
	}
	awsCfg := m.Config(emuRegion)
	if opts.assumeRole {
		// The kubeconfig runs `aws eks get-token --role-arn`: the CLI assumes the role at
		// moto's STS and presigns for it, and the authenticator asks that STS who signed,
		// admitting the role EKS made the cluster's admin (its creator).
		auth = &testcluster.AWSIAMAuth{ClusterName: name, Region: emuRegion, Username: "eks-irsa-creator",
			STSEndpoint: m.URL, AdminARN: emuDeployerRole}
		out, err := sts.NewFromConfig(awsCfg).AssumeRole(ctx, &sts.AssumeRoleInput{RoleArn: aws.String(emuDeployerRole), RoleSessionName: aws.String("emulated-test")})
		if err != nil {
			t.Fatal(err)
		}
		cr := out.Credentials
		awsCfg.Credentials = credentials.NewStaticCredentialsProvider(aws.ToString(cr.AccessKeyId), aws.ToString(cr.SecretAccessKey), aws.ToString(cr.SessionToken))
	}
	if opts.mapByEKS {
		auth.EKS = &testcluster.EKSAccess{Endpoint: m.URL}
	}
	c := testcluster.StartWith(t, testcluster.Options{AWSIAM: auth})
	if opts.mapByEKS {
		auth.EKS.UseKube(c.Client)
	}
	testcluster.SeedEKS(t, c)
	// The webhook stand-in asks moto's EKS, as EKS's webhook knows, whether an account has an
	// association: one filtered list per pod created.
	assocs := eks.NewFromConfig(awsCfg)
	c.Associated = func(ctx context.Context, namespace, account string) (bool, error) {
		got, err := assocs.ListPodIdentityAssociations(ctx, &eks.ListPodIdentityAssociationsInput{ClusterName: aws.String(name), Namespace: aws.String(namespace), ServiceAccount: aws.String(account)})
		if accessentry.NotFound(err) {
			return false, nil // the seeded pods come before moto has the cluster
		}
		if err != nil {
			return false, err
		}
		return len(got.Associations) > 0, nil
	}
	// Pods of an associated account fetch their credentials from the agent stand-in, which
	// calls moto's EKS Auth for this cluster.
	c.PodIdentityAgentURL = testcluster.StartPodIdentityAgent(t, m.URL, name, emuRegion, awsCfg.Credentials).URL
	c.StartPodIdentityWebhook(t)
	n := &cni{}
	kubelets := c.StartKubelets(t, n.gate)
	// moto's CreateCluster hands this control plane to the stack's cluster; only a cluster
	// created again (a replacement) costs a second one.
	planes := testcluster.ServeControlPlanes(t, c)
	if err := m.UseControlPlanes(planes.URL); err != nil {
		t.Fatal(err)
	}
	t.Logf("setup: binaries %s, moto %s, cluster and seeds %s",
		built.Sub(setup).Round(time.Millisecond), motoUp.Sub(built).Round(time.Millisecond), time.Since(motoUp).Round(time.Millisecond))

	home := t.TempDir()
	env := append(testcluster.WithoutAWSEnv(os.Environ()),
		"PATH="+bin+string(os.PathListSeparator)+tools+string(os.PathListSeparator)+os.Getenv("PATH"),
		"PULUMI_HOME="+filepath.Join(home, "pulumi-home"),
		"PULUMI_BACKEND_URL=file://"+filepath.Join(home, "state"),
		"PULUMI_CONFIG_PASSPHRASE="+emuPassphrase,
		"PULUMI_SKIP_UPDATE_CHECK=true",
		"PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION=true",
		"AWS_ACCESS_KEY_ID="+emuAccessKeyID,
		"AWS_SECRET_ACCESS_KEY="+emuSecretKey,
		"AWS_REGION="+emuRegion,
		"AWS_DEFAULT_REGION="+emuRegion,
		"AWS_CONFIG_FILE="+filepath.Join(home, "no-aws-config"),
		"AWS_SHARED_CREDENTIALS_FILE="+filepath.Join(home, "no-aws-credentials"),
		awsemu.EndpointEnv+"="+m.URL,
		"KUBECONFIG="+filepath.Join(home, "no-kubeconfig"),
		// The Kubernetes provider writes its kubeconfig to a file of its own at every
		// configure and never removes it (writeKubeconfigToFile, pulumi-kubernetes
		// provider/pkg/provider/util.go): 2,145 of them were left in /tmp by one whole run
		// (CI's of 2ae7f94). They go with the test here.
		"TMPDIR="+filepath.Join(home, "tmp"),
		// EKS's issuer has a publicly trusted certificate; the loopback control planes' CAs
		// play that part for the TLS plugin, which verifies the chain as the real provider does.
		"SSL_CERT_FILE="+planes.CABundle,
	)
	if opts.assumeRole {
		// Only the aws CLI reads it here: the plugin has EndpointEnv and eksirsa aws:endpoints.
		env = append(env, "AWS_ENDPOINT_URL_STS="+m.URL)
	}
	for _, d := range []string{"state", "tmp"} {
		if err := os.MkdirAll(filepath.Join(home, d), 0o700); err != nil {
			t.Fatal(err)
		}
	}
	e := &emulated{t: t, moto: m, asg: autoscaling.NewFromConfig(awsCfg), ec2: ec2.NewFromConfig(awsCfg), cluster: c, planes: planes, kubelets: kubelets, cni: n, dir: dir, env: env,
		bin: filepath.Join(bin, "eksirsa"), name: name, nodeRole: cfg.NodeRoleName(), aws: awsCfg,
		minted: map[*testcluster.Cluster]*testcluster.Kubelets{}, joined: map[*testcluster.Kubelets]map[string]bool{}}
	e.joinNodes()
	return e
}

// eksirsa runs the driver in the project directory and returns what it printed.
func (e *emulated) eksirsa(args ...string) (string, error) {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(e.t.Context(), emuOpTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, e.bin, append(args, "-C", e.dir)...)
	cmd.Env = e.env
	var out bytes.Buffer
	cmd.Stdout = io.MultiWriter(&out, testWriter{e.t, "eksirsa " + args[0]})
	cmd.Stderr = cmd.Stdout
	start := time.Now()
	err := cmd.Run()
	e.t.Logf("eksirsa %s: %v after %s", strings.Join(args, " "), err, time.Since(start).Round(time.Millisecond))
	return out.String(), err
}

// running is an eksirsa command started in the background.
type running struct {
	cmd      *exec.Cmd
	out      *lockedBuffer
	finished chan struct{}
	err      error
}

// start runs the driver in the project directory without waiting for it; the test's end
// stops it if it is still running.
func (e *emulated) start(args ...string) *running {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), emuOpTimeout)
	cmd := exec.CommandContext(ctx, e.bin, append(args, "-C", e.dir)...)
	cmd.Env = e.env
	r := &running{cmd: cmd, out: &lockedBuffer{}, finished: make(chan struct{})}
	cmd.Stdout = io.MultiWriter(r.out, testWriter{e.t, "eksirsa " + args[0] + " (background)"})
	cmd.Stderr = cmd.Stdout
	if err := cmd.Start(); err != nil {
		cancel()
		e.t.Fatal(err)
	}
	go func() {
		r.err = cmd.Wait()
		cancel()
		close(r.finished)
	}()
	e.t.Cleanup(func() { cancel(); <-r.finished })
	return r
}

// waitFor reports whether the output has matched re before the command ended or timeout passed.
func (r *running) waitFor(re *regexp.Regexp, timeout time.Duration) bool {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		if re.MatchString(r.output()) {
			return true
		}
		if r.done() {
			return re.MatchString(r.output())
		}
		time.Sleep(100 * time.Millisecond)
	}
	return false
}

func (r *running) done() bool {
	select {
	case <-r.finished:
		return true
	default:
		return false
	}
}

func (r *running) wait() error { <-r.finished; return r.err }

func (r *running) output() string { return r.out.String() }

// lockedBuffer is a bytes.Buffer safe for a writer and a reader in two goroutines.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// testWriter logs each line a process prints.
type testWriter struct {
	t      testing.TB
	prefix string
}

func (w testWriter) Write(p []byte) (int, error) {
	for _, line := range strings.Split(strings.TrimRight(string(p), "\n"), "\n") {
		w.t.Logf("%s| %s", w.prefix, line)
	}
	return len(p), nil
}

// joinNodes plays the nodes of the stack's ASG: every instance moto launches for it joins
// the cluster under its private DNS name once aws-auth maps the node role, as a node's
// kubelet authenticates with its instance profile's role and is refused until then.
func (e *emulated) joinNodes() {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		// Every poll costs moto a request (about 15 ms of its CPU each, most of it outside the
		// operation): 200 ms apart while instances wait to join, backing off to a second
		// while every instance is in (before: 200 ms always, 378 polls in
		// TestEmulatedUpVerifySecondUpDestroy, 2026-12-07).
		const fast, slow = 200 * time.Millisecond, time.Second
		interval := fast
		for {
			waiting, err := e.joinOnce(ctx)
			if err != nil && ctx.Err() == nil {
				e.t.Logf("nodes: %v", err)
			}
			if waiting || err != nil {
				interval = fast
			} else {
				interval = min(2*interval, slow)
			}
			select {
			case <-ctx.Done():
				return
			case <-time.After(interval):
			}
		}
	}()
	e.t.Cleanup(func() { cancel(); <-done })
}

// joinOnce joins the node of every in-service instance of the stack's groups that has not
// joined yet, and says whether any is still waiting to (or had to join now).
func (e *emulated) joinOnce(ctx context.Context) (waiting bool, err error) {
	groups, err := e.asg.DescribeAutoScalingGroups(ctx, &autoscaling.DescribeAutoScalingGroupsInput{})
	if err != nil {
		return false, err
	}
	// Nodes join the control plane the cluster has now: after a replacement, the new one
	// (the workers' user data names its endpoint and CA).
	cp, kubelets := e.currentNodes()
	if cp == nil {
		return false, nil
	}
	var ids []string
	for _, g := range groups.AutoScalingGroups {
		for _, i := range g.Instances {
			if id := aws.ToString(i.InstanceId); i.LifecycleState == asgtypes.LifecycleStateInService && !e.hasJoined(kubelets, id) {
				ids = append(ids, id)
			}
		}
	}
	if len(ids) == 0 {
		return false, nil
	}
	mapped, err := e.nodeRoleMapped(ctx, cp)
	if err != nil || !mapped {
		return true, err
	}
	out, err := e.ec2.DescribeInstances(ctx, &ec2.DescribeInstancesInput{InstanceIds: ids})
	if err != nil {
		return true, err
	}
	for _, r := range out.Reservations {
		for _, i := range r.Instances {
			if name := aws.ToString(i.PrivateDnsName); name != "" {
				if err := kubelets.Join(ctx, name); err != nil {
					return true, err
				}
				e.markJoined(kubelets, aws.ToString(i.InstanceId))
			}
		}
	}
	return true, nil
}

// hasJoined says whether instance id's node has joined kubelets.
func (e *emulated) hasJoined(kubelets *testcluster.Kubelets, id string) bool {
	e.nodesMu.Lock()
	defer e.nodesMu.Unlock()
	return e.joined[kubelets][id]
}

func (e *emulated) markJoined(kubelets *testcluster.Kubelets, id string) {
	e.nodesMu.Lock()
	defer e.nodesMu.Unlock()
	if e.joined[kubelets] == nil {
		e.joined[kubelets] = map[string]bool{}
	}
	e.joined[kubelets][id] = true
}

// currentNodes returns the cluster's control plane now and the kubelets that join it. A
// control plane the service minted (a replacement) gets what the test's own has: the pod
// identity webhook and kubelets behind the same pod network.
func (e *emulated) currentNodes() (*testcluster.Cluster, *testcluster.Kubelets) {
	cp := e.planes.Current(e.name)
	if cp == nil {
		return nil, nil
	}
	e.nodesMu.Lock()
	defer e.nodesMu.Unlock()
	if cp == e.cluster {
		return cp, e.kubelets
	}
	k, ok := e.minted[cp]
	if !ok {
		cp.StartPodIdentityWebhook(e.t)
		k = cp.StartKubelets(e.t, e.cni.gate)
		e.minted[cp] = k
	}
	return cp, k
}

// nodeRoleMapped says whether the cluster admits the stack's node role as a node: aws-auth,
// parsed as EKS's authenticator parses it, maps it into system:nodes, or, where aws-auth does
// not, the role has an EC2_LINUX access entry in moto (EKS User Guide, "Grant IAM users access
// to Kubernetes with EKS access entries": an entry first; aws-auth only without one, and never
// in API mode).
func (e *emulated) nodeRoleMapped(ctx context.Context, cp *testcluster.Cluster) (bool, error) {
	cm, err := cp.Client.CoreV1().ConfigMaps(k8s.KubeSystemNamespace).Get(ctx, k8s.AWSAuthName, metav1.GetOptions{})
	if err != nil {
		return e.nodeRoleHasEntry(ctx)
	}
	_, roles, _, err := configmap.ParseMap(cm.Data)
	if err != nil {
		return false, err
	}
	for _, r := range roles {
		if strings.HasSuffix(r.RoleARN, ":role/"+e.nodeRole) {
			for _, g := range r.Groups {
				if g == "system:nodes" {
					return true, nil
				}
			}
		}
	}
	return false, nil
}

// nodeRoleHasEntry says whether the stack's cluster in moto has a node access entry for its
// node role.
func (e *emulated) nodeRoleHasEntry(ctx context.Context) (bool, error) {
	c := eks.NewFromConfig(e.aws)
	list, err := c.ListAccessEntries(ctx, &eks.ListAccessEntriesInput{ClusterName: aws.String(e.name)})
	if err != nil {
		return false, nil //nolint:nilerr // no cluster, or a mode without entries: the node retries
	}
	for _, arn := range list.AccessEntries {
		if !strings.HasSuffix(arn, ":role/"+e.nodeRole) {
			continue
		}
		out, err := c.DescribeAccessEntry(ctx, &eks.DescribeAccessEntryInput{ClusterName: aws.String(e.name), PrincipalArn: aws.String(arn)})
		if err != nil {
			return false, err
		}
		return aws.ToString(out.AccessEntry.Type) == program.EntryEC2Linux, nil
	}
	return false, nil
}

var resourceCount = regexp.MustCompile(`(\d+) unchanged`)

// upChangesNothing runs `eksirsa up --yes --no-verify` and fails the test unless every
// resource is unchanged; it returns how many were.
func (e *emulated) upChangesNothing(what string) string {
	e.t.Helper()
	out, err := e.eksirsa("up", "--yes", "--no-verify")
	if err != nil {
		e.t.Fatalf("%s: %v", what, err)
	}
	m := resourceCount.FindStringSubmatch(out)
	if m == nil || strings.Contains(out, " to create") || strings.Contains(out, " updated") || strings.Contains(out, " replaced") || strings.Contains(out, " created") {
		e.t.Fatalf("%s changed something:\n%s", what, out)
	}
	return m[1]
}

// setConfig sets one key in the stack's file, as `pulumi config set --path` would.
func (e *emulated) setConfig(key string, value any) {
	e.t.Helper()
	if err := stackfile.Set(filepath.Join(e.dir, "Pulumi.test.yaml"), key, value); err != nil {
		e.t.Fatal(err)
	}
}

// clusterObjects are the resource versions of what the stack may touch in the cluster besides
// aws-node (every service account, aws-auth) and the generation of every workload: a change
// in one is a change the stack made.
func (e *emulated) clusterObjects() map[string]string {
	e.t.Helper()
	ctx, c := e.t.Context(), e.cluster.Client
	got := map[string]string{}
	sas, err := c.CoreV1().ServiceAccounts("").List(ctx, metav1.ListOptions{})
	if err != nil {
		e.t.Fatal(err)
	}
	for _, sa := range sas.Items {
		got["serviceaccount "+sa.Namespace+"/"+sa.Name] = sa.ResourceVersion
	}
	cm, err := c.CoreV1().ConfigMaps(k8s.KubeSystemNamespace).Get(ctx, k8s.AWSAuthName, metav1.GetOptions{})
	if err != nil {
		e.t.Fatal(err)
	}
	got["configmap kube-system/aws-auth"] = cm.ResourceVersion
	dss, err := c.AppsV1().DaemonSets("").List(ctx, metav1.ListOptions{})
	if err != nil {
		e.t.Fatal(err)
	}
	for _, ds := range dss.Items {
		got["daemonset "+ds.Namespace+"/"+ds.Name] = fmt.Sprintf("generation %d", ds.Generation)
	}
	deps, err := c.AppsV1().Deployments("").List(ctx, metav1.ListOptions{})
	if err != nil {
		e.t.Fatal(err)
	}
	for _, d := range deps.Items {
		got["deployment "+d.Namespace+"/"+d.Name] = fmt.Sprintf("generation %d", d.Generation)
	}
	return got
}

// rolesRenamed renames, in one up, aws-node's role (awsNode.roleName) and the role of the first
// serviceAccountRoles entry (roleName; an account the stack creates), each a new role with a
// new ARN. aws-node: the up re-annotates kube-system/aws-node, rolls the aws-node DaemonSet
// exactly once onto the new role, deletes the old role only after that (checkRoleWindow:
// aws-node never holds the ARN of a role that does not exist), and its verify proves the new
// identity. The created account is annotated with its new ARN in place, the same object (its
// binding is named after the account, not the role: k8s.BindingName). Nothing else in the
// cluster changes, both old roles are gone and the next up changes nothing.
func (e *emulated) rolesRenamed() {
	e.t.Helper()
	ctx := e.t.Context()
	account := func(namespace, name string) *corev1.ServiceAccount {
		a, err := e.cluster.Client.CoreV1().ServiceAccounts(namespace).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			e.t.Fatal(err)
		}
		return a
	}
	sa := func() string {
		return account(k8s.KubeSystemNamespace, k8s.AWSNodeName).Annotations[irsa.RoleARNAnnotation]
	}
	oldARN := sa()
	before := e.clusterObjects()
	newName := e.name + "-vpc-cni"
	e.setConfig("eks-irsa:awsNode", map[string]any{"roleName": newName})
	newARN := strings.Replace(oldARN, ":role/"+e.name+"-aws-node", ":role/"+newName, 1)
	if newARN == oldARN {
		e.t.Fatalf("aws-node's role ARN %q is not <cluster>-aws-node's", oldARN)
	}

	stackFile := filepath.Join(e.dir, "Pulumi.test.yaml")
	roles, err := stackfile.Get(stackFile, "eks-irsa:serviceAccountRoles")
	if err != nil {
		e.t.Fatal(err)
	}
	created, _ := roles.([]any)[0].(map[string]any)
	ns, name := created["namespace"].(string), created["serviceAccount"].(string)
	if created["account"] != string(k8s.CreateServiceAccount) || created["roleName"] != nil {
		e.t.Fatalf("serviceAccountRoles[0] is %v, want an account the stack creates, its role named by default", created)
	}
	createdBefore := account(ns, name)
	createdOldRole, createdNewRole := e.name+"-"+name, e.name+"-"+name+"-v2"
	created["roleName"] = createdNewRole
	e.setConfig("eks-irsa:serviceAccountRoles", roles)

	stopWatch := e.watchAWSNode(e.name+"-aws-node", newName)
	out, err := e.eksirsa("up", "--yes", "--verify-wait", "3m")
	views := stopWatch()
	if err != nil {
		e.t.Fatalf("up with aws-node's role renamed: %v", err)
	}
	e.checkRoleWindow(views, oldARN, newARN)
	if got := sa(); got != newARN {
		e.t.Errorf("aws-node annotated with %q after the rename, want %q", got, newARN)
	}
	if !strings.Contains(out, "PASS identity kube-system/aws-node") || !strings.Contains(out, newName) {
		e.t.Errorf("verify did not prove aws-node's new identity:\n%s", out)
	}
	after := e.clusterObjects()
	ds := "daemonset " + k8s.KubeSystemNamespace + "/" + k8s.AWSNodeName
	var gen0, gen1 int
	fmt.Sscanf(before[ds], "generation %d", &gen0)
	fmt.Sscanf(after[ds], "generation %d", &gen1)
	if gen1 != gen0+1 {
		e.t.Errorf("aws-node rolled %d times (generation %d -> %d), want once", gen1-gen0, gen0, gen1)
	}
	for key, v := range before {
		if key == ds || key == "serviceaccount "+k8s.KubeSystemNamespace+"/"+k8s.AWSNodeName || key == "serviceaccount "+ns+"/"+name {
			continue
		}
		if after[key] != v {
			e.t.Errorf("%s changed (%s -> %s): the renames should touch aws-node and %s/%s only", key, v, after[key], ns, name)
		}
	}
	createdAfter := account(ns, name)
	wantARN := strings.Replace(createdBefore.Annotations[irsa.RoleARNAnnotation], ":role/"+createdOldRole, ":role/"+createdNewRole, 1)
	if got := createdAfter.Annotations[irsa.RoleARNAnnotation]; got != wantARN || createdAfter.UID != createdBefore.UID {
		e.t.Errorf("%s/%s after its role's rename: uid %s -> %s, annotated %q; want the same account annotated %q", ns, name, createdBefore.UID, createdAfter.UID, got, wantARN)
	}
	iamClient := iam.NewFromConfig(e.aws)
	for _, old := range []string{e.name + "-aws-node", createdOldRole} {
		if _, err := iamClient.GetRole(ctx, &iam.GetRoleInput{RoleName: aws.String(old)}); err == nil {
			e.t.Errorf("the old role %s is still in IAM after the rename", old)
		}
	}
	for _, renamed := range []string{newName, createdNewRole} {
		if _, err := iamClient.GetRole(ctx, &iam.GetRoleInput{RoleName: aws.String(renamed)}); err != nil {
			e.t.Errorf("the new role %s: %v", renamed, err)
		}
	}
	e.upChangesNothing("the up after the renames")
}

// bindingsNamedAfterTheirRoles rewrites the stack's checkpoint as eks-irsa left it when the
// binding of each serviceAccountRoles account was named after its role (until 2026-12-06): the
// binding and its objects under the role's name instead of k8s.BindingName. The program aliases
// that name (k8s.Binding.FormerName), so an up of such a stack must change nothing.
func (e *emulated) bindingsNamedAfterTheirRoles() {
	e.t.Helper()
	roles, err := stackfile.Get(filepath.Join(e.dir, "Pulumi.test.yaml"), "eks-irsa:serviceAccountRoles")
	if err != nil {
		e.t.Fatal(err)
	}
	file := e.checkpointFile()
	data, err := os.ReadFile(file)
	if err != nil {
		e.t.Fatal(err)
	}
	renamed := 0
	for _, r := range roles.([]any) {
		role, _ := r.(map[string]any)
		if mode, _ := role["account"].(string); mode == "" || mode == string(k8s.NoServiceAccount) {
			continue // no binding
		}
		ns, name := role["namespace"].(string), role["serviceAccount"].(string)
		former := e.name + "-" + name
		if n, ok := role["roleName"].(string); ok {
			former = n
		}
		// A URN ends in its resource's name: the binding's, or one of its objects' (the
		// binding's name and a suffix).
		urnName := regexp.MustCompile(`::` + regexp.QuoteMeta(k8s.BindingName(e.name, ns, name)) + `(-[a-z-]+)?"`)
		renamed += len(urnName.FindAll(data, -1))
		data = urnName.ReplaceAll(data, []byte("::"+former+`$1"`))
	}
	if renamed == 0 {
		e.t.Fatal("the checkpoint has no binding named by k8s.BindingName")
	}
	if err := os.WriteFile(file, data, 0o600); err != nil {
		e.t.Fatal(err)
	}
}

// destroyLeavesNothing runs `eksirsa destroy --yes` and fails the test unless it leaves
// nothing of the stack in moto.
func (e *emulated) destroyLeavesNothing() {
	e.t.Helper()
	if _, err := e.eksirsa("destroy", "--yes"); err != nil {
		e.t.Fatalf("eksirsa destroy: %v", err)
	}
	e.nothingLeft("destroy")
}

// nothingLeft fails the test when moto's audit finds anything after what (a destroy), in
// the creator's account and in the stack's.
func (e *emulated) nothingLeft(what string) {
	e.t.Helper()
	for account, cfg := range map[string]aws.Config{"the creator's account": e.moto.Config(emuRegion), "the stack's account": e.aws} {
		left, err := moto.LeftoversAs(e.t.Context(), cfg)
		if err != nil {
			e.t.Fatal(err)
		}
		if len(left) > 0 {
			e.t.Errorf("%s left %d resources in %s:\n  %s", what, len(left), account, strings.Join(left, "\n  "))
		}
	}
}

// TestEmulatedUpVerifySecondUpDestroy is the whole program, end to end: `eksirsa up` creates
// every resource in moto and the loopback cluster and its verify passes; a second `up`
// changes nothing; `eksirsa destroy` leaves nothing in moto, and the cluster's control plane
// is gone with it. (That destroy gives EKS's own aws-node back instead of deleting it is
// TestUpIsStableRollsOnRoleChangeAndDestroyGivesBackOnlyOurFields's, on a cluster that stays.)
func TestEmulatedUpVerifySecondUpDestroy(t *testing.T) {
	t.Parallel() // see startEmulated
	e := startEmulated(t)

	out, err := e.eksirsa("up", "--yes", "--verify-wait", "3m")
	if err != nil {
		t.Fatalf("eksirsa up: %v", err)
	}
	if !strings.Contains(out, "Verifying IRSA on the cluster") {
		t.Fatalf("up did not verify:\n%s", out)
	}

	// The second up also upgrades: its stack is rewritten as eks-irsa left it before bindings
	// were named after their accounts.
	e.bindingsNamedAfterTheirRoles()
	t.Logf("second up: %s resources unchanged", e.upChangesNothing("the second up"))

	e.rolesRenamed()

	out, err = e.eksirsa("destroy", "--yes")
	if err != nil {
		t.Fatalf("eksirsa destroy: %v", err)
	}
	if !strings.Contains(out, "Control-plane log group /aws/eks/"+e.name+"/cluster is gone.") {
		t.Errorf("destroy did not check the control-plane log group in the emulator:\n%s", out)
	}
	e.nothingLeft("destroy")
	if cp := e.planes.Current(e.name); cp != nil {
		t.Errorf("cluster %s still has a control plane (%s) after destroy", e.name, cp.Server)
	}
	if _, err := e.cluster.Client.CoreV1().Namespaces().Get(t.Context(), k8s.KubeSystemNamespace, metav1.GetOptions{}); err == nil {
		t.Errorf("the deleted cluster's endpoint %s still answers", e.cluster.Server)
	}
}
