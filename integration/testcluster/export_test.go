package testcluster

import (
	"context"

	authenticationv1 "k8s.io/api/authentication/v1"
)

// MapARN maps the principal STS names arn as the webhook does, for the external tests
// (they import integration/moto, which imports this package).
func (a *AWSIAMAuth) MapARN(ctx context.Context, arn string) (authenticationv1.UserInfo, error) {
	p, err := newPrincipal(arn)
	if err != nil {
		return authenticationv1.UserInfo{}, err
	}
	return a.mapPrincipal(ctx, p)
}
