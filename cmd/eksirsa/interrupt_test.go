package main

import (
	"bytes"
	"os"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// lockedBuffer is what the signal goroutine writes and the test reads.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// signalSelf sends sig to this test process, which interruptible has just set to catch it,
// and waits until the handler has said something.
func signalSelf(t *testing.T, sig syscall.Signal, out *lockedBuffer) {
	t.Helper()
	if err := syscall.Kill(os.Getpid(), sig); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(5 * time.Second); out.String() == ""; {
		if time.Now().After(deadline) {
			t.Fatalf("nothing said after %v", sig)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestSignals(t *testing.T) {
	for _, tc := range []struct {
		name        string
		sig         syscall.Signal
		pulumiRuns  bool
		wantCancel  bool
		wantMessage string
	}{
		// verify waiting for nodes, drift: Ctrl-C stops eksirsa.
		{"Ctrl-C with no Pulumi CLI running", syscall.SIGINT, false, true, "eksirsa: interrupted."},
		// The terminal interrupted the CLI too: a second interrupt would terminate it at once.
		{"Ctrl-C while the Pulumi CLI runs", syscall.SIGINT, true, false, "the Pulumi CLI, interrupted too, is cancelling gracefully"},
		// SIGTERM reaches eksirsa alone: the context is how the CLI learns of it.
		{"SIGTERM while the Pulumi CLI runs", syscall.SIGTERM, true, true, "eksirsa: terminated; cancelling what runs"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.pulumiRuns {
				pulumiRunning.Add(1)
				defer pulumiRunning.Add(-1)
			}
			var out lockedBuffer
			ctx := interruptible(&out)
			signalSelf(t, tc.sig, &out)
			if !strings.Contains(out.String(), tc.wantMessage) {
				t.Errorf("said %q, want %q", out.String(), tc.wantMessage)
			}
			if tc.wantCancel {
				select {
				case <-ctx.Done():
				case <-time.After(5 * time.Second):
					t.Error("the context was not cancelled")
				}
			} else if ctx.Err() != nil {
				t.Error("the context was cancelled: the CLI would get a second interrupt and terminate at once")
			}
		})
	}
}
