package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/spf13/cobra"
)

// Both migrations' --approve --format json (runDocument with sayStep): while the migration
// runs, what it prints (the updates' progress) goes to stderr and its lines become steps; then
// stdout holds the one document, with the error when it failed, and the command exits 1
// without saying the error again.
func TestRunDocument(t *testing.T) {
	for _, failing := range []bool{false, true} {
		var stdout, stderr bytes.Buffer
		cmd := &cobra.Command{}
		cmd.SetOut(&stdout)
		cmd.SetErr(&stderr)
		doc := &podIdentityResult{Steps: []migrationStep{}}
		say := func(format string, args ...any) { sayStep(cmd, &doc.Steps, format, args...) }
		err := runDocument(cmd, func() error {
			say("PHASE %s: updating stack %s (eksirsa up)", "trust-both", "test")
			cmd.Println("Updating (test): the up's progress")
			say("ACCOUNT %s: done: identity podIdentity", "apps/web")
			if failing {
				return errors.New("migrate pod-identity: phase restart: stuck")
			}
			return nil
		}, func(err error) any {
			doc.Passed, doc.Error = err == nil, errorText(err)
			return doc
		})
		var exit *exitError
		if failing != (err != nil) || (failing && (!errors.As(err, &exit) || exit.code != exitFailure || !exit.quiet)) {
			t.Errorf("failing %v: runDocument returned %v, want a quiet exit 1 exactly when the migration fails", failing, err)
		}
		var got podIdentityResult
		if err := json.Unmarshal(stdout.Bytes(), &got); err != nil {
			t.Fatalf("stdout is not one document: %v\n%s", err, stdout.String())
		}
		want := []migrationStep{{Status: "PHASE", Phase: "trust-both", Text: "updating stack test (eksirsa up)"}, {Status: "ACCOUNT", Phase: "apps/web", Text: "done: identity podIdentity"}}
		if got.Passed == failing || len(got.Steps) != 2 || got.Steps[0] != want[0] || got.Steps[1] != want[1] || (got.Error != "") != failing {
			t.Errorf("failing %v: the document %+v, want passed %v, steps %+v and the error only on failure", failing, got, !failing, want)
		}
		if !strings.Contains(stderr.String(), "the up's progress") || strings.Contains(stdout.String(), "the up's progress") {
			t.Errorf("failing %v: the progress went to stdout %q, stderr %q; want stderr", failing, stdout.String(), stderr.String())
		}
	}
}
