package integration

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/eks-irsa/eks-irsa/irsa"
	"github.com/eks-irsa/eks-irsa/k8s"
)

// interruptCreate rewrites the emulated stack's checkpoint in its file backend as an update
// killed right after the API server created the resource named name of type typ leaves it:
// the object exists, the checkpoint has only a pending create. (The CLI's `stack import`
// would drop the pending operation: "removing pending operation 'creating' ... from snapshot".)
func (e *emulated) interruptCreate(typ, name string) (urn string) {
	e.t.Helper()
	file := e.checkpointFile()
	data, err := os.ReadFile(file)
	if err != nil {
		e.t.Fatal(err)
	}
	var checkpoint map[string]any
	if err := json.Unmarshal(data, &checkpoint); err != nil {
		e.t.Fatal(err)
	}
	inner, _ := checkpoint["checkpoint"].(map[string]any)
	state, _ := inner["latest"].(map[string]any)
	resources, _ := state["resources"].([]any)
	var kept, pending []any
	for _, r := range resources {
		res, _ := r.(map[string]any)
		if u, _ := res["urn"].(string); res["type"] == typ && strings.HasSuffix(u, "::"+name) {
			urn = u
			delete(res, "outputs")
			pending = append(pending, map[string]any{"resource": res, "type": "creating"})
			continue
		}
		kept = append(kept, r)
	}
	if urn == "" {
		e.t.Fatalf("no %s %s in the state", typ, name)
	}
	// What waits on it (the workers wait on every account) keeps its place in the state
	// without naming a resource the state no longer holds, which the CLI refuses to import.
	for _, r := range kept {
		res, _ := r.(map[string]any)
		res["dependencies"] = without(res["dependencies"], urn)
		if deps, ok := res["propertyDependencies"].(map[string]any); ok {
			for k, v := range deps {
				deps[k] = without(v, urn)
			}
		}
	}
	state["resources"], state["pending_operations"] = kept, pending
	if data, err = json.Marshal(checkpoint); err != nil {
		e.t.Fatal(err)
	}
	if err := os.WriteFile(file, data, 0o600); err != nil {
		e.t.Fatal(err)
	}
	return urn
}

// checkpointFile is the emulated stack's checkpoint in its file backend.
func (e *emulated) checkpointFile() string {
	var backend string
	for _, kv := range e.env {
		if v, ok := strings.CutPrefix(kv, "PULUMI_BACKEND_URL=file://"); ok {
			backend = v // the last one wins, as in exec
		}
	}
	return filepath.Join(backend, ".pulumi", "stacks", "eks-irsa", "test.json")
}

// without is a JSON list of strings without s.
func without(list any, s string) []any {
	items, _ := list.([]any)
	out := []any{}
	for _, item := range items {
		if item != s {
			out = append(out, item)
		}
	}
	return out
}

// TestEmulatedClearedPendingCreateFailsSafely: an update killed right after the API server
// created an account the stack owns (account: create) leaves a pending create. The next
// `eksirsa up` clears it (a Kubernetes create: refresh --clear-pending-creates) and its update
// then stops on that account with "already exists" — safely: the account is untouched and the
// error says what to do (ExplainExistingObject). Measured on the Kubernetes layer earlier: a
// refresh with --import-pending-creates "<namespace>/<name>" for that URN did not keep the
// account in the state either (the next up still tried to create it), so the driver does not
// rely on it.
func TestEmulatedClearedPendingCreateFailsSafely(t *testing.T) {
	t.Parallel() // see startEmulated
	e := startEmulated(t)
	if _, err := e.eksirsa("up", "--yes", "--no-verify"); err != nil {
		t.Fatalf("eksirsa up: %v", err)
	}
	const account = "cluster-autoscaler"
	ctx := t.Context()
	before, err := e.cluster.Client.CoreV1().ServiceAccounts(k8s.KubeSystemNamespace).Get(ctx, account, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	urn := e.interruptCreate("kubernetes:core/v1:ServiceAccount", k8s.BindingName(e.name, k8s.KubeSystemNamespace, account)+"-service-account")

	out, err := e.eksirsa("up", "--yes", "--no-verify")
	if err == nil {
		t.Fatal("up after the cleared pending create succeeded; want it to stop on the account")
	}
	for _, want := range []string{
		urn + ", interrupted while creating",
		"Refreshing with --clear-pending-creates",
		`serviceaccounts "` + account + `" already exists`,
		"If eks-irsa created it in an interrupted update, import it into the stack instead of deleting it.",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("the up did not say %q", want)
		}
	}
	after, err := e.cluster.Client.CoreV1().ServiceAccounts(k8s.KubeSystemNamespace).Get(ctx, account, metav1.GetOptions{})
	if err != nil {
		t.Fatalf("the account is gone: %v", err)
	}
	if after.ResourceVersion != before.ResourceVersion || after.Annotations[irsa.RoleARNAnnotation] != before.Annotations[irsa.RoleARNAnnotation] {
		t.Errorf("the failed up touched the account: %v → %v", before.ObjectMeta, after.ObjectMeta)
	}
}
