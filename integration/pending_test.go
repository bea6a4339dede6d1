package integration

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/auto"
	"github.com/pulumi/pulumi/sdk/v3/go/auto/optrefresh"
	"github.com/pulumi/pulumi/sdk/v3/go/common/apitype"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/eks-irsa/eks-irsa/integration/testcluster"
	"github.com/eks-irsa/eks-irsa/irsa"
	"github.com/eks-irsa/eks-irsa/k8s"
)

// interruptCreate rewrites the stack's state as an update killed right after the API server
// created the object of type typ: the object exists, the state has only a pending create.
func interruptCreate(t *testing.T, s auto.Stack, typ string) (urn string) {
	t.Helper()
	dep, err := s.Export(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	var state map[string]any
	if err := json.Unmarshal(dep.Deployment, &state); err != nil {
		t.Fatal(err)
	}
	resources, _ := state["resources"].([]any)
	var kept []any
	var pending []any
	for _, r := range resources {
		res, _ := r.(map[string]any)
		if res["type"] == typ {
			urn, _ = res["urn"].(string)
			delete(res, "outputs")
			pending = append(pending, map[string]any{"resource": res, "type": "creating"})
			continue
		}
		kept = append(kept, r)
	}
	if urn == "" {
		t.Fatalf("no %s in the state", typ)
	}
	state["resources"], state["pending_operations"] = kept, pending
	raw, err := json.Marshal(state)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Import(t.Context(), apitype.UntypedDeployment{Version: dep.Version, Deployment: raw}); err != nil {
		t.Fatalf("import the interrupted state: %v", err)
	}
	return urn
}

// TestClearedPendingCreateFailsSafely: an update killed right after the API server created an
// account we own leaves a pending create; the recovery `eksirsa up` runs (refresh
// --clear-pending-creates) forgets it, and the next up then fails on our own account with
// "already exists" — safely: the account is untouched and the error says what to do
// (ExplainExistingObject). Measured here too: a refresh with --import-pending-creates
// "default/<name>" for that URN did not keep the account in the state either (the next up
// still tried to create it), so the driver does not rely on it.
func TestClearedPendingCreateFailsSafely(t *testing.T) {
	c := testcluster.Start(t)
	p := testcluster.NewPulumi(t)
	b := binding{kubeconfig: string(c.Kubeconfig), namespace: "default", account: "addon-interrupted"}
	s := p.InlineStack(t.Context(), t, project, "pending", b.program())
	if _, err := upStack(t, s); err != nil {
		t.Fatalf("first up: %v", err)
	}
	before, err := c.Client.CoreV1().ServiceAccounts("default").Get(t.Context(), b.account, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	interruptCreate(t, s, "kubernetes:core/v1:ServiceAccount")

	if _, err := s.Refresh(t.Context(), optrefresh.ClearPendingCreates()); err != nil {
		t.Fatalf("recovery refresh: %v", err)
	}
	ops, err := upStack(t, s)
	t.Logf("up after the cleared pending create: %v", ops)
	want := `serviceaccounts "` + b.account + `" already exists`
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("up after clearing: %v, want it to fail with %q", err, want)
	}
	if k8s.ExplainExistingObject(err) == err {
		t.Error("ExplainExistingObject did not recognise the failure")
	}
	after, err := c.Client.CoreV1().ServiceAccounts("default").Get(t.Context(), b.account, metav1.GetOptions{})
	if err != nil {
		t.Fatalf("the account is gone: %v", err)
	}
	if after.ResourceVersion != before.ResourceVersion || after.Annotations[irsa.RoleARNAnnotation] != ownedRoleARN {
		t.Errorf("the failed up touched the account: %v → %v", before.ObjectMeta, after.ObjectMeta)
	}
}
