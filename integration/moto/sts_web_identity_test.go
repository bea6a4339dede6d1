package moto_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"

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
	d := startDemoCluster(t, "web", "intruder")
	s, ctx := d.s, t.Context()
	issuer := aws.ToString(d.cluster.Identity.Oidc.Issuer)
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

	token := func(account, audience string) string { return d.token(t, account, audience) }

	cli := d.cli(t)
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
