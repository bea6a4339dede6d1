package integration

import (
	"net/url"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/aws-iam-authenticator/pkg/mapper/configmap"

	"github.com/eks-irsa/eks-irsa/irsa"
	"github.com/eks-irsa/eks-irsa/k8s"
)

// TestEmulatedClusterReplaced replaces the EKS cluster through the whole program, as AWS
// replaces it: a cluster created with envelope encryption loses it (cluster.secretsKmsKeyArn
// removed), which terraform-provider-aws's aws_eks_cluster cannot do in place
// ("You cannot disable envelope encryption after enabling it": CustomizeDiff ForceNewIfChange
// on encryption_config) and, the name being the program's, replaces delete-first. The new
// cluster keeps its name and ARN but is a new control plane (the test's control-plane
// service mints it: new endpoint, CA, issuer, no objects). The up must replace the OIDC
// provider (its URL changes), rewrite every IRSA trust policy to the new issuer, and apply
// aws-auth, aws-node's annotation and the created service accounts to the new control
// plane; verify --identities must pass against the new issuer, and the next up change nothing.
func TestEmulatedClusterReplaced(t *testing.T) {
	t.Parallel() // see startEmulated
	e := startEmulated(t)
	ctx := t.Context()
	clusterConfig := map[string]any{"version": "1.36", "publicAccessCidrs": []string{"0.0.0.0/0"}, "logRetentionDays": 30}
	encrypted := map[string]any{"secretsKmsKeyArn": "arn:aws:kms:" + emuRegion + ":123456789012:key/0b6c8c4e-5d2a-4e53-9a51-6d1f6a2f1e11"}
	for k, v := range clusterConfig {
		encrypted[k] = v
	}
	e.setConfig("eks-irsa:cluster", encrypted)
	if _, err := e.eksirsa("up", "--yes", "--no-verify"); err != nil {
		t.Fatalf("first up: %v", err)
	}
	old := e.cluster
	if cp := e.planes.Current(e.name); cp != old {
		t.Fatalf("the first cluster did not get the test's control plane")
	}

	e.setConfig("eks-irsa:cluster", clusterConfig)
	out, err := e.eksirsa("up", "--yes", "--no-verify")
	if err != nil {
		t.Fatalf("up that replaces the cluster: %v", err)
	}
	if !strings.Contains(out, "replaced") {
		t.Errorf("the up replaced nothing:\n%s", out)
	}
	cp := e.planes.Current(e.name)
	if cp == nil || cp == old || e.planes.Minted() != 1 {
		t.Fatalf("the replaced cluster has no control plane of its own (minted %d)", e.planes.Minted())
	}
	if cp.ServiceAccountIssuer == old.ServiceAccountIssuer {
		t.Fatalf("the new control plane kept the old issuer %s", old.ServiceAccountIssuer)
	}

	// IAM: one OIDC provider, for the new issuer, and every IRSA role trusts it alone.
	iamClient := iam.NewFromConfig(e.moto.Config(emuRegion))
	providers, err := iamClient.ListOpenIDConnectProviders(ctx, &iam.ListOpenIDConnectProvidersInput{})
	if err != nil {
		t.Fatal(err)
	}
	newHost := strings.TrimPrefix(cp.ServiceAccountIssuer, "https://")
	oldHost := strings.TrimPrefix(old.ServiceAccountIssuer, "https://")
	if len(providers.OpenIDConnectProviderList) != 1 || !strings.HasSuffix(aws.ToString(providers.OpenIDConnectProviderList[0].Arn), ":oidc-provider/"+newHost) {
		t.Errorf("OIDC providers after the replacement: %+v, want one for %s", providers.OpenIDConnectProviderList, newHost)
	}
	outs := e.outputs()
	if outs.Issuer != cp.ServiceAccountIssuer {
		t.Errorf("oidcIssuer output %q, want the new issuer %q", outs.Issuer, cp.ServiceAccountIssuer)
	}
	if len(outs.Roles) == 0 {
		t.Fatalf("no irsaRoles output: %+v", outs)
	}
	for account, r := range outs.Roles {
		name := r.RoleARN[strings.LastIndex(r.RoleARN, "/")+1:]
		role, err := iamClient.GetRole(ctx, &iam.GetRoleInput{RoleName: aws.String(name)})
		if err != nil {
			t.Fatalf("%s's role %s: %v", account, name, err)
		}
		trust, err := url.QueryUnescape(aws.ToString(role.Role.AssumeRolePolicyDocument))
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(trust, newHost+":sub") || strings.Contains(trust, oldHost) {
			t.Errorf("%s's trust policy is not the new issuer's (%s):\n%s", account, newHost, trust)
		}
	}

	// The new control plane carries what the program applies; nothing is left to the old one.
	c := cp.Client
	cm, err := c.CoreV1().ConfigMaps(k8s.KubeSystemNamespace).Get(ctx, k8s.AWSAuthName, metav1.GetOptions{})
	if err != nil {
		t.Errorf("aws-auth on the new control plane: %v", err)
	} else if _, roles, _, err := configmap.ParseMap(cm.Data); err != nil || len(roles) == 0 || !strings.HasSuffix(roles[0].RoleARN, ":role/"+e.nodeRole) {
		t.Errorf("aws-auth on the new control plane maps %+v (%v), want the node role %s", roles, err, e.nodeRole)
	}
	for account, r := range outs.Roles {
		ns, name, _ := strings.Cut(account, "/")
		sa, err := c.CoreV1().ServiceAccounts(ns).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			t.Errorf("%s on the new control plane: %v", account, err)
			continue
		}
		if got := sa.Annotations[irsa.RoleARNAnnotation]; got != r.RoleARN {
			t.Errorf("%s on the new control plane is annotated %q, want %q", account, got, r.RoleARN)
		}
	}

	// The whole verify, cluster checks too: the nodes join the new control plane (see
	// currentNodes) and aws-node and coredns run there.
	out, err = e.eksirsa("verify", "--identities", "--format", "json", "--wait", "3m")
	if err != nil {
		t.Fatalf("verify --identities after the replacement: %v\n%s", err, out)
	}
	var proof identityReport
	jsonAfter(t, out, &proof)
	if !proof.Passed || len(proof.Identities) != len(outs.Roles) {
		t.Errorf("verify --identities proved %d of %d identities (passed %v)", len(proof.Identities), len(outs.Roles), proof.Passed)
	}
	for _, id := range proof.Identities {
		if id.Token.Issuer != cp.ServiceAccountIssuer {
			t.Errorf("%s was proven with a token of %s, want the new issuer %s", id.Account, id.Token.Issuer, cp.ServiceAccountIssuer)
		}
	}
	e.upChangesNothing("the up after the replacement")
}
