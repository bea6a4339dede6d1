package awsemu

import (
	"encoding/json"
	"slices"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource/plugin"
)

func pm(m map[string]any) resource.PropertyMap { return resource.NewPropertyMapFromMap(m) }

func TestCheckLoopback(t *testing.T) {
	for _, tc := range []struct {
		endpoint string
		ok       bool
	}{
		{"http://127.0.0.1:5000", true},
		{"http://localhost:5000", true},
		{"https://[::1]:5000", true},
		{"http://127.0.0.2:80", true},
		{"", false},
		{"127.0.0.1:5000", false},
		{"https://ec2.us-west-2.amazonaws.com", false},
		{"http://10.0.0.1:5000", false},
		{"ftp://127.0.0.1", false},
	} {
		err := checkLoopback(tc.endpoint)
		if (err == nil) != tc.ok {
			t.Errorf("checkLoopback(%q) = %v, want ok=%v", tc.endpoint, err, tc.ok)
		}
	}
}

func TestCheckAppliesDefaultsAutonameAndRequired(t *testing.T) {
	sg := kinds["aws:ec2/securityGroup:SecurityGroup"]
	news, failures, err := sg.check("web", nil, pm(map[string]any{"vpcId": "vpc-1"}), []byte("seed"), nil)
	if err != nil || len(failures) > 0 {
		t.Fatalf("check: %v %v", err, failures)
	}
	name := news["name"].StringValue()
	if len(name) != len("web-")+7 || name[:4] != "web-" {
		t.Errorf("autoname %q: want web-<7 hex>", name)
	}
	if got := news["description"].StringValue(); got != "Managed by Pulumi" {
		t.Errorf("description default %q", got)
	}
	if got := defaulted(news); !slices.Equal(got, []string{"description", "name", "revokeRulesOnDelete"}) {
		t.Errorf("__defaults = %v", got)
	}
	// The second Check (the next up) keeps the name it chose, whatever the seed.
	again, _, _ := sg.check("web", news, pm(map[string]any{"vpcId": "vpc-1"}), []byte("other seed"), nil)
	if again["name"].StringValue() != name {
		t.Errorf("second check renamed %q to %q", name, again["name"].StringValue())
	}
	// A name the program sets is kept and not recorded as a default.
	named, _, _ := sg.check("web", nil, pm(map[string]any{"vpcId": "vpc-1", "name": "mine"}), nil, nil)
	if named["name"].StringValue() != "mine" || slices.Contains(defaulted(named), "name") {
		t.Errorf("explicit name: %v", named)
	}

	subnet := kinds["aws:ec2/subnet:Subnet"]
	_, failures, _ = subnet.check("s", nil, pm(map[string]any{"cidrBlock": "10.0.1.0/24"}), nil, nil)
	if len(failures) != 1 || failures[0].Property != "vpcId" {
		t.Errorf("subnet without vpcId: failures %v", failures)
	}
	// An unknown required input (preview) is not missing.
	unknown := pm(map[string]any{"cidrBlock": "10.0.1.0/24"})
	unknown["vpcId"] = resource.MakeComputed(resource.NewStringProperty(""))
	if _, failures, _ = subnet.check("s", nil, unknown, nil, nil); len(failures) != 0 {
		t.Errorf("unknown vpcId reported missing: %v", failures)
	}
}

func TestDiff(t *testing.T) {
	subnet := kinds["aws:ec2/subnet:Subnet"]
	base := map[string]any{"vpcId": "vpc-1", "cidrBlock": "10.0.1.0/24", "mapPublicIpOnLaunch": true,
		"tags": map[string]any{"Name": "a"}, "__defaults": []any{}}
	with := func(k string, v any) resource.PropertyMap {
		m := pm(base)
		if v == nil {
			delete(m, resource.PropertyKey(k))
		} else {
			m[resource.PropertyKey(k)] = resource.NewPropertyValue(v)
		}
		return m
	}
	for _, tc := range []struct {
		name     string
		news     resource.PropertyMap
		changes  plugin.DiffChanges
		replaces []resource.PropertyKey
		detailed map[string]plugin.DiffKind
	}{
		{"same", pm(base), plugin.DiffNone, nil, nil},
		{"only __defaults differs", with("__defaults", []any{"ipv6Native"}), plugin.DiffNone, nil, nil},
		{"in-place attribute", with("mapPublicIpOnLaunch", false), plugin.DiffSome, nil,
			map[string]plugin.DiffKind{"mapPublicIpOnLaunch": plugin.DiffUpdate}},
		{"ForceNew attribute", with("cidrBlock", "10.0.2.0/24"), plugin.DiffSome, []resource.PropertyKey{"cidrBlock"},
			map[string]plugin.DiffKind{"cidrBlock": plugin.DiffUpdateReplace}},
		{"unknown ForceNew attribute", func() resource.PropertyMap {
			m := pm(base)
			m["vpcId"] = resource.MakeComputed(resource.NewStringProperty(""))
			return m
		}(), plugin.DiffSome, []resource.PropertyKey{"vpcId"}, map[string]plugin.DiffKind{"vpcId": plugin.DiffUpdateReplace}},
		{"tags change tagsAll too", with("tags", map[string]any{"Name": "b"}), plugin.DiffSome, nil,
			map[string]plugin.DiffKind{"tags.Name": plugin.DiffUpdate, "tagsAll": plugin.DiffUpdate}},
		{"added ForceNew input", with("availabilityZone", "us-west-2a"), plugin.DiffSome, []resource.PropertyKey{"availabilityZone"},
			map[string]plugin.DiffKind{"availabilityZone": plugin.DiffAddReplace}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := subnet.diff(pm(base), tc.news)
			if d.Changes != tc.changes {
				t.Fatalf("changes = %v, want %v", d.Changes, tc.changes)
			}
			if !slices.Equal(d.ReplaceKeys, tc.replaces) {
				t.Errorf("replace keys = %v, want %v", d.ReplaceKeys, tc.replaces)
			}
			if len(d.DetailedDiff) != len(tc.detailed) {
				t.Errorf("detailed diff = %v, want %v", d.DetailedDiff, tc.detailed)
			}
			for path, kind := range tc.detailed {
				if got, ok := d.DetailedDiff[path]; !ok || got.Kind != kind {
					t.Errorf("detailed[%s] = %v (present %v), want %v", path, got.Kind, ok, kind)
				}
			}
		})
	}
}

func TestDiffDeleteBeforeReplaceKeepsExplicitName(t *testing.T) {
	sg := kinds["aws:ec2/securityGroup:SecurityGroup"]
	olds := pm(map[string]any{"name": "mine", "vpcId": "vpc-1", "description": "a", "__defaults": []any{}})
	news := pm(map[string]any{"name": "mine", "vpcId": "vpc-1", "description": "b", "__defaults": []any{}})
	if d := sg.diff(olds, news); !d.DeleteBeforeReplace {
		t.Errorf("explicit name kept across a replacement: want delete-before-replace, got %+v", d)
	}
	olds["__defaults"] = resource.NewPropertyValue([]any{"name"})
	news["__defaults"] = resource.NewPropertyValue([]any{"name"})
	if d := sg.diff(olds, news); d.DeleteBeforeReplace {
		t.Errorf("autonamed: want create-before-delete, got %+v", d)
	}
}

func TestEveryKindIsComplete(t *testing.T) {
	for token, k := range kinds {
		if k.Create == nil || k.Read == nil || k.Delete == nil {
			t.Errorf("%s: Create, Read and Delete are required", token)
		}
		if len(k.Schema) == 0 {
			t.Errorf("%s: no schema table", token)
		}
	}
}

func TestPolicyDocumentRendersAsTerraform(t *testing.T) {
	// The IRSA trust policy shape infra/irsarole.go asks for.
	args := pm(map[string]any{"statements": []any{map[string]any{
		"effect":     "Allow",
		"actions":    []any{"sts:AssumeRoleWithWebIdentity"},
		"principals": []any{map[string]any{"type": "Federated", "identifiers": []any{"arn:aws:iam::123456789012:oidc-provider/oidc.eks.us-west-2.amazonaws.com/id/ABC"}}},
		"conditions": []any{
			map[string]any{"test": "StringEquals", "variable": "oidc.eks.us-west-2.amazonaws.com/id/ABC:sub", "values": []any{"system:serviceaccount:kube-system:aws-node"}},
			map[string]any{"test": "StringEquals", "variable": "oidc.eks.us-west-2.amazonaws.com/id/ABC:aud", "values": []any{"sts.amazonaws.com"}},
		},
	}, map[string]any{
		"actions":   []any{"logs:PutLogEvents", "logs:CreateLogStream", "logs:PutLogEvents"},
		"resources": []any{"arn:aws:logs:*:*:log-group:x", "arn:aws:logs:*:*:log-group:x:*"},
	}}})
	out, err := getPolicyDocument(t.Context(), nil, args)
	if err != nil {
		t.Fatal(err)
	}
	want := `{
  "Version": "2012-10-17",
  "Statement": [
    {
      "Sid": "",
      "Effect": "Allow",
      "Action": "sts:AssumeRoleWithWebIdentity",
      "Principal": {
        "Federated": "arn:aws:iam::123456789012:oidc-provider/oidc.eks.us-west-2.amazonaws.com/id/ABC"
      },
      "Condition": {
        "StringEquals": {
          "oidc.eks.us-west-2.amazonaws.com/id/ABC:aud": "sts.amazonaws.com",
          "oidc.eks.us-west-2.amazonaws.com/id/ABC:sub": "system:serviceaccount:kube-system:aws-node"
        }
      }
    },
    {
      "Sid": "",
      "Effect": "Allow",
      "Action": [
        "logs:PutLogEvents",
        "logs:CreateLogStream"
      ],
      "Resource": [
        "arn:aws:logs:*:*:log-group:x:*",
        "arn:aws:logs:*:*:log-group:x"
      ]
    }
  ]
}`
	if got := out["json"].StringValue(); got != want {
		t.Errorf("json =\n%s\nwant\n%s", got, want)
	}
	var compact map[string]any
	if err := json.Unmarshal([]byte(out["minifiedJson"].StringValue()), &compact); err != nil {
		t.Errorf("minifiedJson: %v", err)
	}
	if out["id"].StringValue() == "" {
		t.Error("no id")
	}
	if _, err := getPolicyDocument(t.Context(), nil, pm(map[string]any{"sourcePolicyDocuments": []any{"{}"}})); err == nil {
		t.Error("sourcePolicyDocuments accepted: want a clear refusal")
	}
}

func TestPartitionInvoke(t *testing.T) {
	out, err := getPartition(t.Context(), &Clients{Partition: "aws"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, want := range map[string]string{"partition": "aws", "dnsSuffix": "amazonaws.com", "reverseDnsPrefix": "com.amazonaws"} {
		if got := out[resource.PropertyKey(k)].StringValue(); got != want {
			t.Errorf("%s = %q, want %q", k, got, want)
		}
	}
}
