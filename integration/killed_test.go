package integration

import (
	"bufio"
	"context"
	"fmt"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/eks"

	"github.com/eks-irsa/eks-irsa/integration/awsemu"
)

// progressLine is one line of the engine's non-interactive progress for an AWS resource:
// " +  aws:eks:Cluster demo-eks-oidc-test creating (0s) ".
var progressLine = regexp.MustCompile(`^\s*\+\s+(aws:\S+)\s+(\S+)\s+(creating failed|creating|created)\b`)

// descendants lists pid's descendant processes, deepest last, from /proc.
func descendants(pid int) []int {
	var out []int
	for _, child := range children(pid, "") {
		out = append(out, child)
		out = append(out, descendants(child)...)
	}
	return out
}

// killCase is a moment to SIGKILL `eksirsa up` at, and what the recovery must adopt.
type killCase struct {
	// scale turns durations.csv's minutes into this test's: 1 min × scale.
	scale float64
	// quiet is how long the progress stream must have been still before the kill.
	quiet time.Duration
	// ready says, from the resources in flight, whether this is the moment (then exists
	// must also say that AWS has answered the create).
	ready  func(e *emulated, inFlight map[string]bool) bool
	exists func(ctx context.Context, e *emulated) (int, error)
	// imported is the recovery's "Importing <type> <name>" to expect.
	imported func(e *emulated) string
}

// TestEmulatedKilledUp kills `eksirsa up` (the driver, the Pulumi CLI and its plugins: a
// machine that dies, a CI runner that times out) while an AWS resource is being created and
// exists already: AWS answers a create at once and the provider then waits for it to be ready
// (~10 min for an EKS cluster, 1-2 min for a NAT gateway), which is the window a kill falls
// in. The next `eksirsa up` must recover by itself and finish with exactly one of it: the
// pending create is imported (by its name, or a NAT gateway by its tags), not forgotten, which
// would leave it running and billed outside the stack (and for the cluster make the next
// create fail on its name). A second up changes nothing and destroy leaves nothing in moto.
func TestEmulatedKilledUp(t *testing.T) {
	clusters := func(ctx context.Context, e *emulated) (int, error) {
		out, err := eks.NewFromConfig(e.moto.Config(emuRegion)).ListClusters(ctx, &eks.ListClustersInput{})
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
	for name, tc := range map[string]killCase{
		// Only the cluster in flight: everything it waits for is done.
		"while the cluster is being created": {
			scale: 0.02, quiet: 2 * time.Second,
			ready: func(e *emulated, inFlight map[string]bool) bool {
				return len(inFlight) == 1 && inFlight["aws:eks:Cluster "+e.name]
			},
			exists: clusters,
			imported: func(e *emulated) string {
				return "Importing aws:eks/cluster:Cluster " + e.name + " (id " + e.name + ")"
			},
		},
		// The NAT gateway in flight, beside nothing but the cluster (imported by name) and the
		// ECR interface endpoints (found by their tags, as the NAT gateway).
		"while a NAT gateway is being created": {
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
			exists:   natGateways,
			imported: func(e *emulated) string { return "Importing aws:ec2/natGateway:NatGateway " + e.name + "-nat-" },
		},
	} {
		t.Run(name, func(t *testing.T) { killedUp(t, tc) })
	}
}

func killedUp(t *testing.T, tc killCase) {
	e := startEmulated(t)
	durations, err := filepath.Abs("../internal/deploytime/durations.csv")
	if err != nil {
		t.Fatal(err)
	}
	e.env = append(e.env, fmt.Sprintf("%s=%s,%g", awsemu.DelaysEnv, durations, tc.scale))

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
	killed := false
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
			if m := progressLine.FindStringSubmatch(line); m != nil {
				if key := m[1] + " " + m[2]; m[3] == "creating" {
					inFlight[key] = true
				} else {
					delete(inFlight, key)
				}
			}
		case <-tick.C:
			if killed || !tc.ready(e, inFlight) || time.Since(last) < tc.quiet {
				continue
			}
			if n, err := tc.exists(ctx, e); err != nil || n == 0 {
				continue // AWS has not answered the create yet
			}
			procs := append([]int{cmd.Process.Pid}, descendants(cmd.Process.Pid)...)
			for _, pid := range procs {
				_ = syscall.Kill(pid, syscall.SIGKILL)
			}
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			t.Logf("SIGKILLed eksirsa and its %d descendants with %v in flight", len(procs)-1, inFlight)
			killed = true
		}
	}
	_ = cmd.Wait()
	if !killed {
		t.Fatal("the moment to kill never came: nothing was killed")
	}

	out, err := e.eksirsa("up", "--yes", "--verify-wait", "3m")
	if err != nil {
		t.Fatalf("eksirsa up after the kill: %v", err)
	}
	for _, want := range []string{"left stack test locked", tc.imported(e), "PASS identity kube-system/aws-node"} {
		if !strings.Contains(out, want) {
			t.Errorf("the recovery up did not say %q", want)
		}
	}
	// Adopted as it is: a replacement would delete what the update made and build it anew
	// (for the cluster another issuer, every IRSA trust rewritten, ~10 min on AWS).
	for _, change := range []string{"replacing", "deleting original"} {
		if strings.Contains(out, change) {
			t.Errorf("the recovery up is %s a resource", change)
		}
	}
	if n, err := tc.exists(t.Context(), e); err != nil || n != 1 {
		t.Errorf("after the recovery up moto has %d of it (%v), want exactly one", n, err)
	}

	e.upChangesNothing("the up after the recovery")

	if _, err := e.eksirsa("destroy", "--yes"); err != nil {
		t.Fatalf("eksirsa destroy: %v", err)
	}
	e.nothingLeft("destroy")
}
