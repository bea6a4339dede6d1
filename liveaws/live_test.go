// Package liveaws is the third test tier: the whole stack against a real AWS account, up →
// verify → destroy → nothing tagged with the stack left. It runs only when asked to
// (EKSIRSA_LIVE=1) and AWS credentials are present, and says why it skipped otherwise.
package liveaws

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/auto"
	"github.com/pulumi/pulumi/sdk/v3/go/auto/optdestroy"
	"github.com/pulumi/pulumi/sdk/v3/go/auto/optup"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/eks-irsa/eks-irsa/stack"
	"github.com/eks-irsa/eks-irsa/verify"
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
	s, err := auto.UpsertStackLocalSource(ctx, env, dir, auto.Program(stack.Program),
		auto.EnvVars(map[string]string{
			"PULUMI_BACKEND_URL":       "file://" + backend,
			"PULUMI_CONFIG_PASSPHRASE": "eks-irsa-live",
		}))
	if err != nil {
		t.Fatalf("stack: %v", err)
	}
	destroyed := false
	t.Cleanup(func() {
		if !destroyed {
			dctx, dcancel := context.WithTimeout(context.Background(), 45*time.Minute)
			defer dcancel()
			if _, err := s.Destroy(dctx, optdestroy.ProgressStreams(os.Stdout)); err != nil {
				t.Errorf("cleanup destroy: %v (resources tagged Environment=%s may remain)", err, env)
			}
		}
	})

	start := time.Now()
	res, err := s.Up(ctx, optup.ProgressStreams(os.Stdout))
	if err != nil {
		t.Fatalf("up: %v", err)
	}
	t.Logf("up took %s", time.Since(start).Round(time.Second))

	kubeconfig, _ := res.Outputs[stack.OutKubeconfig].Value.(string)
	rest, err := clientcmd.RESTConfigFromKubeConfig([]byte(kubeconfig))
	if err != nil {
		t.Fatalf("kubeconfig: %v", err)
	}
	client, err := kubernetes.NewForConfig(rest)
	if err != nil {
		t.Fatal(err)
	}
	want := verify.Expectations{ServiceAccounts: map[types.NamespacedName]string{}}
	if n, ok := res.Outputs[stack.OutMinNodes].Value.(float64); ok {
		want.MinNodes = int(n)
	}
	if n, ok := res.Outputs[stack.OutMaxNodes].Value.(float64); ok {
		want.MaxNodes = int(n)
	}
	want.AWSNodeRoleARN, _ = res.Outputs[stack.OutAwsNodeRoleARN].Value.(string)
	roles, _ := res.Outputs[stack.OutServiceAccountRoles].Value.(map[string]any)
	for key, arn := range roles {
		ns, name, _ := strings.Cut(key, "/")
		if key != "kube-system/aws-node" {
			want.ServiceAccounts[types.NamespacedName{Namespace: ns, Name: name}], _ = arn.(string)
		}
	}
	if err := verify.Wait(ctx, client, want, verify.TextReporter{W: os.Stdout}, verify.Poll{Timeout: 15 * time.Minute}); err != nil {
		t.Errorf("verify: %v", err)
	}

	// A second up changes nothing.
	again, err := s.Up(ctx, optup.ProgressStreams(os.Stdout))
	if err != nil {
		t.Fatalf("second up: %v", err)
	}
	if again.Summary.ResourceChanges == nil {
		t.Fatal("second up reported no resource changes summary")
	}
	for op, n := range *again.Summary.ResourceChanges {
		if op != "same" && n > 0 {
			t.Errorf("second up: %d × %s", n, op)
		}
	}

	start = time.Now()
	if _, err := s.Destroy(ctx, optdestroy.ProgressStreams(os.Stdout)); err != nil {
		t.Fatalf("destroy: %v", err)
	}
	destroyed = true
	t.Logf("destroy took %s", time.Since(start).Round(time.Second))

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
	out, err := exec.CommandContext(ctx, "aws", "logs", "describe-log-groups",
		"--log-group-name-prefix", "/aws/eks/demo-eks-oidc-"+env, "--query", "logGroups[].logGroupName", "--output", "json").Output()
	if err != nil || strings.TrimSpace(string(out)) != "[]" {
		t.Errorf("control-plane log group left after destroy: %s %v", out, err)
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
