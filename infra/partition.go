// Package infra owns the AWS half of eks-irsa: one component resource per file (Network,
// Cluster, OIDCProvider, NodeRole, Workers, IRSARole), each built from typed Args and
// exposing typed outputs. It knows nothing of Kubernetes objects; the stack wires it to k8s.
package infra

import (
	"fmt"

	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// Partition is what ARNs, service names and service principals depend on (aws, aws-cn,
// aws-us-gov), read once from aws.GetPartition so no "arn:aws:" is ever hard-coded.
type Partition struct {
	Name             string // "aws"
	DNSSuffix        string // "amazonaws.com"
	ReverseDNSPrefix string // "com.amazonaws"
}

// LookupPartition asks the AWS provider which partition the stack deploys to.
func LookupPartition(ctx *pulumi.Context, opts ...pulumi.InvokeOption) (Partition, error) {
	p, err := aws.GetPartition(ctx, nil, opts...)
	if err != nil {
		return Partition{}, fmt.Errorf("look up AWS partition: %w", err)
	}
	return Partition{Name: p.Partition, DNSSuffix: p.DnsSuffix, ReverseDNSPrefix: p.ReverseDnsPrefix}, nil
}

// ManagedPolicyARN is the ARN of an AWS managed policy, e.g. "AmazonEKS_CNI_Policy".
func (p Partition) ManagedPolicyARN(name string) string {
	return fmt.Sprintf("arn:%s:iam::aws:policy/%s", p.Name, name)
}

// ServiceName is a VPC endpoint service name, e.g. "com.amazonaws.us-west-2.ecr.api".
func (p Partition) ServiceName(region, service string) string {
	return fmt.Sprintf("%s.%s.%s", p.ReverseDNSPrefix, region, service)
}

// EC2Principal is the service principal EC2 instances assume roles as.
func (p Partition) EC2Principal() string { return "ec2." + p.DNSSuffix }
