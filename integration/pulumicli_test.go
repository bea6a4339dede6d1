package integration

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/common/apitype"

	"github.com/eks-irsa/eks-irsa/integration/testcluster"
)

// The design's own entry point: `pulumi up -s test` in the project directory. The real
// Pulumi CLI reads Pulumi.yaml (its typed config and defaults) and Pulumi.test.yaml itself,
// starts the test-only pulumi-language-go (integration/langhost), which builds the
// project's main.go with `go build` and runs it with the engine's environment, and drives
// the same emulated AWS and loopback cluster as the eksirsa tests.

// linkModule makes dir hold the whole Go module, as a project directory does: every entry
// of the repository root is symlinked into dir except the Pulumi files (dir has its own
// copies: `pulumi stack init` writes the stack file) and dot entries (.git would make
// `go build` stamp VCS state of the repository instead of the project).
func linkModule(t *testing.T, dir string) {
	t.Helper()
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	entries, err := os.ReadDir(root)
	if err != nil {
		t.Fatal(err)
	}
	for _, ent := range entries {
		name := ent.Name()
		// bin/ is where the language host keeps the program it builds (Pulumi.yaml's
		// buildTarget): each test builds its own, never into the checkout.
		if strings.HasPrefix(name, ".") || name == "bin" || name == "Pulumi.yaml" || (strings.HasPrefix(name, "Pulumi.") && strings.HasSuffix(name, ".yaml")) {
			continue
		}
		if err := os.Symlink(filepath.Join(root, name), filepath.Join(dir, name)); err != nil {
			t.Fatal(err)
		}
	}
	for _, need := range []string{"main.go", "go.mod", "go.sum"} {
		if _, err := os.Stat(filepath.Join(dir, need)); err != nil {
			t.Fatalf("the project directory lacks %s: %v", need, err)
		}
	}
}

// pulumi runs the real CLI in the project directory and returns its stdout; stderr is
// logged and, on failure, part of the error.
func (e *emulated) pulumi(cli string, args ...string) (string, error) {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(e.t.Context(), emuOpTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, cli, append(args, "--non-interactive")...)
	cmd.Dir, cmd.Env = e.dir, e.env
	var out, errOut bytes.Buffer
	cmd.Stdout = io.MultiWriter(&out, testWriter{e.t, "pulumi " + args[0]})
	cmd.Stderr = io.MultiWriter(&errOut, testWriter{e.t, "pulumi " + args[0] + " (stderr)"})
	start := time.Now()
	err := cmd.Run()
	e.t.Logf("pulumi %s: %v after %s", strings.Join(args, " "), err, time.Since(start).Round(time.Millisecond))
	if err != nil {
		// With --json the engine's errors are events on stdout.
		return out.String(), fmt.Errorf("%w\n%s%s", err, errOut.String(), strings.Join(engineErrors(out.String()), "\n"))
	}
	return out.String(), nil
}

// updateSummary is the summary event of the update (not of its preview) in what
// `pulumi up --json` prints: with a preview, the preview's digest (one indented JSON
// object), then the engine events of the update, one JSON object a line.
func updateSummary(stream string) (*apitype.SummaryEvent, error) {
	var found *apitype.SummaryEvent
	dec := json.NewDecoder(strings.NewReader(stream))
	for {
		var ev apitype.EngineEvent
		err := dec.Decode(&ev)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("pulumi printed something that is not JSON: %w:\n%s", err, stream)
		}
		if ev.SummaryEvent != nil && !ev.SummaryEvent.IsPreview {
			found = ev.SummaryEvent
		}
	}
	if found == nil {
		return nil, fmt.Errorf("no summary event of the update in:\n%s", stream)
	}
	return found, nil
}

// engineErrors are the error diagnostics among the engine events in stream.
func engineErrors(stream string) []string {
	var msgs []string
	dec := json.NewDecoder(strings.NewReader(stream))
	for {
		var ev apitype.EngineEvent
		if dec.Decode(&ev) != nil {
			return msgs
		}
		if d := ev.DiagnosticEvent; d != nil && d.Severity == "error" {
			msgs = append(msgs, d.Prefix+d.Message)
		}
	}
}

// TestPulumiCLIUpSecondUpDestroy runs the README's own commands with the real Pulumi CLI:
// `pulumi stack init test`, `pulumi up -s test` creates the stack, a second `pulumi up`
// changes nothing, `pulumi destroy` leaves nothing in moto.
func TestPulumiCLIUpSecondUpDestroy(t *testing.T) {
	t.Parallel() // see startEmulated
	e := startEmulated(t)
	linkModule(t, e.dir)
	cli := filepath.Join(testcluster.ToolsBin(t), "pulumi")

	if _, err := e.pulumi(cli, "stack", "init", "test"); err != nil {
		t.Fatalf("pulumi stack init test: %v", err)
	}
	out, err := e.pulumi(cli, "up", "-s", "test", "--yes", "--skip-preview", "--json")
	if err != nil {
		t.Fatalf("pulumi up -s test: %v", err)
	}
	first, err := updateSummary(out)
	if err != nil {
		t.Fatal(err)
	}
	created := first.ResourceChanges[apitype.OpCreate]
	if first.Result != apitype.OperationResultSucceeded || created == 0 {
		t.Fatalf("pulumi up -s test: result %q, changes %v", first.Result, first.ResourceChanges)
	}
	t.Logf("pulumi up: %d resources created", created)
	// Pulumi.yaml's buildTarget: the language host kept the program it built, and the next
	// preview and update reuse it (go build finds it up to date) instead of relinking.
	program := filepath.Join(e.dir, "bin", "eks-irsa")
	built, err := os.Stat(program)
	if err != nil {
		t.Fatalf("the language host kept no program at Pulumi.yaml's buildTarget: %v", err)
	}

	out, err = e.pulumi(cli, "up", "-s", "test", "--yes", "--json", "--expect-no-changes")
	if err != nil {
		t.Fatalf("second pulumi up -s test: %v", err)
	}
	second, err := updateSummary(out)
	if err != nil {
		t.Fatal(err)
	}
	var changed []string
	for op, n := range second.ResourceChanges {
		if op != apitype.OpSame && n > 0 {
			changed = append(changed, fmt.Sprintf("%s %d", op, n))
		}
	}
	slices.Sort(changed)
	if len(changed) > 0 || second.ResourceChanges[apitype.OpSame] != created {
		t.Fatalf("the second pulumi up changed %v (want %d unchanged): %v", changed, created, second.ResourceChanges)
	}
	if again, err := os.Stat(program); err != nil {
		t.Errorf("the program at Pulumi.yaml's buildTarget is gone after the second pulumi up: %v", err)
	} else if !os.SameFile(built, again) {
		// go build touches a target that is up to date and replaces one it links anew.
		t.Errorf("the second pulumi up relinked the program at Pulumi.yaml's buildTarget instead of reusing it")
	}

	if _, err := e.pulumi(cli, "destroy", "-s", "test", "--yes"); err != nil {
		t.Fatalf("pulumi destroy -s test: %v", err)
	}
	e.nothingLeft("pulumi destroy")
}
