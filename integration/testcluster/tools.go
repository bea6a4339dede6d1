package testcluster

import (
	"os"
	"path/filepath"
	"testing"
)

// ToolsBinEnv names the directory holding pulumi, pulumi-resource-kubernetes, etcd,
// kube-apiserver and kube-controller-manager.
const ToolsBinEnv = "EKSIRSA_TOOLS_BIN"

// Tool names, as tools/build writes them.
const (
	toolEtcd       = "etcd"
	toolAPIServer  = "kube-apiserver"
	toolKCM        = "kube-controller-manager"
	toolPulumi     = "pulumi"
	toolK8sPlugin  = "pulumi-resource-kubernetes"
	unsetToolsHint = ToolsBinEnv + " unset: run tools/build (EKSIRSA_TOOLS_BIN=$(tools/build) go test ./...)"
)

// Tools that single tests ask for through Tool. ToolNodeadm is AWS's node bootstrapper, the
// consumer of the launch template's user data.
const (
	ToolNodeadm = "nodeadm"
	ToolPulumi  = toolPulumi
)

// ToolsBin returns the toolchain directory. Without EKSIRSA_TOOLS_BIN it skips the test,
// or fails it when CI is set: CI must never pass by skipping this tier. A directory that
// lacks one of the tools is always a failure.
func ToolsBin(t testing.TB) string {
	t.Helper()
	dir := toolsDir(t)
	for _, name := range []string{toolEtcd, toolAPIServer, toolKCM, toolPulumi, toolK8sPlugin} {
		requireTool(t, dir, name)
	}
	return dir
}

// Tool returns the path of one tool of the toolchain directory, under ToolsBin's rules
// (skip without EKSIRSA_TOOLS_BIN, fail under CI or when the tool is missing), for a test
// that needs that tool alone.
func Tool(t testing.TB, name string) string {
	t.Helper()
	dir := toolsDir(t)
	requireTool(t, dir, name)
	return filepath.Join(dir, name)
}

func toolsDir(t testing.TB) string {
	t.Helper()
	dir := os.Getenv(ToolsBinEnv)
	if dir == "" {
		if os.Getenv("CI") != "" {
			t.Fatal(unsetToolsHint)
		}
		t.Skip(unsetToolsHint)
	}
	return dir
}

func requireTool(t testing.TB, dir, name string) {
	t.Helper()
	fi, err := os.Stat(filepath.Join(dir, name))
	if err != nil || fi.Mode()&0o111 == 0 {
		t.Fatalf("%s=%s: %s is missing or not executable: rerun tools/build", ToolsBinEnv, dir, name)
	}
}
