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
	file, cfg, err := load(path)
	if err != nil {
		return err
	}
	cfg[key] = value
	data, err := yaml.Marshal(file)
	if err != nil {
		return err
	}
	return os.WriteFile(path, data, 0o600)
}

// Get reads one key of the file's config (nil when it is not set).
func Get(path, key string) (any, error) {
	_, cfg, err := load(path)
	if err != nil {
		return nil, err
	}
	return cfg[key], nil
}

// load parses the stack file and returns it and its config.
func load(path string) (file, cfg map[string]any, err error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, err
	}
	if err := yaml.Unmarshal(data, &file); err != nil {
		return nil, nil, fmt.Errorf("%s: %w", path, err)
	}
	cfg, ok := file["config"].(map[string]any)
	if !ok {
		return nil, nil, fmt.Errorf("%s has no config", path)
	}
	return file, cfg, nil
}
