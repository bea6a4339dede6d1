package k8s

import (
	"fmt"
	"slices"
	"strings"

	"github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"k8s.io/apimachinery/pkg/util/validation"
	autharn "sigs.k8s.io/aws-iam-authenticator/pkg/arn"
)

// Shapes named in validation errors.
const (
	roleARNShape = "arn:<partition>:iam::<account-id>:role/<name>"
	userARNShape = "arn:<partition>:iam::<account-id>:user/<name>"
)

// validator collects every problem with a component's args so they are reported at once.
type validator struct{ errs []error }

func (v *validator) addf(field, format string, args ...any) {
	v.errs = append(v.errs, fmt.Errorf("%s: %s", field, fmt.Sprintf(format, args...)))
}

// provider checks a provider argument; which names the one of Providers that belongs there.
func (v *validator) provider(field, which string, p *kubernetes.Provider) {
	if p == nil {
		v.addf(field, "required: Providers.%s from NewProviders (objects must never fall back to the default provider)", which)
	}
}

// dnsLabel checks a namespace name.
func (v *validator) dnsLabel(field, value string) {
	if value == "" {
		v.addf(field, "required: a DNS-1123 label such as %q", KubeSystemNamespace)
		return
	}
	if msgs := validation.IsDNS1123Label(value); len(msgs) > 0 {
		v.addf(field, "%q is not a DNS-1123 label: %s", value, strings.Join(msgs, "; "))
	}
}

// dnsSubdomain checks an object name (ServiceAccount, DaemonSet).
func (v *validator) dnsSubdomain(field, value string) {
	if value == "" {
		v.addf(field, "required: a DNS-1123 subdomain such as %q", AWSNodeName)
		return
	}
	if msgs := validation.IsDNS1123Subdomain(value); len(msgs) > 0 {
		v.addf(field, "%q is not a DNS-1123 subdomain: %s", value, strings.Join(msgs, "; "))
	}
}

// roleARN checks a role ARN input. Outputs are checked when they resolve (see mapRoleARN);
// a value known now is checked now, so a typo fails before anything is registered.
func (v *validator) roleARN(field string, in pulumi.StringInput) {
	if in == nil {
		v.addf(field, "required: an IAM role ARN (%s)", roleARNShape)
		return
	}
	if s, ok := in.(pulumi.String); ok {
		if _, err := mapRoleARN(string(s)); err != nil {
			v.addf(field, "%v", err)
		}
	}
}

func (v *validator) userARN(field string, in pulumi.StringInput) {
	if in == nil {
		v.addf(field, "required: an IAM user ARN (%s)", userARNShape)
		return
	}
	if s, ok := in.(pulumi.String); ok {
		if _, err := mapUserARN(string(s)); err != nil {
			v.addf(field, "%v", err)
		}
	}
}

// knownString returns the value of an input that is a plain string now.
func knownString(in pulumi.StringInput) (string, bool) {
	s, ok := in.(pulumi.String)
	return string(s), ok
}

// mapRoleARN returns the ARN aws-auth must carry for a role: the authenticator compares
// mappings with the caller's canonical ARN, and an assumed role's canonical ARN has no path
// (arn:aws:sts::1:assumed-role/<name>/<session> becomes arn:aws:iam::1:role/<name>), so a
// mapping with arn:aws:iam::1:role/<path>/<name> would never match. EKS documents the same
// rule: the aws-auth role ARN can't include a path.
func mapRoleARN(s string) (string, error) {
	typ, _, err := autharn.Canonicalize(s)
	if err != nil || typ != autharn.ROLE {
		return "", fmt.Errorf("%q is not an IAM role ARN (want %s)", s, roleARNShape)
	}
	stripped, err := autharn.StripPath(s)
	if err != nil {
		return "", fmt.Errorf("%q is not an IAM role ARN (want %s): %w", s, roleARNShape, err)
	}
	return stripped, nil
}

// mapUserARN checks a user ARN; a user's canonical ARN keeps its path, so it is used as is.
func mapUserARN(s string) (string, error) {
	typ, _, err := autharn.Canonicalize(s)
	if err != nil || typ != autharn.USER {
		return "", fmt.Errorf("%q is not an IAM user ARN (want %s)", s, userARNShape)
	}
	return s, nil
}

// The rules below are about configuration, not programming: package stack applies them to
// its config before anything is registered, so they surface with the config key. They live
// here, beside the lists and the parser the components use, so there is one copy of each.

// IsEKSOwnedAccount reports whether namespace/name is an account EKS creates in every cluster
// (the VPC CNI, CoreDNS, kube-proxy): creating it would take over EKS's object, and destroy
// would then delete it.
func IsEKSOwnedAccount(namespace, name string) bool {
	return namespace == KubeSystemNamespace && slices.Contains(eksAccounts, name)
}

// IsClusterNamespace reports whether namespace exists in every cluster: creating it would make
// destroy delete it.
func IsClusterNamespace(namespace string) bool { return slices.Contains(clusterNamespaces, namespace) }

// MappedRoleARN is the ARN aws-auth carries for a role ARN (the path stripped, see mapRoleARN),
// or an error naming the accepted shape.
func MappedRoleARN(arn string) (string, error) { return mapRoleARN(arn) }

// MappedUserARN checks a user ARN as aws-auth carries it.
func MappedUserARN(arn string) (string, error) { return mapUserARN(arn) }

// MappingKey is how aws-iam-authenticator tells mappings apart: by lower-cased ARN, keeping
// only the last of two that collide.
func MappingKey(mappedARN string) string { return strings.ToLower(mappedARN) }
