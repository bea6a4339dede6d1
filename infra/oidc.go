package infra

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/iam"
	"github.com/pulumi/pulumi-tls/sdk/v5/go/tls"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/eks-irsa/eks-irsa/irsa"
)

// OIDCProviderType is the OIDCProvider component's type token.
const OIDCProviderType = "eksirsa:infra:OIDCProvider"

// OIDCProviderArgs configure the cluster's IAM OIDC identity provider.
type OIDCProviderArgs struct {
	// IssuerURL is the cluster's OIDC issuer, https:// included.
	IssuerURL pulumi.StringInput
	// ExtraThumbprints are trusted besides the one read from the issuer's chain.
	ExtraThumbprints []string
	// Thumbprints, when set, are trusted (with ExtraThumbprints) instead of reading the
	// chain at all: behind a TLS-inspecting proxy the chain seen here is the proxy's.
	Thumbprints []string
	Tags        map[string]string
}

// OIDCProvider lets IAM trust tokens the cluster's service-account issuer signs.
type OIDCProvider struct {
	pulumi.ResourceState

	Arn pulumi.StringOutput
	URL pulumi.StringOutput
	// IssuerHost is the issuer without https://, the prefix of the trust-policy condition keys.
	IssuerHost pulumi.StringOutput
	// Thumbprints are what the provider trusts, the chain's root first.
	Thumbprints pulumi.StringArrayOutput
}

// NewOIDCProvider registers the provider. The thumbprint is the SHA-1 of the root-most
// certificate of the issuer's chain: tls.getCertificate lists the chain root first, and the
// root is what IAM pins (the leaf rotates every year; pinning it breaks IRSA when it does).
func NewOIDCProvider(ctx *pulumi.Context, name string, args *OIDCProviderArgs, opts ...pulumi.ResourceOption) (*OIDCProvider, error) {
	if args == nil || args.IssuerURL == nil {
		return nil, fmt.Errorf("oidc provider %s: IssuerURL is required", name)
	}
	p := &OIDCProvider{}
	if err := ctx.RegisterComponentResource(OIDCProviderType, name, p, opts...); err != nil {
		return nil, err
	}
	parent := pulumi.Parent(p)
	issuer := args.IssuerURL.ToStringOutput()

	thumbprints := pulumi.ToStringArray(append(slices.Clone(args.Thumbprints), args.ExtraThumbprints...)).ToStringArrayOutput()
	if len(args.Thumbprints) == 0 {
		chain := tls.GetCertificateOutput(ctx, tls.GetCertificateOutputArgs{Url: issuer}, parent)
		extra := args.ExtraThumbprints
		thumbprints = chain.Certificates().ApplyT(func(certs []tls.GetCertificateCertificate) ([]string, error) {
			if len(certs) == 0 {
				return nil, errors.New("the OIDC issuer presented no certificate")
			}
			return append([]string{strings.ToLower(certs[0].Sha1Fingerprint)}, extra...), nil
		}).(pulumi.StringArrayOutput)
	}

	provider, err := iam.NewOpenIdConnectProvider(ctx, name, &iam.OpenIdConnectProviderArgs{
		Url:             issuer,
		ClientIdLists:   pulumi.ToStringArray([]string{irsa.Audience}),
		ThumbprintLists: thumbprints,
		Tags:            withTags(args.Tags),
	}, parent)
	if err != nil {
		return nil, fmt.Errorf("oidc provider %s: create OIDC provider: %w", name, err)
	}

	p.Arn = provider.Arn
	p.URL = issuer
	p.IssuerHost = issuer.ApplyT(func(u string) string { return strings.TrimPrefix(u, "https://") }).(pulumi.StringOutput)
	p.Thumbprints = thumbprints
	if err := ctx.RegisterResourceOutputs(p, pulumi.Map{
		"arn":         p.Arn,
		"url":         p.URL,
		"issuerHost":  p.IssuerHost,
		"thumbprints": p.Thumbprints,
	}); err != nil {
		return nil, fmt.Errorf("oidc provider %s: register outputs: %w", name, err)
	}
	return p, nil
}
