package infra

import (
	"fmt"
	"strings"

	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/iam"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// serviceTrustPolicy is the assume-role policy that lets an AWS service (eks, ec2,
// vpc-flow-logs) assume a role.
func serviceTrustPolicy(ctx *pulumi.Context, principal string, opts ...pulumi.InvokeOption) pulumi.StringOutput {
	return serviceTrustPolicyWhen(ctx, principal, nil, opts...)
}

// serviceTrustPolicyWhen is serviceTrustPolicy with conditions on the service's request.
func serviceTrustPolicyWhen(ctx *pulumi.Context, principal string, conditions iam.GetPolicyDocumentStatementConditionArray,
	opts ...pulumi.InvokeOption) pulumi.StringOutput {
	return iam.GetPolicyDocumentOutput(ctx, iam.GetPolicyDocumentOutputArgs{
		Statements: iam.GetPolicyDocumentStatementArray{iam.GetPolicyDocumentStatementArgs{
			Effect:  pulumi.String("Allow"),
			Actions: pulumi.ToStringArray([]string{assumeRole}),
			Principals: iam.GetPolicyDocumentStatementPrincipalArray{iam.GetPolicyDocumentStatementPrincipalArgs{
				Type:        pulumi.String("Service"),
				Identifiers: pulumi.ToStringArray([]string{principal}),
			}},
			Conditions: conditions,
		}},
	}, opts...).Json()
}

// attachPolicies attaches managed policies to role, one RolePolicyAttachment each, named
// "<name>-<policy name>" so a plan reads which policy each one is.
func attachPolicies(ctx *pulumi.Context, name string, role *iam.Role, arns []string, opts ...pulumi.ResourceOption) ([]pulumi.Resource, error) {
	attachments := make([]pulumi.Resource, 0, len(arns))
	for _, arn := range arns {
		policy := arn[strings.LastIndex(arn, "/")+1:]
		a, err := iam.NewRolePolicyAttachment(ctx, name+"-"+policy, &iam.RolePolicyAttachmentArgs{
			Role:      role.Name,
			PolicyArn: pulumi.String(arn),
		}, opts...)
		if err != nil {
			return nil, fmt.Errorf("attach %s: %w", policy, err)
		}
		attachments = append(attachments, a)
	}
	return attachments, nil
}

// readyAfter returns v resolving only once every resource in after exists, so whatever reads
// it waits for them too: a role ARN read by an annotation then waits for the role's policies.
// A resource's URN resolves once the engine has created it, so it serves as the signal.
func readyAfter(v pulumi.StringOutput, after ...pulumi.Resource) pulumi.StringOutput {
	outs := []pulumi.StringOutput{v}
	for _, r := range after {
		outs = append(outs, r.URN().ToStringOutput())
	}
	return allStrings(func(v ...string) (string, error) { return v[0], nil }, outs...)
}
