package stack

import (
	"encoding/json"
	"fmt"
	"maps"
	"net/netip"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/eks-irsa/eks-irsa/k8s"
)

// Limits AWS and Kubernetes put on the configuration, checked before anything is created.
const (
	// MinKubernetesMinor is the oldest Kubernetes minor EKS still runs (extended support).
	MinKubernetesMinor = 29
	maxClusterName     = 100 // EKS
	maxIAMRoleName     = 64  // IAM
	minRootDiskGiB     = 20  // the EKS-optimized AL2023 AMI's own root volume
	maxRootDiskGiB     = 16384
	maxASGSize         = 1000
)

// LogRetentionDays are the retention periods CloudWatch Logs accepts.
var LogRetentionDays = []int{1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653}

var (
	regionRE       = regexp.MustCompile(`^[a-z]{2}(-[a-z]+)+-\d+$`)
	clusterNameRE  = regexp.MustCompile(`^[0-9A-Za-z][A-Za-z0-9_-]*$`)
	iamNameRE      = regexp.MustCompile(`^[\w+=,.@-]+$`)
	versionRE      = regexp.MustCompile(`^1\.(\d{1,2})$`)
	instanceTypeRE = regexp.MustCompile(`^[a-z][a-z0-9-]*\.[a-z0-9]+$`)
	thumbprintRE   = regexp.MustCompile(`^[0-9A-Fa-f]{40}$`)
	dns1123LabelRE = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`)
	dns1123SubRE   = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$`)
	policyARNRE    = regexp.MustCompile(`^arn:aws[a-z-]*:iam::(aws|\d{12}):policy/([\w+=,.@-]+/)*[\w+=,.@-]+$`)
	principalARNRE = regexp.MustCompile(`^arn:aws[a-z-]*:iam::\d{12}:(role|user)/([\w+=,.@-]+/)*[\w+=,.@-]+$`)
	kmsKeyARNRE    = regexp.MustCompile(`^arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:(key|alias)/[\w/-]+$`)
)

// validator collects every problem instead of stopping at the first.
type validator struct{ problems []Problem }

func (v *validator) add(key, value, want string, args ...any) {
	v.problems = append(v.problems, Problem{Key: key, Value: value, Want: fmt.Sprintf(want, args...)})
}

// Validate checks the whole configuration and returns a *ConfigError listing every problem.
func (c *Config) Validate() error {
	v := &validator{}
	c.validateNames(v)
	c.validateNetwork(v)
	c.validateCluster(v)
	c.validateNodes(v)
	c.validateAMIRelease(v)
	c.validateOIDC(v)
	c.validateRoles(v)
	c.validateAwsAuth(v)
	if len(v.problems) > 0 {
		return &ConfigError{Problems: v.problems}
	}
	return nil
}

func (c *Config) validateNames(v *validator) {
	if !regionRE.MatchString(c.Region) {
		v.add(RegionKey, c.Region, "want an AWS region such as us-west-2 (pulumi config set aws:region us-west-2)")
	}
	if c.ClusterName == "" {
		if c.ServiceType == "" {
			v.add("serviceType", c.ServiceType, "must not be empty: it names the cluster (<serviceType>-<environment>) and tags every resource")
		}
		if c.Environment == "" {
			v.add("environment", c.Environment, "must not be empty: it names the cluster (<serviceType>-<environment>) and tags every resource")
		}
	}
	name, key := c.Name(), "clusterName"
	if c.ClusterName == "" {
		key = "serviceType"
	}
	switch {
	case len(name) > maxClusterName:
		v.add(key, name, "cluster name is %d characters; EKS accepts at most %d", len(name), maxClusterName)
	case !clusterNameRE.MatchString(name):
		v.add(key, name, "cluster name %q must start with a letter or digit and hold only letters, digits, '-' and '_'", name)
	}
	for _, k := range slices.Sorted(maps.Keys(c.Tags)) {
		if k == "" || len(k) > 128 || strings.HasPrefix(strings.ToLower(k), "aws:") {
			v.add("tags", k, "tag keys are 1-128 characters and may not start with aws:")
		}
		if len(c.Tags[k]) > 256 {
			v.add("tags."+k, c.Tags[k], "tag values are at most 256 characters")
		}
	}
	// Derived IAM role names: checked here so AWS never refuses one halfway through an update.
	for _, role := range []string{c.ClusterRoleName(), c.NodeRoleName(), c.AwsNodeRoleName(), c.FlowLogRoleName()} {
		checkRoleName(v, key, role, "derived from the cluster name; shorten it")
	}
}

// Names of the IAM roles the stack derives from the cluster name.
func (c *Config) ClusterRoleName() string { return c.Name() + "-cluster" }
func (c *Config) NodeRoleName() string    { return c.Name() + "-node" }
func (c *Config) AwsNodeRoleName() string { return c.Name() + "-aws-node" }
func (c *Config) FlowLogRoleName() string { return c.Name() + "-flow-logs" }

func checkRoleName(v *validator, key, role, hint string) {
	if len(role) > maxIAMRoleName {
		v.add(key, role, "IAM role name %q is %d characters; IAM accepts at most %d (%s)", role, len(role), maxIAMRoleName, hint)
	} else if !iamNameRE.MatchString(role) {
		v.add(key, role, "IAM role name %q may hold only letters, digits and +=,.@_- (%s)", role, hint)
	}
}

func (c *Config) validateNetwork(v *validator) {
	n := c.Network
	vpc, err := netip.ParsePrefix(n.CIDR)
	vpcOK := err == nil && vpc.Addr().Is4() && vpc == vpc.Masked()
	switch {
	case !vpcOK:
		v.add("network.cidr", n.CIDR, "want an IPv4 network in CIDR form with no host bits, such as 10.0.0.0/16")
	case vpc.Bits() < 16 || vpc.Bits() > 28:
		v.add("network.cidr", n.CIDR, "a VPC's prefix length must be between /16 and /28")
		vpcOK = false
	}
	if len(n.AvailabilityZones) == 0 {
		v.add("network.availabilityZones", "[]", "list at least one availability zone of %s (EKS needs subnets in two or more; three is usual)", c.Region)
	}
	seen := map[string]bool{}
	for i, az := range n.AvailabilityZones {
		key := fmt.Sprintf("network.availabilityZones[%d]", i)
		switch {
		case seen[az]:
			v.add(key, az, "listed twice; each availability zone once")
		case !strings.HasPrefix(az, c.Region) || len(az) <= len(c.Region):
			v.add(key, az, "not an availability zone of region %s (want e.g. %sa)", c.Region, c.Region)
		}
		seen[az] = true
	}
	var subnets []netip.Prefix
	var names []string
	for _, group := range []struct {
		key   string
		cidrs []string
	}{{"network.publicSubnets", n.PublicSubnets}, {"network.privateSubnets", n.PrivateSubnets}} {
		if len(group.cidrs) != len(n.AvailabilityZones) {
			v.add(group.key, strings.Join(group.cidrs, ","), "want one subnet per availability zone: %d listed for %d zones", len(group.cidrs), len(n.AvailabilityZones))
		}
		for i, s := range group.cidrs {
			key := fmt.Sprintf("%s[%d]", group.key, i)
			p, err := netip.ParsePrefix(s)
			switch {
			case err != nil || !p.Addr().Is4() || p != p.Masked():
				v.add(key, s, "want an IPv4 network in CIDR form with no host bits, such as 10.0.1.0/24")
				continue
			case p.Bits() > 28:
				v.add(key, s, "a subnet's prefix length must be /28 or shorter")
			case vpcOK && (p.Bits() < vpc.Bits() || !vpc.Contains(p.Addr())):
				v.add(key, s, "outside the VPC %s", vpc)
			}
			for j, q := range subnets {
				if p.Overlaps(q) {
					v.add(key, s, "overlaps %s (%s)", names[j], q)
				}
			}
			subnets, names = append(subnets, p), append(names, key)
		}
	}
	if n.NATGateways != "single" && n.NATGateways != "perAz" {
		v.add("network.natGateways", n.NATGateways, `want "single" (one NAT gateway) or "perAz" (one per availability zone)`)
	}
}

func (c *Config) validateCluster(v *validator) {
	cl := c.Cluster
	if m := versionRE.FindStringSubmatch(cl.Version); m == nil {
		v.add("cluster.version", cl.Version, `want a Kubernetes minor version such as "1.33"`)
	} else if minor, _ := strconv.Atoi(m[1]); minor < MinKubernetesMinor {
		v.add("cluster.version", cl.Version, "EKS no longer runs it; want 1.%d or newer", MinKubernetesMinor)
	}
	if len(cl.PublicAccessCIDRs) == 0 {
		v.add("cluster.publicAccessCidrs", "[]", "list at least one CIDR allowed to reach the public endpoint (0.0.0.0/0 for any)")
	}
	for i, s := range cl.PublicAccessCIDRs {
		p, err := netip.ParsePrefix(s)
		if err != nil || !p.Addr().Is4() || p != p.Masked() {
			v.add(fmt.Sprintf("cluster.publicAccessCidrs[%d]", i), s, "want an IPv4 CIDR with no host bits, such as 203.0.113.0/24 or 0.0.0.0/0")
		}
	}
	if !slices.Contains(LogRetentionDays, cl.LogRetentionDays) {
		v.add("cluster.logRetentionDays", strconv.Itoa(cl.LogRetentionDays), "CloudWatch Logs accepts one of %v", LogRetentionDays)
	}
	if cl.SecretsKMSKeyARN != "" && !kmsKeyARNRE.MatchString(cl.SecretsKMSKeyARN) {
		v.add("cluster.secretsKmsKeyArn", cl.SecretsKMSKeyARN, "want a KMS key ARN such as arn:aws:kms:us-west-2:123456789012:key/<id>, or empty for no envelope encryption")
	}
}

func (c *Config) validateNodes(v *validator) {
	n := c.Nodes
	if !instanceTypeRE.MatchString(n.InstanceType) {
		v.add("nodes.instanceType", n.InstanceType, "want an EC2 instance type such as t3.medium")
	}
	if n.Min < 0 {
		v.add("nodes.min", strconv.Itoa(n.Min), "must be 0 or more")
	}
	if n.Max < 1 || n.Max > maxASGSize {
		v.add("nodes.max", strconv.Itoa(n.Max), "must be between 1 and %d", maxASGSize)
	}
	if n.Min > n.Max {
		v.add("nodes.min", strconv.Itoa(n.Min), "must not exceed nodes.max (%d)", n.Max)
	}
	if n.Desired < n.Min || n.Desired > n.Max {
		v.add("nodes.desired", strconv.Itoa(n.Desired), "must be within [nodes.min, nodes.max] = [%d, %d]", n.Min, n.Max)
	}
	if n.DiskGiB < minRootDiskGiB || n.DiskGiB > maxRootDiskGiB {
		v.add("nodes.diskGiB", strconv.Itoa(n.DiskGiB), "gp3 root volume size must be between %d and %d GiB", minRootDiskGiB, maxRootDiskGiB)
	}
}

func (c *Config) validateOIDC(v *validator) {
	for _, group := range []struct {
		key string
		tps []string
	}{{"oidc.extraThumbprints", c.OIDC.ExtraThumbprints}, {"oidc.thumbprints", c.OIDC.Thumbprints}} {
		for i, tp := range group.tps {
			if !thumbprintRE.MatchString(tp) {
				v.add(fmt.Sprintf("%s[%d]", group.key, i), tp, "want a SHA-1 certificate thumbprint: 40 hex characters")
			}
		}
	}
	if n := len(c.OIDC.Thumbprints) + len(c.OIDC.ExtraThumbprints) + 1; n > 5 {
		v.add("oidc", strconv.Itoa(n), "an IAM OIDC provider holds at most 5 thumbprints")
	}
}

func (c *Config) validateRoles(v *validator) {
	seenSA := map[string]string{"kube-system/aws-node": "the built-in aws-node role"}
	seenRole := map[string]string{c.AwsNodeRoleName(): "the built-in aws-node role"}
	for i, r := range c.ServiceAccountRoles {
		key := fmt.Sprintf("serviceAccountRoles[%d]", i)
		if !dns1123LabelRE.MatchString(r.Namespace) || len(r.Namespace) > 63 {
			v.add(key+".namespace", r.Namespace, "want a Kubernetes namespace name: lower-case letters, digits and '-', at most 63")
		}
		if !dns1123SubRE.MatchString(r.ServiceAccount) || len(r.ServiceAccount) > 253 {
			v.add(key+".serviceAccount", r.ServiceAccount, "want a Kubernetes service account name: lower-case letters, digits, '-' and '.'")
		}
		sa := r.Namespace + "/" + r.ServiceAccount
		if prev, dup := seenSA[sa]; dup {
			v.add(key, sa, "service account already has a role (%s); one role per account", prev)
		}
		seenSA[sa] = key
		role := c.RoleName(r)
		checkRoleName(v, key+".roleName", role, "set roleName to a shorter name")
		if prev, dup := seenRole[role]; dup {
			v.add(key+".roleName", role, "IAM role name already used by %s; set a distinct roleName", prev)
		}
		seenRole[role] = key
		if len(r.ManagedPolicyARNs) == 0 && len(r.InlinePolicy) == 0 {
			v.add(key, sa, "a role with no policy grants nothing; give managedPolicyArns or an inlinePolicy")
		}
		for j, arn := range r.ManagedPolicyARNs {
			if !policyARNRE.MatchString(arn) {
				v.add(fmt.Sprintf("%s.managedPolicyArns[%d]", key, j), arn, "want an IAM policy ARN such as arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess")
			}
		}
		if len(r.InlinePolicy) > 0 {
			if err := checkPolicyDocument(r.InlinePolicy); err != nil {
				v.add(key+".inlinePolicy", string(r.InlinePolicy), "want an IAM policy document: %v", err)
			}
		}
		switch r.Account {
		case "", k8s.NoServiceAccount, k8s.AnnotateServiceAccount, k8s.CreateServiceAccount:
		default:
			v.add(key+".account", string(r.Account), `want "none" (role only), "annotate" (patch an existing account) or "create"`)
		}
		if r.CreateNamespace && r.Account != k8s.CreateServiceAccount {
			v.add(key+".createNamespace", "true", `only with account: "create"`)
		}
	}
}

func (c *Config) validateAwsAuth(v *validator) {
	for _, group := range []struct {
		key, kind string
		m         []AwsAuthMapping
	}{{"awsAuth.roles", "role", c.AwsAuth.Roles}, {"awsAuth.users", "user", c.AwsAuth.Users}} {
		for i, m := range group.m {
			key := fmt.Sprintf("%s[%d]", group.key, i)
			if !principalARNRE.MatchString(m.ARN) || !strings.Contains(m.ARN, ":"+group.kind+"/") {
				v.add(key+".arn", m.ARN, "want an IAM %s ARN such as arn:aws:iam::123456789012:%s/admin", group.kind, group.kind)
			}
			if m.Username == "" {
				v.add(key+".username", m.Username, "want the Kubernetes user name the %s maps to", group.kind)
			}
			if len(m.Groups) == 0 {
				v.add(key+".groups", "[]", "want at least one Kubernetes group (e.g. system:masters)")
			}
			for j, g := range m.Groups {
				if g == "" || strings.ContainsAny(g, " \t\n") {
					v.add(fmt.Sprintf("%s.groups[%d]", key, j), g, "want a Kubernetes group name without spaces")
				}
			}
		}
	}
}

// checkPolicyDocument accepts what IAM accepts as an identity policy's top level: a Version
// and a non-empty Statement (one or a list), each with Effect, an action and a resource.
func checkPolicyDocument(raw json.RawMessage) error {
	var doc struct {
		Version   string          `json:"Version"`
		Statement json.RawMessage `json:"Statement"`
	}
	if err := json.Unmarshal(raw, &doc); err != nil {
		return fmt.Errorf("not a JSON object (%v)", err)
	}
	if doc.Version != "2012-10-17" && doc.Version != "2008-10-17" {
		return fmt.Errorf(`Version must be "2012-10-17"`)
	}
	var stmts []map[string]json.RawMessage
	if err := json.Unmarshal(doc.Statement, &stmts); err != nil {
		var one map[string]json.RawMessage
		if err := json.Unmarshal(doc.Statement, &one); err != nil {
			return fmt.Errorf("Statement must be a statement or a list of them")
		}
		stmts = append(stmts, one)
	}
	if len(stmts) == 0 {
		return fmt.Errorf("Statement is empty")
	}
	for i, s := range stmts {
		var effect string
		if err := json.Unmarshal(s["Effect"], &effect); err != nil || (effect != "Allow" && effect != "Deny") {
			return fmt.Errorf(`Statement[%d].Effect must be "Allow" or "Deny"`, i)
		}
		if s["Action"] == nil && s["NotAction"] == nil {
			return fmt.Errorf("Statement[%d] needs Action or NotAction", i)
		}
		if s["Resource"] == nil && s["NotResource"] == nil {
			return fmt.Errorf("Statement[%d] needs Resource or NotResource", i)
		}
		if s["Principal"] != nil {
			return fmt.Errorf("Statement[%d] has a Principal: an identity policy names none", i)
		}
	}
	return nil
}
