package drift

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"
	"sigs.k8s.io/aws-iam-authenticator/pkg/mapper/configmap"
	"sigs.k8s.io/aws-iam-authenticator/pkg/token"

	"github.com/eks-irsa/eks-irsa/k8s"
)

// eksNodeMapping is aws-auth's node mapping as EKS and eksctl write it (keys sorted, groups
// first), not as the stack encodes it: the comparison is of what applies, not of the text.
const eksNodeMapping = "- groups:\n  - system:bootstrappers\n  - system:nodes\n  rolearn: " + nodeRoleARN + "\n  username: system:node:{{EC2PrivateDNSName}}\n"

// Each case is a ConfigMap a user could leave behind; want is the findings (check subject),
// applied what aws-iam-authenticator applies to a caller with that canonical ARN.
func TestAWSAuthComparesWhatTheAuthenticatorApplies(t *testing.T) {
	const (
		admin     = "arn:aws:iam::123456789012:role/admin"
		adminPath = "arn:aws:iam::123456789012:role/team/admin"
		alice     = "arn:aws:iam::123456789012:user/alice"
	)
	decl := Declared{MapRoles: mapRoles, Stack: "test"}
	for _, tc := range []struct {
		name     string
		data     map[string]string
		want     []string
		detail   string            // a finding's detail contains this
		applied  map[string]string // canonical ARN -> "username [groups]" the authenticator applies
		nobodyAt []string          // canonical ARNs no mapping admits
	}{
		{
			name: "as EKS writes it", data: map[string]string{k8s.MapRolesKey: eksNodeMapping},
			applied: map[string]string{nodeRoleARN: "system:node:{{EC2PrivateDNSName}} [system:bootstrappers,system:nodes]"},
		},
		{
			name: "node role mapped again to system:masters",
			data: map[string]string{k8s.MapRolesKey: eksNodeMapping + "- rolearn: " + nodeRoleARN + "\n  username: admin\n  groups:\n  - system:masters\n"},
			want: []string{CheckAWSAuthDuplicate + " " + nodeRoleARN}, detail: "applies the last, admin [system:masters]",
			applied: map[string]string{nodeRoleARN: "admin [system:masters]"},
		},
		{
			name: "node role mapped again in upper case, first",
			data: map[string]string{k8s.MapRolesKey: "- rolearn: " + strings.ToUpper(nodeRoleARN) + "\n  username: admin\n  groups: [system:masters]\n" + eksNodeMapping},
			want: []string{CheckAWSAuthDuplicate + " " + nodeRoleARN}, detail: "applies the last, system:node:{{EC2PrivateDNSName}}",
			applied: map[string]string{nodeRoleARN: "system:node:{{EC2PrivateDNSName}} [system:bootstrappers,system:nodes]"},
		},
		{
			name: "node role in mapUsers too: role mappings are looked up first",
			data: map[string]string{k8s.MapRolesKey: eksNodeMapping, k8s.MapUsersKey: "- userarn: " + nodeRoleARN + "\n  username: admin\n  groups: [system:masters]\n"},
			want: []string{CheckAWSAuthDuplicate + " " + nodeRoleARN}, detail: "never the user mappings",
			applied: map[string]string{nodeRoleARN: "system:node:{{EC2PrivateDNSName}} [system:bootstrappers,system:nodes]"},
		},
		{
			name: "node mapping changed",
			data: map[string]string{k8s.MapRolesKey: "- rolearn: " + nodeRoleARN + "\n  username: admin\n  groups: [system:masters]\n"},
			want: []string{CheckAWSAuthOurs + " " + nodeRoleARN}, detail: "mapped to admin [system:masters]",
			applied: map[string]string{nodeRoleARN: "admin [system:masters]"},
		},
		{
			name: "a user mapped twice, differing in case",
			data: map[string]string{k8s.MapRolesKey: eksNodeMapping, k8s.MapUsersKey: "- userarn: " + alice + "\n  username: alice\n  groups: [view]\n- userarn: " + strings.ToUpper(alice) + "\n  username: alice\n  groups: [system:masters]\n"},
			want: []string{CheckAWSAuthDuplicate + " " + alice}, detail: "differ only in case",
		},
		{
			name: "a role mapped with its path",
			data: map[string]string{k8s.MapRolesKey: eksNodeMapping + "- rolearn: " + adminPath + "\n  username: admin\n  groups: [system:masters]\n"},
			want: []string{CheckForeign + " " + adminPath}, detail: "matches no caller today",
			nobodyAt: []string{admin},
		},
		{
			name: "mapAccounts",
			data: map[string]string{k8s.MapRolesKey: eksNodeMapping, k8s.MapAccountsKey: "- \"210987654321\"\n"},
			want: []string{CheckAWSAuthAccounts + " 210987654321"}, detail: "as its own ARN with no groups",
		},
		{
			name: "an entry the authenticator refuses: the rest still applies",
			data: map[string]string{k8s.MapRolesKey: eksNodeMapping + "- username: admin\n  groups: [system:masters]\n"},
			want: []string{CheckAWSAuth + " kube-system/aws-auth"}, detail: "One of rolearn or SSO must be supplied",
			applied: map[string]string{nodeRoleARN: "system:node:{{EC2PrivateDNSName}} [system:bootstrappers,system:nodes]"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: k8s.KubeSystemNamespace, Name: k8s.AWSAuthName}, Data: tc.data}
			d := &Detector{Kube: fake.NewClientset(cm)}
			lines, err := d.awsAuth(t.Context(), decl, "eksirsa up --refresh -s test")
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			var details []string
			for _, l := range lines {
				if l.Finding != nil {
					got = append(got, l.Check+" "+l.Subject)
					details = append(details, l.Finding.Detail)
				}
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("findings %q, want %q", got, tc.want)
			}
			if tc.detail != "" && !strings.Contains(strings.Join(details, "\n"), tc.detail) {
				t.Errorf("no finding says %q:\n%s", tc.detail, strings.Join(details, "\n"))
			}
			// What drift says is in force is what the real authenticator applies.
			authenticator := startConfigMapMapper(t, cm)
			for arn, want := range tc.applied {
				m, err := authenticator.Map(&token.Identity{CanonicalARN: arn})
				if err != nil {
					t.Fatalf("the authenticator maps no %s: %v", arn, err)
				}
				g := slices.Clone(m.Groups)
				slices.Sort(g)
				if got := fmt.Sprintf("%s [%s]", m.Username, strings.Join(g, ",")); got != want {
					t.Errorf("the authenticator applies %s to %s, the test expects %s", got, arn, want)
				}
				if got := applyAWSAuth(tc.data).applied[k8s.MappingKey(arn)].String(); got != want {
					t.Errorf("drift says %s applies to %s, the authenticator applies %s", got, arn, want)
				}
			}
			for _, arn := range tc.nobodyAt {
				if m, err := authenticator.Map(&token.Identity{CanonicalARN: arn}); err == nil {
					t.Errorf("the authenticator maps %s to %+v", arn, m)
				}
			}
		})
	}
}

// startConfigMapMapper runs aws-iam-authenticator's own ConfigMap mapper (what EKS runs)
// against a loopback apiserver stand-in that serves cm on its aws-auth watch, and returns it
// once it has loaded cm.
func startConfigMapMapper(t *testing.T, cm *corev1.ConfigMap) *configmap.ConfigMapMapper {
	t.Helper()
	served := make(chan struct{}, 1)
	quit := make(chan struct{}) // the watch stays open until the test ends: Close waits for it
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/api/v1/namespaces/kube-system/configmaps" || r.URL.Query().Get("watch") != "true" {
			http.NotFound(w, r)
			return
		}
		obj := cm.DeepCopy()
		obj.APIVersion, obj.Kind = "v1", "ConfigMap"
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{"type": "ADDED", "object": obj})
		w.(http.Flusher).Flush()
		select {
		case served <- struct{}{}:
		default:
		}
		select {
		case <-r.Context().Done():
		case <-quit:
		}
	}))
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(quit) }) // runs before srv.Close
	kubeconfig := filepath.Join(t.TempDir(), "kubeconfig")
	if err := os.WriteFile(kubeconfig, fmt.Appendf(nil, "apiVersion: v1\nkind: Config\nclusters: [{name: c, cluster: {server: %q}}]\ncontexts: [{name: c, context: {cluster: c, user: u}}]\ncurrent-context: c\nusers: [{name: u, user: {}}]\n", srv.URL), 0o600); err != nil {
		t.Fatal(err)
	}
	ms, err := configmap.New("", kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	m := &configmap.ConfigMapMapper{MapStore: ms}
	stop := make(chan struct{})
	t.Cleanup(func() { close(stop) })
	if err := m.Start(stop); err != nil {
		t.Fatal(err)
	}
	select {
	case <-served:
	case <-time.After(30 * time.Second):
		t.Fatal("the authenticator did not watch aws-auth within 30s")
	}
	// The watch event is handled after it is written; every case maps the node role somehow.
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, err := m.Map(&token.Identity{CanonicalARN: nodeRoleARN}); err == nil {
			return m
		}
		if time.Now().After(deadline) {
			t.Fatal("the authenticator did not load aws-auth within 10s")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// Which of an identity's mappings the authenticator applies, as AWSAuthMappings tells the
// migration: the last role mapping (over any user mapping), and a role ARN with a path is
// marked as matching no caller.
func TestAWSAuthMappingsSaysWhichApplies(t *testing.T) {
	data := map[string]string{
		k8s.MapRolesKey: "- rolearn: arn:aws:iam::123456789012:role/ops\n  username: first\n  groups: [a]\n" +
			"- rolearn: arn:aws:iam::123456789012:role/OPS\n  username: second\n  groups: [b]\n" +
			"- rolearn: arn:aws:iam::123456789012:role/team/ci\n  username: ci\n  groups: [c]\n",
		k8s.MapUsersKey: "- userarn: arn:aws:iam::123456789012:role/ops\n  username: user\n  groups: [d]\n",
	}
	ms, _, err := AWSAuthMappings(data)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, m := range ms {
		got = append(got, fmt.Sprintf("%s %s %v %t", m.List, m.Username, m.Applied, m.Unmatchable != ""))
	}
	want := []string{"mapRoles first false false", "mapRoles second true false", "mapUsers user false false", "mapRoles ci true true"}
	if !slices.Equal(got, want) {
		t.Errorf("mappings %q, want %q", got, want)
	}
	if !strings.Contains(ms[0].Duplicate, "the authenticator applies the last role mapping") {
		t.Errorf("duplicate %q", ms[0].Duplicate)
	}
}

// A stack that writes no aws-auth in API_AND_CONFIG_MAP (its nodes have their entry, nothing
// else is mapped: the migration's end before API mode): no ConfigMap is as declared, and one
// that someone wrote is every row foreign.
func TestNoAWSAuthDeclared(t *testing.T) {
	decl := Declared{NoAWSAuth: true, Stack: "test"}
	lines, err := (&Detector{Kube: fake.NewClientset()}).awsAuth(t.Context(), decl, "eksirsa up --refresh -s test")
	if err != nil || len(lines) != 1 || lines[0].Finding != nil {
		t.Errorf("no aws-auth, none declared: %+v, %v; want one matched line", lines, err)
	}
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: k8s.AWSAuthName, Namespace: k8s.KubeSystemNamespace}, Data: map[string]string{k8s.MapRolesKey: eksNodeMapping}}
	lines, err = (&Detector{Kube: fake.NewClientset(cm)}).awsAuth(t.Context(), decl, "eksirsa up --refresh -s test")
	if err != nil || len(lines) != 1 || lines[0].Check != CheckForeign {
		t.Errorf("aws-auth written by someone, none declared: %+v, %v; want the node row foreign", lines, err)
	}
}
