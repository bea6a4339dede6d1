package testcluster

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"testing"

	authenticationv1 "k8s.io/api/authentication/v1"
)

// MapARN maps the principal STS names arn as the webhook does, for the external tests
// (they import integration/moto, which imports this package).
func (a *AWSIAMAuth) MapARN(ctx context.Context, arn string) (authenticationv1.UserInfo, error) {
	p, err := newPrincipal(arn)
	if err != nil {
		return authenticationv1.UserInfo{}, err
	}
	return a.mapPrincipal(ctx, p)
}

// Authenticate verifies and maps a token as the webhook does, for the external tests.
func (a *AWSIAMAuth) Authenticate(ctx context.Context, token string) (authenticationv1.UserInfo, error) {
	return a.authenticate(ctx, token)
}

// GetToken is `aws eks get-token` with env's credentials, for the external tests.
func GetToken(t *testing.T, cluster, region string, env ...string) string {
	t.Helper()
	cmd := exec.Command("aws", "eks", "get-token", "--cluster-name", cluster, "--region", region, "--output", "json")
	cmd.Env = append(append(WithoutAWSEnv(os.Environ()), "AWS_CONFIG_FILE=/dev/null", "AWS_SHARED_CREDENTIALS_FILE=/dev/null"), env...)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("aws eks get-token: %v", err)
	}
	var cred struct {
		Status struct {
			Token string `json:"token"`
		} `json:"status"`
	}
	if err := json.Unmarshal(out, &cred); err != nil {
		t.Fatalf("aws eks get-token printed %s: %v", out, err)
	}
	return cred.Status.Token
}
