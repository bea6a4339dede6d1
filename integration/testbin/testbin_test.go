package testbin

import (
	"bufio"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// TestPluginExitsAtOnceOnSIGINT stops a race-built plugin as the Pulumi engine stops every
// plugin at the end of an operation (SIGINT, then it waits for the exit: cmdutil.InterruptChildren
// and the plugin's kill in sdk/go/common/resource/plugin/plugin.go, v3.274.1). The race
// runtime's default exit sleep (atexit_sleep_ms=1000) made every operation a second longer.
func TestPluginExitsAtOnceOnSIGINT(t *testing.T) {
	if !raceEnabled {
		t.Skip("the exit sleep is the race runtime's; this test binary is not built with -race")
	}
	cmd := exec.Command(filepath.Join(Dir(t), "pulumi-resource-tls"))
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill() })
	// A provider prints its port once it serves.
	if _, err := bufio.NewReader(stdout).ReadString('\n'); err != nil {
		t.Fatalf("plugin's port: %v", err)
	}
	start := time.Now()
	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("plugin after SIGINT: %v", err)
	}
	// With the sleep the exit takes 1 s or more, however quiet the machine.
	if took := time.Since(start); took >= time.Second {
		t.Fatalf("the plugin exited %v after SIGINT; want well under the race runtime's 1 s exit sleep (GORACE=%q)", took, "atexit_sleep_ms=0")
	}
}
