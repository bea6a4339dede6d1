package stack

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/eks-irsa/eks-irsa/infra"
)

// entries sets accessEntries (and, with mode, cluster.authenticationMode).
func entries(t *testing.T, mode string, es ...map[string]any) map[string]string {
	t.Helper()
	cfg := set(t, "accessEntries", es)
	if mode != "" {
		cfg = setIn(t, cfg, "cluster.authenticationMode", mode)
	}
	return cfg
}

// setIn is set on a configuration already patched.
func setIn(t *testing.T, base map[string]string, key string, value any) map[string]string {
	t.Helper()
	patched := set(t, key, value)
	obj, _, _ := strings.Cut(ProjectName+":"+key, ".")
	base[obj] = patched[obj]
	return base
}

const adminRole = "arn:aws:iam::123456789012:role/admin"

// Each access rule EKS applies at CreateAccessEntry / AssociateAccessPolicy (sources in
// access.go), refused offline with the key, the value and what is accepted.
func TestAccessRulesRefuseWhatEKSWouldRefuse(t *testing.T) {
	const policies = "AmazonEKSAdminPolicy, AmazonEKSClusterAdminPolicy, AmazonEKSAdminViewPolicy, AmazonEKSEditPolicy, AmazonEKSViewPolicy, AmazonEKSAutoNodePolicy, AmazonEKSBlockStoragePolicy, AmazonEKSComputePolicy, AmazonEKSLoadBalancingPolicy, AmazonEKSNetworkingPolicy, AmazonEKSHybridPolicy, AmazonEKSClusterInsightsPolicy"
	cases := []struct {
		name  string
		cfg   map[string]string
		lines []string
	}{
		{"a mode EKS does not have", set(t, "cluster.authenticationMode", "CONFIG_MAP"), []string{
			`eks-irsa:cluster.authenticationMode = "CONFIG_MAP": want API_AND_CONFIG_MAP (aws-auth and access entries; the default) or API (access entries only)`}},
		{"aws-auth mappings in API mode", setIn(t, withAWSAuth(t, adminRole), "cluster.authenticationMode", "API"), []string{
			`eks-irsa:awsAuth.roles[0] = "arn:aws:iam::123456789012:role/admin": authenticationMode API reads no aws-auth: declare the role under accessEntries (groups system:masters → policy AmazonEKSClusterAdminPolicy at cluster scope)`}},
		{"reserved username prefixes", entries(t, "",
			map[string]any{"principalArn": adminRole, "username": "system:admin"},
			map[string]any{"principalArn": "arn:aws:iam::123456789012:role/b", "username": "eks:b"},
			map[string]any{"principalArn": "arn:aws:iam::123456789012:role/c", "username": "amazon:c"}), []string{
			`eks-irsa:accessEntries[0].username = "system:admin": EKS refuses usernames starting with system:, eks:, aws:, amazon:, iam:; leave it empty for EKS's default (the principal's ARN, a role's with {{SessionName}})`,
			`eks-irsa:accessEntries[1].username = "eks:b": EKS refuses usernames starting with system:, eks:, aws:, amazon:, iam:; leave it empty for EKS's default (the principal's ARN, a role's with {{SessionName}})`,
			`eks-irsa:accessEntries[2].username = "amazon:c": EKS refuses usernames starting with system:, eks:, aws:, amazon:, iam:; leave it empty for EKS's default (the principal's ARN, a role's with {{SessionName}})`}},
		{"{{SessionName}} without a colon before it", entries(t, "",
			map[string]any{"principalArn": adminRole, "username": "admin-{{SessionName}}"},
			map[string]any{"principalArn": "arn:aws:iam::123456789012:role/b", "username": "{{SessionName}}"}), []string{
			`eks-irsa:accessEntries[0].username = "admin-{{SessionName}}": {{SessionName}} must follow a colon (admin:{{SessionName}}): EKS refuses it anywhere else`,
			`eks-irsa:accessEntries[1].username = "{{SessionName}}": {{SessionName}} must follow a colon (admin:{{SessionName}}): EKS refuses it anywhere else`}},
		{"a system: group", entries(t, "", map[string]any{"principalArn": adminRole, "kubernetesGroups": []string{"devs", "system:masters"}}), []string{
			`eks-irsa:accessEntries[0].kubernetesGroups[1] = "system:masters": EKS refuses groups starting with "system:"; for cluster-admin associate the policy AmazonEKSClusterAdminPolicy (policies: [{name: AmazonEKSClusterAdminPolicy}])`}},
		{"a node type with a username, groups and a policy", entries(t, "", map[string]any{"principalArn": "arn:aws:iam::123456789012:role/other-nodes", "type": "EC2_LINUX",
			"username": "n", "kubernetesGroups": []string{"g"}, "policies": []any{map[string]any{"name": "AmazonEKSViewPolicy"}}}), []string{
			`eks-irsa:accessEntries[0].username = "n": a EC2_LINUX entry takes no username: EKS sets the node identity itself`,
			`eks-irsa:accessEntries[0].kubernetesGroups = "g": a EC2_LINUX entry takes no groups: EKS sets the node identity itself`,
			`eks-irsa:accessEntries[0].policies = "AmazonEKSViewPolicy": a EC2_LINUX entry takes no access policy (API_CreateAccessEntry, type)`}},
		{"a node type for a user", entries(t, "", map[string]any{"principalArn": "arn:aws:iam::123456789012:user/bob", "type": "EC2_WINDOWS"}), []string{
			`eks-irsa:accessEntries[0].principalArn = "arn:aws:iam::123456789012:user/bob": a EC2_WINDOWS entry's principal must be an IAM role (the nodes' instance role)`}},
		{"an unknown type", entries(t, "", map[string]any{"principalArn": adminRole, "type": "ADMIN"}), []string{
			`eks-irsa:accessEntries[0].type = "ADMIN": want STANDARD (the default) or a node type: EC2_LINUX, EC2_WINDOWS, FARGATE_LINUX, HYBRID_LINUX`}},
		{"an STS session ARN, a malformed ARN, another partition", entries(t, "",
			map[string]any{"principalArn": "arn:aws:sts::123456789012:assumed-role/admin/alice"},
			map[string]any{"principalArn": "admin"},
			map[string]any{"principalArn": "arn:aws-cn:iam::123456789012:role/admin"}), []string{
			`eks-irsa:accessEntries[0].principalArn = "arn:aws:sts::123456789012:assumed-role/admin/alice": an STS session ARN: EKS takes no session principals, which change each session; give the IAM role ARN, arn:aws:iam::<account>:role/<name>`,
			`eks-irsa:accessEntries[1].principalArn = "admin": want an IAM role or user ARN such as arn:aws:iam::123456789012:role/admin (a role may carry a path)`,
			`eks-irsa:accessEntries[2].principalArn = "arn:aws-cn:iam::123456789012:role/admin": not in partition aws (region us-west-2): no caller of this cluster can have it`}},
		{"one principal twice, and the node role", entries(t, "",
			map[string]any{"principalArn": adminRole}, map[string]any{"principalArn": adminRole},
			map[string]any{"principalArn": "arn:aws:iam::123456789012:role/demo-eks-oidc-test-node", "type": "EC2_LINUX"}), []string{
			`eks-irsa:accessEntries[1].principalArn = "arn:aws:iam::123456789012:role/admin": also accessEntries[0]: EKS allows one entry per principal`,
			`eks-irsa:accessEntries[2].principalArn = "arn:aws:iam::123456789012:role/demo-eks-oidc-test-node": the stack's node role: the stack gives it its own access (an EC2_LINUX entry in API mode, an aws-auth row otherwise)`}},
		{"a principal in aws-auth too", setIn(t, withAWSAuth(t, adminRole), "accessEntries", []any{map[string]any{"principalArn": "arn:aws:iam::123456789012:role/team/admin"}}), []string{
			`eks-irsa:accessEntries[0].principalArn = "arn:aws:iam::123456789012:role/team/admin": also mapped by awsAuth.roles[0] to other access; an access entry takes precedence over aws-auth, so that mapping would never apply: keep one (or make the entry grant what the row does, as eksirsa migrate access-entries does while it moves the row)`}},
		{"the admin bridge without cluster admin at cluster scope, and its group by hand", entries(t, "",
			map[string]any{"principalArn": adminRole, "adminBridge": true, "policies": []any{map[string]any{"name": ClusterAdminPolicy, "namespaces": []string{"apps"}}}},
			map[string]any{"principalArn": "arn:aws:iam::123456789012:role/b", "kubernetesGroups": []string{"eks-irsa:cluster-admin-bridge"}}), []string{
			`eks-irsa:accessEntries[0].adminBridge = "true": the bridge to cluster-admin only covers the moment before the entry's AmazonEKSClusterAdminPolicy is associated: add policies: [{name: AmazonEKSClusterAdminPolicy}] (cluster scope), or remove adminBridge`,
			`eks-irsa:accessEntries[1].kubernetesGroups[0] = "eks-irsa:cluster-admin-bridge": the stack's own group, bound to cluster-admin while an entry's adminBridge is set: set adminBridge: true instead`}},
		{"unknown policies, one policy twice, bad namespaces", entries(t, "", map[string]any{"principalArn": adminRole, "policies": []any{
			map[string]any{"name": "AmazonEKSClusterAdmin"},
			map[string]any{"name": "AmazonEKSViewPolicy", "namespaces": []string{"Apps", "dev-*", "*x"}},
			map[string]any{"name": "AmazonEKSViewPolicy"}}}), []string{
			`eks-irsa:accessEntries[0].policies[0].name = "AmazonEKSClusterAdmin": not an EKS access policy; want one of ` + policies,
			`eks-irsa:accessEntries[0].policies[1].namespaces[0] = "Apps": want a Kubernetes namespace name, or a prefix ending in * (dev-*): a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')`,
			`eks-irsa:accessEntries[0].policies[1].namespaces[2] = "*x": want a Kubernetes namespace name, or a prefix ending in * (dev-*): a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')`,
			`eks-irsa:accessEntries[0].policies[2].name = "AmazonEKSViewPolicy": also policies[1]: a principal has one association per policy; list its namespaces together`}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) { refusedExactly(t, tc.cfg, tc.lines...) })
	}
}

func TestAccessRulesAcceptWhatEKSAccepts(t *testing.T) {
	cfg := entries(t, "API",
		map[string]any{"principalArn": "arn:aws:iam::123456789012:role/aws-reserved/sso.amazonaws.com/us-west-2/AWSReservedSSO_Admin_0123", "policies": []any{map[string]any{"name": "AmazonEKSClusterAdminPolicy"}}},
		map[string]any{"principalArn": "arn:aws:iam::210987654321:user/bob", "username": "bob:{{SessionName}}", "kubernetesGroups": []string{"devs"},
			"policies": []any{map[string]any{"name": "AmazonEKSEditPolicy", "namespaces": []string{"apps", "dev-*"}}}},
		map[string]any{"principalArn": "arn:aws:iam::123456789012:role/windows-nodes", "type": "EC2_WINDOWS"})
	c, err := Decode(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if c.Cluster.AuthenticationMode != ModeAPI || len(c.AccessEntries) != 3 || c.AccessEntries[1].Policies[0].Scope() != infra.ScopeNamespace {
		t.Errorf("decoded %+v", c)
	}
	if d, _ := Decode(testConfig(t)); d.Cluster.AuthenticationMode != ModeAPIAndConfigMap {
		t.Errorf("default mode %q, want %s", d.Cluster.AuthenticationMode, ModeAPIAndConfigMap)
	}
}

// The migration's overlap: an entry that grants exactly what its principal's aws-auth row
// grants (admin in system:masters: AmazonEKSClusterAdminPolicy at cluster scope) is accepted
// beside the row; the same entry with another policy is refused.
func TestAnEntryMayOverlapTheRowItReplaces(t *testing.T) {
	same := setIn(t, withAWSAuth(t, adminRole), "accessEntries", []any{map[string]any{"principalArn": "arn:aws:iam::123456789012:role/team/admin",
		"username": "admin", "policies": []any{map[string]any{"name": ClusterAdminPolicy}}}})
	if _, err := Decode(same); err != nil {
		t.Errorf("an entry granting what its aws-auth row grants: %v", err)
	}
	other := setIn(t, withAWSAuth(t, adminRole), "accessEntries", []any{map[string]any{"principalArn": "arn:aws:iam::123456789012:role/team/admin",
		"username": "admin", "policies": []any{map[string]any{"name": "AmazonEKSViewPolicy"}}}})
	if _, err := Decode(other); err == nil || !strings.Contains(err.Error(), "also mapped by awsAuth.roles[0] to other access") {
		t.Errorf("an entry granting less than its aws-auth row: %v, want refused", err)
	}
}

// What each aws-auth row becomes, or why it cannot (EKS's refusals, Fargate's row).
func TestEntryForMapping(t *testing.T) {
	const role = "arn:aws:iam::123456789012:role/r"
	cases := []struct {
		name, arn, username string
		groups              []string
		want                AccessEntryConfig
		why                 string
	}{
		{"node row", role, "system:node:{{EC2PrivateDNSName}}", []string{"system:bootstrappers", "system:nodes"}, AccessEntryConfig{PrincipalARN: role, Type: EntryEC2Linux}, ""},
		{"admin", role, "admin", []string{"system:masters", "ops"}, AccessEntryConfig{PrincipalARN: role, Username: "admin", KubernetesGroups: []string{"ops"}, Policies: []AccessPolicyConfig{{Name: ClusterAdminPolicy}}}, ""},
		{"user with groups", "arn:aws:iam::123456789012:user/bob", "bob", []string{"devs"}, AccessEntryConfig{PrincipalARN: "arn:aws:iam::123456789012:user/bob", Username: "bob", KubernetesGroups: []string{"devs"}}, ""},
		{"fargate", role, "system:node:{{SessionName}}", []string{"system:bootstrappers", "system:nodes", "system:node-proxier"}, AccessEntryConfig{}, "a Fargate profile's pod execution role"},
		{"another system group", role, "viewer", []string{"system:monitoring"}, AccessEntryConfig{}, `group system:monitoring: EKS refuses groups starting with "system:"`},
		{"reserved username", role, "system:admin", []string{"ops"}, AccessEntryConfig{}, "username system:admin: EKS refuses usernames starting with system:"},
		{"session name without a colon", role, "{{SessionName}}", []string{"ops"}, AccessEntryConfig{}, "username {{SessionName}}: {{SessionName}} must follow a colon"},
		{"a node row for a user", "arn:aws:iam::123456789012:user/n", "system:node:{{EC2PrivateDNSName}}", []string{"system:nodes"}, AccessEntryConfig{}, `group system:nodes: EKS refuses groups starting with "system:"`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, why := EntryForMapping(tc.arn, tc.username, tc.groups)
			if tc.why != "" {
				if !strings.HasPrefix(why, tc.why) {
					t.Errorf("why %q, want it to start %q", why, tc.why)
				}
				return
			}
			if why != "" || !sameEntry(got, tc.want) || got.PrincipalARN != tc.want.PrincipalARN {
				t.Errorf("got %+v (%q), want %+v", got, why, tc.want)
			}
		})
	}
}

// EKS's one-way rule, checked against the mode the last update applied.
func TestModeChangeIsOneWay(t *testing.T) {
	for _, tc := range []struct{ applied, want, refused string }{
		{"", ModeAPIAndConfigMap, ""},
		{"", ModeAPI, ""},
		{ModeAPIAndConfigMap, ModeAPI, ""},
		{ModeAPI, ModeAPI, ""},
		{ModeAPI, ModeAPIAndConfigMap, `eks-irsa:cluster.authenticationMode = "API_AND_CONFIG_MAP": the stack's cluster is in API (its last update's authenticationMode output), and EKS changes the mode one way only (CONFIG_MAP → API_AND_CONFIG_MAP → API): keep API, or destroy the stack and create it again`},
	} {
		c, err := Decode(set(t, "cluster.authenticationMode", tc.want))
		if err != nil {
			t.Fatal(err)
		}
		err = CheckModeChange(tc.applied, c)
		var ce *ConfigError
		switch {
		case tc.refused == "" && err != nil:
			t.Errorf("%q → %s refused: %v", tc.applied, tc.want, err)
		case tc.refused != "" && (!errors.As(err, &ce) || len(ce.Problems) != 1 || ce.Problems[0].String() != tc.refused):
			t.Errorf("%q → %s: got %v, want %s", tc.applied, tc.want, err, tc.refused)
		}
	}
}

// Against the caller: node entries of another account, and the creator, whose entry EKS makes.
func TestAccessRulesAgainstTheCaller(t *testing.T) {
	c, err := Decode(entries(t, "",
		map[string]any{"principalArn": "arn:aws:iam::210987654321:role/nodes", "type": "EC2_LINUX"},
		map[string]any{"principalArn": "arn:aws:iam::123456789012:role/ops/deployer"},
		map[string]any{"principalArn": "arn:aws:iam::210987654321:role/deployer"}))
	if err != nil {
		t.Fatal(err)
	}
	err = c.CheckAccessForCaller("arn:aws:sts::123456789012:assumed-role/deployer/session-1", "123456789012")
	var ce *ConfigError
	if !errors.As(err, &ce) {
		t.Fatalf("want a *ConfigError, got %v", err)
	}
	var got []string
	for _, p := range ce.Problems {
		got = append(got, p.String())
	}
	want := []string{
		`eks-irsa:accessEntries[0].principalArn = "arn:aws:iam::210987654321:role/nodes": a EC2_LINUX entry needs a role of the cluster's account 123456789012`,
		`eks-irsa:accessEntries[1].principalArn = "arn:aws:iam::123456789012:role/ops/deployer": the identity running the stack (arn:aws:sts::123456789012:assumed-role/deployer/session-1), which created the cluster: EKS gives it an entry with AmazonEKSClusterAdminPolicy at create, and a second entry for it fails (ResourceInUseException); remove it here`,
	}
	if !slices.Equal(got, want) {
		t.Errorf("problems:\n  %s\nwant:\n  %s", strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}
	if err := c.CheckAccessForCaller("arn:aws:iam::123456789012:user/moto", "123456789012"); err == nil || strings.Contains(err.Error(), "identity running") {
		t.Errorf("a user caller: %v, want only the node entry of account 210987654321 refused", err)
	}
}
