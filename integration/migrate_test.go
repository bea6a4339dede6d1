package integration

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/eks"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	authenticationv1 "k8s.io/api/authentication/v1"
	authorizationv1 "k8s.io/api/authorization/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/eks-irsa/eks-irsa/k8s"
)

// TestEmulatedMigrateAccessEntries moves a stack's cluster off aws-auth (issue 19, sections 2
// and 3). aws-auth holds the stack's rows (the nodes', and a CI role whose real ARN has a path)
// and others written by hand: an admin in system:masters mapped twice (the last row wins), an
// SSO role, a Fargate profile's row and a mapped user. The plan names each; then `migrate
// access-entries --approve` is SIGKILLed in each phase that updates the stack, and in the proof
// between two principals, and run again until the cluster is in API mode, while a poller authenticates the node role (a session named
// after an instance), the admin and the user every second: none may fail at any moment, and
// the admin must be cluster admin at every moment (SelfSubjectAccessReview). The first kill
// lands between the admin's CreateAccessEntry and its AssociateAccessPolicy, where only the
// admin bridge's group keeps it admin; another kills the bridge phase's update. Then a plain
// up changes nothing, drift is clean, and destroy leaves no entry.
func TestEmulatedMigrateAccessEntries(t *testing.T) {
	t.Parallel() // see startEmulated
	e := startEmulatedWith(t, emuOptions{mapByEKS: true})
	ctx := t.Context()
	const acct = "123456789012"
	arn := func(kind, name string) string { return "arn:aws:iam::" + acct + ":" + kind + "/" + name }
	var (
		ciRole      = arn("role", "teams/ci/deployer")
		adminRole   = arn("role", "admin")
		ssoRole     = arn("role", "aws-reserved/sso.amazonaws.com/us-west-2/AWSReservedSSO_Admin_0123")
		fargateRole = arn("role", "fargate-pods")
		bob         = arn("user", "bob")
	)
	c := iam.NewFromConfig(e.aws)
	trust := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::` + acct + `:root"},"Action":"sts:AssumeRole"}]}`
	for _, r := range []string{ciRole, adminRole, ssoRole, fargateRole} {
		res := strings.TrimPrefix(r, "arn:aws:iam::"+acct+":role/")
		path, name := "/", res
		if i := strings.LastIndex(res, "/"); i >= 0 {
			path, name = "/"+res[:i+1], res[i+1:]
		}
		if _, err := c.CreateRole(ctx, &iam.CreateRoleInput{RoleName: aws.String(name), Path: aws.String(path), AssumeRolePolicyDocument: aws.String(trust)}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := c.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String("bob")}); err != nil {
		t.Fatal(err)
	}
	// The stack's own row besides the nodes': the CI role, which aws-auth can only name
	// without its path.
	e.setConfig("eks-irsa:awsAuth", map[string]any{"roles": []any{map[string]any{"arn": ciRole, "username": "ci", "groups": []string{"deployers"}}}})
	if out, err := e.eksirsa("up", "--yes", "--verify-wait", "3m"); err != nil {
		t.Fatalf("eksirsa up: %v\n%s", err, out)
	}

	// Rows written by hand (kubectl edit), after the stack's.
	cms := e.cluster.Client.CoreV1().ConfigMaps(k8s.KubeSystemNamespace)
	cm, err := cms.Get(ctx, k8s.AWSAuthName, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	row := func(arn, username string, groups ...string) string {
		return fmt.Sprintf("- rolearn: %s\n  username: %q\n  groups: [%s]\n", arn, username, strings.Join(groups, ", "))
	}
	cm.Data[k8s.MapRolesKey] += row(adminRole, "old-admin", "ops") + row(adminRole, "admin", "system:masters") +
		row(arn("role", "AWSReservedSSO_Admin_0123"), "sso-admin:{{SessionName}}", "system:masters") +
		row(fargateRole, "system:node:{{SessionName}}", "system:bootstrappers", "system:nodes", "system:node-proxier")
	cm.Data[k8s.MapUsersKey] = "- userarn: " + bob + "\n  username: bob\n  groups: [devs]\n"
	if _, err := cms.Update(ctx, cm, metav1.UpdateOptions{FieldManager: "kubectl-edit"}); err != nil {
		t.Fatal(err)
	}

	// eksirsa's own `aws eks get-token --role-arn` (the proof) assumes roles at moto's STS, and
	// every token is presigned for it.
	e.env = append(e.env, "AWS_ENDPOINT_URL_STS="+e.moto.URL)

	out, err := e.eksirsa("migrate", "access-entries")
	if err != nil {
		t.Fatalf("the plan: %v\n%s", err, out)
	}
	nodeRole := arn("role", e.nodeRole)
	for _, want := range []string{
		"node-entry mapRoles " + nodeRole + " as system:node:{{EC2PrivateDNSName}} in [system:bootstrappers,system:nodes] (ours) -> the stack's node entry (nodes.accessEntry): EC2_LINUX [to declare]",
		"entry      mapRoles " + arn("role", "deployer") + " as ci in [deployers] (ours) -> STANDARD username ci groups [deployers] (principal " + ciRole + ", as IAM has it) [to declare]",
		"overridden mapRoles " + adminRole + " as old-admin in [ops] (foreign): mapped 2 times",
		"entry      mapRoles " + adminRole + " as admin in [system:masters] (foreign) -> STANDARD username admin + arn:aws:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy at cluster scope [to declare]",
		"(principal " + ssoRole + ", as IAM has it) [to declare]",
		"blocked    mapRoles " + fargateRole + " as system:node:{{SessionName}}",
		"entry      mapUsers " + bob + " as bob in [devs] (foreign) -> STANDARD username bob groups [devs] [to declare]",
		"4 to declare, 4 entries, 1 node entries, 0 EKS-owned, 1 overridden, 1 blocked.",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("the plan has no line with %q:\n%s", want, out)
		}
	}

	p := startPoller(t, e, nodeRole, adminRole, bob)

	// Without a decision on the Fargate row, the migration stops before aws-auth goes.
	killWhen := func(args []string, moment string, reached func(r *running) bool, every time.Duration) {
		t.Helper()
		start := time.Now()
		r := e.start(args...)
		pid := r.cmd.Process.Pid
		// The process tree, kept fresh in the background: walking /proc takes tens of
		// milliseconds on a loaded machine, time in which the engine makes its next call, so at
		// the moment the tree already known is stopped first (SIGSTOP), then killed whole.
		var mu sync.Mutex
		var known []int
		scanned := make(chan struct{})
		stopScan := make(chan struct{})
		go func() {
			defer close(scanned)
			for {
				d := descendants(pid)
				mu.Lock()
				known = d
				mu.Unlock()
				select {
				case <-stopScan:
					return
				case <-time.After(200 * time.Millisecond):
				}
			}
		}()
		for deadline := time.Now().Add(3 * time.Minute); !reached(r); time.Sleep(every) {
			if r.done() || time.Now().After(deadline) {
				close(stopScan)
				<-scanned
				t.Fatalf("eksirsa %s ended before %s: %v\n%s", strings.Join(args, " "), moment, r.err, r.output())
			}
		}
		mu.Lock()
		frozen := append([]int{pid}, known...)
		mu.Unlock()
		for _, p := range frozen {
			if p == pid || slices.Contains(frozen, parent(p)) { // still ours: a pid is not reused meanwhile
				_ = syscall.Kill(p, syscall.SIGSTOP)
			}
		}
		close(stopScan)
		<-scanned
		procs := append([]int{pid}, descendants(pid)...)
		for _, p := range procs {
			_ = syscall.Kill(p, syscall.SIGKILL)
		}
		_ = r.wait()
		t.Logf("SIGKILLed eksirsa %s and its %d descendants at %s, %s after its start", strings.Join(args, " "), len(procs)-1, moment, time.Since(start).Round(100*time.Millisecond))
	}
	kill := func(args []string, moment *regexp.Regexp) {
		t.Helper()
		killWhen(args, moment.String(), func(r *running) bool { return moment.MatchString(r.output()) }, 10*time.Millisecond)
	}
	approve := []string{"migrate", "access-entries", "--approve"}
	// The entries phase killed the moment EKS has the admin's entry: CreateAccessEntry made,
	// AssociateAccessPolicy most likely not yet (the engine, the program and the plugin are
	// between the two). The entry takes precedence over the admin's system:masters row from
	// here to the association, which the resumed run makes seconds later: the poller checks
	// the admin is cluster admin throughout, which only the admin bridge's group gives it.
	// EKS is asked back to back from the engine's line for that create on: the window is the
	// engine's round trip between the two creates, a fraction of a second (measured: some
	// kills land after the association). Asked back to back from the start instead, moto
	// answered DescribeAccessEntry for the 15-17 s before it, thousands of requests.
	ekc := eks.NewFromConfig(e.aws)
	adminCreating := regexp.MustCompile(`aws:eks:AccessEntry \S+:role/admin creating`)
	killWhen(approve, "the admin's access entry made", func(r *running) bool {
		if !adminCreating.MatchString(r.output()) {
			time.Sleep(10 * time.Millisecond)
			return false
		}
		_, err := ekc.DescribeAccessEntry(ctx, &eks.DescribeAccessEntryInput{ClusterName: aws.String(e.name), PrincipalArn: aws.String(adminRole)})
		return err == nil
	}, 0)
	if got, err := ekc.ListAssociatedAccessPolicies(ctx, &eks.ListAssociatedAccessPoliciesInput{ClusterName: aws.String(e.name), PrincipalArn: aws.String(adminRole)}); err == nil {
		t.Logf("killed with the admin's entry made and %d policies associated", len(got.AssociatedAccessPolicies))
	}
	// The proof phase killed between two principals' proofs (each is a token of its own,
	// `aws eks get-token --role-arn`, a second or so apart): it reads and writes nothing, so the
	// next run proves them all again.
	var atProof string
	killWhen(approve, "the first principal proven", func(r *running) bool {
		atProof = r.output()
		return strings.Contains(atProof, "PROVEN proof ")
	}, 10*time.Millisecond)
	if strings.Contains(atProof, "PHASE proof: done") {
		t.Errorf("the kill meant for the proof phase came after it:\n%s", atProof)
	}
	// The bridge phase killed while its update deletes the bridge's binding (the groups are
	// off the entries by then: deletes come last).
	kill(approve, regexp.MustCompile(`kubernetes:rbac.authorization.k8s.io/v1:ClusterRoleBinding .*deleting|deleting .*kubernetes:rbac.authorization.k8s.io/v1:ClusterRoleBinding|- +kubernetes:rbac.authorization.k8s.io/v1:ClusterRoleBinding`))
	out, err = e.eksirsa(approve...)
	if err == nil || !strings.Contains(out, "STOP aws-auth: 1 blocked rows would lose their access with aws-auth") || !strings.Contains(out, fargateRole) {
		t.Errorf("the migration with a blocked row undecided: %v, want it to stop naming %s:\n%s", err, fargateRole, out)
	}
	// The recovery of the killed update refreshed aws-auth and rewrote it as the stack declares
	// it: the rows written by hand are declared too, so the blocked Fargate row, whose loss
	// nobody has decided yet, is still there.
	if cm, err := cms.Get(ctx, k8s.AWSAuthName, metav1.GetOptions{}); err != nil || !strings.Contains(cm.Data[k8s.MapRolesKey], fargateRole) {
		t.Errorf("aws-auth after the stopped migration: %v, want the blocked Fargate row still in:\n%v", err, cm.Data)
	}
	if !strings.Contains(out, "PASS entries "+ciRole+": live as declared") {
		t.Errorf("the CI role's entry (its path restored) is not live as declared:\n%s", out)
	}
	if !strings.Contains(out, "PROVEN proof "+adminRole+": a token of the role (aws eks get-token --role-arn) is admin in [") ||
		!strings.Contains(out, "and cluster admin (SelfSubjectAccessReview: * on * allowed)") {
		t.Errorf("the admin role's token was not proven cluster admin:\n%s", out)
	}
	// The bridge is gone: no entry carries its group, the binding is deleted, the configuration
	// no longer asks for it.
	if !strings.Contains(out, "PHASE bridge: done: no entry carries eks-irsa:cluster-admin-bridge and its binding is gone") {
		t.Errorf("the bridge phase is not done:\n%s", out)
	}
	if _, err := e.cluster.Client.RbacV1().ClusterRoleBindings().Get(ctx, "eks-irsa:cluster-admin-bridge", metav1.GetOptions{}); err == nil {
		t.Errorf("the admin bridge's binding outlived the bridge phase")
	}
	if got, err := ekc.DescribeAccessEntry(ctx, &eks.DescribeAccessEntryInput{ClusterName: aws.String(e.name), PrincipalArn: aws.String(adminRole)}); err != nil || len(got.AccessEntry.KubernetesGroups) != 0 {
		t.Errorf("the admin's entry after the bridge phase: %v, want no groups", err)
	}
	withDrop := append(slices.Clone(approve), "--drop-blocked", fargateRole)
	kill(withDrop, regexp.MustCompile(`kubernetes:core/v1:ConfigMap .*deleting|deleting .*kubernetes:core/v1:ConfigMap|- +kubernetes:core/v1:ConfigMap`))
	toAPI := append(slices.Clone(withDrop), "--to-api")
	kill(toAPI, regexp.MustCompile(`aws:eks:Cluster .*updating|updating .*aws:eks:Cluster|~ +aws:eks:Cluster`))
	// The last run as a document (--format json): stdout is the result alone.
	r := e.start(append(toAPI, "--format", "json")...)
	if err := r.wait(); err != nil {
		t.Fatalf("the resumed migration to API: %v\n%s", err, r.output())
	}
	out = r.output()
	var result struct {
		Passed bool `json:"passed"`
		Steps  []struct{ Status, Phase, Text string }
	}
	doc := out[strings.Index(out, "\n{\n")+1:] // the document is written last, after the progress on stderr
	if err := json.Unmarshal([]byte(doc[:strings.LastIndex(doc, "}")+1]), &result); err != nil || !result.Passed || len(result.Steps) == 0 {
		t.Fatalf("the resumed migration's document: %+v, %v\n%s", result, err, out)
	}
	if last := result.Steps[len(result.Steps)-1]; last.Status != "PHASE" || last.Phase != "api" || !strings.HasPrefix(last.Text, "done: authentication mode API") {
		t.Errorf("the resumed migration's last step %+v, want the api phase done", last)
	}
	p.stop()

	cl, err := eks.NewFromConfig(e.aws).DescribeCluster(ctx, &eks.DescribeClusterInput{Name: aws.String(e.name)})
	if err != nil || cl.Cluster.AccessConfig.AuthenticationMode != "API" {
		t.Errorf("cluster after the migration: %+v, %v; want API", cl, err)
	}
	if _, err := cms.Get(ctx, k8s.AWSAuthName, metav1.GetOptions{}); err == nil {
		t.Errorf("aws-auth outlived the migration")
	}
	t.Logf("after the migration: %s resources unchanged", e.upChangesNothing("the up after the migration"))
	if out, err := e.eksirsa("drift"); err != nil || strings.Contains(out, "DRIFT") {
		t.Errorf("eksirsa drift after the migration: %v\n%s", err, out)
	}
	// The principals are the test's, not the stack's: gone before destroy's audit.
	for _, r := range []string{ciRole, adminRole, ssoRole, fargateRole} {
		if _, err := c.DeleteRole(ctx, &iam.DeleteRoleInput{RoleName: aws.String(r[strings.LastIndex(r, "/")+1:])}); err != nil {
			t.Error(err)
		}
	}
	e.destroyLeavesNothing()
	if entries, err := eks.NewFromConfig(e.aws).ListAccessEntries(ctx, &eks.ListAccessEntriesInput{ClusterName: aws.String(e.name)}); err == nil {
		t.Errorf("the cluster (and its entries %q) outlived destroy", entries.AccessEntries)
	}
}

// parent is a process's parent pid from /proc, 0 when it is gone.
func parent(pid int) int {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	s := string(data)
	fields := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	if len(fields) < 2 {
		return 0
	}
	ppid, _ := strconv.Atoi(fields[1])
	return ppid
}

// poller authenticates principals every second with a token of each (SelfSubjectReview), from
// its start to stop, and fails the test for every moment one was refused or mapped to another
// user than it was at the start. Every poll presents a new token: kube-apiserver keeps a
// token's successful authentication 10 s (TokenSuccessCacheTTL, which no flag sets) and a
// webhook's answer 2 min (--authentication-token-webhook-cache-ttl), so a token used again is
// answered from its cache through any change of mapping (measured: bob's aws-auth row removed
// for 5 s, 5 polls with the first token all passed).
type poller struct {
	done chan struct{}
	wg   sync.WaitGroup
}

func startPoller(t *testing.T, e *emulated, nodeRole, adminRole, user string) *poller {
	t.Helper()
	ctx := t.Context()
	s := sts.NewFromConfig(e.aws)
	// A node's role session is named after its instance, as EC2 names it.
	inst, err := e.ec2.DescribeInstances(ctx, &ec2.DescribeInstancesInput{Filters: []ec2types.Filter{{Name: aws.String("instance-state-name"), Values: []string{"running"}}}})
	if err != nil || len(inst.Reservations) == 0 {
		t.Fatalf("no running instance to name the node session after: %v", err)
	}
	instance := aws.ToString(inst.Reservations[0].Instances[0].InstanceId)
	type who struct{ name, key, secret, session string }
	var principals []who
	for _, r := range []struct{ arn, session string }{{nodeRole, instance}, {adminRole, "alice"}} {
		got, err := s.AssumeRole(ctx, &sts.AssumeRoleInput{RoleArn: aws.String(r.arn), RoleSessionName: aws.String(r.session)})
		if err != nil {
			t.Fatal(err)
		}
		cr := got.Credentials
		principals = append(principals, who{r.arn, aws.ToString(cr.AccessKeyId), aws.ToString(cr.SecretAccessKey), aws.ToString(cr.SessionToken)})
	}
	key, err := iam.NewFromConfig(e.aws).CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String(user[strings.LastIndex(user, "/")+1:])})
	if err != nil {
		t.Fatal(err)
	}
	principals = append(principals, who{user, aws.ToString(key.AccessKey.AccessKeyId), aws.ToString(key.AccessKey.SecretAccessKey), ""})

	clients := map[string]kubernetes.Interface{}
	for _, w := range principals {
		creds := aws.Credentials{AccessKeyID: w.key, SecretAccessKey: w.secret, SessionToken: w.session}
		env := append(slices.DeleteFunc(slices.Clone(e.env), func(kv string) bool {
			return strings.HasPrefix(kv, "AWS_ACCESS_KEY_ID=") || strings.HasPrefix(kv, "AWS_SECRET_ACCESS_KEY=") || strings.HasPrefix(kv, "AWS_SESSION_TOKEN=")
		}), "AWS_ACCESS_KEY_ID="+w.key, "AWS_SECRET_ACCESS_KEY="+w.secret)
		if w.session != "" {
			env = append(env, "AWS_SESSION_TOKEN="+w.session)
		}
		cmd := exec.CommandContext(ctx, "aws", "eks", "get-token", "--cluster-name", e.name, "--region", emuRegion, "--output", "json")
		cmd.Env = env
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("aws eks get-token as %s: %v", w.name, err)
		}
		var cred struct {
			Status struct {
				Token string `json:"token"`
			} `json:"status"`
		}
		if err := json.Unmarshal(out, &cred); err != nil {
			t.Fatal(err)
		}
		// The CLI's token names the STS it is presigned for (moto's); each request then carries
		// a token presigned anew for that STS, as the CLI presigns one.
		stsURL, err := presignedSTS(cred.Status.Token)
		if err != nil {
			t.Fatal(err)
		}
		cfg := &rest.Config{Host: e.cluster.Server, TLSClientConfig: rest.TLSClientConfig{CAData: e.cluster.CAData},
			WrapTransport: func(rt http.RoundTripper) http.RoundTripper {
				return roundTripFunc(func(req *http.Request) (*http.Response, error) {
					token, err := presignToken(req.Context(), creds, stsURL, e.name, emuRegion)
					if err != nil {
						return nil, err
					}
					req = req.Clone(req.Context())
					req.Header.Set("Authorization", "Bearer "+token)
					return rt.RoundTrip(req)
				})
			}}
		if clients[w.name], err = kubernetes.NewForConfig(cfg); err != nil {
			t.Fatal(err)
		}
	}
	review := func(name string) (authenticationv1.UserInfo, error) {
		r, err := clients[name].AuthenticationV1().SelfSubjectReviews().Create(ctx, &authenticationv1.SelfSubjectReview{}, metav1.CreateOptions{})
		if err != nil {
			return authenticationv1.UserInfo{}, err
		}
		return r.Status.UserInfo, nil
	}
	// isAdmin asks kube-apiserver's RBAC whether the principal may do everything (what
	// system:masters, the admin bridge's group and AmazonEKSClusterAdminPolicy each grant),
	// with a token of its own.
	isAdmin := func(name string) (bool, string, error) {
		r, err := clients[name].AuthorizationV1().SelfSubjectAccessReviews().Create(ctx, &authorizationv1.SelfSubjectAccessReview{Spec: authorizationv1.SelfSubjectAccessReviewSpec{
			ResourceAttributes: &authorizationv1.ResourceAttributes{Verb: "*", Group: "*", Resource: "*"}}}, metav1.CreateOptions{})
		if err != nil {
			return false, "", err
		}
		return r.Status.Allowed, r.Status.Reason, nil
	}
	if ok, why, err := isAdmin(adminRole); err != nil || !ok {
		t.Fatalf("%s is not cluster admin before the migration: %v %s", adminRole, err, why)
	}
	first := map[string]authenticationv1.UserInfo{}
	for _, w := range principals {
		u, err := review(w.name)
		if err != nil {
			t.Fatalf("%s cannot authenticate before the migration: %v", w.name, err)
		}
		first[w.name] = u
		t.Logf("poller: %s is %s in %v", w.name, u.Username, u.Groups)
	}
	p := &poller{done: make(chan struct{})}
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		tick := time.NewTicker(time.Second)
		defer tick.Stop()
		polls, lastGroups := 0, map[string]string{}
		for {
			select {
			case <-p.done:
				t.Logf("poller: %d rounds of %d principals", polls, len(principals))
				return
			case <-tick.C:
			}
			polls++
			for _, w := range principals {
				u, err := review(w.name)
				switch {
				case err != nil && ctx.Err() != nil:
					return // the test is over
				case err != nil:
					t.Errorf("poller: %s refused at %s: %v", w.name, time.Now().Format(time.RFC3339Nano), err)
				case u.Username != first[w.name].Username:
					t.Errorf("poller: %s is %s at %s, was %s", w.name, u.Username, time.Now().Format(time.RFC3339Nano), first[w.name].Username)
				}
				// The groups move from aws-auth's to the entry's (and the policy's): logged, each change.
				if g := strings.Join(u.Groups, ","); err == nil && g != lastGroups[w.name] {
					t.Logf("poller: %s now in [%s]", w.name, g)
					lastGroups[w.name] = g
				}
				if w.name != adminRole {
					continue
				}
				// The admin must stay cluster admin at every moment: system:masters by aws-auth,
				// then the bridge's group, then its access policy.
				switch ok, why, err := isAdmin(w.name); {
				case err != nil && ctx.Err() != nil:
					return
				case err != nil:
					t.Errorf("poller: SelfSubjectAccessReview of %s at %s: %v", w.name, time.Now().Format(time.RFC3339Nano), err)
				case !ok:
					t.Errorf("poller: %s is not cluster admin at %s (%s in [%s]): %s", w.name, time.Now().Format(time.RFC3339Nano), u.Username, strings.Join(u.Groups, ","), why)
				}
			}
		}
	}()
	t.Cleanup(p.stop)
	return p
}

func (p *poller) stop() {
	select {
	case <-p.done:
	default:
		close(p.done)
	}
	p.wg.Wait()
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(req *http.Request) (*http.Response, error) { return f(req) }

// presignedSTS is the STS (scheme and host) a `aws eks get-token` token is presigned for.
func presignedSTS(token string) (string, error) {
	raw, err := base64.RawURLEncoding.DecodeString(strings.TrimPrefix(token, "k8s-aws-v1."))
	if err != nil {
		return "", fmt.Errorf("token: %w", err)
	}
	u, err := url.Parse(string(raw))
	if err != nil {
		return "", fmt.Errorf("token: %w", err)
	}
	return u.Scheme + "://" + u.Host, nil
}

// presignToken makes a token as `aws eks get-token` does (aws-iam-authenticator v0.7.2 pkg/token:
// GetCallerIdentity presigned as a GET for 60 s, the x-k8s-aws-id header naming the cluster
// signed, the payload hash an empty body's as botocore 1.43.11 signs it: testcluster's
// verifySignature holds the same shape).
func presignToken(ctx context.Context, creds aws.Credentials, stsURL, cluster, region string) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, stsURL+"/?Action=GetCallerIdentity&Version=2011-06-15&X-Amz-Expires=60", nil)
	if err != nil {
		return "", err
	}
	req.Header.Set("x-k8s-aws-id", cluster)
	empty := sha256.Sum256(nil)
	signed, _, err := v4.NewSigner().PresignHTTP(ctx, creds, req, hex.EncodeToString(empty[:]), "sts", region, time.Now())
	if err != nil {
		return "", err
	}
	return "k8s-aws-v1." + base64.RawURLEncoding.EncodeToString([]byte(signed)), nil
}
