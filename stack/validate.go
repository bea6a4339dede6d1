package stack

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"net/netip"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/eks-irsa/eks-irsa/k8s"
)

// Limits AWS, EKS, IAM and Kubernetes put on the configuration, each checked before anything
// is created. The source of each is beside it.
const (
	// https://docs.aws.amazon.com/eks/latest/APIReference/API_CreateCluster.html (name: 1-100)
	maxClusterName = 100
	// https://docs.aws.amazon.com/IAM/latest/APIReference/API_CreateRole.html (RoleName: 1-64)
	maxIAMRoleName = 64
	// The EKS-optimized AL2023 AMI's root snapshot is 20 GiB and a volume cannot be smaller
	// than its snapshot; gp3 volumes are at most 16 TiB:
	// https://docs.aws.amazon.com/ebs/latest/userguide/general-purpose.html#gp3-ebs-volume-type
	minRootDiskGiB = 20
	maxRootDiskGiB = 16384
	// Not an Auto Scaling limit (MaxSize has none documented): this stack's guard against a
	// typo that would ask for a fleet.
	maxASGSize = 1000
	// Tags per resource: EC2, IAM, EKS, Auto Scaling and CloudWatch Logs all allow 50.
	// https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/Using_Tags.html#tag-restrictions
	// https://docs.aws.amazon.com/IAM/latest/UserGuide/id_tags.html#id_tags_rules_creating
	maxTags = 50
	// The program adds at most three tags of its own to one resource (a subnet: Name,
	// kubernetes.io/cluster/<name>, kubernetes.io/role/[internal-]elb) besides ServiceType,
	// Environment and the configured tags (see infra/network.go).
	programTags  = 3
	maxTagKey    = 128
	maxTagValue  = 256
	reservedTags = "aws:"
	// https://docs.aws.amazon.com/IAM/latest/APIReference/API_CreateOpenIDConnectProvider.html
	// (ThumbprintList: at most 5)
	maxThumbprints = 5
	// https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_iam-quotas.html: managed
	// policies per role 10 by default, 20 after a quota increase; a role's inline policies
	// together at most 10,240 characters, whitespace not counted.
	defaultManagedPoliciesPerRole = 10
	maxManagedPoliciesPerRole     = 20
	maxInlinePolicyChars          = 10240
	// https://docs.aws.amazon.com/eks/latest/userguide/service-quotas.html
	// ("Public endpoint access CIDR ranges per cluster": 40)
	maxPublicAccessCIDRs = 40
)

// LogRetentionDays are the retention periods CloudWatch Logs accepts:
// https://docs.aws.amazon.com/AmazonCloudWatchLogs/latest/APIReference/API_PutRetentionPolicy.html
// 0 is accepted besides them: the AWS provider's retentionInDays 0 sets no retention policy,
// and the logs never expire.
var LogRetentionDays = []int{1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653}

// NeverExpire is the logRetentionDays value that keeps logs forever.
const NeverExpire = 0

// nonPublicRanges are the IPv4 ranges that are not publicly routable; EKS refuses them in
// publicAccessCidrs ("The CIDR blocks ... can't include private or reserved addresses"):
// https://docs.aws.amazon.com/eks/latest/userguide/cluster-endpoint.html
// RFC 1918 private, RFC 6598 shared (carrier-grade NAT), loopback, link-local, multicast, reserved.
var nonPublicRanges = []netip.Prefix{
	netip.MustParsePrefix("10.0.0.0/8"),
	netip.MustParsePrefix("172.16.0.0/12"),
	netip.MustParsePrefix("192.168.0.0/16"),
	netip.MustParsePrefix("100.64.0.0/10"),
	netip.MustParsePrefix("127.0.0.0/8"),
	netip.MustParsePrefix("169.254.0.0/16"),
	netip.MustParsePrefix("224.0.0.0/4"),
	netip.MustParsePrefix("240.0.0.0/4"),
}

var (
	// Region codes: https://docs.aws.amazon.com/general/latest/gr/rande.html
	regionRE = regexp.MustCompile(`^[a-z]{2}(-[a-z]+)+-\d+$`)
	// https://docs.aws.amazon.com/eks/latest/APIReference/API_CreateCluster.html (name pattern)
	clusterNameRE = regexp.MustCompile(`^[0-9A-Za-z][A-Za-z0-9_-]*$`)
	// https://docs.aws.amazon.com/IAM/latest/APIReference/API_CreateRole.html (RoleName pattern)
	iamNameRE      = regexp.MustCompile(`^[\w+=,.@-]+$`)
	versionRE      = regexp.MustCompile(`^1\.(\d{1,2})$`)
	instanceTypeRE = regexp.MustCompile(`^[a-z][a-z0-9-]*\.[a-z0-9-]+$`)
	thumbprintRE   = regexp.MustCompile(`^[0-9A-Fa-f]{40}$`)
	// https://docs.aws.amazon.com/IAM/latest/APIReference/API_Tag.html (Key and Value patterns):
	// every IAM role the stack makes carries the tags, so IAM's character set applies.
	tagKeyRE   = regexp.MustCompile(`^[\p{L}\p{Z}\p{N}_.:/=+\-@]+$`)
	tagValueRE = regexp.MustCompile(`^[\p{L}\p{Z}\p{N}_.:/=+\-@]*$`)
	// https://docs.aws.amazon.com/IAM/latest/APIReference/API_AttachRolePolicy.html
	policyARNRE = regexp.MustCompile(`^arn:([a-z-]+):iam::(aws|\d{12}):policy/([\w+=,.@-]+/)*[\w+=,.@-]+$`)
	// https://docs.aws.amazon.com/eks/latest/APIReference/API_Provider.html (keyArn: a key or
	// alias ARN) and https://docs.aws.amazon.com/kms/latest/developerguide/concepts.html#key-id
	kmsKeyARNRE = regexp.MustCompile(`^arn:([a-z-]+):kms:([a-z0-9-]+):\d{12}:(key/[0-9a-zA-Z-]+|alias/[\w/-]+)$`)
	// IAM policy grammar: https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_grammar.html
	// IAM ARNs name a 12-digit account: https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_identifiers.html#identifiers-arns
	iamAccountARNRE = regexp.MustCompile(`^arn:[a-z-]+:iam::\d{12}:`)
	// Action prefixes and names are case-insensitive ("IAM JSON policy elements: Action":
	// iam:ListAccessKeys is IAM:listaccesskeys), so S3:GetObject is accepted.
	actionRE = regexp.MustCompile(`^(\*|[A-Za-z0-9-]+:[A-Za-z0-9*?]+)$`)
	sidRE    = regexp.MustCompile(`^[A-Za-z0-9]*$`)
)

// Partition returns the partition of a region, as ARNs spell it:
// https://docs.aws.amazon.com/IAM/latest/UserGuide/reference-arns.html
func Partition(region string) string {
	switch {
	case strings.HasPrefix(region, "cn-"):
		return "aws-cn"
	case strings.HasPrefix(region, "us-gov-"):
		return "aws-us-gov"
	case strings.HasPrefix(region, "us-isob-"):
		return "aws-iso-b"
	case strings.HasPrefix(region, "us-iso-"):
		return "aws-iso"
	case strings.HasPrefix(region, "eu-isoe-"):
		return "aws-iso-e"
	case strings.HasPrefix(region, "us-isof-"):
		return "aws-iso-f"
	default:
		return "aws"
	}
}

// validator collects every problem instead of stopping at the first.
type validator struct {
	problems []Problem
	warnings []Problem
}

func (v *validator) add(key, value, want string, args ...any) {
	v.problems = append(v.problems, Problem{Key: key, Value: value, Want: fmt.Sprintf(want, args...)})
}

func (v *validator) warn(key, value, text string, args ...any) {
	v.warnings = append(v.warnings, Problem{Key: key, Value: value, Want: fmt.Sprintf(text, args...)})
}

// Validate checks the whole configuration and returns a *ConfigError listing every problem.
func (c *Config) Validate() error {
	v := c.check()
	if len(v.problems) > 0 {
		return &ConfigError{Problems: v.problems}
	}
	return nil
}

// Warnings are what a valid configuration should still be told: a Kubernetes version in
// extended support, a controller that needs flags. `eksirsa plan` prints them.
func (c *Config) Warnings() []Problem { return c.check().warnings }

func (c *Config) check() *validator {
	v := &validator{}
	c.validateNames(v)
	c.validateTags(v)
	c.validateNetwork(v)
	c.validateCluster(v)
	c.validateNodes(v)
	c.validateAMIRelease(v)
	c.validateOIDC(v)
	c.validateRoles(v)
	c.validateAWSAuth(v)
	c.validateAccess(v)
	c.validatePodIdentity(v)
	return v
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
	name, key := c.Name(), c.nameKey()
	switch {
	case len(name) > maxClusterName:
		v.add(key, name, "cluster name is %d characters; EKS accepts at most %d", len(name), maxClusterName)
	case !clusterNameRE.MatchString(name):
		v.add(key, name, "cluster name %q must start with a letter or digit and hold only letters, digits, '-' and '_'", name)
	}
	// Derived IAM role names: checked here so AWS never refuses one halfway through an update.
	for _, role := range c.derivedRoleNames() {
		checkRoleName(v, key, role, "derived from the cluster name; shorten it")
	}
	if r := c.AWSNode.RoleName; r != "" {
		checkRoleName(v, "awsNode.roleName", r, "or leave it empty for <cluster>-aws-node")
		if slices.ContainsFunc(c.derivedRoleNames(), func(d string) bool { return strings.EqualFold(d, r) }) {
			v.add("awsNode.roleName", r, "IAM role name already used by another of the stack's own roles (IAM ignores case in role names)")
		}
	}
}

// nameKey is the config key the cluster name comes from.
func (c *Config) nameKey() string {
	if c.ClusterName != "" {
		return "clusterName"
	}
	return "serviceType"
}

// Names of the IAM roles the stack derives from the cluster name.
func (c *Config) ClusterRoleName() string { return c.Name() + "-cluster" }
func (c *Config) NodeRoleName() string    { return c.Name() + "-node" }
func (c *Config) FlowLogRoleName() string { return c.Name() + "-flow-logs" }

// AWSNodeRoleName is the VPC CNI's role: awsNode.roleName, else derived from the cluster name.
func (c *Config) AWSNodeRoleName() string {
	if c.AWSNode.RoleName != "" {
		return c.AWSNode.RoleName
	}
	return c.Name() + "-aws-node"
}

// derivedRoleNames are the stack's own roles whose names come from the cluster name.
func (c *Config) derivedRoleNames() []string {
	names := []string{c.ClusterRoleName(), c.NodeRoleName(), c.FlowLogRoleName()}
	if c.AWSNode.RoleName == "" {
		names = append(names, c.AWSNodeRoleName())
	}
	return names
}

func checkRoleName(v *validator, key, role, hint string) {
	if len(role) > maxIAMRoleName {
		v.add(key, role, "IAM role name %q is %d characters; IAM accepts at most %d (%s)", role, len(role), maxIAMRoleName, hint)
	} else if !iamNameRE.MatchString(role) {
		v.add(key, role, "IAM role name %q may hold only letters, digits and +=,.@_- (%s)", role, hint)
	}
}

func (c *Config) validateTags(v *validator) {
	// IAM role tag keys are case-insensitive ("you can't have separate Department and
	// department tag keys", id_tags.html#id_tags_rules_creating), and the stack tags every role.
	seen := map[string]string{"servicetype": "ServiceType", "environment": "Environment"}
	for _, k := range slices.Sorted(maps.Keys(c.Tags)) {
		key := "tags." + k
		switch {
		case k == "" || utf8.RuneCountInString(k) > maxTagKey:
			v.add("tags", k, "tag keys are 1-%d characters", maxTagKey)
		case strings.HasPrefix(strings.ToLower(k), reservedTags):
			v.add("tags", k, "tag keys may not start with %q (reserved for AWS)", reservedTags)
		case !tagKeyRE.MatchString(k):
			v.add("tags", k, "tag keys may hold only letters, digits, spaces and _.:/=+-@")
		}
		if prev, dup := seen[strings.ToLower(k)]; dup && prev != k {
			v.add("tags", k, "differs from the tag %q only by case; IAM treats tag keys case-insensitively", prev)
		}
		seen[strings.ToLower(k)] = k
		val := c.Tags[k]
		switch {
		case utf8.RuneCountInString(val) > maxTagValue:
			v.add(key, val, "tag values are at most %d characters", maxTagValue)
		case !tagValueRE.MatchString(val):
			v.add(key, val, "tag values may hold only letters, digits, spaces and _.:/=+-@")
		}
	}
	if n := len(c.AllTags()) + programTags; n > maxTags {
		v.add("tags", strconv.Itoa(len(c.Tags)), "%d tags with ServiceType, Environment and the %d the stack adds; AWS allows %d per resource", n, programTags, maxTags)
	}
}

func (c *Config) validateNetwork(v *validator) {
	n := c.Network
	// https://docs.aws.amazon.com/vpc/latest/userguide/vpc-cidr-blocks.html (/16 to /28)
	vpc, err := netip.ParsePrefix(n.CIDR)
	vpcOK := err == nil && vpc.Addr().Is4() && vpc == vpc.Masked()
	switch {
	case !vpcOK:
		v.add("network.cidr", n.CIDR, "want an IPv4 network in CIDR form with no host bits, such as 10.0.0.0/16")
	case vpc.Bits() < 16 || vpc.Bits() > 28:
		v.add("network.cidr", n.CIDR, "a VPC's prefix length must be between /16 and /28")
		vpcOK = false
	}
	// EKS needs subnets in at least two Availability Zones, and not in Local Zones, Wavelength
	// Zones or Outposts: https://docs.aws.amazon.com/eks/latest/userguide/network-reqs.html
	if len(n.AvailabilityZones) < 2 {
		v.add("network.availabilityZones", "["+strings.Join(n.AvailabilityZones, ",")+"]",
			"list at least two availability zones of %s (EKS needs subnets in two or more; three is usual)", c.Region)
	}
	azRE := regexp.MustCompile(`^` + regexp.QuoteMeta(c.Region) + `[a-z]$`)
	seen := map[string]bool{}
	for i, az := range n.AvailabilityZones {
		key := fmt.Sprintf("network.availabilityZones[%d]", i)
		switch {
		case seen[az]:
			v.add(key, az, "listed twice; each availability zone once")
		case strings.HasPrefix(az, c.Region+"-"):
			v.add(key, az, "a Local Zone or Wavelength Zone; EKS places its control plane only in availability zones (want e.g. %sa)", c.Region)
		case !azRE.MatchString(az):
			v.add(key, az, "not an availability zone of region %s (want the region and one letter, e.g. %sa)", c.Region, c.Region)
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
			// https://docs.aws.amazon.com/vpc/latest/userguide/subnet-sizing.html (/16 to /28,
			// inside the VPC's range, not overlapping another subnet)
			switch {
			case err != nil || !p.Addr().Is4() || p != p.Masked():
				v.add(key, s, "want an IPv4 network in CIDR form with no host bits, such as 10.0.1.0/24")
				continue
			case p.Bits() > 28 || p.Bits() < 16:
				v.add(key, s, "a subnet's prefix length must be between /16 and /28")
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
	c.validateVersion(v)
	if len(cl.PublicAccessCIDRs) == 0 {
		v.add("cluster.publicAccessCidrs", "[]", "list at least one CIDR allowed to reach the public endpoint (0.0.0.0/0 for any)")
	}
	if len(cl.PublicAccessCIDRs) > maxPublicAccessCIDRs {
		v.add("cluster.publicAccessCidrs", strconv.Itoa(len(cl.PublicAccessCIDRs)), "EKS accepts at most %d public access CIDRs", maxPublicAccessCIDRs)
	}
	for i, s := range cl.PublicAccessCIDRs {
		key := fmt.Sprintf("cluster.publicAccessCidrs[%d]", i)
		p, err := netip.ParsePrefix(s)
		if err != nil || !p.Addr().Is4() || p != p.Masked() {
			v.add(key, s, "want an IPv4 CIDR with no host bits, such as 198.51.100.0/24 or 0.0.0.0/0")
			continue
		}
		for _, r := range nonPublicRanges {
			if p.Bits() >= r.Bits() && r.Contains(p.Addr()) {
				v.add(key, s, "inside %s, which is not publicly routable: the public endpoint never sees such addresses and EKS refuses them (the private endpoint serves the VPC)", r)
				break
			}
		}
	}
	if d := cl.LogRetentionDays; d != NeverExpire && !slices.Contains(LogRetentionDays, d) {
		v.add("cluster.logRetentionDays", strconv.Itoa(d), "CloudWatch Logs accepts one of %v, or 0 to keep logs forever", LogRetentionDays)
	}
	if arn := cl.SecretsKMSKeyARN; arn != "" {
		m := kmsKeyARNRE.FindStringSubmatch(arn)
		switch {
		case m == nil:
			v.add("cluster.secretsKmsKeyArn", arn, "want a KMS key ARN such as arn:%s:kms:%s:123456789012:key/<id> (or alias/<name>), or empty for no envelope encryption", Partition(c.Region), c.Region)
		case m[2] != c.Region:
			// "The KMS key must be ... created in the same AWS Region as the cluster":
			// https://docs.aws.amazon.com/eks/latest/userguide/enable-kms.html
			v.add("cluster.secretsKmsKeyArn", arn, "the key is in %s; EKS needs a key in the cluster's region %s", m[2], c.Region)
		case m[1] != Partition(c.Region):
			v.add("cluster.secretsKmsKeyArn", arn, "partition %s, but region %s is in partition %s", m[1], c.Region, Partition(c.Region))
		}
	}
}

// validateVersion refuses what EKS does not create today (past extended support, not
// released, not in the calendar) and warns about extended support.
func (c *Config) validateVersion(v *validator) {
	ver, table, today := c.Cluster.Version, Versions(), Now()
	creatable := strings.Join(table.Creatable(today), ", ")
	m := versionRE.FindStringSubmatch(ver)
	if m == nil {
		v.add("cluster.version", ver, `want a Kubernetes minor version such as %q; EKS creates %s`, table.last().Version, creatable)
		return
	}
	kv, ok := table.Lookup(ver)
	if !ok {
		minor, _ := strconv.Atoi(m[1])
		if minor < table.first().minor {
			v.add("cluster.version", ver, "EKS no longer creates it (older than %s, whose extended support ended %s); EKS creates %s",
				table.first().Version, date(table.first().EndOfExtended), creatable)
		} else {
			v.add("cluster.version", ver, "not in the EKS release calendar checked %s, whose newest is %s; EKS creates %s. If EKS has released it since, add its row "+
				"(and one for each version between: rows are consecutive) to stack/eks-kubernetes-versions.csv from %s, as "+
				"%s,<EKS release>,<end of standard support>,<end of extended support>,<source> with YYYY-MM-DD dates, update its '# checked:' day and rebuild eksirsa",
				date(table.Checked), table.last().Version, creatable, ReleaseCalendarURL, ver)
		}
		return
	}
	switch kv.Status(today) {
	case EndOfSupport:
		v.add("cluster.version", ver, "EKS no longer creates it: extended support ended %s; EKS creates %s", date(kv.EndOfExtended), creatable)
	case Unreleased:
		v.add("cluster.version", ver, "EKS releases it on %s; EKS creates %s", date(kv.Released), creatable)
	case ExtendedSupport:
		newest, _ := table.NewestStandard(today)
		v.warn("cluster.version", ver, "in extended support since %s (billed at the extended-support rate), ending %s; %s is in standard support",
			date(kv.EndOfStandard), date(kv.EndOfExtended), newest.Version)
	}
}

// KubernetesSupport describes the configured version's support status today.
func (c *Config) KubernetesSupport() (KubernetesVersion, SupportStatus, bool) {
	kv, ok := Versions().Lookup(c.Cluster.Version)
	if !ok {
		return kv, "", false
	}
	return kv, kv.Status(Now()), true
}

func (c *Config) validateNodes(v *validator) {
	n := c.Nodes
	if !instanceTypeRE.MatchString(n.InstanceType) {
		v.add("nodes.instanceType", n.InstanceType, "want an EC2 instance type such as t3.medium")
	}
	// https://docs.aws.amazon.com/autoscaling/ec2/APIReference/API_CreateAutoScalingGroup.html:
	// MinSize <= DesiredCapacity <= MaxSize.
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
	// What the provider will hold: the configured thumbprints, or else the chain's root.
	n, from := len(c.OIDC.Thumbprints)+len(c.OIDC.ExtraThumbprints), "oidc.thumbprints and oidc.extraThumbprints"
	if len(c.OIDC.Thumbprints) == 0 {
		n, from = n+1, "the issuer chain's root and oidc.extraThumbprints"
	}
	if n > maxThumbprints {
		v.add("oidc", strconv.Itoa(n), "%d thumbprints (%s); an IAM OIDC provider holds at most %d", n, from, maxThumbprints)
	}
}

func (c *Config) validateRoles(v *validator) {
	seenSA := map[string]string{k8s.KubeSystemNamespace + "/" + k8s.AWSNodeName: "the built-in aws-node role"}
	// IAM role names are unique case-insensitively: "you cannot create roles named both
	// "PRODROLE" and "prodrole"" (API_CreateRole.html).
	seenRole := map[string]string{}
	for _, r := range append(c.derivedRoleNames(), c.AWSNodeRoleName()) {
		seenRole[strings.ToLower(r)] = "the stack's own role " + r
	}
	partition := Partition(c.Region)
	for i, r := range c.ServiceAccountRoles {
		key := fmt.Sprintf("serviceAccountRoles[%d]", i)
		// The IRSA subject names both; Kubernetes' own rules for their names.
		if msgs := validation.IsDNS1123Label(r.Namespace); len(msgs) > 0 {
			v.add(key+".namespace", r.Namespace, "want a Kubernetes namespace name: %s", strings.Join(msgs, "; "))
		}
		if msgs := validation.IsDNS1123Subdomain(r.ServiceAccount); len(msgs) > 0 {
			v.add(key+".serviceAccount", r.ServiceAccount, "want a Kubernetes service account name: %s", strings.Join(msgs, "; "))
		}
		sa := r.Namespace + "/" + r.ServiceAccount
		if prev, dup := seenSA[sa]; dup {
			v.add(key, sa, "service account already has a role (%s); one role per account", prev)
		}
		seenSA[sa] = key
		role := c.RoleName(r)
		checkRoleName(v, key+".roleName", role, "set roleName to a shorter name")
		if prev, dup := seenRole[strings.ToLower(role)]; dup {
			v.add(key+".roleName", role, "IAM role name already used by %s (IAM ignores case in role names); set a distinct roleName", prev)
		}
		seenRole[strings.ToLower(role)] = key
		if r.Identity != "" && !slices.Contains(identities, r.Identity) {
			v.add(key+".identity", string(r.Identity), `want "irsa" (OIDC trust and the role annotation, the default), "podIdentity" (EKS Pod Identity), "both" (the two at once, while moving from one to the other) or "bothUnannotated" (both trusts and the association, no annotation: the migration's middle state)`)
		}
		// Any account mode goes with any identity, so that a move irsa -> both -> podIdentity
		// changes the identity word alone: with podIdentity the stack writes no annotation
		// ("annotate": the patch goes and takes only the annotation with it) and keeps an
		// account it created ("create": the account stays, without the annotation).
		if n := c.trustPolicySize(r); n > c.IAM.TrustPolicyMaxChars {
			v.add(key, sa, "identity %s: the trust policy of role %s would be %d characters (whitespace not counted), over the %d IAM allows (iam.trustPolicyMaxChars: the \"Role trust policy length\" quota, %d by default); raise the quota and the key, or shorten the names in it", r.identity(), role, n, c.IAM.TrustPolicyMaxChars, defaultTrustPolicyChars)
		}
		if len(r.ManagedPolicyARNs) == 0 && len(r.InlinePolicy) == 0 {
			v.add(key, sa, "a role with no policy grants nothing; give managedPolicyArns or an inlinePolicy")
		}
		switch n := len(r.ManagedPolicyARNs); {
		case n > maxManagedPoliciesPerRole:
			v.add(key+".managedPolicyArns", strconv.Itoa(n), "IAM attaches at most %d managed policies to a role (%d without a quota increase)", maxManagedPoliciesPerRole, defaultManagedPoliciesPerRole)
		case n > defaultManagedPoliciesPerRole:
			v.warn(key+".managedPolicyArns", strconv.Itoa(n), "more than %d managed policies needs the IAM quota \"Managed policies per role\" raised", defaultManagedPoliciesPerRole)
		}
		seenARN := map[string]int{}
		for j, arn := range r.ManagedPolicyARNs {
			akey := fmt.Sprintf("%s.managedPolicyArns[%d]", key, j)
			m := policyARNRE.FindStringSubmatch(arn)
			switch {
			case m == nil:
				v.add(akey, arn, "want an IAM policy ARN such as arn:%s:iam::aws:policy/AmazonS3ReadOnlyAccess", partition)
			case m[1] != partition:
				v.add(akey, arn, "partition %s, but region %s is in partition %s", m[1], c.Region, partition)
			}
			if prev, dup := seenARN[arn]; dup {
				v.add(akey, arn, "listed twice (also managedPolicyArns[%d])", prev)
			}
			seenARN[arn] = j
		}
		if len(r.InlinePolicy) > 0 {
			for _, p := range checkPolicyDocument(r.InlinePolicy, partition) {
				at := key + ".inlinePolicy"
				if p.at != "" {
					at += "." + p.at
				}
				if p.warn {
					v.warn(at, p.value, "%s", p.want)
				} else {
					v.add(at, p.value, "%s", p.want)
				}
			}
			if n := inlinePolicySize(r.InlinePolicy); n > maxInlinePolicyChars {
				v.add(key+".inlinePolicy", fmt.Sprintf("%d characters", n), "IAM limits a role's inline policies to %d characters (whitespace not counted); split it into a managed policy", maxInlinePolicyChars)
			}
		}
		switch r.Account {
		case "", k8s.NoServiceAccount, k8s.AnnotateServiceAccount, k8s.CreateServiceAccount:
		default:
			v.add(key+".account", string(r.Account), `want "none" (role only), "annotate" (patch an existing account) or "create"`)
		}
		if r.Account == k8s.CreateServiceAccount && k8s.IsEKSOwnedAccount(r.Namespace, r.ServiceAccount) {
			v.add(key+".account", string(r.Account), "EKS creates %s in every cluster, and destroy would delete it; use \"annotate\"", sa)
		}
		if r.CreateNamespace {
			if r.Account != k8s.CreateServiceAccount {
				v.add(key+".createNamespace", "true", `only with account: "create"`)
			}
			if k8s.IsClusterNamespace(r.Namespace) {
				v.add(key+".createNamespace", "true", "namespace %q exists in every cluster, and destroy would delete it; leave createNamespace false", r.Namespace)
			}
		}
		if r.ServiceAccount == LoadBalancerControllerAccount {
			v.warn(key, sa, "nodes keep IMDS at hop limit 1, so pods cannot read the VPC ID and region from instance metadata: run the AWS Load Balancer Controller with --aws-vpc-id=<the vpcId output> --aws-region=%s (Helm values vpcId and region)", c.Region)
		}
	}
}

// LoadBalancerControllerAccount is the AWS Load Balancer Controller chart's default account.
const LoadBalancerControllerAccount = "aws-load-balancer-controller"

func compactJSON(raw json.RawMessage) string {
	var b bytes.Buffer
	if err := json.Compact(&b, raw); err != nil {
		return string(raw)
	}
	return b.String()
}

// shorten keeps a long value readable in a one-line problem.
func shorten(s string) string {
	const max = 120
	if utf8.RuneCountInString(s) <= max {
		return s
	}
	return string([]rune(s)[:max]) + "…"
}

func (c *Config) validateAWSAuth(v *validator) {
	partition := Partition(c.Region)
	seen := map[string]string{} // aws-iam-authenticator's key for a mapping -> config key
	for _, group := range []struct {
		key, kind string
		m         []AWSAuthMapping
		mapped    func(string) (string, error)
	}{{"awsAuth.roles", "role", c.AWSAuth.Roles, k8s.MappedRoleARN}, {"awsAuth.users", "user", c.AWSAuth.Users, k8s.MappedUserARN}} {
		for i, m := range group.m {
			key := fmt.Sprintf("%s[%d]", group.key, i)
			arn, err := group.mapped(m.ARN)
			switch {
			case err != nil || !iamAccountARNRE.MatchString(m.ARN):
				v.add(key+".arn", m.ARN, "want an IAM %s ARN such as arn:%s:iam::123456789012:%s/admin", group.kind, partition, group.kind)
			case !strings.HasPrefix(m.ARN, "arn:"+partition+":"):
				v.add(key+".arn", m.ARN, "not in partition %s (region %s): no caller of this cluster can have it", partition, c.Region)
			default:
				// The authenticator keys mappings by lower-cased ARN and keeps one of two.
				if prev, dup := seen[k8s.MappingKey(arn)]; dup {
					v.add(key+".arn", m.ARN, "already mapped by %s; aws-auth would keep only one of them", prev)
				}
				seen[k8s.MappingKey(arn)] = key + ".arn"
			}
			if strings.TrimSpace(m.Username) == "" {
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

// Top-level and statement keys IAM accepts in an identity policy (reference_policies_grammar.html);
// an unknown key, or a Principal, is a MalformedPolicyDocument from PutRolePolicy.
var (
	policyKeys    = []string{"Version", "Id", "Statement"}
	statementKeys = []string{"Sid", "Effect", "Action", "NotAction", "Resource", "NotResource", "Condition"}
)

// policyProblem is one thing PutRolePolicy would refuse: where in the document (appended to
// the config key), the value there, and what is accepted; or, with warn, something IAM
// accepts that does not do what it seems to.
type policyProblem struct {
	at, value, want string
	warn            bool
}

func rawString(raw json.RawMessage) string {
	if raw == nil {
		return ""
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	return shorten(compactJSON(raw))
}

// checkPolicyDocument returns what PutRolePolicy would refuse in an identity policy (and
// resources that could never match in the stack's partition), every problem found.
func checkPolicyDocument(raw json.RawMessage, partition string) []policyProblem {
	var doc map[string]json.RawMessage
	if err := json.Unmarshal(raw, &doc); err != nil {
		return []policyProblem{{"", shorten(compactJSON(raw)), fmt.Sprintf("want an IAM policy document, a JSON object (%v)", err), false}}
	}
	var out []policyProblem
	for _, k := range slices.Sorted(maps.Keys(doc)) {
		if !slices.Contains(policyKeys, k) {
			out = append(out, policyProblem{k, rawString(doc[k]), "IAM knows no such element (want " + strings.Join(policyKeys, ", ") + ")", false})
		}
	}
	// IAM takes both policy language versions, and none means 2008-10-17, under which
	// ${...} is plain text ("IAM JSON policy elements: Version").
	var version string
	if doc["Version"] != nil && json.Unmarshal(doc["Version"], &version) != nil {
		version = rawString(doc["Version"])
	}
	switch version {
	case "2012-10-17":
	case "", "2008-10-17":
		out = append(out, policyProblem{at: "Version", value: version, warn: true,
			want: `IAM takes it as "2008-10-17", under which policy variables such as ${aws:username} are not replaced; write "2012-10-17"`})
	default:
		out = append(out, policyProblem{at: "Version", value: version, want: `want "2012-10-17" (or "2008-10-17")`})
	}
	var stmts []map[string]json.RawMessage
	if err := json.Unmarshal(doc["Statement"], &stmts); err != nil {
		var one map[string]json.RawMessage
		if err := json.Unmarshal(doc["Statement"], &one); err != nil {
			return append(out, policyProblem{"Statement", rawString(doc["Statement"]), "want a statement or a list of them", false})
		}
		stmts = append(stmts, one)
	}
	if len(stmts) == 0 {
		out = append(out, policyProblem{"Statement", "[]", "want at least one statement", false})
	}
	for i, s := range stmts {
		at := fmt.Sprintf("Statement[%d]", i)
		for _, k := range slices.Sorted(maps.Keys(s)) {
			switch {
			case k == "Principal" || k == "NotPrincipal":
				out = append(out, policyProblem{at + "." + k, rawString(s[k]), "an identity policy names no principal: the role is the principal", false})
			case !slices.Contains(statementKeys, k):
				out = append(out, policyProblem{at + "." + k, rawString(s[k]), "IAM knows no such element (want " + strings.Join(statementKeys, ", ") + ")", false})
			}
		}
		var sid string
		if s["Sid"] != nil && (json.Unmarshal(s["Sid"], &sid) != nil || !sidRE.MatchString(sid)) {
			out = append(out, policyProblem{at + ".Sid", rawString(s["Sid"]), "want letters and digits only", false})
		}
		var effect string
		if err := json.Unmarshal(s["Effect"], &effect); err != nil || (effect != "Allow" && effect != "Deny") {
			out = append(out, policyProblem{at + ".Effect", rawString(s["Effect"]), `want "Allow" or "Deny"`, false})
		}
		out = append(out, checkOneOf(at, s, "Action", "NotAction", func(a string) string {
			if !actionRE.MatchString(a) {
				return "want service:Action (wildcards allowed) or *"
			}
			return ""
		})...)
		out = append(out, checkOneOf(at, s, "Resource", "NotResource", func(r string) string { return checkResource(r, partition) })...)
		out = append(out, resourceWarnings(at, s, partition)...)
		if c := s["Condition"]; c != nil {
			var cond map[string]map[string]json.RawMessage
			if err := json.Unmarshal(c, &cond); err != nil {
				out = append(out, policyProblem{at + ".Condition", rawString(c), "want {operator: {key: value or [values]}}", false})
			}
		}
	}
	return out
}

// stringOrStrings reads a policy element that is a string or a list of strings.
func stringOrStrings(raw json.RawMessage) ([]string, error) {
	if raw == nil {
		return nil, nil
	}
	var list []string
	if err := json.Unmarshal(raw, &list); err != nil {
		var one string
		if err := json.Unmarshal(raw, &one); err != nil {
			return nil, err
		}
		list = []string{one}
	}
	return list, nil
}

// checkOneOf checks that a statement has exactly one of a pair (Action/NotAction), a string
// or a non-empty list of strings each passing check (which says what is wrong, or "").
func checkOneOf(at string, s map[string]json.RawMessage, a, notA string, check func(string) string) []policyProblem {
	switch {
	case s[a] == nil && s[notA] == nil:
		return []policyProblem{{at, "", fmt.Sprintf("the statement needs %s or %s", a, notA), false}}
	case s[a] != nil && s[notA] != nil:
		return []policyProblem{{at + "." + notA, rawString(s[notA]), fmt.Sprintf("a statement has %s or %s, not both", a, notA), false}}
	}
	name, raw := a, s[a]
	if raw == nil {
		name, raw = notA, s[notA]
	}
	list, err := stringOrStrings(raw)
	if err != nil {
		return []policyProblem{{at: at + "." + name, value: rawString(raw), want: "want a string or a list of strings"}}
	}
	if len(list) == 0 {
		return []policyProblem{{at + "." + name, "[]", "want at least one", false}}
	}
	var out []policyProblem
	for _, v := range list {
		if want := check(v); want != "" {
			out = append(out, policyProblem{at + "." + name, v, want, false})
		}
	}
	return out
}

// checkResource accepts "*" or an ARN (arn:partition:service:region:account:resource), with
// wildcards in any segment but the service (reference_policies_elements_resource.html). IAM
// has no ${partition} variable: write the partition, or * for any.
func checkResource(r, partition string) string {
	if r == "*" {
		return ""
	}
	parts := strings.SplitN(r, ":", 6)
	switch {
	case len(parts) < 6 || parts[0] != "arn":
		return "want an ARN (arn:partition:service:region:account:resource) or *"
	case strings.Contains(parts[1], "${"):
		return fmt.Sprintf("IAM has no partition variable; write %q, or * as upstream policies do", partition)
	case strings.ContainsAny(parts[2], "*?"):
		return "IAM allows no wildcard in an ARN's service"
	}
	return ""
}

// resourceWarnings: IAM stores an ARN of another partition (PutRolePolicy accepts it), but it
// never matches a resource of the stack's partition, so the statement grants nothing there.
func resourceWarnings(at string, s map[string]json.RawMessage, partition string) []policyProblem {
	var out []policyProblem
	for _, name := range []string{"Resource", "NotResource"} {
		list, err := stringOrStrings(s[name])
		if err != nil {
			continue // checkOneOf reports it
		}
		for _, r := range list {
			parts := strings.SplitN(r, ":", 6)
			if len(parts) == 6 && parts[0] == "arn" && !strings.ContainsAny(parts[1], "*?$") && parts[1] != partition {
				out = append(out, policyProblem{at: at + "." + name, value: r, warn: true,
					want: fmt.Sprintf("partition %s never matches in region partition %s, so this grants nothing; write %q or *", parts[1], partition, partition)})
			}
		}
	}
	return out
}

// inlinePolicySize is what IAM counts against a role's inline-policy quota: the characters of
// the document without its whitespace.
func inlinePolicySize(raw json.RawMessage) int {
	n := 0
	for _, r := range compactJSON(raw) {
		if r != ' ' && r != '\t' && r != '\n' && r != '\r' {
			n++
		}
	}
	return n
}
