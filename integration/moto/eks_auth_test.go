package moto_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/credentials/endpointcreds"
	"github.com/aws/aws-sdk-go-v2/service/eks"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/eks-irsa/eks-irsa/integration/testcluster"
)

// podIdentityAudience is the audience of the token the Pod Identity agent sends to EKS Auth
// (EKS User Guide, pod-id-how-it-works).
const podIdentityAudience = "pods.eks.amazonaws.com"

// EKS Auth's AssumeRoleForPodIdentity on moto (integration/moto/eks_auth.py), through the aws
// CLI (the Go SDK's eksauth client is not in the module cache, and no module is added for it):
// a token the cluster's API server issued for apps/web with audience pods.eks.amazonaws.com
// gets credentials for its association's role, which moto's STS names in GetCallerIdentity,
// and so does the Pod Identity agent's stand-in (testcluster.PodIdentityAgent) for the SDK's
// own container-credentials provider; the role's trust, narrowed to the session tags of
// apps/web in this cluster as the program writes it, refuses another account's association to
// the same role (through the agent too, with EKS Auth's status and code); a token of another
// audience, a forged one, an account without association and an unknown cluster are refused
// with EKS Auth's errors.
func TestEKSAuthAssumeRoleForPodIdentity(t *testing.T) {
	d := startDemoCluster(t, "web", "intruder", "other")
	s, c, ctx := d.s, d.eks, t.Context()
	clusterARN := aws.ToString(d.cluster.Arn)

	// The role as the program writes it for apps/web (infra.RoleTrust): pods.eks.amazonaws.com,
	// only for sessions tagged with this cluster, apps and web.
	narrowed := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"pods.eks.amazonaws.com"},"Action":["sts:AssumeRole","sts:TagSession"],` +
		`"Condition":{"StringEquals":{"aws:RequestTag/eks-cluster-arn":"` + clusterARN + `","aws:RequestTag/kubernetes-namespace":"apps","aws:RequestTag/kubernetes-service-account":"web"}}}]}`
	if _, err := iam.NewFromConfig(s.Config(s.Region)).CreateRole(ctx, &iam.CreateRoleInput{RoleName: aws.String("web-pods"), AssumeRolePolicyDocument: aws.String(narrowed)}); err != nil {
		t.Fatal(err)
	}
	role := "arn:aws:iam::123456789012:role/web-pods"
	web, err := c.CreatePodIdentityAssociation(ctx, &eks.CreatePodIdentityAssociationInput{ClusterName: aws.String("demo"),
		Namespace: aws.String("apps"), ServiceAccount: aws.String("web"), RoleArn: aws.String(role)})
	if err != nil {
		t.Fatal(err)
	}
	// Another account's association naming the same role: EKS accepts it (its trust check is
	// structural), the role's conditions refuse its sessions.
	if _, err := c.CreatePodIdentityAssociation(ctx, &eks.CreatePodIdentityAssociationInput{ClusterName: aws.String("demo"),
		Namespace: aws.String("apps"), ServiceAccount: aws.String("intruder"), RoleArn: aws.String(role)}); err != nil {
		t.Fatal(err)
	}

	token := func(account, audience string) string { return d.token(t, account, audience) }

	cli := d.cli(t)
	assume := func(cluster, token string) (string, error) {
		return cli(nil, "eks-auth", "assume-role-for-pod-identity", "--cluster-name", cluster, "--token", token, "--output", "json")
	}

	out, err := assume("demo", token("web", podIdentityAudience))
	if err != nil {
		t.Fatalf("aws eks-auth assume-role-for-pod-identity for apps/web: %v\n%s", err, out)
	}
	var got struct {
		Subject                struct{ Namespace, ServiceAccount string }
		Audience               string
		PodIdentityAssociation struct{ AssociationArn, AssociationId string }
		AssumedRoleUser        struct{ Arn, AssumeRoleId string }
		Credentials            struct{ AccessKeyId, SecretAccessKey, SessionToken string }
	}
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if got.Subject.Namespace != "apps" || got.Subject.ServiceAccount != "web" || got.Audience != podIdentityAudience ||
		got.PodIdentityAssociation.AssociationId != aws.ToString(web.Association.AssociationId) ||
		!strings.HasPrefix(got.AssumedRoleUser.Arn, "arn:aws:sts::123456789012:assumed-role/web-pods/") || got.Credentials.AccessKeyId == "" {
		t.Errorf("AssumeRoleForPodIdentity answered %+v, want apps/web, audience %s, association %s and credentials for web-pods",
			got, podIdentityAudience, aws.ToString(web.Association.AssociationId))
	}
	// The credentials are moto's STS's: GetCallerIdentity with them names the role's session.
	caller, err := cli([]string{"AWS_ACCESS_KEY_ID=" + got.Credentials.AccessKeyId, "AWS_SECRET_ACCESS_KEY=" + got.Credentials.SecretAccessKey,
		"AWS_SESSION_TOKEN=" + got.Credentials.SessionToken}, "sts", "get-caller-identity", "--query", "Arn", "--output", "text")
	if err != nil || strings.TrimSpace(caller) != got.AssumedRoleUser.Arn {
		t.Errorf("GetCallerIdentity with the credentials: %v %q, want %s", err, strings.TrimSpace(caller), got.AssumedRoleUser.Arn)
	}

	// The same through the Pod Identity agent's stand-in, by the SDK's own container-credentials
	// provider as a pod's SDK uses it (the token in the Authorization header): the agent signs
	// AssumeRoleForPodIdentity for the cluster, and STS names the role's session.
	agent := testcluster.StartPodIdentityAgent(t, s.URL, "demo", s.Region, s.Config(s.Region).Credentials)
	viaAgent := func(token string) (aws.Credentials, error) {
		return endpointcreds.New(agent.URL, func(o *endpointcreds.Options) { o.AuthorizationToken = token }).Retrieve(ctx)
	}
	creds, err := viaAgent(token("web", podIdentityAudience))
	if err != nil {
		t.Fatalf("container credentials from the agent stand-in for apps/web: %v", err)
	}
	stsCfg := s.Config(s.Region)
	stsCfg.Credentials = credentials.StaticCredentialsProvider{Value: creds}
	who, err := sts.NewFromConfig(stsCfg).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if err != nil || !strings.HasPrefix(aws.ToString(who.Arn), "arn:aws:sts::123456789012:assumed-role/web-pods/") || !creds.CanExpire {
		t.Errorf("GetCallerIdentity with the agent's credentials: %v %v (expires %v), want a session of web-pods", err, aws.ToString(who.Arn), creds.Expires)
	}
	// EKS Auth's refusal keeps its status (the agent's pkg/errors) and reaches the pod's SDK
	// with its code.
	intruder := token("intruder", podIdentityAudience)
	if _, err := viaAgent(intruder); err == nil || !strings.Contains(err.Error(), "(AccessDeniedException)") {
		t.Errorf("the agent for another account's association: %v, want EKS Auth's AccessDeniedException", err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, agent.URL, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", intruder)
	// The EKS Auth model (eks-auth-2023-11-26) gives AccessDeniedException HTTP 400.
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != http.StatusBadRequest {
		t.Errorf("the agent for another account's association answered %v %v, want EKS Auth's 400", resp, err)
	} else {
		resp.Body.Close()
	}

	forged := token("web", podIdentityAudience)
	forged = forged[:len(forged)-4] + strings.Map(func(r rune) rune {
		if r == 'A' {
			return 'B'
		}
		return 'A'
	}, forged[len(forged)-4:])
	for _, tc := range []struct {
		name, cluster, token, want string
	}{
		{"another account's association to the narrowed role", "demo", token("intruder", podIdentityAudience), "AccessDeniedException"},
		{"a token for STS, not Pod Identity", "demo", token("web", "sts.amazonaws.com"), "InvalidTokenException"},
		{"a forged signature", "demo", forged, "InvalidTokenException"},
		{"an account without association", "demo", token("other", podIdentityAudience), "ResourceNotFoundException"},
		{"an unknown cluster", "nope", token("web", podIdentityAudience), "ResourceNotFoundException"},
	} {
		if out, err := assume(tc.cluster, tc.token); err == nil || !strings.Contains(out, tc.want) {
			t.Errorf("%s: %v, want %s in\n%s", tc.name, err, tc.want, out)
		}
	}
}
