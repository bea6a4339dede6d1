package stack

import (
	"fmt"
	"regexp"
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/eks-irsa/eks-irsa/infra"
	"github.com/eks-irsa/eks-irsa/k8s"
)

// Authentication modes the stack offers (API_AccessConfigResponse, authenticationMode).
// CONFIG_MAP is not one of them: the stack has always made its clusters in
// API_AND_CONFIG_MAP, and EKS never goes back to CONFIG_MAP.
const (
	ModeConfigMap       = "CONFIG_MAP"
	ModeAPIAndConfigMap = infra.ModeAPIAndConfigMap
	ModeAPI             = "API"
)

// modeOrder is EKS's one-way rule: "you can't change the authentication mode back" once it
// allows access entries, and API_AND_CONFIG_MAP goes only to API (EKS User Guide, "Change
// authentication mode to use access entries", setting-up-access-entries.html;
// API_UpdateAccessConfigRequest).
var modeOrder = map[string]int{ModeConfigMap: 0, ModeAPIAndConfigMap: 1, ModeAPI: 2}

// Access entry types (API_CreateAccessEntry, "type"). EC2 (EKS Auto Mode's node role) is left
// out: the stack runs self-managed nodes only.
const (
	EntryStandard     = infra.StandardEntryType
	EntryEC2Linux     = infra.NodeEntryType
	EntryEC2Windows   = "EC2_WINDOWS"
	EntryFargateLinux = "FARGATE_LINUX"
	EntryHybridLinux  = "HYBRID_LINUX"
)

// NodeEntryTypes are the types whose identity EKS sets itself: "If you set the value to
// EC2_LINUX or EC2_WINDOWS, you can't specify values for kubernetesGroups" nor a username, and
// no access policy can be associated (API_CreateAccessEntry, "type"; EKS User Guide, "Create
// access entries").
var NodeEntryTypes = []string{EntryEC2Linux, EntryEC2Windows, EntryFargateLinux, EntryHybridLinux}

// AccessPolicies are the policies ListAccessPolicies returns, named as in their ARN
// arn:<partition>:eks::aws:cluster-access-policy/<name> (EKS User Guide, "Review access policy
// permissions", access-policy-permissions.html).
var AccessPolicies = []string{
	"AmazonEKSAdminPolicy",
	"AmazonEKSClusterAdminPolicy",
	"AmazonEKSAdminViewPolicy",
	"AmazonEKSEditPolicy",
	"AmazonEKSViewPolicy",
	"AmazonEKSAutoNodePolicy",
	"AmazonEKSBlockStoragePolicy",
	"AmazonEKSComputePolicy",
	"AmazonEKSLoadBalancingPolicy",
	"AmazonEKSNetworkingPolicy",
	"AmazonEKSHybridPolicy",
	"AmazonEKSClusterInsightsPolicy",
}

// ClusterAdminPolicy is what EKS associates with the creator's entry.
const ClusterAdminPolicy = "AmazonEKSClusterAdminPolicy"

// AccessPolicyARN is a policy's ARN in a partition.
func AccessPolicyARN(partition, name string) string {
	return "arn:" + partition + ":eks::aws:cluster-access-policy/" + name
}

// AccessEntryConfig is one EKS access entry (API_CreateAccessEntry) with its access-policy
// associations (API_AssociateAccessPolicy).
type AccessEntryConfig struct {
	PrincipalARN string `json:"principalArn"`
	// Type is STANDARD when empty, as EKS defaults it.
	Type string `json:"type,omitempty"`
	// Username is EKS's default when empty (the user's ARN; a role's session ARN with
	// {{SessionName}}), which the user guide recommends.
	Username         string               `json:"username,omitempty"`
	KubernetesGroups []string             `json:"kubernetesGroups,omitempty"`
	Policies         []AccessPolicyConfig `json:"policies,omitempty"`
	// AdminBridge puts the entry in k8s.AdminBridgeGroup, which a ClusterRoleBinding the stack
	// makes before the entry binds to cluster-admin: the entry grants cluster admin from the
	// moment EKS creates it, before its AmazonEKSClusterAdminPolicy is associated (a second
	// call, AssociateAccessPolicy; the entry takes precedence over its principal's aws-auth row
	// from the first). eksirsa migrate access-entries sets it on the admins it moves, and turns
	// it off once the association is live and proven.
	AdminBridge bool `json:"adminBridge,omitempty"`
}

// AccessPolicyConfig is one policy association: cluster scope when Namespaces is empty.
type AccessPolicyConfig struct {
	Name       string   `json:"name"`
	Namespaces []string `json:"namespaces,omitempty"`
}

// Groups are the entry's Kubernetes groups as EKS holds them: the declared ones, then the
// admin bridge's group while AdminBridge is set.
func (e AccessEntryConfig) Groups() []string {
	groups := slices.Clone(e.KubernetesGroups)
	if e.AdminBridge {
		groups = append(groups, k8s.AdminBridgeGroup)
	}
	return groups
}

// ClusterAdmin says whether the entry grants cluster admin: AmazonEKSClusterAdminPolicy at
// cluster scope, what an aws-auth row in system:masters becomes (EntryForMapping).
func (e AccessEntryConfig) ClusterAdmin() bool {
	return slices.ContainsFunc(e.Policies, func(p AccessPolicyConfig) bool {
		return p.Name == ClusterAdminPolicy && p.Scope() == infra.ScopeCluster
	})
}

// EntryType is the entry's type as EKS records it.
func (e AccessEntryConfig) EntryType() string {
	if e.Type == "" {
		return EntryStandard
	}
	return e.Type
}

// Scope is the association's scope type.
func (p AccessPolicyConfig) Scope() string {
	if len(p.Namespaces) == 0 {
		return infra.ScopeCluster
	}
	return infra.ScopeNamespace
}

var (
	// API_CreateAccessEntry, "principalArn": an IAM user or role (a role may carry a path:
	// EKS User Guide, "Create access entries"); IAM names: API_CreateRole, API_CreateUser.
	principalARNRE = regexp.MustCompile(`^arn:([a-z-]+):iam::(\d{12}):(role|user)/((?:[\w+=,.@-]+/)*)([\w+=,.@-]+)$`)
	// "You can't use the STS session principal type with access entries because this is a
	// temporary principal for each session" (API_CreateAccessEntry, "principalArn").
	stsSessionRE = regexp.MustCompile(`^arn:[a-z-]+:sts::\d{12}:(assumed-role|federated-user)/`)
	// A namespace scope may end in a wildcard, "dev-*" (API_AccessScope, namespaces; EKS User
	// Guide, "Associate access policies with access entries").
	wildcardNamespaceRE = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*)?\*$`)
)

// ReservedUsernamePrefixes are the prefixes EKS refuses in an entry's username; groups may
// not start with system: (EKS User Guide, "Set a custom username for EKS access entries" and
// "Create access entries").
var ReservedUsernamePrefixes = []string{"system:", "eks:", "aws:", "amazon:", "iam:"}

const reservedGroupPrefix = "system:"

// sessionNamePlaceholder must follow a colon in a username: EKS refuses "{{SessionName}}"
// anywhere else (EKS User Guide, "Set a custom username for EKS access entries").
const sessionNamePlaceholder = "{{SessionName}}"

// principal is a parsed access-entry principal ARN.
type principal struct {
	partition, account, kind, path, name string
}

func parsePrincipal(arn string) (principal, bool) {
	m := principalARNRE.FindStringSubmatch(arn)
	if m == nil {
		return principal{}, false
	}
	return principal{partition: m[1], account: m[2], kind: m[3], path: m[4], name: m[5]}, true
}

func (c *Config) validateAccess(v *validator) {
	mode := c.Cluster.AuthenticationMode
	if mode != ModeAPIAndConfigMap && mode != ModeAPI {
		v.add("cluster.authenticationMode", mode, "want %s (aws-auth and access entries; the default) or %s (access entries only)", ModeAPIAndConfigMap, ModeAPI)
	}
	if mode == ModeAPI {
		// In API mode EKS reads no aws-auth (setting-up-access-entries.html): a mapping here
		// would be written and ignored.
		for i, m := range c.AWSAuth.Roles {
			v.add(fmt.Sprintf("awsAuth.roles[%d]", i), m.ARN, "authenticationMode API reads no aws-auth: declare the role under accessEntries (groups system:masters → policy %s at cluster scope)", ClusterAdminPolicy)
		}
		for i, m := range c.AWSAuth.Users {
			v.add(fmt.Sprintf("awsAuth.users[%d]", i), m.ARN, "authenticationMode API reads no aws-auth: declare the user under accessEntries (groups system:masters → policy %s at cluster scope)", ClusterAdminPolicy)
		}
		if c.AWSAuth.Adopt {
			v.add("awsAuth.adopt", "true", "authenticationMode API writes no aws-auth: leave adopt false")
		}
	}
	partition := Partition(c.Region)
	type row struct {
		key string
		m   AWSAuthMapping
	}
	mapped := map[string]row{} // aws-auth's key for a mapping -> config key and mapping
	for i, m := range c.AWSAuth.Roles {
		if arn, err := k8s.MappedRoleARN(m.ARN); err == nil {
			mapped[k8s.MappingKey(arn)] = row{fmt.Sprintf("awsAuth.roles[%d]", i), m}
		}
	}
	for i, m := range c.AWSAuth.Users {
		if arn, err := k8s.MappedUserARN(m.ARN); err == nil {
			mapped[k8s.MappingKey(arn)] = row{fmt.Sprintf("awsAuth.users[%d]", i), m}
		}
	}
	// overlap is the mapping an entry also has in awsAuth, unless that row grants exactly what
	// the entry does: the migration off aws-auth declares the entry while the row stays, so the
	// principal keeps the same access at every moment, and removes the row afterwards.
	overlap := func(key string, e AccessEntryConfig) (string, bool) {
		r, ok := mapped[key]
		if !ok {
			return "", false
		}
		if want, why := EntryForMapping(e.PrincipalARN, r.m.Username, r.m.Groups); why == "" && sameEntry(want, e) {
			return "", false
		}
		return r.key, true
	}
	seen := map[string]int{}
	for i, e := range c.AccessEntries {
		key := fmt.Sprintf("accessEntries[%d]", i)
		typ := e.EntryType()
		node := slices.Contains(NodeEntryTypes, typ)
		if typ != EntryStandard && !node {
			v.add(key+".type", e.Type, "want %s (the default) or a node type: %s", EntryStandard, strings.Join(NodeEntryTypes, ", "))
		}
		p, ok := parsePrincipal(e.PrincipalARN)
		switch {
		case stsSessionRE.MatchString(e.PrincipalARN):
			v.add(key+".principalArn", e.PrincipalARN, "an STS session ARN: EKS takes no session principals, which change each session; give the IAM role ARN, arn:%s:iam::<account>:role/<name>", partition)
		case !ok:
			v.add(key+".principalArn", e.PrincipalARN, "want an IAM role or user ARN such as arn:%s:iam::123456789012:role/admin (a role may carry a path)", partition)
		case p.partition != partition:
			v.add(key+".principalArn", e.PrincipalARN, "not in partition %s (region %s): no caller of this cluster can have it", partition, c.Region)
		case node && p.kind != "role":
			v.add(key+".principalArn", e.PrincipalARN, "a %s entry's principal must be an IAM role (the nodes' instance role)", typ)
		case p.kind == "role" && strings.EqualFold(p.name, c.NodeRoleName()):
			// The node role's entry is the stack's own (API), or its aws-auth row, which an
			// entry would override (API_AND_CONFIG_MAP).
			v.add(key+".principalArn", e.PrincipalARN, "the stack's node role: the stack gives it its own access (an %s entry in API mode, an aws-auth row otherwise)", EntryEC2Linux)
		}
		if j, dup := seen[e.PrincipalARN]; dup {
			// "An IAM principal can't be included in more than one access entry."
			v.add(key+".principalArn", e.PrincipalARN, "also accessEntries[%d]: EKS allows one entry per principal", j)
		}
		seen[e.PrincipalARN] = i
		if ok && p.kind == "role" {
			// "In API_AND_CONFIG_MAP an entry takes precedence over aws-auth for the same
			// principal": the aws-auth row would be dead.
			if prev, dup := overlap(k8s.MappingKey(fmt.Sprintf("arn:%s:iam::%s:role/%s", p.partition, p.account, p.name)), e); dup {
				v.add(key+".principalArn", e.PrincipalARN, "also mapped by %s to other access; an access entry takes precedence over aws-auth, so that mapping would never apply: keep one (or make the entry grant what the row does, as eksirsa migrate access-entries does while it moves the row)", prev)
			}
		} else if ok {
			if prev, dup := overlap(k8s.MappingKey(e.PrincipalARN), e); dup {
				v.add(key+".principalArn", e.PrincipalARN, "also mapped by %s to other access; an access entry takes precedence over aws-auth, so that mapping would never apply: keep one (or make the entry grant what the row does, as eksirsa migrate access-entries does while it moves the row)", prev)
			}
		}
		if node {
			if e.Username != "" {
				v.add(key+".username", e.Username, "a %s entry takes no username: EKS sets the node identity itself", typ)
			}
			if len(e.KubernetesGroups) > 0 {
				v.add(key+".kubernetesGroups", strings.Join(e.KubernetesGroups, ","), "a %s entry takes no groups: EKS sets the node identity itself", typ)
			}
			if len(e.Policies) > 0 {
				v.add(key+".policies", e.Policies[0].Name, "a %s entry takes no access policy (API_CreateAccessEntry, type)", typ)
			}
		}
		checkUsername(v, key+".username", e.Username)
		for j, g := range e.KubernetesGroups {
			gkey := fmt.Sprintf("%s.kubernetesGroups[%d]", key, j)
			switch {
			case strings.TrimSpace(g) == "":
				v.add(gkey, g, "want a Kubernetes group name")
			case strings.HasPrefix(g, reservedGroupPrefix):
				v.add(gkey, g, "EKS refuses groups starting with %q; for cluster-admin associate the policy %s (policies: [{name: %s}])", reservedGroupPrefix, ClusterAdminPolicy, ClusterAdminPolicy)
			case g == k8s.AdminBridgeGroup:
				v.add(gkey, g, "the stack's own group, bound to cluster-admin while an entry's adminBridge is set: set adminBridge: true instead")
			}
		}
		if e.AdminBridge && !e.ClusterAdmin() {
			// The bridge stands in for that association until it is live; without it, the
			// group would be a second, hand-made way to cluster-admin that nothing takes away.
			v.add(key+".adminBridge", "true", "the bridge to cluster-admin only covers the moment before the entry's %s is associated: add policies: [{name: %s}] (cluster scope), or remove adminBridge", ClusterAdminPolicy, ClusterAdminPolicy)
		}
		seenPolicy := map[string]int{}
		for j, pol := range e.Policies {
			pkey := fmt.Sprintf("%s.policies[%d]", key, j)
			if !slices.Contains(AccessPolicies, pol.Name) {
				v.add(pkey+".name", pol.Name, "not an EKS access policy; want one of %s", strings.Join(AccessPolicies, ", "))
			}
			if k, dup := seenPolicy[pol.Name]; dup {
				v.add(pkey+".name", pol.Name, "also policies[%d]: a principal has one association per policy; list its namespaces together", k)
			}
			seenPolicy[pol.Name] = j
			for n, ns := range pol.Namespaces {
				nkey := fmt.Sprintf("%s.namespaces[%d]", pkey, n)
				if wildcardNamespaceRE.MatchString(ns) {
					continue
				}
				if msgs := validation.IsDNS1123Label(ns); len(msgs) > 0 {
					v.add(nkey, ns, "want a Kubernetes namespace name, or a prefix ending in * (dev-*): %s", strings.Join(msgs, "; "))
				}
			}
		}
	}
}

// checkUsername applies EKS's username rules; an empty username is EKS's default.
func checkUsername(v *validator, key, username string) {
	if why := UsernameProblem(username); why != "" {
		v.add(key, username, "%s", why)
	}
}

// UsernameProblem says why EKS refuses username in an access entry, or "" (an empty username
// is EKS's default).
func UsernameProblem(username string) string {
	if username == "" {
		return ""
	}
	for _, prefix := range ReservedUsernamePrefixes {
		if strings.HasPrefix(username, prefix) {
			return fmt.Sprintf("EKS refuses usernames starting with %s; leave it empty for EKS's default (the principal's ARN, a role's with {{SessionName}})", strings.Join(ReservedUsernamePrefixes, ", "))
		}
	}
	for rest, at := username, 0; ; {
		i := strings.Index(rest, sessionNamePlaceholder)
		if i < 0 {
			return ""
		}
		if at+i == 0 || username[at+i-1] != ':' {
			return fmt.Sprintf("%s must follow a colon (admin:%s): EKS refuses it anywhere else", sessionNamePlaceholder, sessionNamePlaceholder)
		}
		at += i + len(sessionNamePlaceholder)
		rest = username[at:]
	}
}

// MastersGroup is the group Kubernetes binds to cluster-admin (the default ClusterRoleBinding
// cluster-admin); an access entry grants the same with AmazonEKSClusterAdminPolicy at cluster
// scope (EKS User Guide, "Review access policy permissions").
const MastersGroup = "system:masters"

// fargateGroup is in the row EKS writes into aws-auth for a Fargate profile's pod execution
// role (username system:node:{{SessionName}}; EKS User Guide, "Fargate pod execution role").
const fargateGroup = "system:node-proxier"

// EntryForMapping is the access entry that grants what an aws-auth mapping of principalARN
// grants (EKS User Guide, "Migrating existing aws-auth ConfigMap entries to access entries"),
// or why no entry can: the node row (system:node:{{EC2PrivateDNSName}} in system:bootstrappers
// and system:nodes) becomes an EC2_LINUX entry, with the identity EKS gives nodes; system:masters
// becomes AmazonEKSClusterAdminPolicy at cluster scope; other groups stay groups; whatever EKS
// refuses in an entry (other system: groups, reserved usernames, Fargate's row) has a reason.
func EntryForMapping(principalARN, username string, groups []string) (AccessEntryConfig, string) {
	p, ok := parsePrincipal(principalARN)
	if !ok {
		return AccessEntryConfig{}, "not an IAM role or user ARN an access entry can name"
	}
	nodeGroups := len(groups) > 0 && !slices.ContainsFunc(groups, func(g string) bool { return g != k8s.BootstrappersGroup && g != k8s.NodesGroup })
	switch {
	case username == k8s.NodeUsername && nodeGroups && p.kind == "role":
		return AccessEntryConfig{PrincipalARN: principalARN, Type: EntryEC2Linux}, ""
	case slices.Contains(groups, fargateGroup) || (strings.HasPrefix(username, "system:node:") && strings.Contains(username, sessionNamePlaceholder)):
		return AccessEntryConfig{}, fmt.Sprintf("a Fargate profile's pod execution role (%s in %s): EKS makes its %s entry with the profile, and eks-irsa runs no Fargate profile to own it", username, strings.Join(groups, ", "), EntryFargateLinux)
	}
	e := AccessEntryConfig{PrincipalARN: principalARN, Username: username}
	for _, g := range groups {
		switch {
		case g == MastersGroup:
			e.Policies = append(e.Policies, AccessPolicyConfig{Name: ClusterAdminPolicy})
		case strings.HasPrefix(g, reservedGroupPrefix):
			return AccessEntryConfig{}, fmt.Sprintf("group %s: EKS refuses groups starting with %q in an access entry, and no access policy grants exactly what it does", g, reservedGroupPrefix)
		default:
			e.KubernetesGroups = append(e.KubernetesGroups, g)
		}
	}
	if why := UsernameProblem(username); why != "" {
		return AccessEntryConfig{}, "username " + username + ": " + why
	}
	return e, ""
}

// sameEntry reports whether two entries grant the same: type, username, groups and policies
// (with their namespaces), in any order.
func sameEntry(a, b AccessEntryConfig) bool {
	policies := func(e AccessEntryConfig) []string {
		var out []string
		for _, p := range e.Policies {
			out = append(out, p.Name+" "+strings.Join(slices.Sorted(slices.Values(p.Namespaces)), ","))
		}
		slices.Sort(out)
		return out
	}
	return a.EntryType() == b.EntryType() && a.Username == b.Username &&
		slices.Equal(slices.Sorted(slices.Values(a.KubernetesGroups)), slices.Sorted(slices.Values(b.KubernetesGroups))) &&
		slices.Equal(policies(a), policies(b))
}

// AdminBridge says whether any entry carries the admin bridge, so the stack binds its group
// to cluster-admin (k8s.AdminBridge); none does once the migration has proven each entry's
// policy, and the binding goes.
func (c *Config) AdminBridge() bool {
	return slices.ContainsFunc(c.AccessEntries, func(e AccessEntryConfig) bool { return e.AdminBridge })
}

// NodeAccessEntry says whether the node role gets its EC2_LINUX access entry: always in API
// mode, where nothing else admits nodes; with nodes.accessEntry in API_AND_CONFIG_MAP, where the
// entry takes precedence over the node's aws-auth row (EKS User Guide, "Migrating existing
// aws-auth ConfigMap entries to access entries"), so the row can go without a moment in which
// nodes cannot join.
func (c *Config) NodeAccessEntry() bool {
	return c.Cluster.AuthenticationMode == ModeAPI || c.Nodes.AccessEntry
}

// WritesAWSAuth says whether the stack writes aws-auth: not in API mode, where EKS reads none,
// and not when the node role has its entry (nodes.accessEntry) and no other mapping is
// configured, since the node's row would then grant nothing the entry does not (an entry takes
// precedence over aws-auth): the last step of the migration off aws-auth, in which the update
// deletes the ConfigMap the stack wrote.
func (c *Config) WritesAWSAuth() bool {
	if c.Cluster.AuthenticationMode == ModeAPI {
		return false
	}
	return !c.Nodes.AccessEntry || len(c.AWSAuth.Roles)+len(c.AWSAuth.Users) > 0 || c.AWSAuth.Adopt
}

// CheckModeChange refuses a configuration whose authenticationMode goes back from the one the
// stack's last update applied (its authenticationMode output; "" for a stack older than the
// output, which always made API_AND_CONFIG_MAP clusters): EKS moves it one way only.
func CheckModeChange(applied string, c *Config) error {
	if applied == "" {
		applied = ModeAPIAndConfigMap
	}
	want := c.Cluster.AuthenticationMode
	from, known := modeOrder[applied]
	to, ok := modeOrder[want]
	if !known || !ok || to >= from {
		return nil
	}
	return &ConfigError{Problems: []Problem{{Key: "cluster.authenticationMode", Value: want,
		Want: fmt.Sprintf("the stack's cluster is in %s (its last update's %s output), and EKS changes the mode one way only (%s → %s → %s): keep %s, or destroy the stack and create it again",
			applied, OutAuthenticationMode, ModeConfigMap, ModeAPIAndConfigMap, ModeAPI, applied)}}}
}

// CheckAccessForCaller checks the access entries against the identity running the program,
// once the program knows it (aws.GetCallerIdentity): node types need a role of the cluster's
// account ("If the type ... is anything other than STANDARD, the ARN must be in the same AWS
// account that your cluster is in", EKS User Guide, "Create access entries"), and no entry may
// name the creator, whose entry EKS makes itself at create (bootstrapClusterCreatorAdminPermissions):
// a second CreateAccessEntry for it fails with ResourceInUseException (pulumi-eks#2373).
func (c *Config) CheckAccessForCaller(callerARN, account string) error {
	creator, isCreator := creatorPrincipal(callerARN)
	var v validator
	for i, e := range c.AccessEntries {
		key := fmt.Sprintf("accessEntries[%d].principalArn", i)
		p, ok := parsePrincipal(e.PrincipalARN)
		if !ok {
			continue // validateAccess reports it
		}
		if slices.Contains(NodeEntryTypes, e.EntryType()) && p.account != account {
			v.add(key, e.PrincipalARN, "a %s entry needs a role of the cluster's account %s", e.EntryType(), account)
		}
		if isCreator && p.account == creator.account && p.kind == creator.kind && strings.EqualFold(p.name, creator.name) {
			v.add(key, e.PrincipalARN, "the identity running the stack (%s), which created the cluster: EKS gives it an entry with %s at create, and a second entry for it fails (ResourceInUseException); remove it here", callerARN, ClusterAdminPolicy)
		}
	}
	if len(v.problems) > 0 {
		return &ConfigError{Problems: v.problems}
	}
	return nil
}

// creatorPrincipal is the IAM principal behind a caller ARN as EKS records the creator: an
// assumed role's session turned back into its role (without its path, which STS ARNs drop),
// a user as it is.
func creatorPrincipal(callerARN string) (principal, bool) {
	if p, ok := parsePrincipal(callerARN); ok {
		return p, true
	}
	m := regexp.MustCompile(`^arn:([a-z-]+):sts::(\d{12}):assumed-role/([\w+=,.@-]+)/`).FindStringSubmatch(callerARN)
	if m == nil {
		return principal{}, false
	}
	return principal{partition: m[1], account: m[2], kind: "role", name: m[3]}, true
}

// AccessSummary says who gets into the cluster and how, one line each: what `eksirsa plan`
// shows under "Cluster access".
func (c *Config) AccessSummary() []string {
	lines := []string{"authenticationMode " + c.Cluster.AuthenticationMode}
	lines = append(lines, fmt.Sprintf("cluster admin: the identity that creates the cluster, by the entry EKS makes for it (%s at cluster scope; bootstrapClusterCreatorAdminPermissions)", ClusterAdminPolicy))
	if c.Cluster.AuthenticationMode == ModeAPI {
		lines = append(lines, fmt.Sprintf("nodes: role %s, an %s access entry", c.NodeRoleName(), EntryEC2Linux))
	} else {
		how := "mapped in aws-auth"
		if c.Nodes.AccessEntry {
			how = fmt.Sprintf("an %s access entry, and mapped in aws-auth (the entry takes precedence)", EntryEC2Linux)
		}
		lines = append(lines, fmt.Sprintf("nodes: role %s, %s", c.NodeRoleName(), how))
		for _, m := range c.AWSAuth.Roles {
			lines = append(lines, fmt.Sprintf("aws-auth: %s as %s in %s", m.ARN, m.Username, strings.Join(m.Groups, ", ")))
		}
		for _, m := range c.AWSAuth.Users {
			lines = append(lines, fmt.Sprintf("aws-auth: %s as %s in %s", m.ARN, m.Username, strings.Join(m.Groups, ", ")))
		}
	}
	for _, e := range c.AccessEntries {
		line := fmt.Sprintf("entry: %s (%s)", e.PrincipalARN, e.EntryType())
		if e.Username != "" {
			line += " as " + e.Username
		}
		if len(e.KubernetesGroups) > 0 {
			line += " in " + strings.Join(e.KubernetesGroups, ", ")
		}
		if e.AdminBridge {
			line += fmt.Sprintf("; in %s (bound to cluster-admin by the stack, before the entry is made) until %s is associated and proven", k8s.AdminBridgeGroup, ClusterAdminPolicy)
		}
		for _, p := range e.Policies {
			if p.Scope() == infra.ScopeCluster {
				line += fmt.Sprintf("; %s at cluster scope", p.Name)
			} else {
				line += fmt.Sprintf("; %s in namespaces %s", p.Name, strings.Join(p.Namespaces, ", "))
			}
		}
		lines = append(lines, line)
	}
	return lines
}
