package keptlog

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// failed is a test that has failed, whose log is recorded.
type failed struct {
	testing.TB
	failed bool
	logs   []string
}

func (f *failed) Failed() bool { return f.failed }
func (f *failed) Name() string { return "TestScenario/a subtest" }
func (f *failed) Helper()      {}
func (f *failed) Logf(format string, args ...any) {
	f.logs = append(f.logs, fmt.Sprintf(format, args...))
}

func TestOnFailureKeepsTheLogAndPrintsItsLastLines(t *testing.T) {
	root := t.TempDir()
	t.Setenv(DirEnv, root)
	src := filepath.Join(t.TempDir(), "moto.log")
	var lines []string
	for i := range 40 {
		lines = append(lines, fmt.Sprintf("request %d", i))
	}
	if err := os.WriteFile(src, []byte(strings.Join(lines, "\n")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}

	passed := &failed{}
	OnFailure(passed, "moto_server", src)
	if len(passed.logs) != 0 {
		t.Errorf("a passing test logged %q", passed.logs)
	}
	if entries, _ := os.ReadDir(root); len(entries) != 0 {
		t.Errorf("a passing test kept %d directories", len(entries))
	}

	f := &failed{failed: true}
	OnFailure(f, "moto_server", src)
	OnFailure(f, "moto_server", src) // a second server of the same name keeps its own
	kept, err := filepath.Glob(filepath.Join(root, "TestScenario__a_subtest", "moto_server-*.log"))
	if err != nil || len(kept) != 2 {
		t.Fatalf("kept %q (%v), want two copies under the test's directory", kept, err)
	}
	if data, err := os.ReadFile(kept[0]); err != nil || len(strings.Split(strings.TrimSpace(string(data)), "\n")) != 40 {
		t.Errorf("the kept log is not the whole log: %v\n%s", err, data)
	}
	if len(f.logs) != 2 {
		t.Fatalf("logged %q, want a line per log", f.logs)
	}
	msg := f.logs[0]
	if !strings.Contains(msg, kept[0]) && !strings.Contains(msg, kept[1]) {
		t.Errorf("the message does not say where the log is: %q", msg)
	}
	if !strings.HasSuffix(msg, "request 37\nrequest 38\nrequest 39") || strings.Contains(msg, "request 36") {
		t.Errorf("the message does not end with the log's last %d lines alone: %q", shown, msg)
	}
}
