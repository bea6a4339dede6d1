package langhost_test

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"

	"github.com/eks-irsa/eks-irsa/integration/langhost"
	"github.com/eks-irsa/eks-irsa/integration/testcluster"
)

// The environment a program gets carries every parameter of the run under the names
// pulumi.Run reads, and nothing empty.
func TestEnvCarriesTheRunUnderTheSDKsNames(t *testing.T) {
	req := &pulumirpc.RunRequest{
		Project: "p", Stack: "s", Organization: "o", Parallel: 7, DryRun: true,
		MonitorAddress:   "127.0.0.1:1",
		Config:           map[string]string{"p:greeting": "hi"},
		ConfigSecretKeys: []string{"p:token"},
		Info:             &pulumirpc.ProgramInfo{RootDirectory: "/root/dir"},
	}
	env, err := langhost.Env(req, "127.0.0.1:2")
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, kv := range env[len(os.Environ()):] {
		k, v, _ := strings.Cut(kv, "=")
		got[k] = v
	}
	want := map[string]string{
		pulumi.EnvProject:             "p",
		pulumi.EnvStack:               "s",
		pulumi.EnvOrganization:        "o",
		pulumi.EnvParallel:            "7",
		pulumi.EnvDryRun:              "true",
		pulumi.EnvMonitor:             "127.0.0.1:1",
		pulumi.EnvEngine:              "127.0.0.1:2",
		pulumi.EnvConfig:              `{"p:greeting":"hi"}`,
		pulumi.EnvConfigSecretKeys:    `["p:token"]`,
		pulumi.EnvPulumiRootDirectory: "/root/dir",
	}
	for k, w := range want {
		if got[k] != w {
			t.Errorf("%s = %q, want %q", k, got[k], w)
		}
	}
	if len(got) != len(want) {
		t.Errorf("added %v, want exactly %v", got, want)
	}
}

// A tiny Go project that reads config and exports through pulumi.Run alone (no providers).
const smokeMain = `package main

import (
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi/config"
)

func main() {
	pulumi.Run(func(ctx *pulumi.Context) error {
		cfg := config.New(ctx, "")
		ctx.Export("greeting", pulumi.String(cfg.Require("greeting")))
		ctx.Export("token", cfg.RequireSecret("token"))
		ctx.Export("where", pulumi.String(ctx.Project()+"/"+ctx.Stack()))
		return nil
	})
}
`

// writeSmokeProject lays the project out in dir. Its go.mod is this module's (renamed), so
// every requirement is already in the module cache and go.sum: no network, no tidy.
func writeSmokeProject(t *testing.T, dir string) {
	t.Helper()
	gomod, err := os.ReadFile("../../go.mod")
	if err != nil {
		t.Fatal(err)
	}
	first, rest, _ := bytes.Cut(gomod, []byte("\n"))
	if !bytes.HasPrefix(first, []byte("module ")) {
		t.Fatalf("../../go.mod starts with %q, want the module line", first)
	}
	gosum, err := os.ReadFile("../../go.sum")
	if err != nil {
		t.Fatal(err)
	}
	files := map[string][]byte{
		"Pulumi.yaml": []byte("name: langhost-smoke\nruntime: go\ndescription: the Go language host stand-in's smoke test\n"),
		"main.go":     []byte(smokeMain),
		"go.mod":      append([]byte("module langhostsmoke\n"), rest...),
		"go.sum":      gosum,
	}
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(dir, name), body, 0o600); err != nil {
			t.Fatal(err)
		}
	}
}

// The real Pulumi CLI runs a Go project through the stand-in found on PATH: stack init,
// config (one secret), `pulumi up`, then `pulumi stack output` shows what the program
// exported from its config, project and stack.
func TestPulumiUpRunsAGoProjectThroughTheStandIn(t *testing.T) {
	pulumiCLI := testcluster.Tool(t, testcluster.ToolPulumi)
	gobin, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("go is not on PATH: the language host builds the program with it: %v", err)
	}

	root := t.TempDir()
	hostDir, project, state, home := filepath.Join(root, "host"), filepath.Join(root, "project"), filepath.Join(root, "state"), filepath.Join(root, "home")
	for _, d := range []string{hostDir, project, state, home} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	build := exec.Command(gobin, "build", "-o", filepath.Join(hostDir, "pulumi-language-go"),
		"github.com/eks-irsa/eks-irsa/integration/langhost/cmd/pulumi-language-go")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build the stand-in: %v\n%s", err, out)
	}
	writeSmokeProject(t, project)

	env := append(os.Environ(),
		"PATH="+strings.Join([]string{hostDir, filepath.Dir(gobin), os.Getenv("PATH")}, string(os.PathListSeparator)),
		"PULUMI_HOME="+home,
		"PULUMI_BACKEND_URL=file://"+state,
		"PULUMI_CONFIG_PASSPHRASE="+testcluster.Passphrase,
		"PULUMI_SKIP_UPDATE_CHECK=true",
		"PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION=true",
	)
	pulumiRun := func(args ...string) string {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, pulumiCLI, append(args, "--non-interactive")...)
		cmd.Dir, cmd.Env = project, env
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		if err := cmd.Run(); err != nil {
			t.Fatalf("pulumi %s: %v\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), err, stdout.String(), stderr.String())
		}
		return stdout.String()
	}

	pulumiRun("stack", "init", "dev")
	pulumiRun("config", "set", "greeting", "hello from config", "-s", "dev")
	pulumiRun("config", "set", "--secret", "token", "s3cr3t", "-s", "dev")
	up := pulumiRun("up", "--yes", "-s", "dev")
	if !strings.Contains(up, "greeting") {
		t.Errorf("pulumi up output does not list the outputs:\n%s", up)
	}

	var outputs map[string]any
	if err := json.Unmarshal([]byte(pulumiRun("stack", "output", "--json", "--show-secrets", "-s", "dev")), &outputs); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"greeting": "hello from config", "token": "s3cr3t", "where": "langhost-smoke/dev"}
	for k, w := range want {
		if outputs[k] != w {
			t.Errorf("stack output %s = %#v, want %#v (all: %v)", k, outputs[k], w, outputs)
		}
	}
	if shown := pulumiRun("stack", "output", "token", "-s", "dev"); !strings.Contains(shown, "[secret]") {
		t.Errorf("stack output token = %q, want it kept secret", shown)
	}
}
