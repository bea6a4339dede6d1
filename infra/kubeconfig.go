package infra

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"

	awsconfig "github.com/pulumi/pulumi-aws/sdk/v6/go/aws/config"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// ExecAPIVersion is the client-authentication API the kubeconfig's exec plugin speaks.
const ExecAPIVersion = "client.authentication.k8s.io/v1beta1"

// AWS provider config keys the kubeconfig follows.
const (
	ProfileKey    = "aws:profile"
	AssumeRoleKey = "aws:assumeRole"
)

// ExecCredentials is who `aws eks get-token` signs as. It must be the principal the AWS
// provider created the cluster as: EKS makes that principal the cluster's admin
// (bootstrapClusterCreatorAdminPermissions), and anyone else is Unauthorized until aws-auth,
// which this very kubeconfig applies, maps them.
type ExecCredentials struct {
	Profile string // aws:profile, passed as AWS_PROFILE
	RoleARN string // aws:assumeRole.roleArn, passed as --role-arn
}

// ExecCredentialsFromConfig reads the AWS provider's aws:profile and aws:assumeRole.
func ExecCredentialsFromConfig(ctx *pulumi.Context) (ExecCredentials, error) {
	return ParseExecCredentials(awsconfig.GetProfile(ctx), awsconfig.GetAssumeRole(ctx))
}

// ParseExecCredentials takes aws:profile and aws:assumeRole as the engine hands them over
// (the latter a JSON object). It refuses an assumed role that `aws eks get-token` cannot
// reproduce: the CLI has --role-arn and nothing for an external id.
func ParseExecCredentials(profile, assumeRole string) (ExecCredentials, error) {
	creds := ExecCredentials{Profile: profile}
	if assumeRole == "" {
		return creds, nil
	}
	var role awsconfig.AssumeRole
	if err := json.Unmarshal([]byte(assumeRole), &role); err != nil {
		return creds, fmt.Errorf("want an object such as {\"roleArn\": \"arn:aws:iam::123456789012:role/deployer\"} (%v)", err)
	}
	if role.RoleArn == nil || *role.RoleArn == "" {
		return creds, errors.New("roleArn is missing: the kubeconfig's `aws eks get-token --role-arn` needs the role the provider assumes")
	}
	if role.ExternalId != nil && *role.ExternalId != "" {
		return creds, errors.New("externalId is set, which `aws eks get-token` cannot pass: assume the role through a profile (role_arn and external_id in ~/.aws/config) and set aws:profile instead")
	}
	creds.RoleARN = *role.RoleArn
	return creds, nil
}

// KubeconfigParams name the cluster a kubeconfig reaches.
type KubeconfigParams struct {
	ClusterName string
	Endpoint    string // https URL
	CAData      string // base64 PEM, as EKS returns it
	Region      string
	Credentials ExecCredentials
}

// Kubeconfig writes a kubeconfig that authenticates with `aws eks get-token`, so it holds no
// credential of its own and works for whoever runs it with AWS credentials: as the AWS
// provider's profile and assumed role when the stack sets them. It is encoded by client-go,
// the same code kubectl reads it with.
func Kubeconfig(p KubeconfigParams) (string, error) {
	if p.ClusterName == "" || p.Endpoint == "" || p.Region == "" {
		return "", errors.New("kubeconfig: cluster name, endpoint and region are required")
	}
	ca, err := base64.StdEncoding.DecodeString(p.CAData)
	if err != nil {
		return "", fmt.Errorf("kubeconfig: certificate authority data is not base64: %w", err)
	}
	name := p.ClusterName
	args := []string{"eks", "get-token", "--cluster-name", p.ClusterName, "--region", p.Region, "--output", "json"}
	if p.Credentials.RoleARN != "" {
		args = append(args, "--role-arn", p.Credentials.RoleARN)
	}
	var env []clientcmdapi.ExecEnvVar
	if p.Credentials.Profile != "" {
		env = append(env, clientcmdapi.ExecEnvVar{Name: "AWS_PROFILE", Value: p.Credentials.Profile})
	}
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters[name] = &clientcmdapi.Cluster{Server: p.Endpoint, CertificateAuthorityData: ca}
	cfg.AuthInfos[name] = &clientcmdapi.AuthInfo{Exec: &clientcmdapi.ExecConfig{
		APIVersion:      ExecAPIVersion,
		Command:         "aws",
		Args:            args,
		Env:             env,
		InteractiveMode: clientcmdapi.NeverExecInteractiveMode,
	}}
	cfg.Contexts[name] = &clientcmdapi.Context{Cluster: name, AuthInfo: name}
	cfg.CurrentContext = name
	out, err := clientcmd.Write(*cfg)
	if err != nil {
		return "", fmt.Errorf("kubeconfig: encode: %w", err)
	}
	return string(out), nil
}

// kubeconfigOutput is Kubeconfig over the cluster's outputs, as a secret.
func kubeconfigOutput(name, endpoint, caData pulumi.StringOutput, region string, creds ExecCredentials) pulumi.StringOutput {
	return pulumi.ToSecret(allStrings(func(v ...string) (string, error) {
		return Kubeconfig(KubeconfigParams{ClusterName: v[0], Endpoint: v[1], CAData: v[2], Region: region, Credentials: creds})
	}, name, endpoint, caData)).(pulumi.StringOutput)
}
