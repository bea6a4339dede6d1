package main

import (
	"strings"
	"testing"

	"github.com/eks-irsa/eks-irsa/awsaccess"
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
