// Package awsemu is a test-only Pulumi resource provider named "aws" that creates, reads,
// updates and deletes the program's AWS resources in an AWS emulator (moto_server on
// 127.0.0.1) through aws-sdk-go-v2, so the emulated tier runs the real stack.Program, the
// real engine and the real eksirsa driver against something that enforces AWS's rules
// (DependencyViolation, DeleteConflict, MalformedPolicyDocument, ...). It mirrors the real
// provider, github.com/pulumi/pulumi-aws v6: type tokens, input and output property names,
// and which input changes replace a resource (cited beside each Kind).
package awsemu

import (
	"context"
	"errors"

	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/eks"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
)

// ErrNotFound is what a Kind's Read returns when the resource no longer exists.
var ErrNotFound = errors.New("resource not found")

// Clients are the emulator's AWS API clients, configured for the provider's region.
type Clients struct {
	EC2         *ec2.Client
	IAM         *iam.Client
	EKS         *eks.Client
	Logs        *cloudwatchlogs.Client
	AutoScaling *autoscaling.Client
	SSM         *ssm.Client
	STS         *sts.Client

	Region    string
	Partition string
	AccountID string
}

// Kind is one resource type the emulator serves, the way the real provider does.
type Kind struct {
	// Token is the Pulumi type token, e.g. "aws:ec2/vpc:Vpc".
	Token string
	// Schema is the real provider's input schema (see schema.go): which properties replace,
	// which are Optional+Computed, Required, their Defaults (recorded by Check in
	// "__defaults", as the real provider does) and nested blocks; each row cites its source.
	Schema Schema
	// AutoName: like the real provider, Check names the resource "<name>-<7 hex>" in its
	// "name" input when the program sets neither name nor namePrefix, and a replacement of a
	// resource whose name the program chose deletes before it creates (see Kind.diff).
	AutoName bool
	// DeleteBeforeReplace: pulumi-aws marks the type delete-before-replace outright
	// (ResourceInfo.DeleteBeforeReplace in its provider/resources.go), whatever the names.
	DeleteBeforeReplace bool
	// Create makes the resource and returns its id and every output property (inputs
	// included, as the real provider returns them).
	Create func(ctx context.Context, c *Clients, news resource.PropertyMap) (id string, outs resource.PropertyMap, err error)
	// Read returns the live outputs, or ErrNotFound.
	Read func(ctx context.Context, c *Clients, id string, olds resource.PropertyMap) (resource.PropertyMap, error)
	// Update applies news in place and returns the outputs. Nil: the kind has no in-place
	// update, so every change replaces it.
	Update func(ctx context.Context, c *Clients, id string, olds, news resource.PropertyMap) (resource.PropertyMap, error)
	// Delete removes the resource; deleting one that is already gone is not an error.
	Delete func(ctx context.Context, c *Clients, id string, olds resource.PropertyMap) error
}

// kinds are the served types by token; each file registers its own in init.
var kinds = map[string]*Kind{}

func register(k *Kind) {
	if _, dup := kinds[k.Token]; dup {
		panic("awsemu: kind registered twice: " + k.Token)
	}
	kinds[k.Token] = k
}
