package stack

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

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
		}, []string{"network.availabilityZones", "at least two availability zones"}},
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
			[]string{`cluster.version = "v1.33.2"`, `such as "1.36"`}},
		{"version below the floor", func(t *testing.T) map[string]string { return set(t, "cluster.version", "1.21") },
			[]string{`cluster.version = "1.21"`, "EKS no longer creates it"}},
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
		}, []string{`serviceAccountRoles[0].inlinePolicy.Statement = "allow all"`, "want a statement or a list of them"}},
		{"inline policy statement without resource", func(t *testing.T) map[string]string {
			return withRoles(t, role("apps", "api", map[string]any{"inlinePolicy": map[string]any{"Version": "2012-10-17",
				"Statement": []any{map[string]any{"Effect": "Allow", "Action": "s3:*"}}}}))
		}, []string{`serviceAccountRoles[0].inlinePolicy.Statement[0] = ""`, "the statement needs Resource or NotResource"}},
		{"bad namespace", func(t *testing.T) map[string]string { return withRoles(t, role("Apps_1", "api", nil)) },
			[]string{`serviceAccountRoles[0].namespace = "Apps_1"`, "a lowercase RFC 1123 label"}},
		{"bad account mode", func(t *testing.T) map[string]string {
			return withRoles(t, role("apps", "api", map[string]any{"account": "adopt"}))
		}, []string{`serviceAccountRoles[0].account = "adopt"`, `"annotate"`}},
		{"identity the stack does not offer", func(t *testing.T) map[string]string {
			return withRoles(t, role("apps", "api", map[string]any{"identity": "podidentity"}))
		}, []string{`serviceAccountRoles[0].identity = "podidentity"`, `"irsa"`, `"podIdentity"`, `"both"`, `"bothUnannotated"`}},
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

// refusedExactly runs the program on cfg and checks that it is refused with exactly these
// problems (each a whole "key = value: what is accepted" line) and registers nothing.
func refusedExactly(t *testing.T, cfg map[string]string, lines ...string) {
	t.Helper()
	rec := recorder.New(ProjectName, "test")
	err := rec.Run(cfg, Program)
	var ce *ConfigError
	if !errors.As(err, &ce) {
		t.Fatalf("want a *ConfigError, got %v", err)
	}
	var got []string
	for _, p := range ce.Problems {
		got = append(got, p.String())
	}
	if !slices.Equal(got, lines) {
		t.Errorf("problems:\n  %s\nwant:\n  %s", strings.Join(got, "\n  "), strings.Join(lines, "\n  "))
	}
	if n := len(rec.Registrations()); n != 0 {
		t.Errorf("%d resources registered before the config was rejected", n)
	}
	if n := len(rec.Invokes()); n != 0 {
		t.Errorf("%d invokes made before the config was rejected", n)
	}
}

// withAWSAuth sets awsAuth roles (arn, username, groups).
func withAWSAuth(t *testing.T, arns ...string) map[string]string {
	var roles []any
	for _, a := range arns {
		roles = append(roles, map[string]any{"arn": a, "username": "admin", "groups": []string{"system:masters"}})
	}
	return set(t, "awsAuth", map[string]any{"roles": roles})
}

func policyWith(stmt map[string]any) map[string]any {
	s := map[string]any{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::bucket/*"}
	for k, v := range stmt {
		if v == nil {
			delete(s, k)
		} else {
			s[k] = v
		}
	}
	return map[string]any{"Version": "2012-10-17", "Statement": []any{s}}
}

const creatable = "EKS creates 1.32, 1.33, 1.34, 1.35, 1.36"

// Each rule AWS, EKS, IAM or Kubernetes would apply at deploy, refused offline with the key,
// the value and what is accepted, nothing registered. The day is the package's pinned today.
func TestConfigRulesRefuseWhatAWSWouldRefuse(t *testing.T) {
	thumb := func(i int) string { return strings.Repeat(string(rune('a'+i)), 40) }
	many := func(n int, f func(int) string) []string {
		out := make([]string, n)
		for i := range out {
			out[i] = f(i)
		}
		return out
	}
	manyTags := map[string]string{}
	for i := range 46 {
		manyTags[fmt.Sprintf("t%02d", i)] = "x"
	}
	cases := []struct {
		name  string
		at    string // the day, when not the pinned today
		cfg   func(t *testing.T) map[string]string
		lines []string
	}{
		// Kubernetes versions: the EKS release calendar in eks-kubernetes-versions.csv.
		{"version past extended support", "", func(t *testing.T) map[string]string { return set(t, "cluster.version", "1.31") },
			[]string{`eks-irsa:cluster.version = "1.31": EKS no longer creates it: extended support ended 2026-11-26; ` + creatable}},
		{"version not released", "", func(t *testing.T) map[string]string { return set(t, "cluster.version", "1.99") },
			[]string{`eks-irsa:cluster.version = "1.99": not in the EKS release calendar checked 2026-12-06, whose newest is 1.36; ` + creatable +
				`. If EKS has released it since, add its row (and one for each version between: rows are consecutive) to stack/eks-kubernetes-versions.csv from ` + ReleaseCalendarURL +
				`, as 1.99,<EKS release>,<end of standard support>,<end of extended support>,<source> with YYYY-MM-DD dates, update its '# checked:' day and rebuild eksirsa`}},
		{"an inline policy Version IAM does not know", "", func(t *testing.T) map[string]string {
			return withRoles(t, role("apps", "api", map[string]any{"inlinePolicy": map[string]any{"Version": "2012-10-18", "Statement": policyWith(nil)["Statement"]}}))
		}, []string{`eks-irsa:serviceAccountRoles[0].inlinePolicy.Version = "2012-10-18": want "2012-10-17" (or "2008-10-17")`}},
		{"version older than the calendar", "", func(t *testing.T) map[string]string { return set(t, "cluster.version", "1.21") },
			[]string{`eks-irsa:cluster.version = "1.21": EKS no longer creates it (older than 1.27, whose extended support ended 2025-07-24); ` + creatable}},
		{"version in the calendar, released later", "2026-01-01", func(t *testing.T) map[string]string { return set(t, "cluster.version", "1.35") },
			[]string{`eks-irsa:cluster.version = "1.35": EKS releases it on 2026-01-27; EKS creates 1.29, 1.30, 1.31, 1.32, 1.33, 1.34`}},
		// Availability zones: two or more, named exactly.
		{"one availability zone", "", func(t *testing.T) map[string]string {
			return set(t, "network", map[string]any{"availabilityZones": []string{"us-west-2a"}, "publicSubnets": []string{"10.0.1.0/24"}, "privateSubnets": []string{"10.0.101.0/24"}})
		}, []string{`eks-irsa:network.availabilityZones = "[us-west-2a]": list at least two availability zones of us-west-2 (EKS needs subnets in two or more; three is usual)`}},
		{"Local Zone", "", func(t *testing.T) map[string]string {
			return set(t, "network.availabilityZones", []string{"us-west-2a", "us-west-2-lax-1a", "us-west-2c"})
		}, []string{`eks-irsa:network.availabilityZones[1] = "us-west-2-lax-1a": a Local Zone or Wavelength Zone; EKS places its control plane only in availability zones (want e.g. us-west-2a)`}},
		{"zone named by prefix", "", func(t *testing.T) map[string]string {
			return set(t, "network.availabilityZones", []string{"us-west-2a", "us-west-2bb", "us-west-2c"})
		}, []string{`eks-irsa:network.availabilityZones[1] = "us-west-2bb": not an availability zone of region us-west-2 (want the region and one letter, e.g. us-west-2a)`}},
		{"subnet smaller than /28", "", func(t *testing.T) map[string]string {
			return set(t, "network.publicSubnets", []string{"10.0.1.0/24", "10.0.2.0/29", "10.0.3.0/24"})
		}, []string{`eks-irsa:network.publicSubnets[1] = "10.0.2.0/29": a subnet's prefix length must be between /16 and /28`}},
		// The public endpoint.
		{"private public-access CIDR", "", func(t *testing.T) map[string]string {
			return set(t, "cluster.publicAccessCidrs", []string{"198.51.100.0/24", "192.168.1.0/24", "100.64.0.0/16"})
		}, []string{
			`eks-irsa:cluster.publicAccessCidrs[1] = "192.168.1.0/24": inside 192.168.0.0/16, which is not publicly routable: the public endpoint never sees such addresses and EKS refuses them (the private endpoint serves the VPC)`,
			`eks-irsa:cluster.publicAccessCidrs[2] = "100.64.0.0/16": inside 100.64.0.0/10, which is not publicly routable: the public endpoint never sees such addresses and EKS refuses them (the private endpoint serves the VPC)`,
		}},
		{"more public-access CIDRs than EKS takes", "", func(t *testing.T) map[string]string {
			return set(t, "cluster.publicAccessCidrs", many(41, func(i int) string { return fmt.Sprintf("198.51.%d.0/24", i) }))
		}, []string{`eks-irsa:cluster.publicAccessCidrs = "41": EKS accepts at most 40 public access CIDRs`}},
		// Logs.
		{"log retention CloudWatch does not offer", "", func(t *testing.T) map[string]string { return set(t, "cluster.logRetentionDays", 45) },
			[]string{`eks-irsa:cluster.logRetentionDays = "45": CloudWatch Logs accepts one of [1 3 5 7 14 30 60 90 120 150 180 365 400 545 731 1096 1827 2192 2557 2922 3288 3653], or 0 to keep logs forever`}},
		// Envelope encryption.
		{"KMS key in another region", "", func(t *testing.T) map[string]string {
			return set(t, "cluster.secretsKmsKeyArn", "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab")
		}, []string{`eks-irsa:cluster.secretsKmsKeyArn = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab": the key is in us-east-1; EKS needs a key in the cluster's region us-west-2`}},
		{"KMS key in another partition", "", func(t *testing.T) map[string]string {
			return set(t, "cluster.secretsKmsKeyArn", "arn:aws-cn:kms:us-west-2:123456789012:alias/eks")
		}, []string{`eks-irsa:cluster.secretsKmsKeyArn = "arn:aws-cn:kms:us-west-2:123456789012:alias/eks": partition aws-cn, but region us-west-2 is in partition aws`}},
		// IAM role names.
		{"role names differing only by case", "", func(t *testing.T) map[string]string {
			return withRoles(t, role("apps", "api", map[string]any{"roleName": "App-Role"}), role("apps", "web", map[string]any{"roleName": "app-role"}))
		}, []string{`eks-irsa:serviceAccountRoles[1].roleName = "app-role": IAM role name already used by serviceAccountRoles[0] (IAM ignores case in role names); set a distinct roleName`}},
		{"role name equal to a derived one but for case", "", func(t *testing.T) map[string]string {
			return withRoles(t, role("apps", "api", map[string]any{"roleName": "Demo-EKS-OIDC-Test-Node"}))
		}, []string{`eks-irsa:serviceAccountRoles[0].roleName = "Demo-EKS-OIDC-Test-Node": IAM role name already used by the stack's own role demo-eks-oidc-test-node (IAM ignores case in role names); set a distinct roleName`}},
		{"aws-node role name too long", "", func(t *testing.T) map[string]string { return set(t, "awsNode.roleName", strings.Repeat("r", 65)) },
			[]string{`eks-irsa:awsNode.roleName = "` + strings.Repeat("r", 65) + `": IAM role name "` + strings.Repeat("r", 65) + `" is 65 characters; IAM accepts at most 64 (or leave it empty for <cluster>-aws-node)`}},
		{"aws-node role name with a space", "", func(t *testing.T) map[string]string { return set(t, "awsNode.roleName", "cni role") },
			[]string{`eks-irsa:awsNode.roleName = "cni role": IAM role name "cni role" may hold only letters, digits and +=,.@_- (or leave it empty for <cluster>-aws-node)`}},
		{"aws-node role name equal to the node role's", "", func(t *testing.T) map[string]string { return set(t, "awsNode.roleName", "DEMO-EKS-OIDC-TEST-NODE") },
			[]string{`eks-irsa:awsNode.roleName = "DEMO-EKS-OIDC-TEST-NODE": IAM role name already used by another of the stack's own roles (IAM ignores case in role names)`}},
		{"a service-account role named as aws-node's", "", func(t *testing.T) map[string]string {
			cfg := withRoles(t, role("apps", "api", map[string]any{"roleName": "Platform-CNI"}))
			cfg[ProjectName+":awsNode"] = `{"roleName":"platform-cni"}`
			return cfg
		}, []string{`eks-irsa:serviceAccountRoles[0].roleName = "Platform-CNI": IAM role name already used by the stack's own role platform-cni (IAM ignores case in role names); set a distinct roleName`}},
		// OIDC thumbprints: what is configured, plus the chain's root only when it is read.
		{"six explicit thumbprints", "", func(t *testing.T) map[string]string {
			return set(t, "oidc", map[string]any{"thumbprints": many(4, thumb), "extraThumbprints": many(2, func(i int) string { return thumb(i + 4) })})
		}, []string{`eks-irsa:oidc = "6": 6 thumbprints (oidc.thumbprints and oidc.extraThumbprints); an IAM OIDC provider holds at most 5`}},
		{"five extra thumbprints besides the chain", "", func(t *testing.T) map[string]string {
			return set(t, "oidc.extraThumbprints", many(5, thumb))
		}, []string{`eks-irsa:oidc = "6": 6 thumbprints (the issuer chain's root and oidc.extraThumbprints); an IAM OIDC provider holds at most 5`}},
		// Kubernetes objects EKS owns (these were k8s component errors, after registration).
		{"creating an account EKS owns", "", func(t *testing.T) map[string]string {
			return withRoles(t, role("kube-system", "coredns", map[string]any{"account": "create"}))
		}, []string{`eks-irsa:serviceAccountRoles[0].account = "create": EKS creates kube-system/coredns in every cluster, and destroy would delete it; use "annotate"`}},
		{"creating a built-in namespace", "", func(t *testing.T) map[string]string {
			return withRoles(t, role("kube-public", "api", map[string]any{"account": "create", "createNamespace": true}))
		}, []string{`eks-irsa:serviceAccountRoles[0].createNamespace = "true": namespace "kube-public" exists in every cluster, and destroy would delete it; leave createNamespace false`}},
		// aws-auth.
		{"the same role mapped twice", "", func(t *testing.T) map[string]string {
			return withAWSAuth(t, "arn:aws:iam::123456789012:role/Admin", "arn:aws:iam::123456789012:role/team/admin")
		}, []string{`eks-irsa:awsAuth.roles[1].arn = "arn:aws:iam::123456789012:role/team/admin": already mapped by awsAuth.roles[0].arn; aws-auth would keep only one of them`}},
		{"mapping from another partition", "", func(t *testing.T) map[string]string {
			return withAWSAuth(t, "arn:aws-us-gov:iam::123456789012:role/admin")
		}, []string{`eks-irsa:awsAuth.roles[0].arn = "arn:aws-us-gov:iam::123456789012:role/admin": not in partition aws (region us-west-2): no caller of this cluster can have it`}},
		// Tags.
		{"tag keys differing only by case", "", func(t *testing.T) map[string]string {
			return set(t, "tags", map[string]string{"Team": "a", "team": "b", "environment": "c"})
		}, []string{
			`eks-irsa:tags = "environment": differs from the tag "Environment" only by case; IAM treats tag keys case-insensitively`,
			`eks-irsa:tags = "team": differs from the tag "Team" only by case; IAM treats tag keys case-insensitively`,
		}},
		{"tag characters IAM refuses", "", func(t *testing.T) map[string]string { return set(t, "tags", map[string]string{"cost#centre": "a,b"}) },
			[]string{
				`eks-irsa:tags = "cost#centre": tag keys may hold only letters, digits, spaces and _.:/=+-@`,
				`eks-irsa:tags.cost#centre = "a,b": tag values may hold only letters, digits, spaces and _.:/=+-@`,
			}},
		{"more tags than a resource holds", "", func(t *testing.T) map[string]string { return set(t, "tags", manyTags) },
			[]string{`eks-irsa:tags = "46": 51 tags with ServiceType, Environment and the 3 the stack adds; AWS allows 50 per resource`}},
		// Managed policies.
		{"managed policy in another partition, twice", "", func(t *testing.T) map[string]string {
			arn := "arn:aws-cn:iam::aws:policy/ReadOnlyAccess"
			return withRoles(t, role("apps", "api", map[string]any{"managedPolicyArns": []string{arn, arn}}))
		}, []string{
			`eks-irsa:serviceAccountRoles[0].managedPolicyArns[0] = "arn:aws-cn:iam::aws:policy/ReadOnlyAccess": partition aws-cn, but region us-west-2 is in partition aws`,
			`eks-irsa:serviceAccountRoles[0].managedPolicyArns[1] = "arn:aws-cn:iam::aws:policy/ReadOnlyAccess": partition aws-cn, but region us-west-2 is in partition aws`,
			`eks-irsa:serviceAccountRoles[0].managedPolicyArns[1] = "arn:aws-cn:iam::aws:policy/ReadOnlyAccess": listed twice (also managedPolicyArns[0])`,
		}},
		{"more managed policies than IAM attaches", "", func(t *testing.T) map[string]string {
			return withRoles(t, role("apps", "api", map[string]any{"managedPolicyArns": many(21, func(i int) string { return fmt.Sprintf("arn:aws:iam::aws:policy/P%d", i) })}))
		}, []string{`eks-irsa:serviceAccountRoles[0].managedPolicyArns = "21": IAM attaches at most 20 managed policies to a role (10 without a quota increase)`}},
		// Inline policy grammar (PutRolePolicy's MalformedPolicyDocument) and size.
		{"partition variable IAM does not have", "", func(t *testing.T) map[string]string {
			return withRoles(t, role("apps", "api", map[string]any{"inlinePolicy": policyWith(map[string]any{"Resource": "arn:${partition}:s3:::bucket/*"})}))
		}, []string{`eks-irsa:serviceAccountRoles[0].inlinePolicy.Statement[0].Resource = "arn:${partition}:s3:::bucket/*": IAM has no partition variable; write "aws", or * as upstream policies do`}},
		{"statement IAM cannot parse", "", func(t *testing.T) map[string]string {
			return withRoles(t, role("apps", "api", map[string]any{"inlinePolicy": policyWith(map[string]any{"Sid": "read-only", "NotAction": "s3:*", "Principal": "*", "Resource": "bucket", "Action": "s3 get"})}))
		}, []string{
			`eks-irsa:serviceAccountRoles[0].inlinePolicy.Statement[0].Principal = "*": an identity policy names no principal: the role is the principal`,
			`eks-irsa:serviceAccountRoles[0].inlinePolicy.Statement[0].Sid = "read-only": want letters and digits only`,
			`eks-irsa:serviceAccountRoles[0].inlinePolicy.Statement[0].NotAction = "s3:*": a statement has Action or NotAction, not both`,
			`eks-irsa:serviceAccountRoles[0].inlinePolicy.Statement[0].Resource = "bucket": want an ARN (arn:partition:service:region:account:resource) or *`,
		}},
		{"policy element IAM does not know", "", func(t *testing.T) map[string]string {
			p := policyWith(map[string]any{"Action": []string{"s3:GetObject", "s3 get"}})
			p["Condition"] = map[string]any{}
			return withRoles(t, role("apps", "api", map[string]any{"inlinePolicy": p}))
		}, []string{
			`eks-irsa:serviceAccountRoles[0].inlinePolicy.Condition = "{}": IAM knows no such element (want Version, Id, Statement)`,
			`eks-irsa:serviceAccountRoles[0].inlinePolicy.Statement[0].Action = "s3 get": want service:Action (wildcards allowed) or *`,
		}},
		{"inline policy over IAM's size limit", "", func(t *testing.T) map[string]string {
			return withRoles(t, role("apps", "api", map[string]any{"inlinePolicy": policyWith(map[string]any{"Action": many(500, func(i int) string { return fmt.Sprintf("s3:GetObjectNumber%04d", i) })})}))
		}, []string{`eks-irsa:serviceAccountRoles[0].inlinePolicy = "12603 characters": IAM limits a role's inline policies to 10240 characters (whitespace not counted); split it into a managed policy`}},
		// Pod Identity (validate_podidentity.go).
		{"the VPC CNI's account on Pod Identity", "", func(t *testing.T) map[string]string {
			return withRoles(t, role("kube-system", "aws-node", map[string]any{"identity": "both"}))
		}, []string{
			`eks-irsa:serviceAccountRoles[0] = "kube-system/aws-node": service account already has a role (the built-in aws-node role); one role per account`,
			`eks-irsa:serviceAccountRoles[0].roleName = "demo-eks-oidc-test-aws-node": IAM role name already used by the stack's own role demo-eks-oidc-test-aws-node (IAM ignores case in role names); set a distinct roleName`,
			`eks-irsa:serviceAccountRoles[0].identity = "both": the VPC CNI (kube-system/aws-node) stays on IRSA, through awsNode: it needs credentials before a new node has pod networking, and the Pod Identity agent on that node may not serve yet (aws/eks-pod-identity-agent#159); remove this entry`}},
		{"the agent's own account on Pod Identity", "", func(t *testing.T) map[string]string {
			return withRoles(t, role("kube-system", "eks-pod-identity-agent", map[string]any{"identity": "podIdentity"}))
		}, []string{`eks-irsa:serviceAccountRoles[0].identity = "podIdentity": kube-system/eks-pod-identity-agent is an EKS add-on's account that Pod Identity does not serve: the eks-pod-identity-agent add-on serves Pod Identity with the node role's credentials (EKS User Guide, pod-id-agent-setup): it cannot take them from itself; want "irsa"`}},
		{"Pod Identity in a China Region", "", func(t *testing.T) map[string]string {
			cfg := withRoles(t, role("apps", "api", map[string]any{"identity": "podIdentity"}))
			cfg[RegionKey] = "cn-north-1"
			cfg[ProjectName+":network"] = `{"availabilityZones":["cn-north-1a","cn-north-1b"],"publicSubnets":["10.0.1.0/24","10.0.2.0/24"],"privateSubnets":["10.0.101.0/24","10.0.102.0/24"]}`
			return cfg
		}, []string{`eks-irsa:serviceAccountRoles[0].identity = "podIdentity": EKS Pod Identity is not available in the China Regions (cn-north-1); want "irsa"`}},
		{"a trust-policy quota IAM does not have", "", func(t *testing.T) map[string]string {
			return set(t, "iam.trustPolicyMaxChars", 8192)
		}, []string{`eks-irsa:iam.trustPolicyMaxChars = "8192": want the account's "Role trust policy length" quota: 2048 (the default) up to 4096 (the most Service Quotas grants)`}},
		// The longest names Kubernetes allows keep both statements at 1,527 characters (measured
		// with trustPolicySize; TestIdentityBoth holds it to the document the program writes),
		// so only a quota below IAM's shows the check naming the role.
		{"a trust policy over the quota", "", func(t *testing.T) map[string]string {
			cfg := withRoles(t, role("apps", "web", map[string]any{"identity": "both"}), role("apps", "api", nil))
			cfg[ProjectName+":iam"] = `{"trustPolicyMaxChars":500}`
			return cfg
		}, []string{
			`eks-irsa:serviceAccountRoles[0] = "apps/web": identity both: the trust policy of role demo-eks-oidc-test-web would be 807 characters (whitespace not counted), over the 500 IAM allows (iam.trustPolicyMaxChars: the "Role trust policy length" quota, 2048 by default); raise the quota and the key, or shorten the names in it`,
			`eks-irsa:iam.trustPolicyMaxChars = "500": want the account's "Role trust policy length" quota: 2048 (the default) up to 4096 (the most Service Quotas grants)`}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if tc.at != "" {
				Now = func() time.Time { return day(tc.at) }
				defer func() { Now = func() time.Time { return today } }()
			}
			refusedExactly(t, tc.cfg(t), tc.lines...)
		})
	}
}

// What AWS accepts is accepted: logs that never expire, five explicit thumbprints, a version
// in extended support (with a warning), the load balancer controller (with its flags).
func TestConfigRulesAcceptWhatAWSAccepts(t *testing.T) {
	for _, tc := range []struct {
		name     string
		cfg      map[string]string
		warnings []string
	}{
		{"logs that never expire", set(t, "cluster.logRetentionDays", 0), nil},
		{"five explicit thumbprints", set(t, "oidc.thumbprints", []string{
			strings.Repeat("a", 40), strings.Repeat("b", 40), strings.Repeat("c", 40), strings.Repeat("d", 40), strings.Repeat("e", 40)}), nil},
		{"version in extended support", set(t, "cluster.version", "1.33"), []string{
			`eks-irsa:cluster.version = "1.33": in extended support since 2026-07-29 (billed at the extended-support rate), ending 2027-07-29; 1.36 is in standard support`}},
		{"1.36, which EKS serves", set(t, "cluster.version", "1.36"), nil},
		{"an action prefix in capitals, as IAM takes it", withRoles(t, role("apps", "api", map[string]any{"inlinePolicy": policyWith(map[string]any{"Action": []string{"S3:GetObject", "s3:ListBucket"}})})), nil},
		{"a policy without Version", withRoles(t, role("apps", "api", map[string]any{"inlinePolicy": map[string]any{"Statement": policyWith(nil)["Statement"]}})), []string{
			`eks-irsa:serviceAccountRoles[0].inlinePolicy.Version = "": IAM takes it as "2008-10-17", under which policy variables such as ${aws:username} are not replaced; write "2012-10-17"`}},
		{"a resource of another partition", withRoles(t, role("apps", "api", map[string]any{"inlinePolicy": policyWith(map[string]any{"Resource": []string{"arn:aws:s3:::bucket/*", "arn:aws-cn:s3:::bucket/*"}})})), []string{
			`eks-irsa:serviceAccountRoles[0].inlinePolicy.Statement[0].Resource = "arn:aws-cn:s3:::bucket/*": partition aws-cn never matches in region partition aws, so this grants nothing; write "aws" or *`}},
		{"Pod Identity accounts beside Windows nodes and Fargate", func() map[string]string {
			cfg := entries(t, "",
				map[string]any{"principalArn": "arn:aws:iam::123456789012:role/windows-nodes", "type": "EC2_WINDOWS"},
				map[string]any{"principalArn": "arn:aws:iam::123456789012:role/fargate-pods", "type": "FARGATE_LINUX"})
			b, _ := json.Marshal([]any{role("apps", "web", map[string]any{"identity": "podIdentity"}), role("apps", "api", map[string]any{"identity": "both"})})
			cfg[ProjectName+":serviceAccountRoles"] = string(b)
			return cfg
		}(), []string{
			`eks-irsa:accessEntries[0].type = "EC2_WINDOWS": EKS Pod Identity serves no pod on Windows nodes or Fargate: keep the pods of apps/web, apps/api off them (nodeSelector kubernetes.io/os: linux; no Fargate profile for their namespaces), or give those accounts identity "irsa"`,
			`eks-irsa:accessEntries[1].type = "FARGATE_LINUX": EKS Pod Identity serves no pod on Windows nodes or Fargate: keep the pods of apps/web, apps/api off them (nodeSelector kubernetes.io/os: linux; no Fargate profile for their namespaces), or give those accounts identity "irsa"`}},
		{"eleven managed policies", withRoles(t, role("apps", "api", map[string]any{"managedPolicyArns": []string{
			"arn:aws:iam::aws:policy/A", "arn:aws:iam::aws:policy/B", "arn:aws:iam::aws:policy/C", "arn:aws:iam::aws:policy/D",
			"arn:aws:iam::aws:policy/E", "arn:aws:iam::aws:policy/F", "arn:aws:iam::aws:policy/G", "arn:aws:iam::aws:policy/H",
			"arn:aws:iam::aws:policy/I", "arn:aws:iam::aws:policy/J", "arn:aws:iam::aws:policy/K"}})), []string{
			`eks-irsa:serviceAccountRoles[0].managedPolicyArns = "11": more than 10 managed policies needs the IAM quota "Managed policies per role" raised`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := Decode(tc.cfg)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, w := range c.Warnings() {
				if !strings.Contains(w.Key, "serviceAccountRoles") || !strings.Contains(w.Want, "--aws-vpc-id") {
					got = append(got, w.String())
				}
			}
			if !slices.Equal(got, tc.warnings) {
				t.Errorf("warnings:\n  %s\nwant:\n  %s", strings.Join(got, "\n  "), strings.Join(tc.warnings, "\n  "))
			}
			rec := recorder.New(ProjectName, "test")
			// Build: Program would wait for the fake cluster's API server.
			if err := rec.Run(tc.cfg, func(ctx *pulumi.Context) error { _, err := Build(ctx); return err }); err != nil {
				t.Fatalf("refused: %v", err)
			}
		})
	}
}
