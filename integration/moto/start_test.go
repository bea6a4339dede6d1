package moto_test

import (
	"fmt"
	"runtime"
	"strings"
	"testing"

	"github.com/eks-irsa/eks-irsa/integration/moto"
)

// recordingTB records how Start ends a test: Skip and Fatal stop its goroutine, as testing's do.
type recordingTB struct {
	testing.TB
	skipped, fatal string
}

func (r *recordingTB) Skip(args ...any)  { r.skipped = fmt.Sprint(args...); runtime.Goexit() }
func (r *recordingTB) Fatal(args ...any) { r.fatal = fmt.Sprint(args...); runtime.Goexit() }

// Without moto_server a developer's run skips the emulated tier, saying why; CI fails it.
func TestStartWithoutMotoServer(t *testing.T) {
	for _, tc := range []struct {
		ci                    string
		wantSkip, wantFailure bool
	}{
		{ci: "", wantSkip: true},
		{ci: "true", wantFailure: true},
	} {
		t.Run("CI="+tc.ci, func(t *testing.T) {
			t.Setenv("PATH", t.TempDir())
			t.Setenv("CI", tc.ci)
			rec := &recordingTB{TB: t}
			done := make(chan struct{})
			go func() {
				defer close(done)
				moto.Start(rec)
			}()
			<-done
			if (rec.skipped != "") != tc.wantSkip || (rec.fatal != "") != tc.wantFailure {
				t.Fatalf("skipped %q, failed %q; want skip %v, failure %v", rec.skipped, rec.fatal, tc.wantSkip, tc.wantFailure)
			}
			if msg := rec.skipped + rec.fatal; !strings.Contains(msg, "moto_server is not on PATH") {
				t.Errorf("message %q does not name what is missing", msg)
			}
		})
	}
}
