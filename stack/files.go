package stack

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/pulumi/pulumi/sdk/v3/go/common/diag"
	"github.com/pulumi/pulumi/sdk/v3/go/common/diag/colors"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource/config"
	"github.com/pulumi/pulumi/sdk/v3/go/common/workspace"
)

// LoadStackFiles reads Pulumi.yaml and Pulumi.<stack>.yaml in projectDir with the SDK's own
// loaders and returns the configuration the engine would hand the program: the stack's
// values over the project's declared defaults, keys qualified ("eks-irsa:nodes"), objects as
// JSON. Secrets are blinded (SecretPlaceholder), so no passphrase is needed; the program
// reads none.
func LoadStackFiles(projectDir, stackName string) (map[string]string, error) {
	project, err := workspace.LoadProject(filepath.Join(projectDir, "Pulumi.yaml"))
	if err != nil {
		return nil, fmt.Errorf("load project: %w", err)
	}
	stackFile := filepath.Join(projectDir, "Pulumi."+stackName+".yaml")
	// The loader treats a missing stack file as an empty one: a misspelt stack would
	// silently run on the defaults.
	if _, err := os.Stat(stackFile); err != nil {
		return nil, fmt.Errorf("stack %s: %w", stackName, err)
	}
	ps, err := workspace.LoadProjectStack(diag.DefaultSink(io.Discard, io.Discard, diag.FormatOptions{Color: colors.Never}), project, stackFile)
	if err != nil {
		return nil, fmt.Errorf("load stack %s: %w", stackName, err)
	}

	out := map[string]string{}
	for key, decl := range project.Config {
		v := decl.Default
		if v == nil {
			v = decl.Value
		}
		if v == nil {
			continue
		}
		if !strings.Contains(key, ":") {
			key = string(project.Name) + ":" + key
		}
		s, err := configString(v)
		if err != nil {
			return nil, fmt.Errorf("Pulumi.yaml: default of %s: %w", key, err)
		}
		out[key] = s
	}
	values, err := ps.Config.Decrypt(config.NewBlindingDecrypter())
	if err != nil {
		return nil, fmt.Errorf("stack %s: read config: %w", stackName, err)
	}
	var undeclared []string
	for k, v := range values {
		if k.Namespace() == string(project.Name) {
			if _, ok := project.Config[k.Name()]; !ok {
				undeclared = append(undeclared, k.String())
			}
		}
		out[k.String()] = v
	}
	if len(undeclared) > 0 {
		slices.Sort(undeclared)
		return nil, fmt.Errorf("%s sets keys Pulumi.yaml does not declare (misspelt?): %s",
			filepath.Base(stackFile), strings.Join(undeclared, ", "))
	}
	return out, nil
}

// SecretPlaceholder is what a secret config value reads as offline: nothing is decrypted.
const SecretPlaceholder = "[secret]"

// configString renders a YAML value as the engine passes config to a program.
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
