// Package stackfile edits a Pulumi stack file (Pulumi.<stack>.yaml) for the emulated and live
// tiers, which change a stack's configuration between two runs of the driver.
package stackfile

import (
	"fmt"
	"os"

	"gopkg.in/yaml.v3"
)

// Set sets one key of the file's config, as `pulumi config set --path` would. The file is
// edited as YAML, not as text: the Automation API rewrites it after an update.
func Set(path, key string, value any) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	var file map[string]any
	if err := yaml.Unmarshal(data, &file); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	cfg, ok := file["config"].(map[string]any)
	if !ok {
		return fmt.Errorf("%s has no config", path)
	}
	cfg[key] = value
	if data, err = yaml.Marshal(file); err != nil {
		return err
	}
	return os.WriteFile(path, data, 0o600)
}
