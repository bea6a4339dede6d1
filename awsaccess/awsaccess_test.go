package awsaccess_test

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/eks-irsa/eks-irsa/awsaccess"
	"github.com/eks-irsa/eks-irsa/integration/moto"
)

const role = "arn:aws:iam::222222222222:role/deployer"

// Read refuses, naming the key, the value and what would be accepted, every aws: value the
// provider would refuse (terraform-provider-aws assumeRoleSchema: duration 15m to 12h,
// policy JSON, ARNs; no durationSeconds since v5), and all of them at once.
func TestReadRefusesWhatTheProviderRefuses(t *testing.T) {
	cases := []struct {
		name, assumeRole, endpoints string
		want                        []string
	}{
		{name: "durationSeconds is gone", assumeRole: `{"roleArn":"` + role + `","durationSeconds":3600}`,
			want: []string{`aws:assumeRole = "{\"roleArn\"`, `unknown field "durationSeconds"`, "duration, policy"}},
		{name: "not a duration", assumeRole: `{"roleArn":"` + role + `","duration":"3600"}`, want: []string{`duration "3600" is not a duration such as 1h`}},
		{name: "too short", assumeRole: `{"roleArn":"` + role + `","duration":"10m"}`, want: []string{"duration 10m is outside 15m to 12h"}},
		{name: "too long", assumeRole: `{"roleArn":"` + role + `","duration":"13h"}`, want: []string{"duration 13h is outside 15m to 12h"}},
		{name: "no role", assumeRole: `{"sessionName":"s"}`, want: []string{"roleArn is missing"}},
		{name: "not a role", assumeRole: `{"roleArn":"arn:aws:iam::222222222222:user/me"}`, want: []string{"is not an IAM role ARN"}},
		{name: "policy not JSON", assumeRole: `{"roleArn":"` + role + `","policy":"{"}`, want: []string{"policy is not a JSON policy document"}},
		{name: "policy ARN", assumeRole: `{"roleArn":"` + role + `","policyArns":["ReadOnly"]}`, want: []string{`policyArns: "ReadOnly" is not an ARN`}},
		{name: "transitive key not a tag", assumeRole: `{"roleArn":"` + role + `","tags":{"team":"a"},"transitiveTagKeys":["owner"]}`,
			want: []string{`transitiveTagKeys: "owner" is not one of tags`}},
		{name: "an endpoint key the provider lacks", endpoints: `[{"eks":"http://x","eksauth":"http://y","eks-auth":"http://z"}]`,
			want: []string{"aws:endpoints", `"eks-auth", "eksauth" are not among the AWS provider's endpoint keys`, "EKS Auth has no key"}},
		{name: "both keys wrong at once", assumeRole: `{"roleArn":"` + role + `","duration":"1d"}`, endpoints: `{"iam":"http://x"}`,
			want: []string{"aws:assumeRole", "aws:endpoints", "want a list of {service: url} objects"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg := map[string]string{awsaccess.AssumeRoleKey: tc.assumeRole, awsaccess.EndpointsKey: tc.endpoints}
			_, err := awsaccess.Read(func(k string) string { return cfg[k] })
			if err == nil {
				t.Fatal("accepted")
			}
			var p *awsaccess.Problem
			if !errors.As(err, &p) {
				t.Fatalf("%v is not a *Problem", err)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %q", err, w)
				}
			}
		})
	}
}

// assumeRoleRecorder sits between the SDK and moto and keeps the form of every STS
// AssumeRole request, so the parameters the provider would send can be read back.
type assumeRoleRecorder struct {
	mu    sync.Mutex
	forms []url.Values
}

func (r *assumeRoleRecorder) serve(t *testing.T, target string) string {
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	proxy := httputil.NewSingleHostReverseProxy(u)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, err := io.ReadAll(req.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		if form, err := url.ParseQuery(string(body)); err == nil && form.Get("Action") == "AssumeRole" {
			r.mu.Lock()
			r.forms = append(r.forms, form)
			r.mu.Unlock()
		}
		req.Body = io.NopCloser(strings.NewReader(string(body)))
		proxy.ServeHTTP(w, req)
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

// With aws:assumeRole, Config signs as the role in its account, with every field of the
// provider's assume_role in the AssumeRole call (read back from the request moto got), and
// aws:endpoints routes both the AssumeRole and the calls made with its credentials; the
// credentials' own account is not what it sees.
func TestConfigAssumesTheProvidersRole(t *testing.T) {
	m := moto.Start(t)
	for _, kv := range m.Env() {
		k, v, _ := strings.Cut(kv, "=")
		t.Setenv(k, v)
	}
	t.Setenv("AWS_ENDPOINT_URL", "") // only aws:endpoints may route the calls
	os.Unsetenv("AWS_ENDPOINT_URL")
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(t.TempDir(), "none"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(t.TempDir(), "none"))
	ctx := t.Context()
	if _, err := iam.NewFromConfig(m.Config("")).CreateRole(ctx, &iam.CreateRoleInput{RoleName: aws.String("callers-own"),
		AssumeRolePolicyDocument: aws.String(`{"Version":"2012-10-17","Statement":[]}`)}); err != nil {
		t.Fatal(err)
	}
	rec := &assumeRoleRecorder{}
	endpoint := rec.serve(t, m.URL)
	const policy = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iam:Get*","Resource":"*"}]}`
	assumeRole, err := json.Marshal(map[string]any{
		"roleArn": role, "sessionName": "pulumi-deploy", "externalId": "ext-1", "duration": "2h", "policy": policy,
		"policyArns": []string{"arn:aws:iam::aws:policy/ReadOnlyAccess"}, "sourceIdentity": "alice",
		"tags": map[string]string{"team": "platform", "cost": "eks"}, "transitiveTagKeys": []string{"team"},
	})
	if err != nil {
		t.Fatal(err)
	}
	cfg := map[string]string{
		awsaccess.RegionKey:     m.Region,
		awsaccess.AssumeRoleKey: string(assumeRole),
		awsaccess.EndpointsKey:  `[{"iam":"` + endpoint + `","sts":"` + endpoint + `"}]`,
	}
	access, err := awsaccess.Read(func(k string) string { return cfg[k] })
	if err != nil {
		t.Fatal(err)
	}
	c, err := access.Config(ctx)
	if err != nil {
		t.Fatal(err)
	}
	id, err := sts.NewFromConfig(c).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := aws.ToString(id.Arn), "arn:aws:sts::222222222222:assumed-role/deployer/pulumi-deploy"; got != want {
		t.Errorf("signs as %s, want %s", got, want)
	}
	roles, err := iam.NewFromConfig(c).ListRoles(ctx, &iam.ListRolesInput{})
	if err != nil {
		t.Fatal(err)
	}
	if len(roles.Roles) != 0 {
		t.Errorf("sees %d roles of the credentials' own account", len(roles.Roles))
	}

	if len(rec.forms) != 1 {
		t.Fatalf("%d AssumeRole calls reached aws:endpoints' STS, want 1 (credentials cached)", len(rec.forms))
	}
	form := rec.forms[0]
	for k, want := range map[string]string{
		"RoleArn": role, "RoleSessionName": "pulumi-deploy", "ExternalId": "ext-1", "DurationSeconds": "7200",
		"Policy": policy, "PolicyArns.member.1.arn": "arn:aws:iam::aws:policy/ReadOnlyAccess", "SourceIdentity": "alice",
		"Tags.member.1.Key": "cost", "Tags.member.1.Value": "eks", "Tags.member.2.Key": "team", "Tags.member.2.Value": "platform",
		"TransitiveTagKeys.member.1": "team",
	} {
		if got := form.Get(k); got != want {
			t.Errorf("AssumeRole %s = %q, want %q", k, got, want)
		}
	}
}

// The kubeconfig's share: aws:profile and the role's ARN; an external id, which `aws eks
// get-token` cannot pass, is refused naming aws:assumeRole.
func TestExec(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  map[string]string
		want awsaccess.ExecCredentials
		err  string
	}{
		{name: "ambient"},
		{name: "profile and role", cfg: map[string]string{awsaccess.ProfileKey: "ops", awsaccess.AssumeRoleKey: `{"roleArn":"` + role + `","duration":"1h","tags":{"a":"b"}}`},
			want: awsaccess.ExecCredentials{Profile: "ops", RoleARN: role}},
		{name: "external id", cfg: map[string]string{awsaccess.AssumeRoleKey: `{"roleArn":"` + role + `","externalId":"x"}`},
			err: "aws:assumeRole = \"{\\\"roleArn\\\""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			access, err := awsaccess.Read(func(k string) string { return tc.cfg[k] })
			if err != nil {
				t.Fatal(err)
			}
			got, err := access.Exec()
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) || !strings.Contains(err.Error(), "externalId is set") {
					t.Fatalf("err = %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Errorf("Exec() = %+v, %v; want %+v", got, err, tc.want)
			}
		})
	}
}

// Keys the provider takes are accepted, whatever eksirsa calls (pulumi-aws v6.83.4's
// config.Endpoints: s3 and eks alike).
func TestReadTakesTheProvidersEndpointKeys(t *testing.T) {
	cfg := map[string]string{awsaccess.EndpointsKey: `[{"eks":"http://127.0.0.1:5000","s3":"http://127.0.0.1:5000","cloudwatchlogs":"http://127.0.0.1:5000"}]`}
	a, err := awsaccess.Read(func(k string) string { return cfg[k] })
	if err != nil || a.Endpoints["EKS"] != "http://127.0.0.1:5000" || a.Endpoints["CloudWatch Logs"] != "http://127.0.0.1:5000" {
		t.Errorf("Read = %+v, %v", a, err)
	}
}

// EKS Auth follows aws:endpoints' eks to an emulator, and keeps AWS's own endpoint otherwise,
// a FIPS or VPC endpoint of EKS included (eksauth.DefaultEndpoint, the service's rule set).
func TestEKSAuthEndpoint(t *testing.T) {
	for _, tc := range []struct{ eks, want string }{
		{"", "https://eks-auth.us-west-2.api.aws"},
		{"http://127.0.0.1:5000", "http://127.0.0.1:5000"},
		{"https://localhost.localstack.cloud:4566", "https://localhost.localstack.cloud:4566"},
		{"https://fips.eks.us-west-2.amazonaws.com", "https://eks-auth.us-west-2.api.aws"},
		{"https://vpce-0a1b-2c3d.eks.us-west-2.vpce.amazonaws.com", "https://eks-auth.us-west-2.api.aws"},
	} {
		a := awsaccess.Access{Region: "us-west-2", Endpoints: map[string]string{}}
		if tc.eks != "" {
			a.Endpoints["EKS"] = tc.eks
		}
		if got, err := a.EKSAuthEndpoint(t.Context(), "us-west-2"); err != nil || got != tc.want {
			t.Errorf("eks %q: EKSAuthEndpoint = %q, %v; want %q", tc.eks, got, err, tc.want)
		}
	}
}
