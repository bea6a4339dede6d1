package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/pulumi/pulumi/sdk/v3/go/auto"
	"github.com/pulumi/pulumi/sdk/v3/go/auto/optdestroy"
	"github.com/pulumi/pulumi/sdk/v3/go/auto/optimport"
	"github.com/pulumi/pulumi/sdk/v3/go/auto/optpreview"
	"github.com/pulumi/pulumi/sdk/v3/go/auto/optrefresh"
	"github.com/pulumi/pulumi/sdk/v3/go/auto/optup"
	"github.com/pulumi/pulumi/sdk/v3/go/common/apitype"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/eks-irsa/eks-irsa/stack"
)

// Environment the driver reads, as the Pulumi CLI does.
const (
	envBackendURL     = "PULUMI_BACKEND_URL"
	envPassphrase     = "PULUMI_CONFIG_PASSPHRASE"
	envPassphraseFile = "PULUMI_CONFIG_PASSPHRASE_FILE"
	// stateDir is the default file backend, inside the project directory.
	stateDir = ".pulumi-state"
)

// stackAPI is the part of an Automation API stack the commands drive: *auto.Stack is one,
// tests use a recording fake.
type stackAPI interface {
	Preview(context.Context, ...optpreview.Option) (auto.PreviewResult, error)
	Up(context.Context, ...optup.Option) (auto.UpResult, error)
	Refresh(context.Context, ...optrefresh.Option) (auto.RefreshResult, error)
	Destroy(context.Context, ...optdestroy.Option) (auto.DestroyResult, error)
	Outputs(context.Context) (auto.OutputMap, error)
	Cancel(context.Context) error
	Export(context.Context) (apitype.UntypedDeployment, error)
	ImportResources(context.Context, ...optimport.Option) (auto.ImportResult, error)
	// SetAllConfigJson sets config keys in the stack's file (pulumi config set-all --json):
	// how `migrate access-entries` declares what it moves.
	SetAllConfigJson(ctx context.Context, configJSON string, opts *auto.ConfigOptions) error
}

// backendURL is --backend, else PULUMI_BACKEND_URL, else a file backend in the project.
func (o *options) backendURL() (string, error) {
	if o.backend != "" {
		return o.backend, nil
	}
	if url := os.Getenv(envBackendURL); url != "" {
		return url, nil
	}
	dir, err := filepath.Abs(filepath.Join(o.dir, stateDir))
	if err != nil {
		return "", fmt.Errorf("state directory: %w", err)
	}
	return "file://" + dir, nil
}

// openAutoStack selects or creates the stack with the project's Pulumi.yaml, the stack's
// file and stack.Program, as `pulumi up -s <stack>` in the project directory would.
func openAutoStack(ctx context.Context, o *options) (stackAPI, error) {
	url, err := o.backendURL()
	if err != nil {
		return nil, err
	}
	if dir, ok := strings.CutPrefix(url, "file://"); ok {
		// The file backend encrypts secrets with a passphrase; without one the CLI would
		// prompt, which a driver cannot answer.
		if os.Getenv(envPassphrase) == "" && os.Getenv(envPassphraseFile) == "" {
			return nil, fmt.Errorf("backend %s: set %s (or %s) to the stack's passphrase; "+
				"use --backend or %s for S3 or Pulumi Cloud", url, envPassphrase, envPassphraseFile, envBackendURL)
		}
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, fmt.Errorf("backend %s: %w", url, err)
		}
		if err := removeTornAttributes(dir, os.Stderr); err != nil {
			return nil, fmt.Errorf("backend %s: %w", url, err)
		}
	}
	cli, err := newPulumiCLI(url, o.stack)
	if err != nil {
		return nil, fmt.Errorf("stack %s: %w", o.stack, err)
	}
	s, err := whilePulumiRuns(func() (auto.Stack, error) {
		return auto.UpsertStackLocalSource(ctx, o.stack, o.dir,
			auto.Program(stack.Program), auto.Pulumi(cli),
			auto.EnvVars(map[string]string{envBackendURL: url, "PULUMI_SKIP_UPDATE_CHECK": "true"}),
		)
	})
	if err != nil {
		return nil, fmt.Errorf("stack %s (backend %s): %w", o.stack, url, err)
	}
	return counted{undecrypted{&s}}, nil
}

// openOnce returns open remembering what it opened: an eksirsa run opens its stack once,
// however many of its phases read or update it (a migration's phases each read the outputs
// and run an update). Each open is two CLI runs, `pulumi version` (auto.NewPulumiCommand) and
// `stack select` (UpsertStackLocalSource), 0.3-0.5 s of CPU together; the stack it returns is a
// handle every later call runs the CLI through afresh, so nothing it read goes stale.
func openOnce(open func(context.Context, *options) (stackAPI, error)) func(context.Context, *options) (stackAPI, error) {
	type key struct{ dir, stack, backend string }
	opened := map[key]stackAPI{}
	var mu sync.Mutex
	return func(ctx context.Context, o *options) (stackAPI, error) {
		mu.Lock()
		defer mu.Unlock()
		k := key{o.dir, o.stack, o.backend}
		if s, ok := opened[k]; ok {
			return s, nil
		}
		s, err := open(ctx, o)
		if err != nil {
			return nil, err
		}
		opened[k] = s
		return s, nil
	}
}

// undecrypted is the Automation API's stack with the CLI asked to decrypt only what eksirsa
// reads. Every CLI run that decrypts derives the passphrase's key first (PBKDF2, 1,000,000
// rounds: 0.2 s of CPU, `pulumi stack history --json` 0.13 s and with --show-secrets 0.32 s,
// 2026-12-07), and auto.Stack asks for secrets where eksirsa reads none: Up, Refresh and
// Destroy end with `stack history --show-secrets` for a summary eksirsa does not read, and
// Export is `stack export --show-secrets` (LocalWorkspace.ExportStack) where eksirsa reads the
// pending operations and the resources' types, names and ids. Two key derivations fewer in
// each `eksirsa up`; the update itself and Outputs still decrypt.
type undecrypted struct{ *auto.Stack }

func (s undecrypted) Up(ctx context.Context, o ...optup.Option) (auto.UpResult, error) {
	return s.Stack.Up(ctx, append(o, optup.ShowSecrets(false))...)
}

func (s undecrypted) Refresh(ctx context.Context, o ...optrefresh.Option) (auto.RefreshResult, error) {
	return s.Stack.Refresh(ctx, append(o, optrefresh.ShowSecrets(false))...)
}

func (s undecrypted) Destroy(ctx context.Context, o ...optdestroy.Option) (auto.DestroyResult, error) {
	return s.Stack.Destroy(ctx, append(o, optdestroy.ShowSecrets(false))...)
}

// Export is `pulumi stack export` run as LocalWorkspace.ExportStack runs it (the workspace's
// PULUMI_HOME and environment), without --show-secrets: secret values stay ciphertext.
func (s undecrypted) Export(ctx context.Context) (apitype.UntypedDeployment, error) {
	ws := s.Workspace()
	var env []string
	if home := ws.PulumiHome(); home != "" {
		env = append(env, "PULUMI_HOME="+home)
	}
	for k, v := range ws.GetEnvVars() {
		env = append(env, k+"="+v)
	}
	var state apitype.UntypedDeployment
	stdout, stderr, _, err := ws.PulumiCommand().Run(ctx, ws.WorkDir(), nil, nil, nil, env, "stack", "export", "--stack", s.Name())
	if err != nil {
		return state, fmt.Errorf("pulumi stack export: %w: %s", err, strings.TrimSpace(stderr))
	}
	if err := json.Unmarshal([]byte(stdout), &state); err != nil {
		return state, fmt.Errorf("pulumi stack export: %w", err)
	}
	return state, nil
}

// removeTornAttributes removes the empty attribute files a process killed mid-write leaves in a
// file backend. gocloud.dev's fileblob (v0.46.0, the Pulumi CLI's file backend) writes a blob
// to a temporary file and renames it, but writes its "<blob>.attrs" in place (setAttrs:
// os.Create, then the JSON): a SIGKILL between the two leaves an empty one, and every later
// read of the blob, the stack's checkpoint among them, fails with "failed to load checkpoint:
// EOF" (seen when `migrate access-entries` was SIGKILLed mid-update). The attributes hold only
// metadata (content type, MD5) that the blob does not need, and fileblob reads a blob without
// an attributes file as one with none, so an empty one is removed, and said.
func removeTornAttributes(dir string, out io.Writer) error {
	return filepath.WalkDir(filepath.Join(dir, ".pulumi"), func(path string, d fs.DirEntry, err error) error {
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		if err != nil || d.IsDir() || !strings.HasSuffix(path, attrsSuffix) {
			return err
		}
		info, err := d.Info()
		if err != nil || info.Size() > 0 {
			return err
		}
		if err := os.Remove(path); err != nil {
			return fmt.Errorf("remove the empty attributes file %s: %w", path, err)
		}
		fmt.Fprintf(out, "Removed %s: an empty attributes file, left by a process killed while it wrote it (the blob itself is whole).\n", path)
		return nil
	})
}

// attrsSuffix is fileblob's attributes file suffix (gocloud.dev/blob/fileblob attrsExt).
const attrsSuffix = ".attrs"

// kubeClientFromConfig builds a client from kubeconfig bytes, current context.
func kubeClientFromConfig(kubeconfig []byte) (kubernetes.Interface, error) {
	cfg, err := clientcmd.RESTConfigFromKubeConfig(kubeconfig)
	if err != nil {
		return nil, fmt.Errorf("kubeconfig: %w", err)
	}
	return kubernetes.NewForConfig(cfg)
}

// dynamicClientFromConfig builds a dynamic client from kubeconfig bytes, current context.
func dynamicClientFromConfig(kubeconfig []byte) (dynamic.Interface, error) {
	cfg, err := clientcmd.RESTConfigFromKubeConfig(kubeconfig)
	if err != nil {
		return nil, fmt.Errorf("kubeconfig: %w", err)
	}
	return dynamic.NewForConfig(cfg)
}

// errNoStack says what to do when a command needs state that does not exist yet.
var errNoStack = errors.New("the stack has no outputs: run `eksirsa up` first")
