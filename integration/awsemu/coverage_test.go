package awsemu

import (
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/eks-irsa/eks-irsa/internal/recorder"
	"github.com/eks-irsa/eks-irsa/stack"
)

// TestSchemaCoversProgram runs the program under Pulumi's mocks, on the test stack's
// configuration and on one that turns on every option the stack files leave off, and requires
// every AWS resource type it registers to be served and every input property it sets, nested
// ones included, to have a row of the right kind in that type's schema table. A property with
// no row is diffed as an in-place scalar (diffObject), so a ForceNew the table misses would
// update in place where the real provider replaces: TestReplaceDecisionsFollowTheTable holds
// the plugin's decisions to the rows, and this test holds the rows to what the program sends.
func TestSchemaCoversProgram(t *testing.T) {
	base, err := stack.LoadStackFiles("../..", "test")
	if err != nil {
		t.Fatalf("load test stack: %v", err)
	}
	every := maps.Clone(base)
	for key, v := range map[string]string{
		"network": `{"cidr":"10.0.0.0/16","availabilityZones":["us-west-2a","us-west-2b"],` +
			`"publicSubnets":["10.0.1.0/24","10.0.2.0/24"],"privateSubnets":["10.0.101.0/24","10.0.102.0/24"],` +
			`"natGateways":"perAz","ecrEndpoints":true,"s3Endpoint":true,"flowLogs":true}`,
		"cluster": `{"version":"1.36","publicAccessCidrs":["0.0.0.0/0"],"logRetentionDays":30,` +
			`"secretsKmsKeyArn":"arn:aws:kms:us-west-2:123456789012:key/0c7f1d5e-1111-2222-3333-444455556666","authenticationMode":"API"}`,
		"accessEntries": `[{"principalArn":"arn:aws:iam::123456789012:role/dev","username":"dev:{{SessionName}}","kubernetesGroups":["devs"],` +
			`"policies":[{"name":"AmazonEKSViewPolicy"},{"name":"AmazonEKSEditPolicy","namespaces":["apps"]}]}]`,
		"nodes":   `{"attachCniPolicy":true}`,
		"oidc":    `{"extraThumbprints":["9e99a48a9960b14926bb7f3b02e22da2b0ab7280"]}`,
		"awsNode": `{"roleName":"vpc-cni"}`,
		"tags":    `{"team":"platform"}`,
		"serviceAccountRoles": `[{"namespace":"apps","serviceAccount":"app","account":"create","createNamespace":true,` +
			`"managedPolicyArns":["arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess"]},` +
			`{"namespace":"apps","serviceAccount":"pods","identity":"podIdentity","managedPolicyArns":["arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess"]}]`,
	} {
		every[stack.ProjectName+":"+key] = v
	}

	registered := map[string]bool{}
	properties := 0
	for name, cfg := range map[string]map[string]string{"test stack": base, "every option": every} {
		rec := recorder.New(stack.ProjectName, "test")
		if err := rec.Run(cfg, func(ctx *pulumi.Context) error {
			_, err := stack.Build(ctx)
			return err
		}); err != nil {
			t.Fatalf("%s: program: %v", name, err)
		}
		for _, reg := range rec.Registrations() {
			if !reg.Custom || !strings.HasPrefix(reg.Type, "aws:") {
				continue
			}
			registered[reg.Type] = true
			k, ok := kinds[reg.Type]
			if !ok {
				t.Errorf("%s: the program registers %s (%s), which the plugin does not serve", name, reg.Type, reg.Name)
				continue
			}
			for _, miss := range uncovered(k.Schema, reg.Inputs, "", &properties) {
				t.Errorf("%s: %s %s sets %s, which its schema table %s", name, reg.Type, reg.Name, miss.path, miss.why)
			}
		}
	}
	// Not vacuous: the program's AWS layer was seen, property by property.
	if len(registered) < len(kinds)-2 || properties < 100 {
		t.Fatalf("saw %d AWS types (the plugin serves %d) and %d properties: the program did not run as expected",
			len(registered), len(kinds), properties)
	}
	t.Logf("checked %d AWS types, %d properties set", len(registered), properties)
}

type miss struct{ path, why string }

// uncovered lists the properties of inputs that s has no row for, or a row of another kind,
// descending into blocks as the diff engine does; n counts the properties checked.
func uncovered(s Schema, inputs resource.PropertyMap, prefix string, n *int) []miss {
	var out []miss
	for _, k := range slices.Sorted(maps.Keys(inputs)) {
		if bookkeeping(k) {
			continue
		}
		*n++
		at := joinPath(prefix, string(k))
		v := plainValue(inputs[k])
		p, ok := s[string(k)]
		if !ok {
			out = append(out, miss{at, "has no row for"})
			continue
		}
		if got := valueShape(v); !v.IsNull() && got != rowShape(p) {
			out = append(out, miss{at, "has as a " + rowShape(p) + ", not a " + got})
			continue
		}
		switch p.Kind {
		case kBlock:
			out = append(out, uncovered(p.Elem, v.ObjectValue(), at, n)...)
		case kBlockList, kBlockSet:
			for i, e := range v.ArrayValue() {
				if e.IsObject() {
					out = append(out, uncovered(p.Elem, e.ObjectValue(), indexPath(at, i), n)...)
				} else {
					out = append(out, miss{indexPath(at, i), "has as a block, not a scalar"})
				}
			}
		}
	}
	return out
}

// rowShape is how a row's kind shows in a value: an object, a list, or a scalar.
func rowShape(p Prop) string {
	switch p.Kind {
	case kBlock, kMap:
		return "object"
	case kList, kSet, kBlockList, kBlockSet:
		return "list"
	}
	return "scalar"
}

func valueShape(v resource.PropertyValue) string {
	switch {
	case v.IsObject():
		return "object"
	case v.IsArray():
		return "list"
	}
	return "scalar"
}
