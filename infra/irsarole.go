package infra

import (
	"errors"
	"fmt"

	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/eks"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/iam"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// IRSARoleType is the IRSARole component's type token.
const IRSARoleType = "eksirsa:infra:IRSARole"

// Tag keys an IRSA role carries, naming the account that may assume it.
const (
	ServiceAccountNameTag      = "ServiceAccountName"
	ServiceAccountNamespaceTag = "ServiceAccountNameSpace"
)

// IRSARoleArgs bind one Kubernetes service account to one IAM role.
type IRSARoleArgs struct {
	// PodIdentity makes the role EKS Pod Identity's instead of IRSA's: trusted by
	// pods.eks.amazonaws.com and bound to the account by a PodIdentityAssociation in
	// ClusterName (no OIDC provider, no annotation).
	PodIdentity bool
	ClusterName pulumi.StringInput
	// OIDCProviderARN and IssuerHost (IRSA only).
	OIDCProviderARN pulumi.StringInput
	// IssuerHost is the issuer without https:// (OIDCProvider.IssuerHost).
	IssuerHost     pulumi.StringInput
	Namespace      string
	ServiceAccount string
	RoleName       string
	// ManagedPolicyARNs are attached; InlinePolicy (a JSON policy document) is put inline.
	ManagedPolicyARNs []string
	InlinePolicy      string
	Tags              map[string]string
}

// IRSARole is an IAM role only the named service account's projected token can assume.
type IRSARole struct {
	pulumi.ResourceState

	Arn  pulumi.StringOutput
	Name pulumi.StringOutput
	// TrustPolicy is the trust policy IAM receives, and ManagedPolicyARNs and InlinePolicy
	// the policies granted: what `eksirsa drift` compares with IAM.
	TrustPolicy       pulumi.StringOutput
	ManagedPolicyARNs []string
	InlinePolicy      string
	// AssociationID is the PodIdentityAssociation's id (Pod Identity only).
	AssociationID pulumi.StringOutput
}

func (a *IRSARoleArgs) validate() error {
	var errs []error
	switch {
	case a.PodIdentity && a.ClusterName == nil:
		errs = append(errs, errors.New("ClusterName is required for Pod Identity"))
	case !a.PodIdentity && (a.OIDCProviderARN == nil || a.IssuerHost == nil):
		errs = append(errs, errors.New("OIDCProviderARN and IssuerHost are required"))
	}
	if a.Namespace == "" || a.ServiceAccount == "" {
		errs = append(errs, errors.New("Namespace and ServiceAccount are required"))
	}
	if a.RoleName == "" {
		errs = append(errs, errors.New("RoleName is required"))
	}
	if len(a.ManagedPolicyARNs) == 0 && a.InlinePolicy == "" {
		errs = append(errs, errors.New("no policy: give ManagedPolicyARNs or InlinePolicy"))
	}
	return errors.Join(errs...)
}

// NewIRSARole creates the role. Its trust policy admits sts:AssumeRoleWithWebIdentity from
// the cluster's OIDC provider only when the token's sub is exactly this service account and
// its aud is sts.amazonaws.com: without the aud check any audience's token would do.
func NewIRSARole(ctx *pulumi.Context, name string, args *IRSARoleArgs, opts ...pulumi.ResourceOption) (*IRSARole, error) {
	if args == nil {
		return nil, fmt.Errorf("irsa role %s: args are required", name)
	}
	if err := args.validate(); err != nil {
		return nil, fmt.Errorf("irsa role %s: %w", name, err)
	}
	r := &IRSARole{}
	if err := ctx.RegisterComponentResource(IRSARoleType, name, r, opts...); err != nil {
		return nil, err
	}
	parent := pulumi.Parent(r)

	kind := "IRSA"
	var trust pulumi.StringOutput
	if args.PodIdentity {
		kind = "Pod Identity"
		trust = mustJSON(podIdentityTrustPolicy()).ToStringOutput()
	} else {
		trust = policyJSON(func(v ...string) PolicyDocument {
			return webIdentityTrustPolicy(v[0], v[1], args.Namespace, args.ServiceAccount)
		}, args.OIDCProviderARN.ToStringOutput(), args.IssuerHost.ToStringOutput())
	}

	role, err := iam.NewRole(ctx, name, &iam.RoleArgs{
		Name:             pulumi.String(args.RoleName),
		AssumeRolePolicy: trust,
		Description:      pulumi.Sprintf("%s role of service account %s/%s", kind, args.Namespace, args.ServiceAccount),
		Tags: withTags(args.Tags, map[string]string{
			ServiceAccountNameTag:      args.ServiceAccount,
			ServiceAccountNamespaceTag: args.Namespace,
		}),
	}, parent)
	if err != nil {
		return nil, fmt.Errorf("irsa role %s: create role: %w", name, err)
	}
	attachments, err := attachPolicies(ctx, name, role, args.ManagedPolicyARNs, parent)
	if err != nil {
		return nil, fmt.Errorf("irsa role %s: %w", name, err)
	}
	granted := attachments
	if args.InlinePolicy != "" {
		inline, err := iam.NewRolePolicy(ctx, name+"-inline", &iam.RolePolicyArgs{
			Role:   role.Name,
			Policy: pulumi.String(args.InlinePolicy),
		}, parent)
		if err != nil {
			return nil, fmt.Errorf("irsa role %s: create inline policy: %w", name, err)
		}
		granted = append(granted, inline)
	}

	// Whoever reads the ARN (the service-account annotation, the association) waits for the
	// policies too, so no pod starts with a role that cannot yet do its job.
	r.Arn = readyAfter(role.Arn, granted...)
	if args.PodIdentity {
		// One association per account (EKS refuses a second: ResourceInUseException); pods
		// created after it get the role (EKS User Guide, pod-identities).
		association, err := eks.NewPodIdentityAssociation(ctx, name, &eks.PodIdentityAssociationArgs{
			ClusterName:    args.ClusterName,
			Namespace:      pulumi.String(args.Namespace),
			ServiceAccount: pulumi.String(args.ServiceAccount),
			RoleArn:        r.Arn,
			Tags:           withTags(args.Tags),
		}, parent)
		if err != nil {
			return nil, fmt.Errorf("irsa role %s: create pod identity association: %w", name, err)
		}
		r.AssociationID = association.AssociationId
		r.Arn = readyAfter(r.Arn, association)
	}
	r.Name = role.Name
	r.TrustPolicy = trust
	r.ManagedPolicyARNs = args.ManagedPolicyARNs
	r.InlinePolicy = args.InlinePolicy
	if err := ctx.RegisterResourceOutputs(r, pulumi.Map{"arn": r.Arn, "name": r.Name}); err != nil {
		return nil, fmt.Errorf("irsa role %s: register outputs: %w", name, err)
	}
	return r, nil
}
