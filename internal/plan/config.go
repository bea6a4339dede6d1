// Package plan owns the offline plan of `eksirsa plan`: it loads the project and stack files
// with the SDK's workspace loaders, collects a program's stack outputs under the mocks, and
// turns a recorded resource graph into the plan (resource tree, IRSA trust policies, aws-auth,
// the aws-node patches, outputs, deploy-time model) rendered as text, JSON, Mermaid or DOT.
package plan

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource/config"
	"github.com/pulumi/pulumi/sdk/v3/go/common/workspace"
)

// Secret is what a secret value looks like in a plan: nothing is decrypted offline.
const Secret = "[secret]"

// StackConfig loads <dir>/Pulumi.yaml and <dir>/Pulumi.<stack>.yaml and returns the project
// name and the configuration the engine would hand the program: fully qualified keys, the
// stack's values over the project's defaults, objects as JSON, secrets blinded.
func StackConfig(dir, stack string) (string, map[string]string, error) {
	project, err := workspace.LoadProject(filepath.Join(dir, "Pulumi.yaml"))
	if err != nil {
		return "", nil, fmt.Errorf("load project: %w", err)
	}
	stackFile := filepath.Join(dir, "Pulumi."+stack+".yaml")
	// The loader treats a missing stack file as an empty one; a plan of a misspelt stack
	// would silently show the defaults.
	if _, err := os.Stat(stackFile); err != nil {
		return "", nil, fmt.Errorf("stack %s: %w", stack, err)
	}
	ps, err := workspace.LoadProjectStack(nil, project, stackFile)
	if err != nil {
		return "", nil, fmt.Errorf("load stack %s: %w", stack, err)
	}

	name := string(project.Name)
	cfg := map[string]string{}
	for key, t := range project.Config {
		v := t.Default
		if v == nil {
			v = t.Value
		}
		if v == nil {
			continue
		}
		// Keys without a namespace belong to the project, as in the stack file.
		if !strings.Contains(key, ":") {
			key = name + ":" + key
		}
		k, err := config.ParseKey(key)
		if err != nil {
			return "", nil, fmt.Errorf("project config key %q: %w", key, err)
		}
		s, err := configString(v)
		if err != nil {
			return "", nil, fmt.Errorf("project config %s default: %w", k, err)
		}
		cfg[k.String()] = s
	}
	for k, v := range ps.Config {
		s, err := v.Value(config.NewBlindingDecrypter())
		if err != nil {
			return "", nil, fmt.Errorf("stack %s config %s: %w", stack, k, err)
		}
		cfg[k.String()] = s
	}
	return name, cfg, nil
}

// configString renders a project default as the engine passes config: strings as they are,
// everything else as JSON.
func configString(v any) (string, error) {
	if s, ok := v.(string); ok {
		return s, nil
	}
	b, err := json.Marshal(v)
	if err != nil {
		return "", err
	}
	return string(b), nil
}
