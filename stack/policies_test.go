package stack

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/eks-irsa/eks-irsa/infra"
)

// policyStatement is a statement reduced to what decides what it grants: lists sorted,
// single values as one-element lists, conditions in canonical JSON.
type policyStatement struct {
	Effect    string                         `json:"effect"`
	Actions   []string                       `json:"actions"`
	Resources []string                       `json:"resources"`
	Condition map[string]map[string][]string `json:"condition,omitempty"`
}

func (s policyStatement) key() string {
	b, _ := json.Marshal(s)
	return string(b)
}

// stringList reads an IAM "string or list of strings" element.
func stringList(t *testing.T, raw json.RawMessage) []string {
	t.Helper()
	if raw == nil {
		return nil
	}
	var list []string
	if err := json.Unmarshal(raw, &list); err != nil {
		var one string
		if err := json.Unmarshal(raw, &one); err != nil {
			t.Fatalf("not a string or a list of strings: %s", raw)
		}
		list = []string{one}
	}
	return slices.Sorted(slices.Values(list))
}

func statements(t *testing.T, doc json.RawMessage) []policyStatement {
	t.Helper()
	var d struct {
		Statement []map[string]json.RawMessage
	}
	if err := json.Unmarshal(doc, &d); err != nil {
		t.Fatalf("policy: %v", err)
	}
	var out []policyStatement
	for _, s := range d.Statement {
		var effect string
		_ = json.Unmarshal(s["Effect"], &effect)
		st := policyStatement{Effect: effect, Actions: stringList(t, s["Action"]), Resources: stringList(t, s["Resource"])}
		if c := s["Condition"]; c != nil {
			var cond map[string]map[string]json.RawMessage
			if err := json.Unmarshal(c, &cond); err != nil {
				t.Fatalf("condition: %v", err)
			}
			st.Condition = map[string]map[string][]string{}
			for op, kv := range cond {
				st.Condition[op] = map[string][]string{}
				for k, v := range kv {
					st.Condition[op][k] = stringList(t, v)
				}
			}
		}
		out = append(out, st)
	}
	return out
}

func upstreamStatements(t *testing.T, file string) []policyStatement {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "upstream", file))
	if err != nil {
		t.Fatal(err)
	}
	return statements(t, b)
}

// mapResources rewrites each resource with fn (one resource may become several).
func mapResources(stmts []policyStatement, fn func(string) []string) []policyStatement {
	out := slices.Clone(stmts)
	for i := range out {
		var rs []string
		for _, r := range out[i].Resources {
			rs = append(rs, fn(r)...)
		}
		out[i].Resources = slices.Sorted(slices.Values(rs))
	}
	return out
}

// anyPartition is the scoping every upstream ARN gets: arn:aws: becomes arn:*:.
func anyPartition(r string) []string { return []string{strings.Replace(r, "arn:aws:", "arn:*:", 1)} }

// The test stack's three inline policies are their projects' upstream policies, changed only
// by the cluster-specific scoping written here.
func TestInlinePoliciesFollowUpstream(t *testing.T) {
	cfg, err := Decode(testConfig(t))
	if err != nil {
		t.Fatal(err)
	}
	name, region := cfg.Name(), cfg.Region
	policy := map[string]json.RawMessage{}
	for _, r := range cfg.ServiceAccountRoles {
		policy[r.Namespace+"/"+r.ServiceAccount] = r.InlinePolicy
	}

	cases := []struct {
		account string
		want    func() []policyStatement
	}{
		{"kube-system/" + LoadBalancerControllerAccount, func() []policyStatement {
			return mapResources(upstreamStatements(t, "aws-load-balancer-controller-iam_policy.json"), anyPartition)
		}},
		{"kube-system/cluster-autoscaler", func() []policyStatement {
			stmts := upstreamStatements(t, "cluster-autoscaler-policy.json")
			for i, s := range stmts {
				if slices.Contains(s.Actions, "autoscaling:SetDesiredCapacity") {
					// Scale only this cluster's groups: the worker ASG's owned tag.
					stmts[i].Condition = map[string]map[string][]string{
						"StringEquals": {"aws:ResourceTag/" + infra.ClusterTagPrefix + name: {"owned"}},
					}
				}
			}
			return stmts
		}},
		{"default/external-secrets", func() []policyStatement {
			scope := func(r string) []string {
				switch {
				case strings.HasPrefix(r, "arn:aws:secretsmanager:"):
					return []string{"arn:*:secretsmanager:" + region + ":*:secret:" + name + "/*"}
				case strings.HasPrefix(r, "arn:aws:ssm:"):
					// GetParametersByPath is authorised on the path itself.
					return []string{"arn:*:ssm:" + region + ":*:parameter/" + name, "arn:*:ssm:" + region + ":*:parameter/" + name + "/*"}
				}
				return []string{r}
			}
			var all []policyStatement
			for _, f := range []string{"external-secrets-secrets-manager-policy.json", "external-secrets-parameter-store-policy.json", "external-secrets-parameter-store-find-policy.json"} {
				all = append(all, mapResources(upstreamStatements(t, f), scope)...)
			}
			return all
		}},
	}
	for _, tc := range cases {
		t.Run(tc.account, func(t *testing.T) {
			doc, ok := policy[tc.account]
			if !ok {
				t.Fatalf("the test stack has no role for %s", tc.account)
			}
			got, want := keys(statements(t, doc)), keys(tc.want())
			for _, k := range want {
				if !slices.Contains(got, k) {
					t.Errorf("upstream statement missing or changed:\n  %s", k)
				}
			}
			for _, k := range got {
				if !slices.Contains(want, k) {
					t.Errorf("statement not in upstream:\n  %s", k)
				}
			}
		})
	}
}

func keys(stmts []policyStatement) []string {
	out := make([]string, len(stmts))
	for i, s := range stmts {
		out[i] = s.key()
	}
	slices.Sort(out)
	return out
}

// No test-stack policy names a partition: the stack deploys to aws, aws-cn and aws-us-gov alike.
func TestInlinePoliciesArePartitionNeutral(t *testing.T) {
	cfg, err := Decode(testConfig(t))
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range cfg.ServiceAccountRoles {
		for _, s := range statements(t, r.InlinePolicy) {
			for _, res := range s.Resources {
				if res != "*" && !strings.HasPrefix(res, "arn:*:") {
					t.Errorf("%s/%s: resource %q names a partition; write arn:*:", r.Namespace, r.ServiceAccount, res)
				}
			}
		}
	}
}
