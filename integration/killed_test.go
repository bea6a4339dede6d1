package integration

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/eks"
	"github.com/aws/aws-sdk-go-v2/service/iam"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/eks-irsa/eks-irsa/integration/awsemu"
	"github.com/eks-irsa/eks-irsa/internal/deploytime"
	"github.com/eks-irsa/eks-irsa/k8s"
)

// progressLine is one line of the engine's non-interactive progress for a resource being
// created or updated: " +  aws:eks:Cluster demo-eks-oidc-test creating (0s) ",
// " ~  kubernetes:apps/v1:DaemonSetPatch demo-eks-oidc-test-aws-node-restart updating (0s) ".
// A row may follow the spinner's dots on their line ("@ updating.... +  aws:ec2:NatGateway …
// created (2s)"): the CLI's non-interactive renderer prints the dots to stdout at once and its
// rows from another goroutine (pulumi pkg/backend/display jsonmessage.go: the dotSpinner's Tick
// and Reset against ShowProgressOutput), so its newline can come after a row queued before it.
// Missing such a row left the NAT gateway in flight for good, and the cluster case never found
// its moment (the fresh rehearsal of 58b368c).
var progressLine = regexp.MustCompile(`^(?:@ [a-z]+\.*)?\s*[+~]\s+((?:aws|kubernetes):\S+)\s+(\S+)\s+(creating failed|creating|created|updating failed|updating|updated)\b`)

// children returns the pids of pid's child processes whose command name is comm (any when
// comm is empty), read from /proc.
func children(pid int, comm string) []int {
	stats, _ := filepath.Glob("/proc/[0-9]*/stat")
	var pids []int
	for _, path := range stats {
		data, err := os.ReadFile(path)
		if err != nil {
			continue
		}
		// pid (comm) state ppid ...
		s := string(data)
		open, closing := strings.IndexByte(s, '('), strings.LastIndexByte(s, ')')
		if open < 0 || closing < open {
			continue
		}
		fields := strings.Fields(s[closing+1:])
		if len(fields) < 2 || fields[1] != strconv.Itoa(pid) || (comm != "" && s[open+1:closing] != comm) {
			continue
		}
		if child, err := strconv.Atoi(strings.TrimSpace(s[:open])); err == nil {
			pids = append(pids, child)
		}
	}
	return pids
}

// alive reports whether pid exists and is not a zombie (a zombie has exited; PID 1 here
// does not reap orphans).
func alive(pid int) bool {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	s := string(data)
	fields := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	return len(fields) > 0 && fields[0] != "Z"
}

// comm is a process's command name, for a message.
func comm(pid int) string {
	data, _ := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid))
	return strings.TrimSpace(string(data))
}

// descendants lists pid's descendant processes, deepest last, from /proc.
func descendants(pid int) []int {
	var out []int
	for _, child := range children(pid, "") {
		out = append(out, child)
		out = append(out, descendants(child)...)
	}
	return out
}

// killCase is a moment to SIGKILL `eksirsa up` at, and what the recovery must do.
type killCase struct {
	name string
	// scale turns durations.csv's minutes into this test's: 1 min × scale.
	scale float64
	// quiet is how long the progress stream must have been still before the kill.
	quiet time.Duration
	// ready says, from the resources in flight, whether this is the moment (then made must
	// also say that the cloud has answered: one exists).
	ready func(e *emulated, inFlight map[string]bool) bool
	// made counts what the step in flight made: AWS resources, or rollouts.
	made func(ctx context.Context, e *emulated) (int, error)
	// signal, when set, is sent instead of SIGKILLing eksirsa and every process under it: to
	// eksirsa's process group when toGroup (a terminal's Ctrl-C), else to eksirsa alone (a CI
	// runner or container stopping its main process).
	signal  syscall.Signal
	toGroup bool
	// afterKill runs once the up is dead (nil: nothing).
	afterKill func(e *emulated)
	// recovered is what the recovery up must say it did; notSaid what it must not.
	recovered func(e *emulated) []string
	notSaid   []string
	// killImport SIGKILLs the recovery up too (eksirsa, the CLI and its plugins) as it starts
	// its first import: the pending operations are cleared by then, so only the adoption plan
	// kept beside the state tells the next up what to adopt.
	killImport bool
	// outlasts, when set, is how long the create in flight (the one resource ready names)
	// must still have to run when the signal goes, by its scaled create time: less, and the
	// case would pass whatever eksirsa does after the signal.
	outlasts time.Duration
	// slow gives type tokens whose create this case makes long, in seconds before the scale,
	// in its own copy of durations.csv: a window to kill in that the product's table (seconds,
	// for one API call) does not give at a scale that keeps the cluster short.
	slow map[string]int
}

// TestProgressLineReadsEveryRow: the kill cases follow what is in flight from the CLI's rows,
// the ones printed after the spinner's dots too (lines seen in the fresh rehearsal of 58b368c).
func TestProgressLineReadsEveryRow(t *testing.T) {
	for line, want := range map[string][]string{
		" +  aws:eks:Cluster demo-eks-oidc-test creating (0s) ":                                               {"aws:eks:Cluster", "demo-eks-oidc-test", "creating"},
		"@ updating.... +  aws:ec2:NatGateway demo-eks-oidc-test-nat-us-west-2a created (2s) ":                {"aws:ec2:NatGateway", "demo-eks-oidc-test-nat-us-west-2a", "created"},
		"@ updating. ~  kubernetes:apps/v1:DaemonSetPatch demo-eks-oidc-test-aws-node-restart updating (0s) ": {"kubernetes:apps/v1:DaemonSetPatch", "demo-eks-oidc-test-aws-node-restart", "updating"},
		"@ updating.............": nil,
		"    + 79 created":        nil,
	} {
		m := progressLine.FindStringSubmatch(line)
		var got []string
		if m != nil {
			got = m[1:]
		}
		if !slices.Equal(got, want) {
			t.Errorf("%q: %q, want %q", line, got, want)
		}
	}
}

// TestEmulatedKilledUp kills `eksirsa up` (the driver, the Pulumi CLI and its plugins: a
// machine that dies, a CI runner that times out) while an AWS resource is being created and
// exists already: AWS answers a create at once and the provider then waits for it to be ready
// (~10 min for an EKS cluster, 1-2 min for a NAT gateway), which is the window a kill falls
// in. The next `eksirsa up` must recover by itself and finish with exactly one of it: the
// pending create is imported (by its name, a NAT gateway by its tags, a route, association or
// attachment by the id its inputs give), not forgotten, which
// would leave it running and billed outside the stack (and for the cluster make the next
// create fail on its name). A second up changes nothing and destroy leaves nothing in moto.
func TestEmulatedKilledUp(t *testing.T) {
	t.Parallel() // see startEmulated
	clusters := func(ctx context.Context, e *emulated) (int, error) {
		out, err := eks.NewFromConfig(e.aws).ListClusters(ctx, &eks.ListClustersInput{})
		if err != nil {
			return 0, err
		}
		return len(out.Clusters), nil
	}
	natGateways := func(ctx context.Context, e *emulated) (int, error) {
		out, err := e.ec2.DescribeNatGateways(ctx, &ec2.DescribeNatGatewaysInput{})
		if err != nil {
			return 0, err
		}
		n := 0
		for _, g := range out.NatGateways {
			if g.State == ec2types.NatGatewayStatePending || g.State == ec2types.NatGatewayStateAvailable {
				n++
			}
		}
		return n, nil
	}
	onNewStack := []killCase{
		// Only the cluster in flight: everything it waits for is done.
		{
			name:  "while the cluster is being created",
			scale: 0.02, quiet: 2 * time.Second,
			ready: func(e *emulated, inFlight map[string]bool) bool {
				return len(inFlight) == 1 && inFlight["aws:eks:Cluster "+e.name]
			},
			made: clusters,
			recovered: func(e *emulated) []string {
				return []string{"left stack test locked", "Importing aws:eks/cluster:Cluster " + e.name + " (id " + e.name + ")"}
			},
		},
		// SIGTERM while only the cluster is being created, with more of its create left than
		// the 10 s after which the SDK's own command kills an interrupted CLI (its
		// cmd.WaitDelay): eksirsa interrupts the CLI once and waits while the engine finishes
		// the create in flight and records it; nothing is left locked or pending, and the next
		// up is a plain one.
		{
			name:  "SIGTERM while the cluster is being created",
			scale: 0.04, quiet: 2 * time.Second, outlasts: 10 * time.Second,
			ready: func(e *emulated, inFlight map[string]bool) bool {
				return len(inFlight) == 1 && inFlight["aws:eks:Cluster "+e.name]
			},
			made:      clusters,
			signal:    syscall.SIGTERM,
			recovered: func(*emulated) []string { return nil },
			notSaid:   []string{"locked", "interrupted with", "Cancelling", "Importing"},
		},
		// The NAT gateway in flight, beside nothing but the cluster (imported by name) and the
		// ECR interface endpoints (found by their tags, as the NAT gateway).
		{
			name:  "while a NAT gateway is being created",
			scale: 0.05, quiet: time.Second,
			ready: func(e *emulated, inFlight map[string]bool) bool {
				nat := false
				for key := range inFlight {
					switch {
					case strings.HasPrefix(key, "aws:ec2:NatGateway "):
						nat = true
					case key != "aws:eks:Cluster "+e.name && !strings.HasPrefix(key, "aws:ec2:VpcEndpoint "):
						return false
					}
				}
				return nat
			},
			made:       natGateways,
			killImport: true,
			recovered: func(e *emulated) []string {
				// The killed update's lock is released by the recovery killed at its import.
				return []string{"Importing aws:ec2/natGateway:NatGateway " + e.name + "-nat-"}
			},
		},
		// Routes, route-table associations and role-policy attachments in flight together (the
		// public route, the subnets' associations, the cluster role's and the node role's
		// policies, made long for this case): their ids follow from their inputs, so the recovery
		// imports each by id (cmd/eksirsa importID; the plugin reads them from their import ids).
		{
			name:  "while routes, route-table associations and role-policy attachments are being created",
			scale: 0.01, quiet: time.Second,
			// The engine runs 8 steps at a time here (the CLI's default, 4 per core): the slow
			// creates must leave it a slot for a route while the others are in flight. So only
			// the cluster role's attachment is slow (30 s), beside the six associations (6 s),
			// and the routes (6 s) start as soon as their tables are made. With every
			// attachment and association slow, the eight slots held the route back until they
			// ended together, and under load the case found no moment to kill.
			slow: map[string]int{
				"aws:ec2/route:Route": 600,
				"aws:ec2/routeTableAssociation:RouteTableAssociation":                                                        600,
				"aws:iam/rolePolicyAttachment:RolePolicyAttachment policyArn=arn:aws:iam::aws:policy/AmazonEKSClusterPolicy": 3000,
			},
			ready: func(e *emulated, inFlight map[string]bool) bool {
				return inFlightOf(inFlight, "aws:ec2:Route") && inFlightOf(inFlight, "aws:ec2:RouteTableAssociation") && inFlightOf(inFlight, "aws:iam:RolePolicyAttachment") &&
					onlyAdoptable(inFlight)
			},
			made: routesAssociationsAttachments,
			recovered: func(e *emulated) []string {
				return []string{"left stack test locked", "Importing aws:ec2/route:Route ", "Importing aws:ec2/routeTableAssociation:RouteTableAssociation ",
					"Importing aws:iam/rolePolicyAttachment:RolePolicyAttachment "}
			},
		},
	}

	for _, tc := range onNewStack {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := startEmulated(t)
			killedUp(t, e, tc)
			e.upChangesNothing("the up after the recovery")
			e.destroyLeavesNothing()
		})
	}

	// The three ways an up stops while aws-node rolls, one after another on one stack: each
	// starts from what the previous recovery left, as a user's does who is interrupted twice.
	// Each renames the role anew and must roll aws-node exactly once and delete the old role.
	inTurn := []killCase{
		// A pending Kubernetes step: aws-node's restart rolling the DaemonSet onto a renamed
		// role (its pods held on the nodes, as a slow rollout holds them), on a stack that is
		// up. The recovery clears the pending update, finishes the rollout without starting
		// another (aws-node rolls exactly once) and deletes the old role.
		{
			name:  "while aws-node rolls onto a new role",
			scale: 0.001, quiet: 2 * time.Second,
			ready:     awsNodeRestartInFlight,
			made:      awsNodeRollouts,
			afterKill: func(e *emulated) { e.cni.holdAWSNode.Store(false) },
			recovered: func(e *emulated) []string {
				return []string{"left stack test locked", "DaemonSetPatch::" + e.name + "-aws-node-restart, interrupted while updating"}
			},
		},
		// Ctrl-C instead of a kill, at the same moment: it reaches eksirsa's process group, the
		// Pulumi CLI included, which cancels the restart's wait and releases the lock; eksirsa
		// waits for it and leaves no process behind. The next up is a plain one.
		{
			name:  "Ctrl-C while aws-node rolls onto a new role",
			scale: 0.001, quiet: 2 * time.Second,
			ready:  awsNodeRestartInFlight,
			made:   awsNodeRollouts,
			signal: syscall.SIGINT, toGroup: true,
			afterKill: func(e *emulated) { e.cni.holdAWSNode.Store(false) },
			recovered: func(*emulated) []string { return nil },
			notSaid:   []string{"locked", "interrupted with", "Cancelling"},
		},
		// SIGTERM to eksirsa alone (a CI runner's timeout): eksirsa interrupts the CLI once.
		{
			name:  "SIGTERM while aws-node rolls onto a new role",
			scale: 0.001, quiet: 2 * time.Second,
			ready:     awsNodeRestartInFlight,
			made:      awsNodeRollouts,
			signal:    syscall.SIGTERM,
			afterKill: func(e *emulated) { e.cni.holdAWSNode.Store(false) },
			recovered: func(*emulated) []string { return nil },
			notSaid:   []string{"locked", "interrupted with", "Cancelling"},
		},
	}
	t.Run("while aws-node rolls onto a new role: SIGKILL, then Ctrl-C, then SIGTERM", func(t *testing.T) {
		t.Parallel()
		e := startEmulated(t)
		if _, err := e.eksirsa("up", "--yes", "--no-verify"); err != nil {
			t.Fatalf("eksirsa up: %v", err)
		}
		for i, tc := range inTurn {
			t.Logf("== %s", tc.name)
			e.renameAWSNodeRoleOnHeldNodes(fmt.Sprintf("%s-vpc-cni-%d", e.name, i+1))
			killedUp(t, e, tc)
			e.upChangesNothing("the up after the recovery from " + tc.name)
		}
		e.destroyLeavesNothing()
	})
}

// renameAWSNodeRoleOnHeldNodes renames aws-node's role on a stack that is up and holds
// aws-node's new pods on the nodes, so the next up's restart waits on its rollout.
func (e *emulated) renameAWSNodeRoleOnHeldNodes(roleName string) {
	e.rollBase = e.awsNodeGeneration(e.t.Context())
	e.setConfig("eks-irsa:awsNode", map[string]any{"roleName": roleName})
	e.cni.holdAWSNode.Store(true)
}

func awsNodeRestartInFlight(e *emulated, inFlight map[string]bool) bool {
	return inFlight["kubernetes:apps/v1:DaemonSetPatch "+e.name+"-aws-node-restart"]
}

// awsNodeRollouts counts aws-node's rollouts since renameAWSNodeRoleOnHeldNodes.
func awsNodeRollouts(ctx context.Context, e *emulated) (int, error) {
	return int(e.awsNodeGeneration(ctx) - e.rollBase), nil
}

// awsNodeGeneration is the aws-node DaemonSet's generation: one more per rollout.
func (e *emulated) awsNodeGeneration(ctx context.Context) int64 {
	ds, err := e.cluster.Client.AppsV1().DaemonSets(k8s.KubeSystemNamespace).Get(ctx, k8s.AWSNodeName, metav1.GetOptions{})
	if err != nil {
		e.t.Fatal(err)
	}
	return ds.Generation
}

// killedUp runs `eksirsa up` on e's stack, kills it as tc says, and checks the recovery up.
func killedUp(t *testing.T, e *emulated, tc killCase) {
	durations, err := filepath.Abs("../internal/deploytime/durations.csv")
	if err != nil {
		t.Fatal(err)
	}
	delays := func(path string) string { return fmt.Sprintf("%s=%s,%g", awsemu.DelaysEnv, path, tc.scale) }
	if len(tc.slow) > 0 {
		// Only the killed up needs the long window: after the kill, the recovery's own creates
		// (the IRSA roles' attachments) take the product's times again.
		e.env = append(e.env, delays(slowDelays(t, durations, tc.slow)))
	} else {
		e.env = append(e.env, delays(durations))
	}

	ctx, cancel := context.WithTimeout(t.Context(), emuOpTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, e.bin, "up", "--yes", "--no-verify", "-C", e.dir)
	cmd.Env = e.env
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = cmd.Stdout
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines := make(chan string)
	go func() {
		defer close(lines)
		scanner := bufio.NewScanner(stdout)
		for scanner.Scan() {
			lines <- scanner.Text()
		}
	}()
	inFlight := map[string]bool{}
	started := map[string]time.Time{} // when each resource in flight began
	var cliKilled string              // the line saying the Pulumi CLI was killed, if one does
	killed := false
	var procs []int
	// The progress stream lags the engine a little: kill only once it has been quiet for a
	// while, so no other create is under way unseen.
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	last := time.Now()
	for open := true; open; {
		select {
		case line, ok := <-lines:
			if !ok {
				open = false
				break
			}
			t.Logf("eksirsa up (to be killed)| %s", line)
			last = time.Now()
			if strings.Contains(line, "signal: killed") && cliKilled == "" {
				cliKilled = strings.TrimSpace(line)
			}
			if m := progressLine.FindStringSubmatch(line); m != nil {
				if key := m[1] + " " + m[2]; m[3] == "creating" || m[3] == "updating" {
					if !inFlight[key] {
						started[key] = time.Now()
					}
					inFlight[key] = true
				} else {
					delete(inFlight, key)
				}
			}
		case <-tick.C:
			if killed || !tc.ready(e, inFlight) || time.Since(last) < tc.quiet {
				continue
			}
			if n, err := tc.made(ctx, e); err != nil || n == 0 {
				continue // the cloud has not answered yet
			}
			if tc.outlasts > 0 {
				for key := range inFlight {
					typ, _, _ := strings.Cut(key, " ")
					left := createTime(t, typ, tc.scale) - time.Since(started[key])
					t.Logf("%s has about %s of its create left", key, left.Round(100*time.Millisecond))
					if left < tc.outlasts {
						t.Fatalf("%s has only about %s of its create left at the signal, want at least %s: raise the case's scale, or it passes whatever eksirsa does", key, left.Round(100*time.Millisecond), tc.outlasts)
					}
				}
			}
			procs = append([]int{cmd.Process.Pid}, descendants(cmd.Process.Pid)...)
			switch {
			case tc.signal != 0 && tc.toGroup:
				_ = syscall.Kill(-cmd.Process.Pid, tc.signal)
				t.Logf("%v to eksirsa's process group (%d processes under eksirsa) with %v in flight", tc.signal, len(procs)-1, inFlight)
			case tc.signal != 0:
				_ = syscall.Kill(cmd.Process.Pid, tc.signal)
				t.Logf("%v to eksirsa (%d processes under it) with %v in flight", tc.signal, len(procs)-1, inFlight)
			default:
				for _, pid := range procs {
					_ = syscall.Kill(pid, syscall.SIGKILL)
				}
				_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
				t.Logf("SIGKILLed eksirsa and its %d descendants with %v in flight", len(procs)-1, inFlight)
			}
			killed = true
		}
	}
	_ = cmd.Wait()
	if !killed {
		t.Fatal("the moment to kill never came: nothing was killed")
	}
	// Nothing eksirsa started outlives it: no Pulumi CLI or plugin left running orphaned
	// (plugins a CLI shut down get a moment to exit).
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline) && slices.ContainsFunc(procs, alive); {
		time.Sleep(100 * time.Millisecond)
	}
	for _, pid := range procs {
		if alive(pid) {
			t.Errorf("process %d (%s), started under eksirsa, still runs after it exited", pid, comm(pid))
		}
	}
	if tc.signal != 0 && cliKilled != "" {
		// What the Automation SDK's own command does 10 s after it interrupts the CLI
		// (sdk/go/auto cmd.go: cmd.WaitDelay), and eksirsa's pulumiCLI must not.
		t.Errorf("the Pulumi CLI was killed before its graceful cancel ended, after eksirsa got the signal (%v): %q; the update leaves its lock and pending operations", tc.signal, cliKilled)
	}
	if tc.afterKill != nil {
		tc.afterKill(e)
	}
	if len(tc.slow) > 0 {
		e.env = append(e.env, delays(durations)) // exec keeps the last value of a key
	}

	if tc.killImport {
		killRecoveryAtImport(t, e)
	}

	out, err := e.eksirsa("up", "--yes", "--verify-wait", "3m")
	if err != nil {
		t.Fatalf("eksirsa up after the kill: %v; it ended with:\n%s", err, lastLines(out, 6))
	}
	for _, want := range append(tc.recovered(e), "PASS identity kube-system/aws-node") {
		if !strings.Contains(out, want) {
			t.Errorf("the recovery up did not say %q", want)
		}
	}
	for _, wrong := range tc.notSaid {
		if strings.Contains(out, wrong) {
			t.Errorf("the recovery up said %q", wrong)
		}
	}
	// Adopted as it is: a replacement would delete what the update made and build it anew
	// (for the cluster another issuer, every IRSA trust rewritten, ~10 min on AWS).
	for _, change := range []string{"replacing", "deleting original"} {
		if strings.Contains(out, change) {
			t.Errorf("the recovery up is %s a resource", change)
		}
	}
	if n, err := tc.made(t.Context(), e); err != nil || n != 1 {
		t.Errorf("after the recovery up there are %d of it (%v), want exactly one", n, err)
	}
}

// createTime is the scaled create time the emulator gives a resource of typ as the progress
// stream names it ("aws:eks:Cluster" for the token aws:eks/cluster:Cluster): durations.csv's
// row without a condition, as the plugin (awsemu DelaysEnv) reads it.
func createTime(t testing.TB, typ string, scale float64) time.Duration {
	t.Helper()
	for _, row := range deploytime.Default().Rows() {
		pkg, rest, _ := strings.Cut(row.Type, ":")
		mod, name, _ := strings.Cut(rest, ":")
		mod, _, _ = strings.Cut(mod, "/")
		if row.When == "" && pkg+":"+mod+":"+name == typ {
			return time.Duration(float64(row.Duration) * scale)
		}
	}
	t.Fatalf("no row of %s for %s", deploytime.DataFile, typ)
	return 0
}

// slowDelays writes a copy of the delays table at path into the test's temp dir with each
// key of slow taking its seconds, and returns the copy's path. A key is a type (its row without
// a condition is changed) or "type input=value" (a row for those alone, put before the type's
// rows: the first match wins).
func slowDelays(t *testing.T, path string, slow map[string]int) string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(string(data), "\n")
	for key, seconds := range slow {
		typ, when, _ := strings.Cut(key, " ")
		found := false
		for i, line := range lines {
			// type,when,seconds,source: the unconditional row has an empty when.
			if rest, ok := strings.CutPrefix(line, typ+",,"); ok {
				_, source, _ := strings.Cut(rest, ",")
				if when == "" {
					lines[i] = fmt.Sprintf("%s,,%d,%s", typ, seconds, source)
				} else {
					row := fmt.Sprintf("%s,%s,%d,this test's window", typ, when, seconds)
					lines = append(lines[:i], append([]string{row}, lines[i:]...)...)
				}
				found = true
				break
			}
		}
		if !found {
			t.Fatalf("%s has no unconditional row for %s", path, typ)
		}
	}
	out := filepath.Join(t.TempDir(), "durations.csv")
	if err := os.WriteFile(out, []byte(strings.Join(lines, "\n")), 0o644); err != nil {
		t.Fatal(err)
	}
	return out
}

// adoptable are the types, as the progress stream names them, whose pending create the
// recovery adopts by itself (cmd/eksirsa recovery.go: importID's types, found by tags or name,
// or awaited). A kill with any other create in flight (a security-group rule, whose id AWS
// makes) stops the recovery with what to import by hand, which is another case.
var adoptable = []string{"aws:eks:Cluster", "aws:iam:Role", "aws:cloudwatch:LogGroup", "aws:iam:InstanceProfile",
	"aws:autoscaling:Group", "aws:ec2:Route", "aws:ec2:RouteTableAssociation", "aws:iam:RolePolicyAttachment",
	"aws:iam:RolePolicy", "aws:ec2:NatGateway", "aws:ec2:VpcEndpoint", "aws:ec2:LaunchTemplate"}

// onlyAdoptable reports whether every resource in flight is of an adoptable type.
func onlyAdoptable(inFlight map[string]bool) bool {
	for key := range inFlight {
		typ, _, _ := strings.Cut(key, " ")
		if !slices.Contains(adoptable, typ) {
			return false
		}
	}
	return true
}

// inFlightOf reports whether a resource of typ, as the progress stream names it, is in flight.
func inFlightOf(inFlight map[string]bool, typ string) bool {
	for key := range inFlight {
		if strings.HasPrefix(key, typ+" ") {
			return true
		}
	}
	return false
}

// routesAssociationsAttachments is 1 once moto holds a route and a subnet's route-table
// association in the stack's VPC and a managed policy attached to one of its roles, else 0.
// AWS keeps no second copy of any of them (one route per destination, one association per
// subnet, one attachment per role and policy), so there is nothing more to count: a recovery
// that did not import them fails on them or, for an attachment, leaves it outside the state,
// and its output says which (recovered).
func routesAssociationsAttachments(ctx context.Context, e *emulated) (int, error) {
	tables, err := e.ec2.DescribeRouteTables(ctx, &ec2.DescribeRouteTablesInput{})
	if err != nil {
		return 0, err
	}
	defaults, err := e.ec2.DescribeVpcs(ctx, &ec2.DescribeVpcsInput{Filters: []ec2types.Filter{{Name: aws.String("is-default"), Values: []string{"true"}}}})
	if err != nil {
		return 0, err
	}
	isDefault := map[string]bool{}
	for _, v := range defaults.Vpcs {
		isDefault[aws.ToString(v.VpcId)] = true
	}
	route, association := false, false
	for _, rt := range tables.RouteTables {
		if isDefault[aws.ToString(rt.VpcId)] {
			continue
		}
		for _, r := range rt.Routes {
			if aws.ToString(r.GatewayId) != "local" {
				route = true
			}
		}
		for _, a := range rt.Associations {
			if aws.ToString(a.SubnetId) != "" {
				association = true
			}
		}
	}
	roles, err := iam.NewFromConfig(e.aws).ListRoles(ctx, &iam.ListRolesInput{})
	if err != nil {
		return 0, err
	}
	attachment := false
	for _, r := range roles.Roles {
		attached, err := iam.NewFromConfig(e.aws).ListAttachedRolePolicies(ctx, &iam.ListAttachedRolePoliciesInput{RoleName: r.RoleName})
		if err != nil {
			return 0, err
		}
		attachment = attachment || len(attached.AttachedPolicies) > 0
	}
	if route && association && attachment {
		return 1, nil
	}
	return 0, nil
}

// lastLines is the last n lines of s, for a failure message.
func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

// importing is the line a recovery up prints as it starts an import (importPending).
var importing = regexp.MustCompile(`(?m)^Importing \S+ \S+ \(id `)

// killRecoveryAtImport runs the recovery up and SIGKILLs it, the Pulumi CLI and its plugins
// included, as it starts its first import: by then it has refreshed the pending operations
// away, so the next up finds the resources to adopt only in the adoption plan (without it,
// the update creates them again: a second NAT gateway, a cluster whose name is taken).
func killRecoveryAtImport(t *testing.T, e *emulated) {
	t.Helper()
	cmd := exec.Command(e.bin, "up", "--yes", "--no-verify", "-C", e.dir)
	cmd.Env = e.env
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	out := &lockedBuffer{}
	cmd.Stdout = io.MultiWriter(out, testWriter{t, "eksirsa up (recovery, to be killed at its import)"})
	cmd.Stderr = cmd.Stdout
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	deadline := time.After(emuOpTimeout)
	for !importing.MatchString(out.String()) {
		select {
		case err := <-done:
			t.Fatalf("the recovery up ended (%v) before it imported anything:\n%s", err, lastLines(out.String(), 6))
		case <-deadline:
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			t.Fatalf("the recovery up never started an import in %s", emuOpTimeout)
		case <-time.After(50 * time.Millisecond):
		}
	}
	if !strings.Contains(out.String(), "left stack test locked") {
		t.Errorf("the recovery up did not release the killed update's lock:\n%s", out.String())
	}
	procs := append([]int{cmd.Process.Pid}, descendants(cmd.Process.Pid)...)
	for _, pid := range procs {
		_ = syscall.Kill(pid, syscall.SIGKILL)
	}
	_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	<-done
	t.Logf("SIGKILLed the recovery up and its %d descendants at: %s", len(procs)-1, importing.FindString(out.String()))
}
