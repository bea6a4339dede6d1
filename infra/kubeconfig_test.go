package infra

import (
	"strings"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi/config"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/eks-irsa/eks-irsa/awsaccess"
	"github.com/eks-irsa/eks-irsa/internal/recorder"
)

// The exec signs as the AWS provider does: its profile as AWS_PROFILE, its assumed role as
// --role-arn (`aws eks get-token help`), read from the stack's aws: config.
func TestKubeconfigExecFollowsTheProviderIdentity(t *testing.T) {
	const role = "arn:aws:iam::123456789012:role/deployer"
	base := "eks get-token --cluster-name demo-eks-oidc-test --region us-west-2 --output json"
	cases := []struct {
		name     string
		config   map[string]string
		wantArgs string
		wantEnv  map[string]string
		wantErr  string
	}{
		{name: "ambient credentials", wantArgs: base},
		{name: "profile", config: map[string]string{awsaccess.ProfileKey: "ops"}, wantArgs: base, wantEnv: map[string]string{"AWS_PROFILE": "ops"}},
		{name: "assumed role", config: map[string]string{awsaccess.AssumeRoleKey: `{"roleArn":"` + role + `","sessionName":"pulumi"}`},
			wantArgs: base + " --role-arn " + role},
		{name: "profile and assumed role", config: map[string]string{awsaccess.ProfileKey: "ops", awsaccess.AssumeRoleKey: `{"roleArn":"` + role + `"}`},
			wantArgs: base + " --role-arn " + role, wantEnv: map[string]string{"AWS_PROFILE": "ops"}},
		{name: "external id", config: map[string]string{awsaccess.AssumeRoleKey: `{"roleArn":"` + role + `","externalId":"x"}`},
			wantErr: "externalId is set, which `aws eks get-token` cannot pass"},
		{name: "no role ARN", config: map[string]string{awsaccess.AssumeRoleKey: `{"sessionName":"pulumi"}`}, wantErr: "roleArn is missing"},
		{name: "not an object", config: map[string]string{awsaccess.AssumeRoleKey: `arn:aws:iam::123456789012:role/deployer`}, wantErr: "want an object such as"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg := map[string]string{"aws:region": "us-west-2"}
			for k, v := range tc.config {
				cfg[k] = v
			}
			var creds awsaccess.ExecCredentials
			var credsErr error
			err := recorder.New("eks-irsa", "test").Run(cfg, func(ctx *pulumi.Context) error {
				// As the program reads it (stack.execCredentials).
				access, err := awsaccess.Read(func(key string) string { return config.Get(ctx, key) })
				if err != nil {
					credsErr = err
					return nil
				}
				creds, credsErr = access.Exec()
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			if tc.wantErr != "" {
				if credsErr == nil || !strings.Contains(credsErr.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want %q", credsErr, tc.wantErr)
				}
				return
			}
			if credsErr != nil {
				t.Fatal(credsErr)
			}
			fakes := recorder.DefaultFakes()
			doc, err := Kubeconfig(KubeconfigParams{ClusterName: "demo-eks-oidc-test", Endpoint: fakes.Endpoint(),
				CAData: fakes.CAData(), Region: "us-west-2", Credentials: creds})
			if err != nil {
				t.Fatal(err)
			}
			kc, err := clientcmd.Load([]byte(doc))
			if err != nil {
				t.Fatalf("clientcmd.Load: %v\n%s", err, doc)
			}
			if err := clientcmd.Validate(*kc); err != nil {
				t.Fatalf("clientcmd.Validate: %v", err)
			}
			exec := kc.AuthInfos[kc.Contexts[kc.CurrentContext].AuthInfo].Exec
			if got := strings.Join(exec.Args, " "); got != tc.wantArgs {
				t.Errorf("args = %s\nwant   %s", got, tc.wantArgs)
			}
			env := map[string]string{}
			for _, e := range exec.Env {
				env[e.Name] = e.Value
			}
			if len(env) != len(tc.wantEnv) {
				t.Errorf("env = %v, want %v", env, tc.wantEnv)
			}
			for k, v := range tc.wantEnv {
				if env[k] != v {
					t.Errorf("env %s = %q, want %q", k, env[k], v)
				}
			}
		})
	}
}
