// Package irsa names the protocol of IAM Roles for Service Accounts, in one place for every
// side of it: IAM's trust policies (infra), the service-account annotation (k8s), and what the
// EKS pod identity webhook injects into pods (verify checks it; the test harness imitates it).
package irsa

import "fmt"

const (
	// RoleARNAnnotation on a ServiceAccount names the IAM role its pods assume.
	RoleARNAnnotation = "eks.amazonaws.com/role-arn"
	// Audience is the audience of the projected token and the OIDC provider's client id;
	// trust policies require it.
	Audience = "sts.amazonaws.com"
	// EnvRoleARN and EnvTokenFile are the variables the webhook sets in each container.
	EnvRoleARN   = "AWS_ROLE_ARN"
	EnvTokenFile = "AWS_WEB_IDENTITY_TOKEN_FILE"
	// TokenDir is where the webhook mounts the projected token; TokenFile is the token.
	TokenDir  = "/var/run/secrets/eks.amazonaws.com/serviceaccount"
	TokenFile = TokenDir + "/token"
	// AssumeAction is what a pod's SDK calls with the token.
	AssumeAction = "sts:AssumeRoleWithWebIdentity"
)

// Subject is the token subject Kubernetes issues for a service account, which a role's trust
// policy must match exactly.
func Subject(namespace, serviceAccount string) string {
	return fmt.Sprintf("system:serviceaccount:%s:%s", namespace, serviceAccount)
}
