package infra

import (
	"encoding/base64"
	"errors"
	"fmt"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"github.com/eks-irsa/eks-irsa/awsaccess"
)

// ExecAPIVersion is the client-authentication API the kubeconfig's exec plugin speaks.
const ExecAPIVersion = "client.authentication.k8s.io/v1beta1"

// KubeconfigParams name the cluster a kubeconfig reaches.
type KubeconfigParams struct {
	ClusterName string
	Endpoint    string // https URL
	CAData      string // base64 PEM, as EKS returns it
	Region      string
	Credentials awsaccess.ExecCredentials // awsaccess.Access.Exec
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
func kubeconfigOutput(name, endpoint, caData pulumi.StringOutput, region string, creds awsaccess.ExecCredentials) pulumi.StringOutput {
	return pulumi.ToSecret(allStrings(func(v ...string) (string, error) {
		return Kubeconfig(KubeconfigParams{ClusterName: v[0], Endpoint: v[1], CAData: v[2], Region: region, Credentials: creds})
	}, name, endpoint, caData)).(pulumi.StringOutput)
}
