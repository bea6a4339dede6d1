package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sync/atomic"
	"syscall"

	"github.com/pulumi/pulumi/sdk/v3/go/auto"
	"github.com/pulumi/pulumi/sdk/v3/go/auto/optdestroy"
	"github.com/pulumi/pulumi/sdk/v3/go/auto/optimport"
	"github.com/pulumi/pulumi/sdk/v3/go/auto/optpreview"
	"github.com/pulumi/pulumi/sdk/v3/go/auto/optrefresh"
	"github.com/pulumi/pulumi/sdk/v3/go/auto/optup"
	"github.com/pulumi/pulumi/sdk/v3/go/common/apitype"
)

// pulumiRunning counts the Pulumi CLI processes the commands are waiting on.
var pulumiRunning atomic.Int32

// whilePulumiRuns runs one Automation API call, which runs the Pulumi CLI, counted.
func whilePulumiRuns[T any](call func() (T, error)) (T, error) {
	pulumiRunning.Add(1)
	defer pulumiRunning.Add(-1)
	return call()
}

// interruptible is the commands' context, for the signals that end a run. eksirsa starts the
// Pulumi CLI in its own process group (pulumiCLI, as the SDK's command does on Unix), and
// cancelling the context sends it one interrupt and waits for it to end (pulumiCLI.Run; the
// SDK's command would kill it 10 s later), which it takes as "cancel gracefully" the first
// time and "terminate at once" the second (measured: "^C received; terminating", pending
// operations left behind).
//   - Ctrl-C reaches the terminal's whole foreground group. While the CLI runs it is
//     interrupted too and already cancelling gracefully: eksirsa says so and waits for it,
//     rather than dying and leaving it orphaned, or interrupting it a second time. Otherwise
//     (verify waiting for nodes, drift) the context is cancelled and eksirsa stops.
//   - SIGTERM (a CI runner or container stopping its main process) reaches eksirsa alone: the
//     context is cancelled, so a running CLI is interrupted once and cancels gracefully.
//
// Either way a second signal ends eksirsa at once (from a terminal, the CLI too).
func interruptible(stderr io.Writer) context.Context {
	ctx, cancel := context.WithCancel(context.Background())
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	go func() {
		sig := <-sigs
		signal.Reset(os.Interrupt, syscall.SIGTERM)
		switch {
		case sig == os.Interrupt && pulumiRunning.Load() > 0:
			fmt.Fprintln(stderr, "\neksirsa: interrupted; the Pulumi CLI, interrupted too, is cancelling gracefully (interrupt again to stop at once).")
			return
		case sig == os.Interrupt:
			fmt.Fprintln(stderr, "\neksirsa: interrupted.")
		default:
			fmt.Fprintln(stderr, "\neksirsa: terminated; cancelling what runs, a Pulumi operation gracefully (signal again to stop at once).")
		}
		cancel()
	}()
	return ctx
}

// counted is a stack whose every operation counts as a running Pulumi CLI.
type counted struct{ s stackAPI }

func (c counted) Preview(ctx context.Context, o ...optpreview.Option) (auto.PreviewResult, error) {
	return whilePulumiRuns(func() (auto.PreviewResult, error) { return c.s.Preview(ctx, o...) })
}

func (c counted) Up(ctx context.Context, o ...optup.Option) (auto.UpResult, error) {
	return whilePulumiRuns(func() (auto.UpResult, error) { return c.s.Up(ctx, o...) })
}

func (c counted) Refresh(ctx context.Context, o ...optrefresh.Option) (auto.RefreshResult, error) {
	return whilePulumiRuns(func() (auto.RefreshResult, error) { return c.s.Refresh(ctx, o...) })
}

func (c counted) Destroy(ctx context.Context, o ...optdestroy.Option) (auto.DestroyResult, error) {
	return whilePulumiRuns(func() (auto.DestroyResult, error) { return c.s.Destroy(ctx, o...) })
}

func (c counted) Outputs(ctx context.Context) (auto.OutputMap, error) {
	return whilePulumiRuns(func() (auto.OutputMap, error) { return c.s.Outputs(ctx) })
}

func (c counted) SetAllConfigJson(ctx context.Context, configJSON string, opts *auto.ConfigOptions) error {
	_, err := whilePulumiRuns(func() (struct{}, error) { return struct{}{}, c.s.SetAllConfigJson(ctx, configJSON, opts) })
	return err
}

func (c counted) Cancel(ctx context.Context) error {
	_, err := whilePulumiRuns(func() (struct{}, error) { return struct{}{}, c.s.Cancel(ctx) })
	return err
}

func (c counted) Export(ctx context.Context) (apitype.UntypedDeployment, error) {
	return whilePulumiRuns(func() (apitype.UntypedDeployment, error) { return c.s.Export(ctx) })
}

func (c counted) ImportResources(ctx context.Context, o ...optimport.Option) (auto.ImportResult, error) {
	return whilePulumiRuns(func() (auto.ImportResult, error) { return c.s.ImportResources(ctx, o...) })
}
