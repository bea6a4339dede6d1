package main

import (
	"bytes"
	"context"
	"errors"
	"slices"
	"testing"

	"github.com/spf13/cobra"
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
