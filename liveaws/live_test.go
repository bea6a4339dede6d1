// Package liveaws is the third test tier: the whole stack against a real AWS account through
// the eksirsa binary, up (with verify --identities) → drift → a second up → destroy → nothing
// tagged with the stack left. It runs only when asked to
// (EKSIRSA_LIVE=1) and AWS credentials are present, and says why it skipped otherwise.
package liveaws

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/eks-irsa/eks-irsa/integration/stackfile"
	"github.com/eks-irsa/eks-irsa/integration/testbin"
)

// liveReason says why the live tier cannot run here, or "" when it can.
func liveReason() string {
	if os.Getenv("EKSIRSA_LIVE") != "1" {
		return "EKSIRSA_LIVE is not 1: the live tier creates a real EKS cluster (~25 min, paid)"
	}
	if os.Getenv("AWS_ACCESS_KEY_ID") == "" && os.Getenv("AWS_PROFILE") == "" && os.Getenv("AWS_WEB_IDENTITY_TOKEN_FILE") == "" {
		return "no AWS credentials in the environment (AWS_ACCESS_KEY_ID, AWS_PROFILE or AWS_WEB_IDENTITY_TOKEN_FILE)"
	}
	for _, tool := range []string{"pulumi", "aws"} {
		if _, err := exec.LookPath(tool); err != nil {
			return tool + " is not on PATH"
		}
	}
	return ""
}

func TestLiveUpVerifyDestroy(t *testing.T) {
	if reason := liveReason(); reason != "" {
		t.Skip("live AWS tier skipped: " + reason)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 75*time.Minute)
	defer cancel()

	// The same binary and the same scenario as the emulated tier (integration/emulated_test.go
	// and identities_test.go): only the endpoints and the credentials differ.
	bin := testbin.Path(t, "eksirsa")

	// A copy of the project with its own stack file, so a live run never writes into
	// Pulumi.test.yaml and never collides with a real test stack.
	env := fmt.Sprintf("live%d", time.Now().Unix()%100000)
	dir := t.TempDir()
	copyInto(t, "../Pulumi.yaml", filepath.Join(dir, "Pulumi.yaml"))
	testStack, err := os.ReadFile("../Pulumi.test.yaml")
	if err != nil {
		t.Fatal(err)
	}
	stackFile := strings.Replace(string(testStack), "eks-irsa:environment: test", "eks-irsa:environment: "+env, 1)
	stackFile = strings.ReplaceAll(stackFile, "demo-eks-oidc-test", "demo-eks-oidc-"+env)
	if err := os.WriteFile(filepath.Join(dir, "Pulumi."+env+".yaml"), []byte(stackFile), 0o600); err != nil {
		t.Fatal(err)
	}
	backend := t.TempDir()
	eksirsa := func(args ...string) (string, error) {
		cmd := exec.CommandContext(ctx, bin, append(args, "-s", env, "-C", dir, "--backend", "file://"+backend)...)
		cmd.Env = append(os.Environ(), "PULUMI_CONFIG_PASSPHRASE=eks-irsa-live")
		var out strings.Builder
		cmd.Stdout = io.MultiWriter(&out, os.Stdout)
		cmd.Stderr = cmd.Stdout
		start := time.Now()
		err := cmd.Run()
		t.Logf("eksirsa %s: %v after %s", strings.Join(args, " "), err, time.Since(start).Round(time.Second))
		return out.String(), err
	}
	destroyed := false
	t.Cleanup(func() {
		if !destroyed {
			if _, err := eksirsa("destroy", "--yes"); err != nil {
				t.Errorf("cleanup destroy: %v (resources tagged Environment=%s may remain)", err, env)
			}
		}
	})

	// up runs verify --identities: on real STS another account's token meets AccessDenied.
	out, err := eksirsa("up", "--yes", "--verify-wait", "15m")
	if err != nil {
		t.Fatalf("up: %v", err)
	}
	if !strings.Contains(out, "and by STS (AccessDenied)") {
		t.Errorf("up's verify did not show STS refusing another account's token")
	}
	if out, err := eksirsa("verify", "--identities", "--format", "json"); err != nil {
		t.Errorf("verify --identities: %v\n%s", err, out)
	}
	if out, err := eksirsa("drift"); err != nil || !strings.Contains(out, "No drift") {
		t.Errorf("drift after up: %v\n%s", err, out)
	}

	// A second up changes nothing.
	out, err = eksirsa("up", "--yes", "--no-verify")
	if err != nil {
		t.Fatalf("second up: %v", err)
	}
	for _, change := range []string{" to create", " created", " updated", " replaced", " deleted"} {
		if strings.Contains(out, change) {
			t.Errorf("the second up changed something (%q)", strings.TrimSpace(change))
		}
	}

	// aws-node's role renamed (as the emulated tier does): the role is replaced and verify,
	// which checks that every aws-node pod runs with the annotated role, proves the new one.
	renamed := "demo-eks-oidc-" + env + "-vpc-cni"
	if err := stackfile.Set(filepath.Join(dir, "Pulumi."+env+".yaml"), "eks-irsa:awsNode", map[string]any{"roleName": renamed}); err != nil {
		t.Fatal(err)
	}
	if out, err = eksirsa("up", "--yes", "--verify-wait", "15m"); err != nil {
		t.Fatalf("up with aws-node's role renamed: %v", err)
	}
	if !strings.Contains(out, "assumed-role/"+renamed+"/") {
		t.Errorf("verify did not prove aws-node's renamed role %s", renamed)
	}

	if _, err := eksirsa("destroy", "--yes"); err != nil {
		t.Fatalf("destroy: %v", err)
	}
	destroyed = true

	// Nothing tagged with the stack is left (the tagging API lags a little; give it time).
	deadline := time.Now().Add(5 * time.Minute)
	for {
		left := taggedResources(t, ctx, env)
		if len(left) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after destroy, resources tagged Environment=%s remain: %v", env, left)
		}
		time.Sleep(30 * time.Second)
	}
	groups, err := exec.CommandContext(ctx, "aws", "logs", "describe-log-groups",
		"--log-group-name-prefix", "/aws/eks/demo-eks-oidc-"+env, "--query", "logGroups[].logGroupName", "--output", "json").Output()
	if err != nil || strings.TrimSpace(string(groups)) != "[]" {
		t.Errorf("control-plane log group left after destroy: %s %v", groups, err)
	}
}

// taggedResources lists the ARNs of resources still tagged Environment=env, through the aws CLI
// (the live tier needs it anyway: the kubeconfig execs it).
func taggedResources(t *testing.T, ctx context.Context, env string) []string {
	t.Helper()
	out, err := exec.CommandContext(ctx, "aws", "resourcegroupstaggingapi", "get-resources",
		"--tag-filters", "Key=Environment,Values="+env, "Key=ServiceType,Values=demo-eks-oidc",
		"--query", "ResourceTagMappingList[].ResourceARN", "--output", "json").Output()
	if err != nil {
		t.Fatalf("aws resourcegroupstaggingapi get-resources: %v", err)
	}
	var arns []string
	if err := json.Unmarshal(out, &arns); err != nil {
		t.Fatalf("get-resources output: %v", err)
	}
	return arns
}

func copyInto(t *testing.T, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, b, 0o600); err != nil {
		t.Fatal(err)
	}
}
