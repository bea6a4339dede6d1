// Package langhost is a test-only stand-in for pulumi-language-go, the Go language host
// the Pulumi CLI starts to run a Go project (`pulumi up`, `pulumi destroy`). It is not
// served here, so this package does for a Go project what the real host does, following
// pulumi/pulumi sdk/go/pulumi-language-go/main.go (read at commit
// 01c72be12487b67d6073ffc33720d0efc066a497, the host of the v3.2xx CLIs):
//   - Run: `go build -o <temp file>` in the program directory (compileProgram), then run the
//     binary in req.Pwd with the environment constructEnv builds — the variable names are
//     the Go SDK's own constants (sdk/go/pulumi/run.go), so they cannot drift from what
//     pulumi.Run reads — and answer as runProgram does: exit 0 is success, exit 32 means the
//     program already reported its error to the engine (bail), anything else an error.
//   - Handshake records the engine address; GetPluginInfo, About (go version),
//     GetProgramDependencies (the go.mod requirements, indirect ones only on request).
//   - GetRequiredPlugins is unimplemented, as in the real host; GetRequiredPackages returns
//     none (the real host derives them from go.mod; here every plugin the tests use is on
//     PATH, so the engine needs none installed); InstallDependencies does nothing (the
//     real one runs `go mod tidy`, which would need the network).
//
// The runtime options `binary` and `buildTarget` are honoured as in the real host.
package langhost

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"

	"github.com/pulumi/pulumi/sdk/v3/go/common/constant"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/emptypb"
)

// Version is what GetPluginInfo reports: the Pulumi release whose host this one stands in
// for (the CLI built by tools/build).
const Version = "3.274.1"

// Host is the LanguageRuntimeServer.
type Host struct {
	pulumirpc.UnimplementedLanguageRuntimeServer

	cwd string

	mu            sync.Mutex
	engineAddress string
}

// New returns a host for the engine at engineAddress (empty until Handshake), started in cwd.
func New(engineAddress, cwd string) *Host {
	return &Host{engineAddress: engineAddress, cwd: cwd}
}

func (h *Host) engine() string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.engineAddress
}

// Handshake records the engine's address.
func (h *Host) Handshake(_ context.Context, req *pulumirpc.LanguageHandshakeRequest) (*pulumirpc.LanguageHandshakeResponse, error) {
	if req.GetEngineAddress() == "" {
		return nil, errors.New("handshake: the request must contain the engine address")
	}
	h.mu.Lock()
	h.engineAddress = req.GetEngineAddress()
	h.mu.Unlock()
	return &pulumirpc.LanguageHandshakeResponse{}, nil
}

// GetPluginInfo reports Version.
func (h *Host) GetPluginInfo(context.Context, *emptypb.Empty) (*pulumirpc.PluginInfo, error) {
	return &pulumirpc.PluginInfo{Version: Version}, nil
}

// GetRequiredPlugins is unimplemented, as in the real host: the engine asks for packages.
func (h *Host) GetRequiredPlugins(context.Context, *pulumirpc.GetRequiredPluginsRequest) (*pulumirpc.GetRequiredPluginsResponse, error) {
	return nil, status.Errorf(codes.Unimplemented, "method GetRequiredPlugins not implemented")
}

// GetRequiredPackages returns none: the plugins a test needs are on PATH.
func (h *Host) GetRequiredPackages(context.Context, *pulumirpc.GetRequiredPackagesRequest) (*pulumirpc.GetRequiredPackagesResponse, error) {
	return &pulumirpc.GetRequiredPackagesResponse{}, nil
}

// InstallDependencies installs nothing: the module cache already holds the program's.
func (h *Host) InstallDependencies(*pulumirpc.InstallDependenciesRequest, pulumirpc.LanguageRuntime_InstallDependenciesServer) error {
	return nil
}

// RuntimeOptionsPrompts has no prompts, as in the real host.
func (h *Host) RuntimeOptionsPrompts(context.Context, *pulumirpc.RuntimeOptionsRequest) (*pulumirpc.RuntimeOptionsResponse, error) {
	return &pulumirpc.RuntimeOptionsResponse{}, nil
}

// About reports the go toolchain, as the real host does.
func (h *Host) About(context.Context, *pulumirpc.AboutRequest) (*pulumirpc.AboutResponse, error) {
	gobin, err := exec.LookPath("go")
	if err != nil {
		return nil, fmt.Errorf("could not find executable 'go': %w", err)
	}
	cmd := exec.Command(gobin, "version")
	cmd.Dir = h.cwd
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("failed to execute '%s version'", gobin)
	}
	return &pulumirpc.AboutResponse{Executable: gobin, Version: strings.TrimSpace(string(out))}, nil
}

// goModJSON is the part of `go mod edit -json` GetProgramDependencies reads.
type goModJSON struct {
	Require []struct {
		Path     string
		Version  string
		Indirect bool
	}
	Replace []struct {
		Old struct{ Path string }
	}
}

// GetProgramDependencies lists the program module's requirements (indirect ones only when
// transitive dependencies are asked for; a replaced module has no version), as the real
// host does from go.mod.
func (h *Host) GetProgramDependencies(_ context.Context, req *pulumirpc.GetProgramDependenciesRequest) (*pulumirpc.GetProgramDependenciesResponse, error) {
	gobin, err := exec.LookPath("go")
	if err != nil {
		return nil, fmt.Errorf("couldn't find go binary: %w", err)
	}
	dir := req.GetInfo().GetProgramDirectory()
	list := exec.Command(gobin, "list", "-m", "-f", "{{.GoMod}}")
	list.Dir, list.Env = dir, append(os.Environ(), "GOWORK=off")
	out, err := list.Output()
	if err != nil || len(strings.TrimSpace(string(out))) == 0 {
		return nil, fmt.Errorf("load go.mod: no go.mod file found for %s: %v", dir, err)
	}
	edit := exec.Command(gobin, "mod", "edit", "-json", strings.TrimSpace(string(out)))
	edit.Dir = dir
	js, err := edit.Output()
	if err != nil {
		return nil, fmt.Errorf("load go.mod: %w", err)
	}
	var mod goModJSON
	if err := json.Unmarshal(js, &mod); err != nil {
		return nil, fmt.Errorf("load go.mod: %w", err)
	}
	replaced := map[string]bool{}
	for _, r := range mod.Replace {
		replaced[strings.TrimRight(r.Old.Path, "/")] = true
	}
	var deps []*pulumirpc.DependencyInfo
	for _, r := range mod.Require {
		if r.Indirect && !req.GetTransitiveDependencies() {
			continue
		}
		v := r.Version
		if replaced[strings.TrimRight(r.Path, "/")] {
			v = ""
		}
		deps = append(deps, &pulumirpc.DependencyInfo{Name: r.Path, Version: v})
	}
	return &pulumirpc.GetProgramDependenciesResponse{Dependencies: deps}, nil
}

// options are the project's runtime options the real host reads.
type options struct {
	binary      string // run this executable (looked up on PATH) instead of building
	buildTarget string // build to this path and keep it
}

func parseOptions(in map[string]any) (options, error) {
	var o options
	for key, dst := range map[string]*string{"binary": &o.binary, "buildTarget": &o.buildTarget} {
		if v, ok := in[key]; ok {
			s, ok := v.(string)
			if !ok {
				return o, fmt.Errorf("%s option must be a string", key)
			}
			*dst = s
		}
	}
	if o.binary != "" && o.buildTarget != "" {
		return o, errors.New("binary and buildTarget cannot both be specified")
	}
	return o, nil
}

// Run builds and runs the program.
func (h *Host) Run(ctx context.Context, req *pulumirpc.RunRequest) (*pulumirpc.RunResponse, error) {
	engine := h.engine()
	if engine == "" {
		return nil, errors.New("when debugging or running explicitly, must call Handshake before Run")
	}
	if req.GetAttachDebugger() {
		return nil, errors.New("this test stand-in for pulumi-language-go does not attach debuggers")
	}
	opts, err := parseOptions(req.GetInfo().GetOptions().AsMap())
	if err != nil {
		return nil, err
	}
	env, err := Env(req, engine)
	if err != nil {
		return nil, fmt.Errorf("failed to prepare environment: %w", err)
	}

	var program string
	if opts.binary != "" {
		if program, err = exec.LookPath(opts.binary); err != nil {
			return nil, fmt.Errorf("unable to find '%s' executable: %w", opts.binary, err)
		}
	} else {
		if program, err = compile(ctx, req.GetInfo().GetProgramDirectory(), opts.buildTarget); err != nil {
			return nil, fmt.Errorf("error in compiling Go: %w", err)
		}
		if opts.buildTarget == "" {
			defer os.Remove(program)
		}
	}
	return run(req.GetPwd(), program, env), nil
}

// compile is the real host's compileProgram: `go build -o outfile` in the program directory,
// into a new temporary file when outfile is empty.
func compile(ctx context.Context, dir, outfile string) (string, error) {
	if matches, err := filepath.Glob(filepath.Join(dir, "*.go")); err != nil || len(matches) == 0 {
		return "", fmt.Errorf("failed to find go files for 'go build' matching %s", filepath.Join(dir, "*.go"))
	}
	if outfile == "" {
		f, err := os.CreateTemp("", "pulumi-go.*")
		if err != nil {
			return "", fmt.Errorf("unable to create go program temp file: %w", err)
		}
		if err := f.Close(); err != nil {
			return "", fmt.Errorf("unable to close go program temp file: %w", err)
		}
		outfile = f.Name()
	}
	gobin, err := exec.LookPath("go")
	if err != nil {
		return "", fmt.Errorf("unable to find 'go' executable: %w", err)
	}
	build := exec.CommandContext(ctx, gobin, "build", "-o", outfile)
	build.Dir = dir
	var stderr strings.Builder
	build.Stdout, build.Stderr = os.Stdout, &stderr
	if err := build.Run(); err != nil {
		return "", fmt.Errorf("unable to run `go build`: %w\n%s", err, stderr.String())
	}
	return outfile, nil
}

// run is the real host's runProgram.
func run(pwd, program string, env []string) *pulumirpc.RunResponse {
	cmd := exec.Command(program)
	cmd.Dir, cmd.Env = pwd, env
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	err := cmd.Run()
	if err == nil {
		return &pulumirpc.RunResponse{}
	}
	var exit *exec.ExitError
	if !errors.As(err, &exit) {
		return &pulumirpc.RunResponse{Error: fmt.Sprintf("command errored unexpectedly: %v", err)}
	}
	if exit.ExitCode() == constant.ExitStatusLoggedError {
		// The program failed and has already told the engine why.
		return &pulumirpc.RunResponse{Bail: true}
	}
	return &pulumirpc.RunResponse{Error: fmt.Sprintf("program exited with non-zero exit code: %d", exit.ExitCode())}
}

// Env is the real host's constructEnv: this process's environment plus the run's
// parameters under the names pulumi.Run reads, each added only when non-empty.
func Env(req *pulumirpc.RunRequest, engineAddress string) ([]string, error) {
	var config string
	if c := req.GetConfig(); c != nil {
		b, err := json.Marshal(c)
		if err != nil {
			return nil, err
		}
		config = string(b)
	}
	secretKeys := "[]"
	if k := req.GetConfigSecretKeys(); k != nil {
		b, err := json.Marshal(k)
		if err != nil {
			return nil, err
		}
		secretKeys = string(b)
	}
	env := os.Environ()
	add := func(k, v string) {
		if v != "" {
			env = append(env, k+"="+v)
		}
	}
	add(pulumi.EnvOrganization, req.GetOrganization())
	add(pulumi.EnvProject, req.GetProject())
	add(pulumi.EnvPulumiRootDirectory, req.GetInfo().GetRootDirectory())
	add(pulumi.EnvStack, req.GetStack())
	add(pulumi.EnvConfig, config)
	add(pulumi.EnvConfigSecretKeys, secretKeys)
	add(pulumi.EnvDryRun, strconv.FormatBool(req.GetDryRun()))
	add(pulumi.EnvParallel, strconv.Itoa(int(req.GetParallel())))
	add(pulumi.EnvMonitor, req.GetMonitorAddress())
	add(pulumi.EnvEngine, engineAddress)
	return env, nil
}
