package moto_test

import (
	"encoding/json"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eks"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	authv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/eks-irsa/eks-irsa/integration/moto"
	"github.com/eks-irsa/eks-irsa/integration/testcluster"
	"github.com/eks-irsa/eks-irsa/irsa"
)

// STS AssumeRoleWithWebIdentity on moto (integration/moto/sts_web_identity.py), through the
// aws CLI with tokens a real kube-apiserver issued (the cluster's issuer, as on EKS): apps/web's
// token with audience sts.amazonaws.com gets credentials for the role whose trust names the
// cluster's IAM OIDC provider with StringEquals on its sub and aud, and GetCallerIdentity names
// the role's session; another account's token, a token for another audience and a forged one
// are refused as STS refuses them; once the OIDC statement leaves the trust (only Pod
// Identity's is left, the migration's last phase) apps/web's token is refused; and once the
// provider is gone, no token of its issuer is accepted.
func TestSTSAssumeRoleWithWebIdentity(t *testing.T) {
	base := testcluster.Start(t)
	testcluster.SeedEKS(t, base)
	s := moto.Start(t)
	planes := testcluster.ServeControlPlanes(t, base)
	if err := s.UseControlPlanes(planes.URL); err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	c := eks.NewFromConfig(s.Config(s.Region))
	createCluster(t, c, "demo", "")
	cluster, err := c.DescribeCluster(ctx, &eks.DescribeClusterInput{Name: aws.String("demo")})
	if err != nil {
		t.Fatal(err)
	}
	issuer := aws.ToString(cluster.Cluster.Identity.Oidc.Issuer)
	host := strings.TrimPrefix(issuer, "https://")
	iamc := iam.NewFromConfig(s.Config(s.Region))
	provider, err := iamc.CreateOpenIDConnectProvider(ctx, &iam.CreateOpenIDConnectProviderInput{Url: aws.String(issuer),
		ClientIDList: []string{irsa.Audience}, ThumbprintList: []string{strings.Repeat("a", 40)}})
	if err != nil {
		t.Fatal(err)
	}
	providerARN := aws.ToString(provider.OpenIDConnectProviderArn)

	// The role as the program writes it for apps/web under identity both (infra.RoleTrust):
	// the OIDC statement narrowed to the account and STS's audience, and Pod Identity's.
	oidc := `{"Effect":"Allow","Principal":{"Federated":"` + providerARN + `"},"Action":"sts:AssumeRoleWithWebIdentity",` +
		`"Condition":{"StringEquals":{"` + host + `:sub":"` + irsa.Subject("apps", "web") + `","` + host + `:aud":"` + irsa.Audience + `"}}}`
	pods := `{"Effect":"Allow","Principal":{"Service":"pods.eks.amazonaws.com"},"Action":["sts:AssumeRole","sts:TagSession"]}`
	policy := func(statements ...string) string {
		return `{"Version":"2012-10-17","Statement":[` + strings.Join(statements, ",") + `]}`
	}
	if _, err := iamc.CreateRole(ctx, &iam.CreateRoleInput{RoleName: aws.String("web-irsa"), AssumeRolePolicyDocument: aws.String(policy(oidc, pods))}); err != nil {
		t.Fatal(err)
	}
	role := "arn:aws:iam::123456789012:role/web-irsa"

	if _, err := base.Client.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "apps"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"web", "intruder"} {
		if _, err := base.Client.CoreV1().ServiceAccounts("apps").Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	token := func(account, audience string) string {
		t.Helper()
		got, err := base.Client.CoreV1().ServiceAccounts("apps").CreateToken(ctx, account,
			&authv1.TokenRequest{Spec: authv1.TokenRequestSpec{Audiences: []string{audience}}}, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return got.Status.Token
	}

	if _, err := exec.LookPath("aws"); err != nil {
		t.Fatalf("aws CLI not on PATH: %v", err)
	}
	home := t.TempDir()
	cli := func(env []string, args ...string) (string, error) {
		cmd := exec.Command("aws", args...)
		cmd.Env = append(s.Environ([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + home}), env...)
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	assume := func(token string) (string, error) {
		return cli(nil, "sts", "assume-role-with-web-identity", "--role-arn", role, "--role-session-name", "web", "--web-identity-token", token, "--output", "json")
	}

	out, err := assume(token("web", irsa.Audience))
	if err != nil {
		t.Fatalf("aws sts assume-role-with-web-identity with apps/web's token: %v\n%s", err, out)
	}
	var got struct {
		Credentials     struct{ AccessKeyId, SecretAccessKey, SessionToken string }
		AssumedRoleUser struct{ Arn string }
	}
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	caller, err := cli([]string{"AWS_ACCESS_KEY_ID=" + got.Credentials.AccessKeyId, "AWS_SECRET_ACCESS_KEY=" + got.Credentials.SecretAccessKey,
		"AWS_SESSION_TOKEN=" + got.Credentials.SessionToken}, "sts", "get-caller-identity", "--query", "Arn", "--output", "text")
	if want := "arn:aws:sts::123456789012:assumed-role/web-irsa/web"; err != nil || strings.TrimSpace(caller) != want || got.AssumedRoleUser.Arn != want {
		t.Errorf("GetCallerIdentity with the credentials: %v %q (AssumedRoleUser %s), want %s", err, strings.TrimSpace(caller), got.AssumedRoleUser.Arn, want)
	}

	forged := token("web", irsa.Audience)
	forged = forged[:len(forged)-4] + strings.Map(func(r rune) rune {
		if r == 'A' {
			return 'B'
		}
		return 'A'
	}, forged[len(forged)-4:])
	refused := func(name, token, want string) {
		t.Helper()
		if out, err := assume(token); err == nil || !strings.Contains(out, want) {
			t.Errorf("%s: %v, want %s in\n%s", name, err, want, out)
		}
	}
	refused("another account's token", token("intruder", irsa.Audience), "AccessDenied")
	refused("a token for Pod Identity, not STS", token("web", "pods.eks.amazonaws.com"), "(InvalidIdentityToken) when calling the AssumeRoleWithWebIdentity operation: Incorrect token audience")
	refused("a forged signature", forged, "InvalidIdentityToken")

	// The migration's last phase: only Pod Identity's statement is left.
	if _, err := iamc.UpdateAssumeRolePolicy(ctx, &iam.UpdateAssumeRolePolicyInput{RoleName: aws.String("web-irsa"), PolicyDocument: aws.String(policy(pods))}); err != nil {
		t.Fatal(err)
	}
	refused("apps/web's token once the OIDC statement is gone", token("web", irsa.Audience),
		"(AccessDenied) when calling the AssumeRoleWithWebIdentity operation: Not authorized to perform sts:AssumeRoleWithWebIdentity")

	if _, err := iamc.UpdateAssumeRolePolicy(ctx, &iam.UpdateAssumeRolePolicyInput{RoleName: aws.String("web-irsa"), PolicyDocument: aws.String(policy(oidc))}); err != nil {
		t.Fatal(err)
	}
	if _, err := iamc.DeleteOpenIDConnectProvider(ctx, &iam.DeleteOpenIDConnectProviderInput{OpenIDConnectProviderArn: aws.String(providerARN)}); err != nil {
		t.Fatal(err)
	}
	refused("apps/web's token once the cluster's OIDC provider is gone", token("web", irsa.Audience), "No OpenIDConnect provider found in your account for "+issuer)
}
