package testcluster

import (
	"encoding/json"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// getToken runs the real aws CLI, as the program's kubeconfig does, with dummy keys: the CLI
// only presigns a URL, it sends nothing.
func getToken(t *testing.T, cluster, region, keyID, secret string) string {
	t.Helper()
	aws, err := exec.LookPath("aws")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("the aws CLI is not on PATH; the emulated tier needs it (it ships with this machine kind's image)")
		}
		t.Skip("the aws CLI is not on PATH")
	}
	cmd := exec.Command(aws, "eks", "get-token", "--cluster-name", cluster, "--region", region, "--output", "json")
	cmd.Env = append(WithoutAWSEnv(os.Environ()), "AWS_ACCESS_KEY_ID="+keyID, "AWS_SECRET_ACCESS_KEY="+secret,
		"AWS_CONFIG_FILE=/dev/null", "AWS_SHARED_CREDENTIALS_FILE=/dev/null")
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

func TestAWSIAMAuthAcceptsOnlyTheClustersOwnTokens(t *testing.T) {
	auth := &AWSIAMAuth{ClusterName: "eks-irsa-test", Region: "us-west-2", AccessKeyID: "AKIDTESTCREATOR",
		SecretAccessKey: "creator-secret", Username: "creator"}
	token := getToken(t, "eks-irsa-test", "us-west-2", "AKIDTESTCREATOR", "creator-secret")
	if _, err := auth.verify(token, time.Now()); err != nil {
		t.Fatalf("the cluster's own token was refused: %v", err)
	}

	other := getToken(t, "another-cluster", "us-west-2", "AKIDTESTCREATOR", "creator-secret")
	wrongKey := getToken(t, "eks-irsa-test", "us-west-2", "AKIDTESTCREATOR", "someone-elses-secret")
	otherRegion := getToken(t, "eks-irsa-test", "eu-west-1", "AKIDTESTCREATOR", "creator-secret")
	for _, tc := range []struct {
		name, token string
		now         time.Time
		want        string
	}{
		{"another cluster's name", other, time.Now(), "signature does not match"},
		{"signed with another secret", wrongKey, time.Now(), "signature does not match"},
		{"another region's STS", otherRegion, time.Now(), "is not STS in us-west-2"},
		{"expired", token, time.Now().Add(16 * time.Minute), "has expired"},
		{"not a token", "Bearer abc", time.Now(), "prefix"},
		{"tampered", token[:len(token)-4] + "AAAA", time.Now(), ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := auth.verify(tc.token, tc.now)
			if err == nil {
				t.Fatal("accepted")
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("refused with %q, want it to say %q", err, tc.want)
			}
		})
	}
}
