package awsemu

import (
	"context"
	"errors"
	"fmt"
	"hash/crc32"
	"slices"
	gostrings "strings"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
)

func init() {
	register(&Kind{
		Token:    "aws:ec2/securityGroup:SecurityGroup",
		Schema:   securityGroupSchema,
		AutoName: true,
		Create:   createSecurityGroup,
		Read:     readSecurityGroup,
		Update:   updateSecurityGroup,
		Delete:   deleteSecurityGroup,
	})
	register(&Kind{
		Token:  "aws:ec2/securityGroupRule:SecurityGroupRule",
		Schema: securityGroupRuleSchema,
		// pulumi-aws provider/resources.go aws_security_group_rule: DeleteBeforeReplace (the
		// same rule cannot exist twice in a group).
		DeleteBeforeReplace: true,
		Create:              createSecurityGroupRule,
		Read:                readSecurityGroupRule,
		Update:              updateSecurityGroupRule,
		Delete:              deleteSecurityGroupRule,
	})
}

// protocol normalizes as the real provider does: "all" and "-1" are both "-1".
func protocol(p string) string {
	if gostrings.EqualFold(p, "all") {
		return "-1"
	}
	return gostrings.ToLower(p)
}

// permission is an ingress/egress block (SecurityGroupIngress/Egress, or a rule) as AWS's
// IpPermission; self is the group's own id.
func permission(m resource.PropertyMap, self string) ec2types.IpPermission {
	from, _ := getInt(m, "fromPort")
	to, _ := getInt(m, "toPort")
	p := ec2types.IpPermission{IpProtocol: aws.String(protocol(getStr(m, "protocol"))), FromPort: aws.Int32(int32(from)), ToPort: aws.Int32(int32(to))}
	desc := getStrPtr(m, "description")
	for _, cidr := range getStrs(m, "cidrBlocks") {
		p.IpRanges = append(p.IpRanges, ec2types.IpRange{CidrIp: aws.String(cidr), Description: desc})
	}
	for _, cidr := range getStrs(m, "ipv6CidrBlocks") {
		p.Ipv6Ranges = append(p.Ipv6Ranges, ec2types.Ipv6Range{CidrIpv6: aws.String(cidr), Description: desc})
	}
	for _, pl := range getStrs(m, "prefixListIds") {
		p.PrefixListIds = append(p.PrefixListIds, ec2types.PrefixListId{PrefixListId: aws.String(pl), Description: desc})
	}
	groups := getStrs(m, "securityGroups")
	if s := getStr(m, "sourceSecurityGroupId"); s != "" {
		groups = append(groups, s)
	}
	if on, _ := getBool(m, "self"); on {
		groups = append(groups, self)
	}
	for _, g := range groups {
		p.UserIdGroupPairs = append(p.UserIdGroupPairs, ec2types.UserIdGroupPair{GroupId: aws.String(g), Description: desc})
	}
	return p
}

// allEgress is the rule AWS puts in every new VPC group; the real provider revokes it so the
// group's egress is exactly what the program says.
var allEgress = ec2types.IpPermission{IpProtocol: aws.String("-1"), IpRanges: []ec2types.IpRange{{CidrIp: aws.String("0.0.0.0/0")}}}

func createSecurityGroup(ctx context.Context, c *Clients, news resource.PropertyMap) (string, resource.PropertyMap, error) {
	name := getStr(news, "name")
	if name == "" {
		if prefix := getStr(news, "namePrefix"); prefix != "" {
			n, err := resource.NewUniqueName(nil, prefix, 26, 255, []rune("0123456789"))
			if err != nil {
				return "", nil, err
			}
			name = n
		}
	}
	if name == "" {
		return "", nil, errors.New("no name: Check names every group")
	}
	out, err := c.EC2.CreateSecurityGroup(ctx, &ec2.CreateSecurityGroupInput{
		GroupName:         aws.String(name),
		Description:       getStrPtr(news, "description"),
		VpcId:             getStrPtr(news, "vpcId"),
		TagSpecifications: tagSpecs(ec2types.ResourceTypeSecurityGroup, getStrMap(news, "tags")),
	})
	if err != nil {
		return "", nil, err
	}
	id := aws.ToString(out.GroupId)
	if getStr(news, "vpcId") != "" {
		if _, err := c.EC2.RevokeSecurityGroupEgress(ctx, &ec2.RevokeSecurityGroupEgressInput{
			GroupId: aws.String(id), IpPermissions: []ec2types.IpPermission{allEgress},
		}); err != nil && !isCode(err, "InvalidPermission.NotFound") {
			return id, nil, fmt.Errorf("revoking the default egress of %s: %w", id, err)
		}
	}
	if err := setGroupRules(ctx, c, id, resource.PropertyMap{}, news); err != nil {
		return id, nil, err
	}
	outs, err := readSecurityGroup(ctx, c, id, news)
	return id, outs, err
}

// setGroupRules makes the inline ingress and egress rules the program's: old blocks revoked,
// new ones authorized. An absent ingress/egress input leaves the rules alone (they are
// Optional+Computed in the real provider, so SecurityGroupRule resources can own them).
func setGroupRules(ctx context.Context, c *Clients, id string, olds, news resource.PropertyMap) error {
	for _, dir := range []string{"ingress", "egress"} {
		if _, ok := news[resource.PropertyKey(dir)]; !ok {
			continue
		}
		if olds[resource.PropertyKey(dir)].DeepEquals(news[resource.PropertyKey(dir)]) {
			continue
		}
		var revoke, grant []ec2types.IpPermission
		for _, b := range getObjs(olds, dir) {
			revoke = append(revoke, permission(b, id))
		}
		for _, b := range getObjs(news, dir) {
			grant = append(grant, permission(b, id))
		}
		if err := changeRules(ctx, c, id, dir, revoke, false); err != nil {
			return err
		}
		if err := changeRules(ctx, c, id, dir, grant, true); err != nil {
			return err
		}
	}
	return nil
}

func changeRules(ctx context.Context, c *Clients, id, dir string, perms []ec2types.IpPermission, grant bool) error {
	if len(perms) == 0 {
		return nil
	}
	if !grant {
		live, err := liveRules(ctx, c, id, dir, perms)
		if err == ErrNotFound {
			return nil
		}
		if err != nil {
			return err
		}
		if perms = live; len(perms) == 0 {
			return nil
		}
	}
	var err error
	switch {
	case dir == "ingress" && grant:
		_, err = c.EC2.AuthorizeSecurityGroupIngress(ctx, &ec2.AuthorizeSecurityGroupIngressInput{GroupId: aws.String(id), IpPermissions: perms})
	case dir == "ingress":
		_, err = c.EC2.RevokeSecurityGroupIngress(ctx, &ec2.RevokeSecurityGroupIngressInput{GroupId: aws.String(id), IpPermissions: perms})
	case grant:
		_, err = c.EC2.AuthorizeSecurityGroupEgress(ctx, &ec2.AuthorizeSecurityGroupEgressInput{GroupId: aws.String(id), IpPermissions: perms})
	default:
		_, err = c.EC2.RevokeSecurityGroupEgress(ctx, &ec2.RevokeSecurityGroupEgressInput{GroupId: aws.String(id), IpPermissions: perms})
	}
	if err != nil {
		verb := "revoking"
		if grant {
			verb = "authorizing"
		}
		return fmt.Errorf("%s %s rules of %s: %w", verb, dir, id, err)
	}
	return nil
}

func describeSecurityGroup(ctx context.Context, c *Clients, id string) (*ec2types.SecurityGroup, error) {
	out, err := c.EC2.DescribeSecurityGroups(ctx, &ec2.DescribeSecurityGroupsInput{GroupIds: []string{id}})
	if isCode(err, "InvalidGroup.NotFound", "InvalidGroupId.NotFound") || (err == nil && len(out.SecurityGroups) == 0) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	return &out.SecurityGroups[0], nil
}

// ruleBlocks flattens AWS's permissions into the real provider's ingress/egress blocks: one
// block per permission, every field present.
func ruleBlocks(perms []ec2types.IpPermission, self string) []map[string]any {
	blocks := []map[string]any{}
	for _, p := range perms {
		b := map[string]any{
			"protocol": aws.ToString(p.IpProtocol), "fromPort": int(aws.ToInt32(p.FromPort)), "toPort": int(aws.ToInt32(p.ToPort)),
			"cidrBlocks": []string{}, "ipv6CidrBlocks": []string{}, "prefixListIds": []string{}, "securityGroups": []string{},
			"self": false, "description": "",
		}
		var cidrs, v6, pls, groups []string
		desc := ""
		for _, r := range p.IpRanges {
			cidrs, desc = append(cidrs, aws.ToString(r.CidrIp)), max(desc, aws.ToString(r.Description))
		}
		for _, r := range p.Ipv6Ranges {
			v6, desc = append(v6, aws.ToString(r.CidrIpv6)), max(desc, aws.ToString(r.Description))
		}
		for _, r := range p.PrefixListIds {
			pls, desc = append(pls, aws.ToString(r.PrefixListId)), max(desc, aws.ToString(r.Description))
		}
		for _, g := range p.UserIdGroupPairs {
			desc = max(desc, aws.ToString(g.Description))
			if aws.ToString(g.GroupId) == self {
				b["self"] = true
				continue
			}
			groups = append(groups, aws.ToString(g.GroupId))
		}
		for k, l := range map[string][]string{"cidrBlocks": cidrs, "ipv6CidrBlocks": v6, "prefixListIds": pls, "securityGroups": groups} {
			if l != nil {
				slices.Sort(l)
				b[k] = l
			}
		}
		b["description"] = desc
		blocks = append(blocks, b)
	}
	return blocks
}

func readSecurityGroup(ctx context.Context, c *Clients, id string, _ resource.PropertyMap) (resource.PropertyMap, error) {
	sg, err := describeSecurityGroup(ctx, c, id)
	if err != nil {
		return nil, err
	}
	outs := outMap(map[string]any{
		"arn":         ec2ARN(c, "security-group", id),
		"name":        aws.ToString(sg.GroupName),
		"description": aws.ToString(sg.Description),
		"vpcId":       aws.ToString(sg.VpcId),
		"ownerId":     aws.ToString(sg.OwnerId),
		"ingress":     ruleBlocks(sg.IpPermissions, id),
		"egress":      ruleBlocks(sg.IpPermissionsEgress, id),
	})
	tagsOutputs(outs, fromEC2Tags(sg.Tags))
	return outs, nil
}

func updateSecurityGroup(ctx context.Context, c *Clients, id string, olds, news resource.PropertyMap) (resource.PropertyMap, error) {
	if err := setGroupRules(ctx, c, id, olds, news); err != nil {
		return nil, err
	}
	if err := updateEC2Tags(ctx, c, id, getStrMap(olds, "tags"), getStrMap(news, "tags")); err != nil {
		return nil, err
	}
	return readSecurityGroup(ctx, c, id, news)
}

// deleteSecurityGroup fails on DependencyViolation (another group's rule or an ENI still
// uses it) instead of retrying: the engine's order must have removed those first.
func deleteSecurityGroup(ctx context.Context, c *Clients, id string, olds resource.PropertyMap) error {
	if revoke, _ := getBool(olds, "revokeRulesOnDelete"); revoke {
		sg, err := describeSecurityGroup(ctx, c, id)
		if err == ErrNotFound {
			return nil
		}
		if err != nil {
			return err
		}
		if err := changeRules(ctx, c, id, "ingress", sg.IpPermissions, false); err != nil {
			return err
		}
		if err := changeRules(ctx, c, id, "egress", sg.IpPermissionsEgress, false); err != nil {
			return err
		}
	}
	_, err := c.EC2.DeleteSecurityGroup(ctx, &ec2.DeleteSecurityGroupInput{GroupId: aws.String(id)})
	if isCode(err, "InvalidGroup.NotFound", "InvalidGroupId.NotFound") {
		return nil
	}
	return err
}

// ruleID is the real provider's rule id: "sgrule-" + a hash of the group, the direction and
// the permission (terraform-provider-aws internal/service/ec2/vpc_security_group_rule.go,
// SecurityGroupRuleCreateID).
func ruleID(m resource.PropertyMap) string {
	var b gostrings.Builder
	from, _ := getInt(m, "fromPort")
	to, _ := getInt(m, "toPort")
	fmt.Fprintf(&b, "%s-%s-%d-%d-%s-", getStr(m, "securityGroupId"), getStr(m, "type"), from, to, protocol(getStr(m, "protocol")))
	for _, k := range []string{"cidrBlocks", "ipv6CidrBlocks", "prefixListIds"} {
		l := getStrs(m, k)
		slices.Sort(l)
		fmt.Fprintf(&b, "%s-", gostrings.Join(l, ","))
	}
	if self, _ := getBool(m, "self"); self {
		b.WriteString(getStr(m, "securityGroupId"))
	}
	b.WriteString(getStr(m, "sourceSecurityGroupId"))
	return fmt.Sprintf("sgrule-%d", crc32.ChecksumIEEE([]byte(b.String())))
}

func ruleDirection(m resource.PropertyMap) (string, error) {
	switch t := getStr(m, "type"); t {
	case "ingress", "egress":
		return t, nil
	default:
		return "", fmt.Errorf("type %q: want ingress or egress", t)
	}
}

// ruleLocks serializes the rule changes of one group, as terraform-provider-aws does
// (internal/service/ec2/vpc_security_group_rule.go: resourceSecurityGroupRuleCreate, Update and
// Delete each hold conns.GlobalMutexKV.Lock(securityGroupID), process-wide): the engine runs up
// to 8 steps at once, and a delete reads the group's live rules before it revokes them.
var ruleLocks sync.Map // group id -> *sync.Mutex

func lockRules(group string) (unlock func()) {
	m, _ := ruleLocks.LoadOrStore(group, new(sync.Mutex))
	mu := m.(*sync.Mutex)
	mu.Lock()
	return mu.Unlock
}

func createSecurityGroupRule(ctx context.Context, c *Clients, news resource.PropertyMap) (string, resource.PropertyMap, error) {
	dir, err := ruleDirection(news)
	if err != nil {
		return "", nil, err
	}
	group := getStr(news, "securityGroupId")
	defer lockRules(group)()
	perm := permission(news, group)
	if len(perm.IpRanges)+len(perm.Ipv6Ranges)+len(perm.PrefixListIds)+len(perm.UserIdGroupPairs) == 0 {
		return "", nil, errors.New(`one of "cidrBlocks", "ipv6CidrBlocks", "prefixListIds", "self" or "sourceSecurityGroupId" must be set`)
	}
	var ruleIDs []string
	if dir == "ingress" {
		out, err := c.EC2.AuthorizeSecurityGroupIngress(ctx, &ec2.AuthorizeSecurityGroupIngressInput{GroupId: aws.String(group), IpPermissions: []ec2types.IpPermission{perm}})
		if err != nil {
			return "", nil, err
		}
		for _, r := range out.SecurityGroupRules {
			ruleIDs = append(ruleIDs, aws.ToString(r.SecurityGroupRuleId))
		}
	} else {
		out, err := c.EC2.AuthorizeSecurityGroupEgress(ctx, &ec2.AuthorizeSecurityGroupEgressInput{GroupId: aws.String(group), IpPermissions: []ec2types.IpPermission{perm}})
		if err != nil {
			return "", nil, err
		}
		for _, r := range out.SecurityGroupRules {
			ruleIDs = append(ruleIDs, aws.ToString(r.SecurityGroupRuleId))
		}
	}
	id := ruleID(news)
	outs, err := readSecurityGroupRule(ctx, c, id, news)
	if err != nil {
		return id, nil, err
	}
	if len(ruleIDs) == 1 {
		outs["securityGroupRuleId"] = resource.NewStringProperty(ruleIDs[0])
	}
	return id, outs, nil
}

// readSecurityGroupRule finds the rule's permission in its group: gone when the group no
// longer grants it.
func readSecurityGroupRule(ctx context.Context, c *Clients, _ string, olds resource.PropertyMap) (resource.PropertyMap, error) {
	dir, err := ruleDirection(olds)
	if err != nil {
		return nil, err
	}
	group := getStr(olds, "securityGroupId")
	sg, err := describeSecurityGroup(ctx, c, group)
	if err != nil {
		return nil, err
	}
	perms := sg.IpPermissions
	if dir == "egress" {
		perms = sg.IpPermissionsEgress
	}
	want := permission(olds, group)
	for _, p := range perms {
		if !samePorts(p, want) || !covers(p, want) {
			continue
		}
		outs := outMap(map[string]any{
			"type": dir, "securityGroupId": group, "protocol": protocol(getStr(olds, "protocol")),
			"cidrBlocks": orEmpty(getStrs(olds, "cidrBlocks")), "ipv6CidrBlocks": orEmpty(getStrs(olds, "ipv6CidrBlocks")),
			"prefixListIds": orEmpty(getStrs(olds, "prefixListIds")),
		})
		if v := olds["securityGroupRuleId"]; v.IsString() {
			outs["securityGroupRuleId"] = v
		}
		return outs, nil
	}
	return nil, ErrNotFound
}

func orEmpty(l []string) []string {
	if l == nil {
		return []string{}
	}
	return l
}

func samePorts(a, b ec2types.IpPermission) bool {
	if protocol(aws.ToString(a.IpProtocol)) != protocol(aws.ToString(b.IpProtocol)) {
		return false
	}
	if aws.ToString(a.IpProtocol) == "-1" {
		return true
	}
	return aws.ToInt32(a.FromPort) == aws.ToInt32(b.FromPort) && aws.ToInt32(a.ToPort) == aws.ToInt32(b.ToPort)
}

// covers: every source of want is in have.
func covers(have, want ec2types.IpPermission) bool {
	for _, r := range want.IpRanges {
		if !slices.ContainsFunc(have.IpRanges, func(h ec2types.IpRange) bool { return aws.ToString(h.CidrIp) == aws.ToString(r.CidrIp) }) {
			return false
		}
	}
	for _, r := range want.Ipv6Ranges {
		if !slices.ContainsFunc(have.Ipv6Ranges, func(h ec2types.Ipv6Range) bool { return aws.ToString(h.CidrIpv6) == aws.ToString(r.CidrIpv6) }) {
			return false
		}
	}
	for _, r := range want.PrefixListIds {
		if !slices.ContainsFunc(have.PrefixListIds, func(h ec2types.PrefixListId) bool {
			return aws.ToString(h.PrefixListId) == aws.ToString(r.PrefixListId)
		}) {
			return false
		}
	}
	for _, r := range want.UserIdGroupPairs {
		if !slices.ContainsFunc(have.UserIdGroupPairs, func(h ec2types.UserIdGroupPair) bool { return aws.ToString(h.GroupId) == aws.ToString(r.GroupId) }) {
			return false
		}
	}
	return true
}

// updateSecurityGroupRule changes the description, the only in-place change (the real
// provider calls UpdateSecurityGroupRuleDescriptions*).
func updateSecurityGroupRule(ctx context.Context, c *Clients, id string, _, news resource.PropertyMap) (resource.PropertyMap, error) {
	dir, err := ruleDirection(news)
	if err != nil {
		return nil, err
	}
	group := getStr(news, "securityGroupId")
	defer lockRules(group)()
	perm := permission(news, group)
	if dir == "ingress" {
		_, err = c.EC2.UpdateSecurityGroupRuleDescriptionsIngress(ctx, &ec2.UpdateSecurityGroupRuleDescriptionsIngressInput{
			GroupId: aws.String(group), IpPermissions: []ec2types.IpPermission{perm}})
	} else {
		_, err = c.EC2.UpdateSecurityGroupRuleDescriptionsEgress(ctx, &ec2.UpdateSecurityGroupRuleDescriptionsEgressInput{
			GroupId: aws.String(group), IpPermissions: []ec2types.IpPermission{perm}})
	}
	if err != nil {
		return nil, err
	}
	return readSecurityGroupRule(ctx, c, id, news)
}

func deleteSecurityGroupRule(ctx context.Context, c *Clients, _ string, olds resource.PropertyMap) error {
	dir, err := ruleDirection(olds)
	if err != nil {
		return err
	}
	group := getStr(olds, "securityGroupId")
	defer lockRules(group)()
	perm := permission(olds, group)
	// A rule whose group is gone, or that the group no longer grants, is already deleted; so
	// is one AWS says is not there (the real Delete returns on errCodeInvalidPermissionNotFound).
	err = changeRules(ctx, c, group, dir, []ec2types.IpPermission{perm}, false)
	if isCode(err, "InvalidPermission.NotFound") {
		return nil
	}
	return err
}

// liveRules are the entries of the group's rules that perms name, as AWS reports them
// (descriptions included): a revoke names exactly what exists, and what no longer exists is
// already revoked. moto, unlike AWS, matches descriptions when revoking.
func liveRules(ctx context.Context, c *Clients, id, dir string, perms []ec2types.IpPermission) ([]ec2types.IpPermission, error) {
	sg, err := describeSecurityGroup(ctx, c, id)
	if err != nil {
		return nil, err
	}
	have := sg.IpPermissions
	if dir == "egress" {
		have = sg.IpPermissionsEgress
	}
	var out []ec2types.IpPermission
	for _, want := range perms {
		for _, h := range have {
			if !samePorts(h, want) {
				continue
			}
			q := ec2types.IpPermission{IpProtocol: h.IpProtocol, FromPort: h.FromPort, ToPort: h.ToPort}
			for _, r := range h.IpRanges {
				if slices.ContainsFunc(want.IpRanges, func(w ec2types.IpRange) bool { return aws.ToString(w.CidrIp) == aws.ToString(r.CidrIp) }) {
					q.IpRanges = append(q.IpRanges, r)
				}
			}
			for _, r := range h.Ipv6Ranges {
				if slices.ContainsFunc(want.Ipv6Ranges, func(w ec2types.Ipv6Range) bool { return aws.ToString(w.CidrIpv6) == aws.ToString(r.CidrIpv6) }) {
					q.Ipv6Ranges = append(q.Ipv6Ranges, r)
				}
			}
			for _, r := range h.PrefixListIds {
				if slices.ContainsFunc(want.PrefixListIds, func(w ec2types.PrefixListId) bool {
					return aws.ToString(w.PrefixListId) == aws.ToString(r.PrefixListId)
				}) {
					q.PrefixListIds = append(q.PrefixListIds, r)
				}
			}
			for _, g := range h.UserIdGroupPairs {
				if slices.ContainsFunc(want.UserIdGroupPairs, func(w ec2types.UserIdGroupPair) bool { return aws.ToString(w.GroupId) == aws.ToString(g.GroupId) }) {
					q.UserIdGroupPairs = append(q.UserIdGroupPairs, ec2types.UserIdGroupPair{GroupId: g.GroupId, Description: g.Description})
				}
			}
			if len(q.IpRanges)+len(q.Ipv6Ranges)+len(q.PrefixListIds)+len(q.UserIdGroupPairs) > 0 {
				out = append(out, q)
			}
		}
	}
	return out, nil
}
