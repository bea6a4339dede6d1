package main

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// fakePulumi stands in for the Pulumi CLI on PATH: started, it says so and runs until
// interrupted; on the first interrupt it cancels gracefully, as the CLI does ("^C received;
// cancelling gracefully", then it waits for the operations in flight), here for 12 s: longer
// than the 10 s after which the SDK's own command kills it (sdk/go/auto cmd.go, WaitDelay).
const fakePulumi = `#!/bin/sh
trap 'echo cancelling gracefully; sleep 12; echo cancelled > "$FAKE_PULUMI_DONE"; kill $! 2>/dev/null; exit 0' INT
echo started
sleep 1000 &
wait
`

// SIGTERM (the command's context cancelled) interrupts the CLI once and waits for its
// graceful cancel to end, however long it takes; meanwhile eksirsa's record of the CLI
// process (the lock's owner) is beside the state, and it is gone once the CLI has ended.
func TestPulumiCLIInterruptsOnceAndWaits(t *testing.T) {
	bin := t.TempDir()
	if err := os.WriteFile(filepath.Join(bin, "pulumi"), []byte(fakePulumi), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", bin+string(os.PathListSeparator)+os.Getenv("PATH"))
	done := filepath.Join(t.TempDir(), "done")
	state := t.TempDir()
	cli := pulumiCLI{backendURL: "file://" + state, stackName: "test"}
	ctx, cancel := context.WithCancel(t.Context())
	records := filepath.Join(state, ".eksirsa", "lock-owners", "eks-irsa", "test", "*.json")
	var out lockedBuffer
	seen := make(chan bool, 1)
	go func() {
		defer cancel()
		for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
			// Interrupted only once it runs (its trap set) and is recorded.
			if m, _ := filepath.Glob(records); len(m) == 1 && strings.Contains(out.String(), "started") {
				seen <- true
				return
			}
		}
		seen <- false
	}()
	start := time.Now()
	stdout, _, code, err := cli.Run(ctx, t.TempDir(), nil, []io.Writer{&out}, nil, []string{"FAKE_PULUMI_DONE=" + done}, "up")
	took := time.Since(start)
	if !<-seen {
		t.Error("no record of the CLI process beside the state while it ran")
	}
	if err != nil || code != 0 {
		t.Errorf("Run = %d, %v; want the CLI's own exit 0 after its graceful cancel\n%s", code, err, stdout)
	}
	if !strings.Contains(stdout, "started") || !strings.Contains(stdout, "cancelling gracefully") {
		t.Errorf("the CLI did not start and get interrupted:\n%s", stdout)
	}
	if _, err := os.Stat(done); err != nil {
		t.Errorf("the graceful cancel did not finish (killed after %v): %v", took, err)
	}
	if m, _ := filepath.Glob(records); len(m) != 0 {
		t.Errorf("owner records left after the CLI ended: %v", m)
	}
}
