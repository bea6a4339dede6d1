package testcluster

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/auto"
	"github.com/pulumi/pulumi/sdk/v3/go/common/tokens"
	"github.com/pulumi/pulumi/sdk/v3/go/common/workspace"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// Passphrase encrypts the stacks' secrets in the throwaway file backend.
const Passphrase = "eks-irsa-integration"

// Pulumi is a private Automation API environment: the CLI and Kubernetes provider from
// EKSIRSA_TOOLS_BIN, its own PULUMI_HOME and a file backend, all in temp dirs. Everything
// reaches the CLI through the workspace's environment, never os.Setenv, so tests may run
// in parallel.
type Pulumi struct {
	Bin        string // tools directory: pulumi and pulumi-resource-kubernetes
	Home       string // PULUMI_HOME
	BackendURL string // file://<dir>
	WorkDir    string // the workspace directory (inline programs write Pulumi.yaml here)
	Command    auto.PulumiCommand
	// Env is passed to every CLI run. PATH starts with Bin: the engine finds the provider there.
	Env map[string]string
}

// NewPulumi prepares the environment; it skips or fails the test per ToolsBin.
func NewPulumi(t testing.TB) *Pulumi {
	t.Helper()
	bin := ToolsBin(t)
	root := t.TempDir()
	p := &Pulumi{
		Bin:        bin,
		Home:       filepath.Join(root, "home"),
		BackendURL: "file://" + filepath.Join(root, "backend"),
		WorkDir:    filepath.Join(root, "work"),
	}
	for _, dir := range []string{p.Home, filepath.Join(root, "backend"), p.WorkDir, filepath.Join(root, "tmp")} {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	p.Env = map[string]string{
		"PULUMI_SKIP_UPDATE_CHECK":                    "true",
		"PULUMI_CONFIG_PASSPHRASE":                    Passphrase,
		"PULUMI_BACKEND_URL":                          p.BackendURL,
		"PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION": "true",
		"PULUMI_AUTOMATION_API_SKIP_VERSION_CHECK":    "false",
		"PATH": bin + string(os.PathListSeparator) + os.Getenv("PATH"),
		// The host's kubeconfig must never be reached: every object has an explicit provider.
		"KUBECONFIG": filepath.Join(root, "no-kubeconfig"),
		// The Kubernetes provider leaves a kubeconfig file in $TMPDIR at every configure
		// (writeKubeconfigToFile, pulumi-kubernetes provider/pkg/provider/util.go): here they
		// go with the test.
		"TMPDIR": filepath.Join(root, "tmp"),
	}
	// tools/build lays out <root>/bin/pulumi, which is what PulumiCommandOptions.Root expects.
	cmd, err := auto.NewPulumiCommand(&auto.PulumiCommandOptions{Root: filepath.Dir(bin)})
	if err != nil {
		t.Fatalf("testcluster: pulumi CLI in %s: %v", bin, err)
	}
	p.Command = cmd
	return p
}

// Options are the workspace options for a stack of project in this environment.
func (p *Pulumi) Options(project string) []auto.LocalWorkspaceOption {
	return []auto.LocalWorkspaceOption{
		auto.Pulumi(p.Command),
		auto.PulumiHome(p.Home),
		auto.WorkDir(p.WorkDir),
		auto.EnvVars(p.Env),
		auto.Project(workspace.Project{
			Name:    tokens.PackageName(project),
			Runtime: workspace.NewProjectRuntimeInfo("go", nil),
			Backend: &workspace.ProjectBackend{URL: p.BackendURL},
		}),
	}
}

// InlineStack creates or selects stack of project running program in-process.
func (p *Pulumi) InlineStack(ctx context.Context, t testing.TB, project, stack string, program pulumi.RunFunc) auto.Stack {
	t.Helper()
	s, err := auto.UpsertStackInlineSource(ctx, stack, project, program, p.Options(project)...)
	if err != nil {
		t.Fatalf("testcluster: stack %s/%s: %v", project, stack, err)
	}
	return s
}
