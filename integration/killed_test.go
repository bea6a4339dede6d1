package integration

import (
	"bufio"
	"context"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

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

// TestEmulatedKilledUpDuringClusterCreate kills `eksirsa up` (the driver, the Pulumi CLI and
// its plugins: a machine that dies, a CI runner that times out) while the EKS cluster is
// being created and nothing else is, once the cluster exists in AWS: AWS answers the create
// at once and the provider waits ~10 min for ACTIVE, so that is the window a kill falls in.
// The next `eksirsa up` must recover by itself and finish with exactly one cluster: the
// pending create is imported by its name, not forgotten (which would leave the cluster
// running outside the stack and make the next create fail on its name). A second up changes
// nothing and destroy leaves nothing in moto.
func TestEmulatedKilledUpDuringClusterCreate(t *testing.T) {
	e := startEmulated(t)
	durations, err := filepath.Abs("../internal/deploytime/durations.csv")
	if err != nil {
		t.Fatal(err)
	}
	// 1 min → 1.2 s: the cluster's create takes 12 s, long enough to kill it mid-wait.
	e.env = append(e.env, awsemu.DelaysEnv+"="+durations+",0.02")
	eksClient := eks.NewFromConfig(e.moto.Config(emuRegion))

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
	clusterKey := "aws:eks:Cluster " + e.name
	inFlight := map[string]bool{}
	killed := false
	// The progress stream lags the engine a little: kill only once it has been quiet for a
	// while with the cluster alone in flight, so no other create is under way unseen.
	const quiet = 2 * time.Second
	tick := time.NewTicker(200 * time.Millisecond)
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
			if killed || len(inFlight) != 1 || !inFlight[clusterKey] || time.Since(last) < quiet {
				continue
			}
			if out, err := eksClient.ListClusters(ctx, &eks.ListClustersInput{}); err != nil || len(out.Clusters) == 0 {
				continue // AWS has not answered the create yet
			}
			procs := append([]int{cmd.Process.Pid}, descendants(cmd.Process.Pid)...)
			for _, pid := range procs {
				_ = syscall.Kill(pid, syscall.SIGKILL)
			}
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			t.Logf("SIGKILLed eksirsa and its %d descendants while only the cluster was being created", len(procs)-1)
			killed = true
		}
	}
	_ = cmd.Wait()
	if !killed {
		t.Fatal("the cluster's create was never in flight alone: nothing was killed")
	}
	if out, err := eksClient.ListClusters(t.Context(), &eks.ListClustersInput{}); err != nil || len(out.Clusters) != 1 {
		t.Fatalf("after the kill moto has clusters %v (%v), want the one being created", out, err)
	}

	out, err := e.eksirsa("up", "--yes", "--verify-wait", "3m")
	if err != nil {
		t.Fatalf("eksirsa up after the kill: %v", err)
	}
	for _, want := range []string{
		"left stack test locked",
		"Importing aws:eks/cluster:Cluster " + e.name + " (id " + e.name + ")",
		"PASS identity kube-system/aws-node",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("the recovery up did not say %q", want)
		}
	}
	// Adopted as it is: a replacement would delete the cluster the update made and build a new
	// one (another issuer, every IRSA trust rewritten, ~10 min on AWS).
	for _, change := range []string{"replacing", "deleting original"} {
		if strings.Contains(out, change) {
			t.Errorf("the recovery up is %s a resource", change)
		}
	}
	clusters, err := eksClient.ListClusters(t.Context(), &eks.ListClustersInput{})
	if err != nil || len(clusters.Clusters) != 1 {
		t.Errorf("after the recovery up moto has clusters %v (%v), want exactly one", clusters, err)
	}

	out, err = e.eksirsa("up", "--yes", "--no-verify")
	if err != nil {
		t.Fatalf("second eksirsa up: %v", err)
	}
	if resourceCount.FindStringSubmatch(out) == nil || strings.Contains(out, " to create") || strings.Contains(out, " updated") ||
		strings.Contains(out, " replaced") || strings.Contains(out, " created") {
		t.Errorf("the up after the recovery changed something:\n%s", out)
	}

	if _, err := e.eksirsa("destroy", "--yes"); err != nil {
		t.Fatalf("eksirsa destroy: %v", err)
	}
	left, err := e.moto.Leftovers(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if len(left) > 0 {
		t.Errorf("destroy left %d resources in moto:\n  %s", len(left), strings.Join(left, "\n  "))
	}
}
