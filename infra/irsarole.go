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
	// PodIdentity makes the role EKS Pod Identity's: trusted by pods.eks.amazonaws.com for
	// this account's pods in the cluster ClusterARN, and bound to the account by a
	// PodIdentityAssociation in ClusterName. Without it the role is IRSA's alone.
	PodIdentity bool
	// AlsoIRSA keeps the OIDC statement beside the Pod Identity one (identity both, the
	// migration's middle state: pods that still carry the annotation keep assuming the role).
	AlsoIRSA    bool
	ClusterName pulumi.StringInput
	ClusterARN  pulumi.StringInput
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
	case a.PodIdentity && (a.ClusterName == nil || a.ClusterARN == nil):
		errs = append(errs, errors.New("ClusterName and ClusterARN are required for Pod Identity"))
	case a.AlsoIRSA && !a.PodIdentity:
		errs = append(errs, errors.New("AlsoIRSA is for a Pod Identity role; an IRSA role has the OIDC statement anyway"))
	}
	if a.irsa() && (a.OIDCProviderARN == nil || a.IssuerHost == nil) {
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

// irsa says whether the trust has the OIDC statement.
func (a *IRSARoleArgs) irsa() bool { return !a.PodIdentity || a.AlsoIRSA }

// NewIRSARole creates the role. Its trust (RoleTrust) admits sts:AssumeRoleWithWebIdentity
// from the cluster's OIDC provider only when the token's sub is exactly this service account
// and its aud is sts.amazonaws.com (without the aud check any audience's token would do),
// and, for Pod Identity, pods.eks.amazonaws.com only for a session tagged with this cluster,
// namespace and account.
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
	switch {
	case args.PodIdentity && args.AlsoIRSA:
		kind = "IRSA and Pod Identity"
	case args.PodIdentity:
		kind = "Pod Identity"
	}
	// The outputs the trust names; an absent statement names none.
	none := pulumi.String("").ToStringOutput()
	outs := []pulumi.StringOutput{none, none, none}
	if args.irsa() {
		outs[0], outs[1] = args.OIDCProviderARN.ToStringOutput(), args.IssuerHost.ToStringOutput()
	}
	if args.PodIdentity {
		outs[2] = args.ClusterARN.ToStringOutput()
	}
	trust := policyJSON(func(v ...string) PolicyDocument {
		return RoleTrust{IRSA: args.irsa(), PodIdentity: args.PodIdentity, ProviderARN: v[0], IssuerHost: v[1], ClusterARN: v[2],
			Namespace: args.Namespace, ServiceAccount: args.ServiceAccount}.Document()
	}, outs...)

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
