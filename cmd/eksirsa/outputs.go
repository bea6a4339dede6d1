package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"os"
	"slices"
	"strings"

	"github.com/pulumi/pulumi/sdk/v3/go/auto"
	"github.com/spf13/cobra"

	"github.com/eks-irsa/eks-irsa/stack"
)

func newOutputsCommand(opts *options) *cobra.Command {
	var asJSON, showSecrets bool
	cmd := &cobra.Command{
		Use:   "outputs",
		Short: "Print the stack's outputs (secrets hidden unless --show-secrets)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			outs, err := stackOutputs(cmd.Context(), opts)
			if err != nil {
				return err
			}
			return writeOutputs(cmd.OutOrStdout(), outs, asJSON, showSecrets)
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print a JSON object")
	cmd.Flags().BoolVar(&showSecrets, "show-secrets", false, "print secret values")
	return cmd
}

// stackOutputs reads the outputs of the last update.
func stackOutputs(ctx context.Context, opts *options) (auto.OutputMap, error) {
	s, err := opts.open(ctx, opts)
	if err != nil {
		return nil, err
	}
	outs, err := s.Outputs(ctx)
	if err != nil {
		return nil, fmt.Errorf("stack %s outputs: %w", opts.stack, err)
	}
	if len(outs) == 0 {
		return nil, fmt.Errorf("stack %s: %w", opts.stack, errNoStack)
	}
	return outs, nil
}

func writeOutputs(w io.Writer, outs auto.OutputMap, asJSON, showSecrets bool) error {
	values := make(map[string]any, len(outs))
	for name, o := range outs {
		values[name] = o.Value
		if o.Secret && !showSecrets {
			values[name] = stack.SecretPlaceholder
		}
	}
	if asJSON {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(values)
	}
	for _, name := range slices.Sorted(maps.Keys(values)) {
		text, ok := values[name].(string)
		if !ok {
			b, err := json.Marshal(values[name])
			if err != nil {
				return fmt.Errorf("output %s: %w", name, err)
			}
			text = string(b)
		}
		if strings.Contains(text, "\n") {
			text = "|\n  " + strings.ReplaceAll(strings.TrimRight(text, "\n"), "\n", "\n  ")
		}
		fmt.Fprintf(w, "%s: %s\n", name, text)
	}
	return nil
}

func newKubeconfigCommand(opts *options) *cobra.Command {
	var path string
	cmd := &cobra.Command{
		Use:   "kubeconfig",
		Short: "Print the cluster's kubeconfig, or write it (mode 0600) with -o",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			kubeconfig, err := stackKubeconfig(cmd.Context(), opts)
			if err != nil {
				return err
			}
			if path == "" {
				_, err := io.WriteString(cmd.OutOrStdout(), kubeconfig)
				return err
			}
			return writePrivate(path, []byte(kubeconfig))
		},
	}
	cmd.Flags().StringVarP(&path, "output", "o", "", "write the kubeconfig to this file")
	return cmd
}

func stackKubeconfig(ctx context.Context, opts *options) (string, error) {
	outs, err := stackOutputs(ctx, opts)
	if err != nil {
		return "", err
	}
	kubeconfig, ok := outs[stack.OutKubeconfig].Value.(string)
	if !ok || kubeconfig == "" {
		return "", fmt.Errorf("stack %s has no %s output", opts.stack, stack.OutKubeconfig)
	}
	return kubeconfig, nil
}

// writePrivate writes a credential-bearing file readable by its owner only, also when it
// already existed with a wider mode.
func writePrivate(path string, data []byte) error {
	if err := os.WriteFile(path, data, 0o600); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Chmod(path, 0o600); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}
