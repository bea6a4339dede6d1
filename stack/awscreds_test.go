package stack

import (
	"errors"
	"strings"
	"testing"

	"k8s.io/client-go/tools/clientcmd"

	"github.com/eks-irsa/eks-irsa/internal/recorder"
)

// The stack's kubeconfig output signs as the AWS provider's profile and assumed role.
func TestKubeconfigSignsAsTheProvider(t *testing.T) {
	cfg := testConfig(t)
	cfg["aws:profile"] = "ops"
	cfg["aws:assumeRole"] = `{"roleArn":"arn:aws:iam::123456789012:role/deployer"}`
	_, out := runProgram(t, cfg)
	kcText, _ := out[OutKubeconfig].(string)
	kc, err := clientcmd.Load([]byte(kcText))
	if err != nil {
		t.Fatalf("kubeconfig output: %v", err)
	}
	exec := kc.AuthInfos[kc.Contexts[kc.CurrentContext].AuthInfo].Exec
	if !strings.HasSuffix(strings.Join(exec.Args, " "), "--role-arn arn:aws:iam::123456789012:role/deployer") ||
		len(exec.Env) != 1 || exec.Env[0].Name != "AWS_PROFILE" || exec.Env[0].Value != "ops" {
		t.Errorf("exec = %v %v, want --role-arn and AWS_PROFILE=ops", exec.Args, exec.Env)
	}
}

// An aws:assumeRole the CLI cannot reproduce, or the provider would refuse (awsaccess.Read),
// is a configuration problem naming the key, before anything is registered.
func TestAssumedRoleProblemsAreConfigErrors(t *testing.T) {
	for _, tc := range []struct{ name, value, want string }{
		{"external id", `{"roleArn":"arn:aws:iam::123456789012:role/deployer","externalId":"x"}`, "externalId"},
		{"durationSeconds", `{"roleArn":"arn:aws:iam::123456789012:role/deployer","durationSeconds":3600}`, `unknown field "durationSeconds"`},
		{"duration past 12h", `{"roleArn":"arn:aws:iam::123456789012:role/deployer","duration":"24h"}`, "duration 24h is outside 15m to 12h"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := testConfig(t)
			cfg["aws:assumeRole"] = tc.value
			rec := recorder.New(ProjectName, "test")
			err := rec.Run(cfg, Program)
			var ce *ConfigError
			if !errors.As(err, &ce) || len(ce.Problems) != 1 || ce.Problems[0].Key != "aws:assumeRole" ||
				ce.Problems[0].Value != tc.value || !strings.Contains(ce.Problems[0].Want, tc.want) {
				t.Fatalf("err = %v, want one aws:assumeRole problem saying %q", err, tc.want)
			}
			if n := len(rec.Registrations()); n != 0 {
				t.Errorf("%d resources registered", n)
			}
		})
	}
}
