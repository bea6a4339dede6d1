package stack

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"reflect"
	"strings"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/common/workspace"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/eks-irsa/eks-irsa/internal/recorder"
)

// set returns the test stack's configuration with key (unqualified: eks-irsa's) replaced by
// value, or with a field of an object key patched when key is "object.field".
func set(t *testing.T, key string, value any) map[string]string {
	t.Helper()
	cfg := testConfig(t)
	full := key
	if !strings.Contains(key, ":") {
		full = ProjectName + ":" + key
	}
	obj, field, nested := strings.Cut(full, ".")
	if !nested {
		if s, ok := value.(string); ok {
			cfg[full] = s
		} else {
			b, _ := json.Marshal(value)
			cfg[full] = string(b)
		}
		return cfg
	}
	m := map[string]any{}
	if err := json.Unmarshal([]byte(cfg[obj]), &m); err != nil {
		t.Fatalf("%s is not an object: %v", obj, err)
	}
	m[field] = value
	b, _ := json.Marshal(m)
	cfg[obj] = string(b)
	return cfg
}

func withRoles(t *testing.T, roles ...map[string]any) map[string]string {
	t.Helper()
	b, _ := json.Marshal(roles)
	cfg := testConfig(t)
	cfg[ProjectName+":serviceAccountRoles"] = string(b)
	return cfg
}

var goodPolicy = map[string]any{"Version": "2012-10-17", "Statement": []any{
	map[string]any{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::bucket/*"},
}}

func role(ns, sa string, extra map[string]any) map[string]any {
	r := map[string]any{"namespace": ns, "serviceAccount": sa, "inlinePolicy": goodPolicy}
	for k, v := range extra {
		r[k] = v
	}
	return r
}

// Every case names the key, the bad value and what would be accepted, and registers nothing.
func TestBadConfigIsRejectedBeforeAnythingIsCreated(t *testing.T) {
	long := strings.Repeat("x", 60)
	cases := []struct {
		name string
		cfg  func(t *testing.T) map[string]string
		want []string // substrings of the error
	}{
		{"malformed VPC CIDR", func(t *testing.T) map[string]string { return set(t, "network.cidr", "10.0.0.0/33") },
			[]string{`eks-irsa:network.cidr = "10.0.0.0/33"`, "CIDR form"}},
		{"VPC CIDR with host bits", func(t *testing.T) map[string]string { return set(t, "network.cidr", "10.0.0.1/16") },
			[]string{"network.cidr", "no host bits"}},
		{"VPC larger than /16", func(t *testing.T) map[string]string { return set(t, "network.cidr", "10.0.0.0/8") },
			[]string{"network.cidr", "between /16 and /28"}},
		{"malformed subnet", func(t *testing.T) map[string]string {
			return set(t, "network.publicSubnets", []string{"10.0.1.0/24", "10.0.2.0", "10.0.3.0/24"})
		}, []string{`network.publicSubnets[1] = "10.0.2.0"`}},
		{"subnet outside the VPC", func(t *testing.T) map[string]string {
			return set(t, "network.privateSubnets", []string{"10.0.101.0/24", "10.1.102.0/24", "10.0.103.0/24"})
		}, []string{`network.privateSubnets[1] = "10.1.102.0/24"`, "outside the VPC 10.0.0.0/16"}},
		{"overlapping subnets", func(t *testing.T) map[string]string {
			return set(t, "network.privateSubnets", []string{"10.0.101.0/24", "10.0.0.0/22", "10.0.103.0/24"})
		}, []string{`network.privateSubnets[1] = "10.0.0.0/22"`, "overlaps network.publicSubnets[0]"}},
		{"subnet count differs from AZ count", func(t *testing.T) map[string]string {
			return set(t, "network.publicSubnets", []string{"10.0.1.0/24", "10.0.2.0/24"})
		}, []string{"network.publicSubnets", "one subnet per availability zone: 2 listed for 3 zones"}},
		{"no availability zones", func(t *testing.T) map[string]string {
			c := set(t, "network.availabilityZones", []string{})
			return c
		}, []string{"network.availabilityZones", "at least one availability zone"}},
		{"availability zone of another region", func(t *testing.T) map[string]string {
			return set(t, "network.availabilityZones", []string{"us-west-2a", "us-east-1b", "us-west-2c"})
		}, []string{`network.availabilityZones[1] = "us-east-1b"`, "not an availability zone of region us-west-2"}},
		{"NAT mode", func(t *testing.T) map[string]string { return set(t, "network.natGateways", "two") },
			[]string{`network.natGateways = "two"`, `"single"`, `"perAz"`}},
		{"min above max", func(t *testing.T) map[string]string { return set(t, "nodes.min", 7) },
			[]string{`eks-irsa:nodes.min = "7"`, "must not exceed nodes.max (6)"}},
		{"desired above max", func(t *testing.T) map[string]string { return set(t, "nodes.desired", 9) },
			[]string{`nodes.desired = "9"`, "within [nodes.min, nodes.max] = [1, 6]"}},
		{"desired below min", func(t *testing.T) map[string]string { return set(t, "nodes.desired", 0) },
			[]string{`nodes.desired = "0"`, "[1, 6]"}},
		{"disk too small", func(t *testing.T) map[string]string { return set(t, "nodes.diskGiB", 8) },
			[]string{`nodes.diskGiB = "8"`, "between 20 and 16384"}},
		{"instance type", func(t *testing.T) map[string]string { return set(t, "nodes.instanceType", "medium") },
			[]string{`nodes.instanceType = "medium"`, "such as t3.medium"}},
		{"version not 1.NN", func(t *testing.T) map[string]string { return set(t, "cluster.version", "v1.33.2") },
			[]string{`cluster.version = "v1.33.2"`, `"1.33"`}},
		{"version below the floor", func(t *testing.T) map[string]string { return set(t, "cluster.version", "1.21") },
			[]string{`cluster.version = "1.21"`, "want 1.29 or newer"}},
		{"cluster name EKS refuses", func(t *testing.T) map[string]string { return set(t, "clusterName", "-demo cluster") },
			[]string{`clusterName = "-demo cluster"`, "letter or digit"}},
		{"cluster name too long", func(t *testing.T) map[string]string { return set(t, "clusterName", strings.Repeat("c", 101)) },
			[]string{"clusterName", "101 characters; EKS accepts at most 100"}},
		{"derived role name over 64", func(t *testing.T) map[string]string { return set(t, "clusterName", long) },
			[]string{"IAM role name \"" + long + "-aws-node\" is 69 characters; IAM accepts at most 64"}},
		{"duplicate service-account roles", func(t *testing.T) map[string]string {
			return withRoles(t, role("apps", "api", nil), role("apps", "api", map[string]any{"roleName": "other"}))
		}, []string{`serviceAccountRoles[1] = "apps/api"`, "already has a role (serviceAccountRoles[0])"}},
		{"role for aws-node twice", func(t *testing.T) map[string]string {
			return withRoles(t, role("kube-system", "aws-node", map[string]any{"roleName": "x"}))
		}, []string{"the built-in aws-node role"}},
		{"role with no policy", func(t *testing.T) map[string]string {
			return withRoles(t, map[string]any{"namespace": "apps", "serviceAccount": "api"})
		}, []string{`serviceAccountRoles[0] = "apps/api"`, "give managedPolicyArns or an inlinePolicy"}},
		{"malformed policy ARN", func(t *testing.T) map[string]string {
			return withRoles(t, role("apps", "api", map[string]any{"managedPolicyArns": []string{"AmazonS3ReadOnlyAccess"}}))
		}, []string{`serviceAccountRoles[0].managedPolicyArns[0] = "AmazonS3ReadOnlyAccess"`, "arn:aws:iam::aws:policy/"}},
		{"inline policy not a policy document", func(t *testing.T) map[string]string {
			return withRoles(t, role("apps", "api", map[string]any{"inlinePolicy": map[string]any{"Statement": "allow all"}}))
		}, []string{"serviceAccountRoles[0].inlinePolicy", `Version must be "2012-10-17"`}},
		{"inline policy statement without resource", func(t *testing.T) map[string]string {
			return withRoles(t, role("apps", "api", map[string]any{"inlinePolicy": map[string]any{"Version": "2012-10-17",
				"Statement": []any{map[string]any{"Effect": "Allow", "Action": "s3:*"}}}}))
		}, []string{"serviceAccountRoles[0].inlinePolicy", "Statement[0] needs Resource"}},
		{"bad namespace", func(t *testing.T) map[string]string { return withRoles(t, role("Apps_1", "api", nil)) },
			[]string{`serviceAccountRoles[0].namespace = "Apps_1"`, "lower-case"}},
		{"bad account mode", func(t *testing.T) map[string]string {
			return withRoles(t, role("apps", "api", map[string]any{"account": "adopt"}))
		}, []string{`serviceAccountRoles[0].account = "adopt"`, `"annotate"`}},
		{"log retention CloudWatch does not offer", func(t *testing.T) map[string]string { return set(t, "cluster.logRetentionDays", 45) },
			[]string{`cluster.logRetentionDays = "45"`, "CloudWatch Logs accepts one of [1 3 5 7 14 30 60 90"}},
		{"bad public access CIDR", func(t *testing.T) map[string]string {
			return set(t, "cluster.publicAccessCidrs", []string{"203.0.113.7"})
		}, []string{`cluster.publicAccessCidrs[0] = "203.0.113.7"`, "IPv4 CIDR"}},
		{"thumbprint not 40 hex", func(t *testing.T) map[string]string {
			return set(t, "oidc.extraThumbprints", []string{"9e99a48a9960b14926bb7f3b02e22da2b0ab72"})
		}, []string{`oidc.extraThumbprints[0] = "9e99a48a9960b14926bb7f3b02e22da2b0ab72"`, "40 hex characters"}},
		{"KMS key not an ARN", func(t *testing.T) map[string]string { return set(t, "cluster.secretsKmsKeyArn", "alias/eks") },
			[]string{`cluster.secretsKmsKeyArn = "alias/eks"`, "KMS key ARN"}},
		{"aws-auth mapping malformed", func(t *testing.T) map[string]string {
			return set(t, "awsAuth", map[string]any{"roles": []any{map[string]any{"arn": "arn:aws:iam::123:role/admin", "username": "", "groups": []string{}}}})
		}, []string{`awsAuth.roles[0].arn = "arn:aws:iam::123:role/admin"`, "awsAuth.roles[0].username", "awsAuth.roles[0].groups"}},
		{"user ARN in the roles list", func(t *testing.T) map[string]string {
			return set(t, "awsAuth", map[string]any{"roles": []any{map[string]any{"arn": "arn:aws:iam::123456789012:user/ci", "username": "ci", "groups": []string{"ci"}}}})
		}, []string{"awsAuth.roles[0].arn", "IAM role ARN"}},
		{"misspelt object field", func(t *testing.T) map[string]string { return set(t, "nodes", `{"desird": 3}`) },
			[]string{`eks-irsa:nodes = "{\"desird\": 3}"`, `unknown field "desird"`}},
		{"wrong JSON type", func(t *testing.T) map[string]string { return set(t, "nodes", `{"desired": "four"}`) },
			[]string{"eks-irsa:nodes", "cannot unmarshal string"}},
		{"no region", func(t *testing.T) map[string]string { return set(t, "aws:region", "") },
			[]string{`aws:region = ""`, "pulumi config set aws:region"}},
	}
	if len(cases) < 25 {
		t.Fatalf("only %d cases", len(cases))
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rec := recorder.New(ProjectName, "test")
			err := rec.Run(tc.cfg(t), Program)
			if err == nil {
				t.Fatal("accepted")
			}
			var ce *ConfigError
			if !errors.As(err, &ce) {
				t.Fatalf("error is not a *ConfigError: %v", err)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error lacks %q:\n%v", w, err)
				}
			}
			if n := len(rec.Registrations()); n != 0 {
				t.Errorf("%d resources registered before the config was rejected", n)
			}
			if n := len(rec.Invokes()); n != 0 {
				t.Errorf("%d invokes made before the config was rejected", n)
			}
		})
	}
}

func TestAllProblemsAreReportedAtOnce(t *testing.T) {
	cfg := set(t, "nodes", map[string]any{"min": 5, "max": 2, "desired": 9, "instanceType": "t3.medium", "diskGiB": 20})
	cfg[ProjectName+":cluster"] = `{"version":"2.0","logRetentionDays":2}`
	_, err := Decode(cfg)
	var ce *ConfigError
	if !errors.As(err, &ce) {
		t.Fatalf("err = %v", err)
	}
	keys := map[string]bool{}
	for _, p := range ce.Problems {
		keys[p.Key] = true
	}
	for _, k := range []string{"nodes.min", "nodes.desired", "cluster.version", "cluster.logRetentionDays"} {
		if !keys[k] {
			t.Errorf("problem with %s not reported; got %v", k, err)
		}
	}
}

func TestPartialObjectsKeepTheOtherDefaults(t *testing.T) {
	c, err := Decode(map[string]string{
		RegionKey:                "eu-west-1",
		ProjectName + ":network": `{"availabilityZones":["eu-west-1a","eu-west-1b"],"publicSubnets":["10.0.1.0/24","10.0.2.0/24"],"privateSubnets":["10.0.3.0/24","10.0.4.0/24"]}`,
		ProjectName + ":nodes":   `{"desired":3}`,
	})
	if err != nil {
		t.Fatal(err)
	}
	d := Defaults()
	if c.Nodes.Desired != 3 || c.Nodes.InstanceType != d.Nodes.InstanceType || c.Nodes.Max != d.Nodes.Max {
		t.Errorf("nodes = %+v", c.Nodes)
	}
	if c.Network.CIDR != d.Network.CIDR || c.Network.NATGateways != "single" || !c.Network.FlowLogs {
		t.Errorf("network = %+v", c.Network)
	}
	if c.Name() != "demo-eks-oidc-dev" {
		t.Errorf("name = %s", c.Name())
	}
}

// Pulumi.yaml declares every key the program reads, with the program's own defaults.
func TestPulumiYamlDeclaresEveryKeyWithTheProgramsDefaults(t *testing.T) {
	project, err := workspace.LoadProject("../Pulumi.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if project.Name != ProjectName || project.Runtime.Name() != "go" || project.Description == nil {
		t.Errorf("project %s runtime %s", project.Name, project.Runtime.Name())
	}
	defaults, _ := json.Marshal(Defaults())
	var want map[string]any
	_ = json.Unmarshal(defaults, &want)
	for _, key := range Keys {
		decl, ok := project.Config[key]
		if !ok {
			t.Errorf("Pulumi.yaml does not declare %s", key)
			continue
		}
		if decl.Type == nil || decl.Description == "" {
			t.Errorf("%s: type and description required", key)
		}
		got, _ := json.Marshal(decl.Default)
		w, _ := json.Marshal(want[key])
		var g, ww any
		_ = json.Unmarshal(got, &g)
		_ = json.Unmarshal(w, &ww)
		if !reflect.DeepEqual(g, ww) {
			t.Errorf("%s: Pulumi.yaml default %s, program default %s", key, got, w)
		}
	}
	if len(project.Config) != len(Keys) {
		t.Errorf("Pulumi.yaml declares %d keys, the program reads %d", len(project.Config), len(Keys))
	}
}

func TestStackFilesRefuseUndeclaredKeys(t *testing.T) {
	dir := t.TempDir()
	copyFile(t, "../Pulumi.yaml", dir+"/Pulumi.yaml")
	writeFile(t, dir+"/Pulumi.typo.yaml", "config:\n  aws:region: us-west-2\n  eks-irsa:node: {}\n")
	_, err := LoadStackFiles(dir, "typo")
	if err == nil || !strings.Contains(err.Error(), "eks-irsa:node") {
		t.Errorf("err = %v", err)
	}
}

// Decoding and validating never panics, whatever the stack file holds.
func FuzzDecode(f *testing.F) {
	f.Add("us-west-2", `{"cidr":"10.0.0.0/16","availabilityZones":["us-west-2a"],"publicSubnets":["10.0.1.0/24"],"privateSubnets":["10.0.2.0/24"]}`,
		`{"desired":2}`, `[{"namespace":"a","serviceAccount":"b","inlinePolicy":{"Version":"2012-10-17","Statement":[]}}]`, "x")
	f.Add("", `{}`, `null`, `[]`, "")
	f.Add("us-west-2", `{"cidr":"::/0"}`, `{"min":-1,"max":-5}`, `[{"inlinePolicy":"\"x\""}]`, strings.Repeat("y", 200))
	f.Add("us-west-2", `{"publicSubnets":["10.0.0.0/8","0.0.0.0/0"]}`, `{"diskGiB":1e30}`, `[{"inlinePolicy":{"Statement":{"Effect":1}}}]`, "-")
	f.Fuzz(func(t *testing.T, region, network, nodes, roles, name string) {
		c, err := Decode(map[string]string{RegionKey: region, ProjectName + ":network": network, ProjectName + ":nodes": nodes,
			ProjectName + ":serviceAccountRoles": roles, ProjectName + ":clusterName": name})
		if err == nil && c == nil {
			t.Fatal("nil config without an error")
		}
		if err != nil && !IsConfigError(err) {
			t.Fatalf("error is not a ConfigError: %v", err)
		}
	})
}

func BenchmarkAWSLayer(b *testing.B) {
	// The test stack, then 100 and 200 extra service-account roles: cost should grow linearly.
	for _, extra := range []int{0, 100, 200} {
		b.Run(fmt.Sprintf("extra-roles-%d", extra), func(b *testing.B) {
			cfg := benchConfig(b, extra)
			b.ReportAllocs()
			for b.Loop() {
				rec := recorder.New(ProjectName, "test")
				// Build: Program would wait for the fake cluster's API server.
				if err := rec.Run(cfg, func(ctx *pulumi.Context) error { _, err := Build(ctx); return err }); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func benchConfig(b *testing.B, extra int) map[string]string {
	cfg := testConfig(b)
	var roles []map[string]any
	_ = json.Unmarshal([]byte(cfg[ProjectName+":serviceAccountRoles"]), &roles)
	for i := range extra {
		roles = append(roles, map[string]any{"namespace": "apps", "serviceAccount": "app-" + strings.Repeat("a", i%3) + string(rune('a'+i%26)) + strings.Repeat("z", i/26),
			"managedPolicyArns": []string{"arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess"}, "account": "create"})
	}
	raw, _ := json.Marshal(roles)
	cfg[ProjectName+":serviceAccountRoles"] = string(raw)
	if _, err := Decode(cfg); err != nil {
		b.Fatal(err)
	}
	return cfg
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, to, string(b))
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}
