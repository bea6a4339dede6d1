package awsemu

import (
	"slices"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource/plugin"
)

// TestReplaceDecisionsFollowTheTable changes every property of every served type, nested
// ones included, and checks the plan replaces exactly when the cited schema table says
// (ForceNew on the property or a block holding it, or a type without update).
func TestReplaceDecisionsFollowTheTable(t *testing.T) {
	for _, token := range sortedKeys(kinds) {
		k := kinds[token]
		var walk func(s Schema, wrap func(v any) map[string]any, path string, forced bool)
		walk = func(s Schema, wrap func(v any) map[string]any, path string, forced bool) {
			for _, name := range sortedKeys(s) {
				p := s[name]
				at := joinPath(path, name)
				inner := func(v any) map[string]any { return wrap(map[string]any{name: v}) }
				if p.Kind == kBlock {
					walk(p.Elem, inner, at, forced || p.ForceNew)
					continue
				}
				before, after := sample(p, "a"), sample(p, "b")
				state, news := pm(wrap(map[string]any{name: before})), pm(wrap(map[string]any{name: after}))
				d := k.diff(state, news)
				want := forced || p.hasForceNew() || k.Update == nil
				replaced := len(d.ReplaceKeys) > 0
				if d.Changes != plugin.DiffSome || replaced != want {
					t.Errorf("%s %s changed: changes %v replace %v (%v), want replace %v", token, at, d.Changes, replaced, d.DetailedDiff, want)
				}
			}
		}
		walk(k.Schema, func(v any) map[string]any { return v.(map[string]any) }, "", false)
	}
}

// sample is a value of p's kind, distinct for each seed.
func sample(p Prop, seed string) any {
	switch p.Kind {
	case kSet, kList:
		return []any{seed}
	case kMap:
		return map[string]any{"k": seed}
	case kBlockList, kBlockSet:
		elem := map[string]any{}
		for _, name := range sortedKeys(p.Elem) {
			if e := p.Elem[name]; e.Kind != kBlock {
				elem[name] = sample(e, seed)
			}
		}
		return []any{elem}
	}
	return seed
}

// TestUpstreamReplaceRules are the cited rules the issue names, one by one.
func TestUpstreamReplaceRules(t *testing.T) {
	cluster := map[string]any{"name": "c", "roleArn": "r", "bootstrapSelfManagedAddons": true,
		"vpcConfig": map[string]any{"subnetIds": []any{"s1", "s2"}, "securityGroupIds": []any{"g1"},
			"endpointPrivateAccess": true, "endpointPublicAccess": true},
		"accessConfig": map[string]any{"authenticationMode": "API_AND_CONFIG_MAP", "bootstrapClusterCreatorAdminPermissions": true}}
	encrypted := map[string]any{"provider": map[string]any{"keyArn": "arn:aws:kms:us-west-2:1:key/k"}, "resources": []any{"secrets"}}
	with := func(base map[string]any, path []string, v any) resource.PropertyMap {
		m := pm(base).Mappable()
		at := m
		for _, p := range path[:len(path)-1] {
			at = at[p].(map[string]any)
		}
		if v == nil {
			delete(at, path[len(path)-1])
		} else {
			at[path[len(path)-1]] = v
		}
		return pm(m)
	}
	for _, tc := range []struct {
		name        string
		token       string
		state, news resource.PropertyMap
		replace     bool
		source      string
	}{
		{"cluster subnets", "aws:eks/cluster:Cluster", pm(cluster), with(cluster, []string{"vpcConfig", "subnetIds"}, []any{"s1", "s3"}), false,
			"eks/cluster.go vpc_config.subnet_ids: not ForceNew since v5.25.0"},
		{"cluster security groups", "aws:eks/cluster:Cluster", pm(cluster), with(cluster, []string{"vpcConfig", "securityGroupIds"}, []any{"g2"}), false,
			"eks/cluster.go vpc_config.security_group_ids: not ForceNew since v5.25.0"},
		{"encryption added", "aws:eks/cluster:Cluster", pm(cluster), with(cluster, []string{"encryptionConfig"}, encrypted), false,
			"eks/cluster.go: AssociateEncryptionConfig in place"},
		{"encryption removed", "aws:eks/cluster:Cluster", with(cluster, []string{"encryptionConfig"}, encrypted), pm(cluster), true,
			"eks/cluster.go CustomizeDiff ForceNewIfChange encryption_config 1 → 0"},
		{"bootstrap admin", "aws:eks/cluster:Cluster", pm(cluster), with(cluster, []string{"accessConfig", "bootstrapClusterCreatorAdminPermissions"}, false), true,
			"eks/cluster.go access_config.bootstrap_cluster_creator_admin_permissions: ForceNew"},
		{"authentication mode", "aws:eks/cluster:Cluster", pm(cluster), with(cluster, []string{"accessConfig", "authenticationMode"}, "API"), false,
			"eks/cluster.go access_config.authentication_mode: in place"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := kinds[tc.token].diff(tc.state, tc.news)
			if d.Changes != plugin.DiffSome || (len(d.ReplaceKeys) > 0) != tc.replace {
				t.Errorf("%s: changes %v replace keys %v (%v), want replace %v", tc.source, d.Changes, d.ReplaceKeys, d.DetailedDiff, tc.replace)
			}
		})
	}
	// The bridge's nameRequiresDeleteBeforeReplace: an explicitly named role that is replaced
	// (its path changed) is deleted first; an autonamed one is created first.
	role := kinds["aws:iam/role:Role"]
	named := pm(map[string]any{"name": "aws-node", "path": "/", "assumeRolePolicy": "{}", "__defaults": []any{}})
	moved := pm(map[string]any{"name": "aws-node", "path": "/eks/", "assumeRolePolicy": "{}", "__defaults": []any{}})
	if d := role.diff(named, moved); !d.DeleteBeforeReplace || !slices.Contains(d.ReplaceKeys, "path") {
		t.Errorf("explicitly named role replaced: %+v, want delete-before-replace", d)
	}
	moved["__defaults"] = resource.NewPropertyValue([]any{"name"})
	if d := role.diff(named, moved); d.DeleteBeforeReplace {
		t.Errorf("autonamed role replaced: %+v, want create-before-delete", d)
	}
	// The rule does not look at the old name (pulumi-aws sets no UniqueNameFields): a role
	// renamed under the same resource is deleted before the new name exists, though the two
	// names could coexist (the bridge's TestDeleteBeforeReplaceAutoname, step 4).
	renamed := pm(map[string]any{"name": "vpc-cni", "path": "/", "assumeRolePolicy": "{}", "__defaults": []any{}})
	if d := role.diff(named, renamed); !d.DeleteBeforeReplace || !slices.Contains(d.ReplaceKeys, "name") {
		t.Errorf("explicitly named role renamed: %+v, want delete-before-replace", d)
	}
	// Without a __defaults list the bridge takes the resource for autonamed.
	delete(renamed, "__defaults")
	if d := role.diff(named, renamed); d.DeleteBeforeReplace {
		t.Errorf("renamed role without __defaults: %+v, want create-before-delete", d)
	}
	// Types pulumi-aws marks DeleteBeforeReplace whatever their names (provider/resources.go).
	for token, tc := range map[string]struct{ state, news map[string]any }{
		"aws:iam/rolePolicyAttachment:RolePolicyAttachment": {
			map[string]any{"role": "aws-node", "policyArn": "arn:aws:iam::aws:policy/AmazonEKS_CNI_Policy"},
			map[string]any{"role": "vpc-cni", "policyArn": "arn:aws:iam::aws:policy/AmazonEKS_CNI_Policy"}},
		"aws:ec2/securityGroupRule:SecurityGroupRule": {
			map[string]any{"type": "ingress", "securityGroupId": "sg-1", "protocol": "tcp", "fromPort": 443, "toPort": 443, "cidrBlocks": []any{"10.0.0.0/16"}},
			map[string]any{"type": "ingress", "securityGroupId": "sg-1", "protocol": "tcp", "fromPort": 443, "toPort": 443, "cidrBlocks": []any{"10.1.0.0/16"}}},
	} {
		if d := kinds[token].diff(pm(tc.state), pm(tc.news)); len(d.ReplaceKeys) == 0 || !d.DeleteBeforeReplace {
			t.Errorf("%s replaced: %+v, want delete-before-replace", token, d)
		}
	}
}
