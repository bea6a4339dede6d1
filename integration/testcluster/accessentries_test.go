package testcluster_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/eks"
	ekstypes "github.com/aws/aws-sdk-go-v2/service/eks/types"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/eks-irsa/eks-irsa/integration/moto"
	"github.com/eks-irsa/eks-irsa/integration/testcluster"
	"github.com/eks-irsa/eks-irsa/k8s"
)

const (
	devRole   = "arn:aws:iam::123456789012:role/team/dev"
	opsRole   = "arn:aws:iam::123456789012:role/ops"
	motoUser  = "arn:aws:iam::123456789012:user/moto" // who moto's STS says the dummy keys are: the creator
	viewARN   = "arn:aws:eks::aws:cluster-access-policy/AmazonEKSViewPolicy"
	editARN   = "arn:aws:eks::aws:cluster-access-policy/AmazonEKSEditPolicy"
	opsMapped = "- rolearn: arn:aws:iam::123456789012:role/nodes\n  username: system:node:{{EC2PrivateDNSName}}\n  groups: [system:bootstrappers, system:nodes]\n" +
		"- rolearn: " + opsRole + "\n  username: ops-overridden\n  groups: [old]\n" + // the last mapping of an ARN wins
		"- rolearn: " + opsRole + "\n  username: ops:{{SessionName}}\n  groups: [ops]\n- rolearn: arn:aws:iam::123456789012:role/dev\n  username: dev-from-aws-auth\n  groups: [aws-auth-devs]\n"
)

// The stand-in maps a principal as EKS does: its access entry first (username with the
// session filled in, groups, each access policy as the ClusterRole EKS documents, the creator's
// cluster admin as system:masters), aws-auth only when it has no entry and the mode reads the
// ConfigMap, and nobody otherwise.
func TestAWSIAMAuthMapsAsEKSDoes(t *testing.T) {
	m := moto.Start(t)
	c := eks.NewFromConfig(m.Config("us-west-2"))
	ctx := t.Context()
	// The role with its path, as IAM has it: its sessions' ARNs drop the path.
	if _, err := iam.NewFromConfig(m.Config("us-west-2")).CreateRole(ctx, &iam.CreateRoleInput{RoleName: aws.String("dev"), Path: aws.String("/team/"),
		AssumeRolePolicyDocument: aws.String(`{"Version":"2012-10-17","Statement":[]}`)}); err != nil {
		t.Fatal(err)
	}
	for _, mode := range []ekstypes.AuthenticationMode{ekstypes.AuthenticationModeApi, ekstypes.AuthenticationModeApiAndConfigMap, ekstypes.AuthenticationModeConfigMap} {
		name := strings.ToLower(strings.ReplaceAll(string(mode), "_", "-"))
		if _, err := c.CreateCluster(ctx, &eks.CreateClusterInput{Name: aws.String(name), RoleArn: aws.String("arn:aws:iam::123456789012:role/cluster"),
			ResourcesVpcConfig: &ekstypes.VpcConfigRequest{},
			AccessConfig:       &ekstypes.CreateAccessConfigRequest{AuthenticationMode: mode, BootstrapClusterCreatorAdminPermissions: aws.Bool(true)}}); err != nil {
			t.Fatal(err)
		}
		if mode == ekstypes.AuthenticationModeConfigMap {
			continue // the API refuses entries in CONFIG_MAP
		}
		if _, err := c.CreateAccessEntry(ctx, &eks.CreateAccessEntryInput{ClusterName: aws.String(name), PrincipalArn: aws.String(devRole),
			Username: aws.String("dev:{{SessionName}}"), KubernetesGroups: []string{"devs"}}); err != nil {
			t.Fatal(err)
		}
		for _, p := range []struct {
			arn   string
			scope ekstypes.AccessScope
		}{{viewARN, ekstypes.AccessScope{Type: ekstypes.AccessScopeTypeCluster}}, {editARN, ekstypes.AccessScope{Type: ekstypes.AccessScopeTypeNamespace, Namespaces: []string{"apps"}}}} {
			if _, err := c.AssociateAccessPolicy(ctx, &eks.AssociateAccessPolicyInput{ClusterName: aws.String(name), PrincipalArn: aws.String(devRole),
				PolicyArn: aws.String(p.arn), AccessScope: &p.scope}); err != nil {
				t.Fatal(err)
			}
		}
	}
	// A node's role session is named after its instance: {{EC2PrivateDNSName}} is the
	// instance's private DNS name, from EC2 (as aws-iam-authenticator's ec2provider reads it).
	run, err := ec2.NewFromConfig(m.Config("us-west-2")).RunInstances(ctx, &ec2.RunInstancesInput{ImageId: aws.String("ami-12c6146b"), MinCount: aws.Int32(1), MaxCount: aws.Int32(1)})
	if err != nil {
		t.Fatal(err)
	}
	instance := aws.ToString(run.Instances[0].InstanceId)
	nodeName := "system:node:" + aws.ToString(run.Instances[0].PrivateDnsName)
	devSession := "arn:aws:sts::123456789012:assumed-role/dev/alice@example.com"
	opsSession := "arn:aws:sts::123456789012:assumed-role/ops/bob"
	for _, tc := range []struct {
		cluster, arn string
		user         string   // "" when refused
		groups       []string // sorted
		refused      string
	}{
		{"api", devSession, "dev:alice-example.com", []string{"devs"}, ""},
		{"api", motoUser, motoUser, []string{"system:masters"}, ""},
		{"api", opsSession, "", nil, "whose mode API ignores aws-auth"},
		{"api-and-config-map", devSession, "dev:alice-example.com", []string{"devs"}, ""}, // the entry, not aws-auth's row
		{"api-and-config-map", opsSession, "ops:bob", []string{"ops"}, ""},
		{"api-and-config-map", "arn:aws:sts::123456789012:assumed-role/stranger/x", "", nil, "aws-auth does not map it"},
		{"config-map", devSession, "dev-from-aws-auth", []string{"aws-auth-devs"}, ""},
		{"api-and-config-map", "arn:aws:sts::123456789012:assumed-role/nodes/" + instance, nodeName, []string{"system:bootstrappers", "system:nodes"}, ""},
		{"api-and-config-map", "arn:aws:sts::123456789012:assumed-role/nodes/not-an-instance", "", nil, "is not an instance id"},
	} {
		t.Run(tc.cluster+" "+tc.arn, func(t *testing.T) {
			kube := fake.NewClientset(&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: k8s.KubeSystemNamespace, Name: k8s.AWSAuthName},
				Data: map[string]string{k8s.MapRolesKey: opsMapped}})
			a := &testcluster.AWSIAMAuth{ClusterName: tc.cluster, Region: "us-west-2", EKS: &testcluster.EKSAccess{Endpoint: m.URL}}
			a.EKS.UseKube(kube)
			u, err := a.MapARN(ctx, tc.arn)
			if tc.user == "" {
				if err == nil || !strings.Contains(err.Error(), tc.refused) {
					t.Fatalf("mapped to %+v, %v; want refused saying %q", u, err, tc.refused)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			slices.Sort(u.Groups)
			if u.Username != tc.user || !slices.Equal(u.Groups, tc.groups) {
				t.Errorf("mapped to %s %q, want %s %q", u.Username, u.Groups, tc.user, tc.groups)
			}
			if tc.user != "dev:alice-example.com" {
				return
			}
			// AmazonEKSViewPolicy at cluster scope, AmazonEKSEditPolicy in apps.
			crbs, _ := kube.RbacV1().ClusterRoleBindings().List(ctx, metav1.ListOptions{})
			rbs, _ := kube.RbacV1().RoleBindings("apps").List(ctx, metav1.ListOptions{})
			if len(crbs.Items) != 1 || crbs.Items[0].RoleRef.Name != "view" || crbs.Items[0].Subjects[0].Name != tc.user {
				t.Errorf("cluster role bindings %+v, want view for %s", crbs.Items, tc.user)
			}
			if len(rbs.Items) != 1 || rbs.Items[0].RoleRef.Name != "edit" || rbs.Items[0].Subjects[0].Name != tc.user {
				t.Errorf("role bindings in apps %+v, want edit for %s", rbs.Items, tc.user)
			}
		})
	}
}

// Another principal's token (here a user's own key, presigned for moto's STS as the aws CLI
// does with AWS_ENDPOINT_URL_STS) is checked by that STS, as EKS checks it, and mapped as EKS
// maps the principal; the creator's key alone is the stand-in's to check.
func TestAWSIAMAuthMapsAnotherPrincipalsToken(t *testing.T) {
	m := moto.Start(t)
	ctx := t.Context()
	cfg := m.Config("us-west-2")
	c := iam.NewFromConfig(cfg)
	if _, err := c.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String("bob")}); err != nil {
		t.Fatal(err)
	}
	key, err := c.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String("bob")})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := eks.NewFromConfig(cfg).CreateCluster(ctx, &eks.CreateClusterInput{Name: aws.String("demo"), RoleArn: aws.String("arn:aws:iam::123456789012:role/cluster"),
		ResourcesVpcConfig: &ekstypes.VpcConfigRequest{}, AccessConfig: &ekstypes.CreateAccessConfigRequest{AuthenticationMode: ekstypes.AuthenticationModeApiAndConfigMap}}); err != nil {
		t.Fatal(err)
	}
	kube := fake.NewClientset(&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: k8s.KubeSystemNamespace, Name: k8s.AWSAuthName},
		Data: map[string]string{k8s.MapUsersKey: "- userarn: arn:aws:iam::123456789012:user/bob\n  username: bob\n  groups: [devs]\n"}})
	a := &testcluster.AWSIAMAuth{ClusterName: "demo", Region: "us-west-2", AccessKeyID: "AKIDTESTCREATOR", SecretAccessKey: "creator-secret", Username: "creator",
		EKS: &testcluster.EKSAccess{Endpoint: m.URL}}
	a.EKS.UseKube(kube)
	token := testcluster.GetToken(t, "demo", "us-west-2", "AWS_ACCESS_KEY_ID="+aws.ToString(key.AccessKey.AccessKeyId),
		"AWS_SECRET_ACCESS_KEY="+aws.ToString(key.AccessKey.SecretAccessKey), "AWS_ENDPOINT_URL_STS="+m.URL)
	u, err := a.Authenticate(ctx, token)
	if err != nil || u.Username != "bob" || !slices.Equal(u.Groups, []string{"devs"}) {
		t.Errorf("bob's token: %+v, %v; want bob in [devs]", u, err)
	}
}
