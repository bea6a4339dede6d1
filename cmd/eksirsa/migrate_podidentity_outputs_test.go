package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"slices"
	"testing"

	"github.com/spf13/cobra"

	"github.com/eks-irsa/eks-irsa/internal/statelock/statelocktest"
)

// TestPodIdentityMigrationReadsOutputsOncePerUpdate: the migration reads the stack's outputs,
// and whether its last update was interrupted (an export), once, takes them from each of its
// finished updates afterwards, and never reads them between (a restart's wait reads the plan
// every second; each read of the outputs is two CLI runs, the export one).
func TestPodIdentityMigrationReadsOutputsOncePerUpdate(t *testing.T) {
	t.Setenv(envBackendURL, "")
	f := &fakeStack{outputs: testStackOutputs()}
	opts := &options{stack: "test", dir: projectDir, backend: "file://" + t.TempDir(),
		open: func(context.Context, *options) (stackAPI, error) { return f, nil }}
	cmd := &cobra.Command{}
	cmd.SetOut(&bytes.Buffer{})
	cmd.SetContext(t.Context())
	m := &podIdentityMigration{cmd: cmd, opts: opts}
	for range 3 {
		if _, err := m.outputs(t.Context()); err != nil {
			t.Fatal(err)
		}
	}
	if want := []string{"outputs", "export"}; !slices.Equal(f.calls, want) {
		t.Errorf("three reads: calls %q, want %q", f.calls, want)
	}
	f.calls = nil
	if err := m.update("pod-identity"); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if _, err := m.outputs(t.Context()); err != nil {
			t.Fatal(err)
		}
	}
	if want := []string{"export", "up"}; !slices.Equal(f.calls, want) {
		t.Errorf("an update, then three reads: calls %q, want %q (the outputs the up gave)", f.calls, want)
	}
	f.calls = nil
	f.upErr = errors.New("the up failed")
	if err := m.update("pod-identity"); err == nil {
		t.Fatal("the update did not fail")
	}
	if _, err := m.outputs(t.Context()); err != nil {
		t.Fatal(err)
	}
	if want := []string{"export", "up", "outputs", "export"}; !slices.Equal(f.calls, want) {
		t.Errorf("a failed update, then a read: calls %q, want %q (read again)", f.calls, want)
	}
}

// TestLastUpdateInterrupted: the migration's plan takes the last update for unfinished when the
// state holds pending operations or the stack holds a lock whose process is provably dead, and
// only then (a clean state; a lock of a live process, which is an update still running, not an
// interrupted one).
func TestLastUpdateInterrupted(t *testing.T) {
	t.Setenv(envBackendURL, "")
	host, _ := os.Hostname()
	for _, c := range []struct {
		name  string
		state json.RawMessage
		lock  func(dir string) string // writes a lock, returns the backend URL
		want  bool
	}{
		{name: "clean", want: false},
		{name: "pending operations", state: interruptedState, want: true},
		{name: "a dead process's lock", want: true, lock: func(dir string) string {
			return statelocktest.KilledUpdate(t, dir, "eks-irsa", "test", "a1b2.json")
		}},
		{name: "a live process's lock", want: false, lock: func(dir string) string {
			return statelocktest.WriteLock(t, dir, "eks-irsa", "test", os.Getpid(), host)
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			url := "file://" + dir
			if c.lock != nil {
				url = c.lock(dir)
			}
			state := c.state
			if state == nil {
				state = json.RawMessage(`{"resources":[]}`)
			}
			f := &fakeStack{outputs: testStackOutputs(), state: state}
			opts := &options{stack: "test", dir: projectDir, backend: url,
				open: func(context.Context, *options) (stackAPI, error) { return f, nil }}
			got, err := lastUpdateInterrupted(t.Context(), opts)
			if err != nil {
				t.Fatal(err)
			}
			if got != c.want {
				t.Errorf("interrupted = %v, want %v", got, c.want)
			}
		})
	}
}
