package stackfile_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/eks-irsa/eks-irsa/integration/stackfile"
	"github.com/eks-irsa/eks-irsa/stack"
)

// A key set in the repository's test stack reads back through the SDK's own stack loader,
// and every other key keeps its value.
func TestSetReadsBackThroughTheSDKLoader(t *testing.T) {
	dir := t.TempDir()
	for _, f := range []string{"Pulumi.yaml", "Pulumi.test.yaml"} {
		data, err := os.ReadFile(filepath.Join("..", "..", f))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, f), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	before, err := stack.LoadStackFiles(dir, "test")
	if err != nil {
		t.Fatal(err)
	}
	if err := stackfile.Set(filepath.Join(dir, "Pulumi.test.yaml"), "eks-irsa:awsNode", map[string]any{"roleName": "platform-cni"}); err != nil {
		t.Fatal(err)
	}
	after, err := stack.LoadStackFiles(dir, "test")
	if err != nil {
		t.Fatal(err)
	}
	if got := after["eks-irsa:awsNode"]; !strings.Contains(got, `"roleName":"platform-cni"`) {
		t.Errorf("eks-irsa:awsNode = %s, want roleName platform-cni", got)
	}
	if got, err := stackfile.Get(filepath.Join(dir, "Pulumi.test.yaml"), "eks-irsa:awsNode"); err != nil || got.(map[string]any)["roleName"] != "platform-cni" {
		t.Errorf("Get eks-irsa:awsNode = %v, %v; want roleName platform-cni", got, err)
	}
	for k, v := range before {
		if k != "eks-irsa:awsNode" && after[k] != v {
			t.Errorf("%s changed: %s -> %s", k, v, after[k])
		}
	}
	bare := filepath.Join(dir, "Pulumi.bare.yaml")
	if err := os.WriteFile(bare, []byte("secretsprovider: passphrase\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := stackfile.Set(bare, "k", "v"); err == nil {
		t.Error("a stack file without config was edited")
	}
}
