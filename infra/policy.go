package infra

import (
	"encoding/json"
	"fmt"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/eks-irsa/eks-irsa/irsa"
)

// PolicyDocument is an IAM policy document in the JSON grammar IAM accepts
// (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_grammar.html). The
// program builds every document it writes as one, so the JSON `eksirsa plan` prints is,
// byte for byte, the JSON IAM receives: nothing renders it in between.
type PolicyDocument struct {
	Version   string            `json:"Version"`
	Statement []PolicyStatement `json:"Statement"`
}

// PolicyStatement is one statement. Principal maps a principal type ("Service",
// "Federated") to its identifier; Condition maps an operator ("StringEquals") to condition
// keys and the value each must have.
type PolicyStatement struct {
	Effect    string                       `json:"Effect"`
	Principal map[string]string            `json:"Principal,omitempty"`
	Action    []string                     `json:"Action"`
	Resource  []string                     `json:"Resource,omitempty"`
	Condition map[string]map[string]string `json:"Condition,omitempty"`
}

// policyVersion is the current version of the policy language.
const policyVersion = "2012-10-17"

// JSON renders the document as IAM receives it (indented, for people reading a plan; IAM
// ignores the whitespace).
func (d PolicyDocument) JSON() (string, error) {
	b, err := json.MarshalIndent(d, "", "  ")
	if err != nil {
		return "", fmt.Errorf("policy document: %w", err)
	}
	return string(b), nil
}

// policyJSON renders a document built from resolved outputs.
func policyJSON(build func(v ...string) PolicyDocument, outs ...pulumi.StringOutput) pulumi.StringOutput {
	return allStrings(func(v ...string) (string, error) { return build(v...).JSON() }, outs...)
}

// serviceTrustPolicy lets an AWS service (eks, ec2, vpc-flow-logs) assume a role.
func serviceTrustPolicy(principal string) PolicyDocument {
	return PolicyDocument{Version: policyVersion, Statement: []PolicyStatement{{
		Effect:    "Allow",
		Principal: map[string]string{"Service": principal},
		Action:    []string{assumeRole},
	}}}
}

// Session tags EKS Pod Identity puts on the role session it assumes for a pod, as trust-policy
// condition keys (EKS User Guide, pod-id-abac, "Enable or disable session tags": eks-cluster-arn,
// eks-cluster-name, kubernetes-namespace, kubernetes-service-account, kubernetes-pod-name,
// kubernetes-pod-uid; pod-id-role, "Setting Conditions", restricts a role to one namespace and
// service account with aws:RequestTag/kubernetes-namespace and -service-account).
const (
	podIdentityClusterARNTag     = "aws:RequestTag/eks-cluster-arn"
	podIdentityNamespaceTag      = "aws:RequestTag/kubernetes-namespace"
	podIdentityServiceAccountTag = "aws:RequestTag/kubernetes-service-account"
)

// RoleTrust is who may assume a service account's role: IRSA (the cluster's OIDC provider,
// for the account's projected token), EKS Pod Identity (pods.eks.amazonaws.com, for the pods of
// an association in the cluster), or both (the migration's middle state: one statement each).
type RoleTrust struct {
	IRSA, PodIdentity bool
	// ProviderARN and IssuerHost (the issuer without https://) name the OIDC provider (IRSA).
	ProviderARN, IssuerHost string
	// ClusterARN is the cluster whose associations may use the role (Pod Identity).
	ClusterARN                string
	Namespace, ServiceAccount string
}

// Document is the trust policy, the OIDC statement first.
func (t RoleTrust) Document() PolicyDocument {
	d := PolicyDocument{Version: policyVersion}
	if t.IRSA {
		d.Statement = append(d.Statement, webIdentityStatement(t.ProviderARN, t.IssuerHost, t.Namespace, t.ServiceAccount))
	}
	if t.PodIdentity {
		d.Statement = append(d.Statement, podIdentityStatement(t.ClusterARN, t.Namespace, t.ServiceAccount))
	}
	return d
}

// podIdentityStatement lets EKS Pod Identity assume the role for the pods of
// namespace/serviceAccount in one cluster: principal pods.eks.amazonaws.com, actions
// sts:AssumeRole and sts:TagSession (EKS User Guide, pod-id-role; EKS refuses an association
// whose role's trust lacks them), narrowed by the session tags EKS sets, so that an association
// of another account, namespace or cluster that names this role gets nothing from STS.
func podIdentityStatement(clusterARN, namespace, serviceAccount string) PolicyStatement {
	return PolicyStatement{
		Effect:    "Allow",
		Principal: map[string]string{"Service": podsPrincipal},
		Action:    []string{assumeRole, tagSession},
		Condition: map[string]map[string]string{"StringEquals": {
			podIdentityClusterARNTag:     clusterARN,
			podIdentityNamespaceTag:      namespace,
			podIdentityServiceAccountTag: serviceAccount,
		}},
	}
}

// webIdentityStatement lets the service account namespace/serviceAccount assume a role
// with its projected token: sts:AssumeRoleWithWebIdentity from the cluster's OIDC provider
// only when the token's sub is exactly this account and its aud is sts.amazonaws.com
// (without the aud check any audience's token would do). issuerHost is the issuer without
// https://, as IAM names the provider's condition keys.
func webIdentityStatement(providerARN, issuerHost, namespace, serviceAccount string) PolicyStatement {
	return PolicyStatement{
		Effect:    "Allow",
		Principal: map[string]string{"Federated": providerARN},
		Action:    []string{irsa.AssumeAction},
		Condition: map[string]map[string]string{"StringEquals": {
			issuerHost + ":sub": irsa.Subject(namespace, serviceAccount),
			issuerHost + ":aud": irsa.Audience,
		}},
	}
}

// mustJSON renders a document made of constants, which always marshals.
func mustJSON(d PolicyDocument) pulumi.String {
	s, err := d.JSON()
	if err != nil {
		panic(err)
	}
	return pulumi.String(s)
}
