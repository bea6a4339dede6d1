package testcluster

import (
	"context"
	"errors"
	"testing"
)

// A process that dies on a taken port is reported as errPortInUse, which Start retries;
// any other early exit is not.
func TestWaitHealthyPortInUse(t *testing.T) {
	for _, tc := range []struct {
		name, script string
		retry        bool
	}{
		{"port taken", `echo 'listen tcp 127.0.0.1:4242: bind: address already in use' >&2; exit 1`, true},
		{"other failure", `echo 'unknown flag: --nope' >&2; exit 1`, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := startProcess(t, t.TempDir(), "fake", "/bin/sh", "-c", tc.script)
			if err != nil {
				t.Fatal(err)
			}
			err = waitHealthy(t.Context(), []*process{p}, func(context.Context) error { return errors.New("not yet") })
			if err == nil {
				t.Fatal("waitHealthy succeeded on a dead process")
			}
			if got := errors.Is(err, errPortInUse); got != tc.retry {
				t.Errorf("errors.Is(%v, errPortInUse) = %v, want %v", err, got, tc.retry)
			}
		})
	}
}
