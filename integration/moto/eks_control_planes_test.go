package moto_test

import (
	"encoding/base64"
	"errors"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eks"
	ekstypes "github.com/aws/aws-sdk-go-v2/service/eks/types"
	"github.com/aws/smithy-go"
)

// TestEKSControlPlanes: with the control-plane service set, DescribeCluster reports the
// control plane the service gave the cluster at CreateCluster; deleting and creating the same
// name again gives another endpoint, CA and issuer; a cluster the service cannot serve fails
// CreateCluster with ServerException and is not kept.
func TestEKSControlPlanes(t *testing.T) {
	s, base, planes := startWithControlPlanes(t)
	ctx := t.Context()
	c := eks.NewFromConfig(s.Config(s.Region))
	describe := func() *ekstypes.Cluster {
		t.Helper()
		out, err := c.DescribeCluster(ctx, &eks.DescribeClusterInput{Name: aws.String("demo")})
		if err != nil {
			t.Fatal(err)
		}
		return out.Cluster
	}
	ca := func(cl *ekstypes.Cluster) string {
		pem, err := base64.StdEncoding.DecodeString(aws.ToString(cl.CertificateAuthority.Data))
		if err != nil {
			t.Fatalf("certificateAuthority.data is not base64: %v", err)
		}
		return string(pem)
	}

	createCluster(t, c, "demo", "")
	first := describe()
	if aws.ToString(first.Endpoint) != base.Server || ca(first) != string(base.CAData) || aws.ToString(first.Identity.Oidc.Issuer) != base.ServiceAccountIssuer {
		t.Fatalf("DescribeCluster reports endpoint %s issuer %s, want the service's %s", aws.ToString(first.Endpoint), aws.ToString(first.Identity.Oidc.Issuer), base.Server)
	}

	if _, err := c.DeleteCluster(ctx, &eks.DeleteClusterInput{Name: aws.String("demo")}); err != nil {
		t.Fatal(err)
	}
	if planes.Current("demo") != nil {
		t.Errorf("DeleteCluster left the cluster's control plane in the service")
	}
	createCluster(t, c, "demo", "")
	second := describe()
	if aws.ToString(second.Endpoint) == base.Server || ca(second) == string(base.CAData) || aws.ToString(second.Identity.Oidc.Issuer) == base.ServiceAccountIssuer {
		t.Errorf("the cluster created again reports the old control plane: %s", aws.ToString(second.Endpoint))
	}
	if cp := planes.Current("demo"); cp == nil || cp.Server != aws.ToString(second.Endpoint) {
		t.Errorf("DescribeCluster's endpoint %s is not the service's control plane for demo", aws.ToString(second.Endpoint))
	}

	// The service gone: CreateCluster fails as EKS fails on its side, and keeps nothing.
	if err := s.UseControlPlanes("http://127.0.0.1:1"); err != nil {
		t.Fatal(err)
	}
	_, err := c.CreateCluster(ctx, &eks.CreateClusterInput{Name: aws.String("other"),
		RoleArn: aws.String("arn:aws:iam::123456789012:role/cluster"), ResourcesVpcConfig: &ekstypes.VpcConfigRequest{}})
	var api smithy.APIError
	if !errors.As(err, &api) || api.ErrorCode() != "ServerException" {
		t.Errorf("CreateCluster without a control plane: %v, want ServerException", err)
	}
	if _, err := c.DescribeCluster(ctx, &eks.DescribeClusterInput{Name: aws.String("other")}); err == nil {
		t.Errorf("a cluster whose control plane failed is kept")
	}
}
