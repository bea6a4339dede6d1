package main

import (
	"strings"
	"testing"

	"github.com/eks-irsa/eks-irsa/awsaccess"
	"github.com/eks-irsa/eks-irsa/identity"
)

// Whether the STS eksirsa calls evaluates trust policies is decided from the URL the
// stack's aws:endpoints gives STS: none, or a host of an AWS partition (regional, FIPS, a VPC
// endpoint, China, dual-stack) is AWS's STS; anything else (moto on loopback, LocalStack) is
// an emulator whose credentials prove nothing.
func TestTrustlessSTS(t *testing.T) {
	for url, aws := range map[string]bool{
		"":                                    true,
		"https://sts.us-west-2.amazonaws.com": true,
		"https://sts-fips.us-east-1.amazonaws.com/":              true,
		"https://vpce-0a1b-abc.sts.us-west-2.vpce.amazonaws.com": true,
		"https://sts.cn-north-1.amazonaws.com.cn":                true,
		"https://sts.us-east-1.api.aws":                          true,
		"http://127.0.0.1:5000":                                  false,
		"http://localhost.localstack.cloud:4566":                 false,
		"https://sts.amazonaws.com.example.org":                  false,
		"https://notamazonaws.com":                               false,
	} {
		got := trustlessSTS(url)
		if (got == "") != aws {
			t.Errorf("trustlessSTS(%q) = %q, want AWS's STS %v", url, got, aws)
		}
		if got != "" && (!strings.Contains(got, url) || !strings.Contains(got, awsaccess.EndpointsKey)) {
			t.Errorf("trustlessSTS(%q) = %q: it should name %s and the URL", url, got, awsaccess.EndpointsKey)
		}
	}
}

// EKS Auth at AWS's endpoint evaluates the trust (through STS); the emulator eksirsa sends it
// to after aws:endpoints' eks proves nothing, and the sentence names it.
func TestTrustlessEKSAuth(t *testing.T) {
	if got := trustlessEKSAuth("https://eks-auth.us-west-2.api.aws"); got != "" {
		t.Errorf("AWS's EKS Auth: %q", got)
	}
	if got := trustlessEKSAuth("http://127.0.0.1:5000"); !strings.Contains(got, "EKS Auth is http://127.0.0.1:5000 (where aws:endpoints sends eks), not AWS's") {
		t.Errorf("an emulator: %q", got)
	}
}

// A Pod Identity proof has its own line, named so, beside the account's IRSA line.
func TestIdentityLinePodIdentity(t *testing.T) {
	r := identity.Result{Account: "apps/reports", Identity: identity.IdentityPodIdentity, RoleARN: "arn:aws:iam::123456789012:role/r", Passed: true,
		SessionTags:   map[string]string{"eks-cluster-name": "demo", "kubernetes-namespace": "apps", "kubernetes-service-account": "reports"},
		AssociationID: "a-1", AssumedRoleARN: "arn:aws:sts::123456789012:assumed-role/r/eks-demo-x", Foreign: "kube-system/aws-node",
		ForeignRefused: "refused by the trust policy and by EKS Auth (ResourceNotFoundException)"}
	want := "PASS identity apps/reports (Pod Identity): token iss/sub/aud pods.eks.amazonaws.com and signature verified; the trust policy admits the session tags EKS sets " +
		"(eks-cluster-name=demo, kubernetes-namespace=apps, kubernetes-service-account=reports); EKS Auth gave association a-1 a session GetCallerIdentity names " +
		"arn:aws:sts::123456789012:assumed-role/r/eks-demo-x; kube-system/aws-node's token refused by the trust policy and by EKS Auth (ResourceNotFoundException)"
	if got := identityLine(r); got != want {
		t.Errorf("identityLine =\n%s\nwant\n%s", got, want)
	}
	r.Passed, r.Step, r.Failure = false, identity.StepEKSAuth, "EKS Auth AssumeRoleForPodIdentity for apps/reports: credentials for ..."
	if got := identityLine(r); got != "FAIL identity apps/reports (Pod Identity, arn:aws:iam::123456789012:role/r): eks-auth: EKS Auth AssumeRoleForPodIdentity for apps/reports: credentials for ..." {
		t.Errorf("identityLine = %s", got)
	}
}
