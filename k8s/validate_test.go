package k8s

import "testing"

// The config-facing rules package stack applies before registering anything.
func TestConfigRulesExported(t *testing.T) {
	for _, tc := range []struct {
		ns, name string
		eks      bool
	}{
		{KubeSystemNamespace, AWSNodeName, true},
		{KubeSystemNamespace, "coredns", true},
		{KubeSystemNamespace, "kube-proxy", true},
		{KubeSystemNamespace, "cluster-autoscaler", false},
		{"default", "coredns", false},
	} {
		if got := IsEKSOwnedAccount(tc.ns, tc.name); got != tc.eks {
			t.Errorf("IsEKSOwnedAccount(%s, %s) = %v", tc.ns, tc.name, got)
		}
	}
	for ns, want := range map[string]bool{"default": true, "kube-system": true, "kube-public": true, "kube-node-lease": true, "apps": false} {
		if got := IsClusterNamespace(ns); got != want {
			t.Errorf("IsClusterNamespace(%s) = %v", ns, got)
		}
	}
	// A role's path is stripped and case folded: these two are one mapping to the authenticator.
	a, errA := MappedRoleARN("arn:aws:iam::123456789012:role/Admin")
	b, errB := MappedRoleARN("arn:aws:iam::123456789012:role/team/admin")
	if errA != nil || errB != nil || MappingKey(a) != MappingKey(b) {
		t.Errorf("keys %q (%v), %q (%v): want one", MappingKey(a), errA, MappingKey(b), errB)
	}
	if _, err := MappedUserARN("arn:aws:iam::123456789012:role/admin"); err == nil {
		t.Error("a role ARN passed as a user")
	}
}
