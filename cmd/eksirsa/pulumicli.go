package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"slices"
	"time"

	"github.com/blang/semver"
	"github.com/pulumi/pulumi/sdk/v3/go/auto"

	"github.com/eks-irsa/eks-irsa/internal/statelock"
	"github.com/eks-irsa/eks-irsa/stack"
)

// pulumiCLI runs the Pulumi CLI for the Automation API as the SDK's own command does
// (sdk/go/auto cmd.go, pulumiCommand.Run: --non-interactive, PULUMI_AUTOMATION_API=true), with
// two differences:
//   - Right after the CLI starts, eksirsa records beside the stack's locks the evidence naming
//     that process (statelock.RecordOwner: boot id, pid namespace, start time), so a later up
//     can prove its lock dead, and removes it once the CLI has ended.
//   - A cancelled context interrupts the CLI once and waits for it to end, however long its
//     graceful cancel takes. The SDK's command kills it 10 s after the interrupt
//     (cmd.WaitDelay = 10 * time.Second), which in the middle of a cluster create leaves the
//     stack locked with pending operations.
type pulumiCLI struct {
	version    semver.Version
	backendURL string
	stackName  string
}

// newPulumiCLI checks the installed CLI's version as the SDK does (auto.NewPulumiCommand).
func newPulumiCLI(backendURL, stackName string) (pulumiCLI, error) {
	sdk, err := auto.NewPulumiCommand(nil)
	if err != nil {
		return pulumiCLI{}, err
	}
	return pulumiCLI{version: sdk.Version(), backendURL: backendURL, stackName: stackName}, nil
}

func (p pulumiCLI) Version() semver.Version { return p.version }

// cliWaitDelay bounds how long output pipes may stay open after the CLI has exited (a plugin
// it left behind holding them); it never kills a running CLI.
const cliWaitDelay = 10 * time.Second

func (p pulumiCLI) Run(ctx context.Context, workdir string, stdin io.Reader, additionalOutput, additionalErrorOutput []io.Writer,
	additionalEnv []string, args ...string,
) (string, string, int, error) {
	own := args // the CLI's own flags, before a "--"
	if i := slices.Index(args, "--"); i >= 0 {
		own = args[:i]
	}
	if !slices.Contains(own, "--non-interactive") {
		args = append([]string{"--non-interactive"}, args...)
	}
	cmd := exec.Command("pulumi", args...)
	cmd.Dir = workdir
	cmd.Env = append(append(os.Environ(), additionalEnv...), "PULUMI_AUTOMATION_API=true")
	var stdout, stderr bytes.Buffer
	cmd.Stdout = io.MultiWriter(append(additionalOutput, &stdout)...)
	cmd.Stderr = io.MultiWriter(append(additionalErrorOutput, &stderr)...)
	cmd.Stdin = stdin
	cmd.WaitDelay = cliWaitDelay
	if err := cmd.Start(); err != nil {
		return "", "", -2, err // the SDK's unknownErrorCode
	}
	remove, recordErr := statelock.RecordOwner(context.WithoutCancel(ctx), p.backendURL, stack.ProjectName, p.stackName, cmd.Process.Pid)
	if recordErr != nil {
		// Without the record a lock this CLI leaves is never taken for dead: up stops and
		// names it, which is safe; the run itself goes on.
		fmt.Fprintf(cmd.Stderr, "eksirsa: warning: %v; a lock this update leaves will have to be cancelled by hand\n", recordErr)
	}
	done := make(chan struct{})
	go func() {
		select {
		case <-ctx.Done():
			_ = cmd.Process.Signal(os.Interrupt) // once: a second interrupt terminates at once
		case <-done:
		}
	}()
	err := cmd.Wait()
	close(done)
	if recordErr == nil {
		_ = remove(context.WithoutCancel(ctx))
	}
	code := -2
	if exit, ok := err.(*exec.ExitError); ok {
		code = exit.ExitCode()
	} else if err == nil {
		code = 0
	}
	return stdout.String(), stderr.String(), code, err
}
