package stack

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"github.com/eks-irsa/eks-irsa/infra"
	"github.com/eks-irsa/eks-irsa/k8s"
)

// IAM's "Role trust policy length" quota (IAM User Guide, reference_iam-quotas: 2,048
// characters by default, at most 4,096 once raised; IAM does not count whitespace).
const (
	defaultTrustPolicyChars = 2048
	maxTrustPolicyChars     = 4096
)

// Lengths of the values a trust policy names that are known only once deployed: an AWS account
// id is 12 digits (IAM User Guide, reference_identifiers), and the id at the end of an EKS OIDC
// issuer 32 hexadecimal characters (EKS User Guide, cni-iam-role and enable-iam-roles-for-
// service-accounts: https://oidc.eks.region-code.amazonaws.com/id/EXAMPLED539D4633E53DE1B71EXAMPLE).
const (
	accountIDChars = 12
	issuerIDChars  = 32
)

// partitionDNSSuffix is the DNS suffix of each partition's endpoints, which EKS issuer URLs
// end with (botocore's endpoints.json, "dnsSuffix" of each partition).
var partitionDNSSuffix = map[string]string{
	"aws": "amazonaws.com", "aws-cn": "amazonaws.com.cn", "aws-us-gov": "amazonaws.com",
	"aws-iso": "c2s.ic.gov", "aws-iso-b": "sc2s.sgov.gov", "aws-iso-e": "cloud.adc-e.uk", "aws-iso-f": "csp.hci.ic.gov",
}

// trustPolicySize is what IAM counts against the trust-policy quota for an entry's role: the
// document infra.RoleTrust builds, without whitespace, with the deploy-time values at their
// exact lengths.
func (c *Config) trustPolicySize(r ServiceAccountRoleConfig) int {
	partition := Partition(c.Region)
	account := strings.Repeat("1", accountIDChars)
	issuerHost := fmt.Sprintf("oidc.eks.%s.%s/id/%s", c.Region, partitionDNSSuffix[partition], strings.Repeat("A", issuerIDChars))
	doc := infra.RoleTrust{
		IRSA: r.IRSA(), PodIdentity: r.PodIdentity(),
		ProviderARN:    fmt.Sprintf("arn:%s:iam::%s:oidc-provider/%s", partition, account, issuerHost),
		IssuerHost:     issuerHost,
		ClusterARN:     fmt.Sprintf("arn:%s:eks:%s:%s:cluster/%s", partition, c.Region, account, c.Name()),
		Namespace:      r.Namespace,
		ServiceAccount: r.ServiceAccount,
	}.Document()
	b, err := json.Marshal(doc)
	if err != nil {
		return 0 // a document of strings always marshals
	}
	return inlinePolicySize(b)
}

// addonAccountsWithoutPodIdentity are accounts EKS add-ons run as whose pods cannot take Pod
// Identity credentials, each with its source.
var addonAccountsWithoutPodIdentity = map[string]string{
	// The agent itself: it serves Pod Identity, calling eks-auth:AssumeRoleForPodIdentity with
	// the node role's credentials (EKS User Guide, pod-id-agent-setup, "Agent prerequisites":
	// the node role needs that action, in AmazonEKSWorkerNodePolicy). An association for its
	// account would ask it for its own credentials.
	k8s.AccountKey(k8s.KubeSystemNamespace, infra.PodIdentityAgentAddon): "the eks-pod-identity-agent add-on serves Pod Identity with the node role's credentials (EKS User Guide, pod-id-agent-setup): it cannot take them from itself",
}

// validatePodIdentity checks what Pod Identity cannot serve, and the IAM quota key.
func (c *Config) validatePodIdentity(v *validator) {
	if n := c.IAM.TrustPolicyMaxChars; n < defaultTrustPolicyChars || n > maxTrustPolicyChars {
		v.add("iam.trustPolicyMaxChars", strconv.Itoa(n), "want the account's \"Role trust policy length\" quota: %d (the default) up to %d (the most Service Quotas grants)", defaultTrustPolicyChars, maxTrustPolicyChars)
	}
	var podIdentity []string
	for i, r := range c.ServiceAccountRoles {
		if !r.PodIdentity() {
			continue
		}
		key := fmt.Sprintf("serviceAccountRoles[%d].identity", i)
		sa := k8s.AccountKey(r.Namespace, r.ServiceAccount)
		podIdentity = append(podIdentity, sa)
		if r.Namespace == k8s.KubeSystemNamespace && r.ServiceAccount == k8s.AWSNodeName {
			// The VPC CNI needs credentials before a new node has any pod network, and the
			// nodes have no AmazonEKS_CNI_Policy to fall back on. The agent's DaemonSet starts
			// beside aws-node on a new node with no readiness signal or startup taint to wait
			// for (aws/eks-pod-identity-agent#159), so aws-node would race it on every node
			// that joins; EKS documents the CNI's role through IRSA (EKS User Guide, cni-iam-role).
			v.add(key, string(r.Identity), "the VPC CNI (%s) stays on IRSA, through awsNode: it needs credentials before a new node has pod networking, and the Pod Identity agent on that node may not serve yet (aws/eks-pod-identity-agent#159); remove this entry", sa)
			continue
		}
		if why, ok := addonAccountsWithoutPodIdentity[sa]; ok {
			v.add(key, string(r.Identity), "%s is an EKS add-on's account that Pod Identity does not serve: %s; want %q", sa, why, IdentityIRSA)
		}
		if Partition(c.Region) == "aws-cn" {
			// "Pod Identity is not available in China Regions. Use IAM roles for service
			// accounts." (EKS User Guide in the China Regions, pod-identities).
			v.add(key, string(r.Identity), "EKS Pod Identity is not available in the China Regions (%s); want %q", c.Region, IdentityIRSA)
		}
	}
	if len(podIdentity) == 0 {
		return
	}
	// "You can't use EKS Pod Identities with: Pods that run anywhere except Linux Amazon EC2
	// instances. Linux and Windows pods that run on AWS Fargate (Fargate) aren't supported.
	// Pods that run on Windows Amazon EC2 instances aren't supported." (EKS User Guide,
	// pod-identities, pod-id-restrictions). The stack's own nodes are Linux EC2; nodes joined
	// by a declared entry of another type may run the accounts' pods, which then get nothing.
	for i, e := range c.AccessEntries {
		switch t := e.EntryType(); t {
		case EntryEC2Windows, EntryFargateLinux:
			v.warn(fmt.Sprintf("accessEntries[%d].type", i), t, "EKS Pod Identity serves no pod on Windows nodes or Fargate: keep the pods of %s off them (nodeSelector kubernetes.io/os: linux; no Fargate profile for their namespaces), or give those accounts identity %q",
				strings.Join(podIdentity, ", "), IdentityIRSA)
		}
	}
}

// PodIdentityRefusals are what validation refuses in the identity of entry r were it
// podIdentity (the VPC CNI, the agent's own account, the China Regions): the migration's
// blockers, by the same rules as the configuration's. r need not be one of c's entries.
func (c *Config) PodIdentityRefusals(r ServiceAccountRoleConfig) []Problem {
	cp := *c
	r.Identity = IdentityPodIdentity
	cp.ServiceAccountRoles = []ServiceAccountRoleConfig{r}
	var out []Problem
	for _, p := range cp.check().problems {
		if p.Key == "serviceAccountRoles[0].identity" {
			out = append(out, p)
		}
	}
	return out
}
