package moto_test

import (
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"

	"github.com/eks-irsa/eks-irsa/integration/moto"
)

// TestHoldIAM: a held action is answered after the hold and then carried out; other actions
// are not held, and a hold ended answers at once again.
func TestHoldIAM(t *testing.T) {
	t.Parallel()
	s := moto.Start(t)
	ctx := t.Context()
	c := iam.NewFromConfig(s.Config(""))
	if _, err := c.CreateRole(ctx, &iam.CreateRoleInput{RoleName: aws.String("held"), AssumeRolePolicyDocument: aws.String(trust)}); err != nil {
		t.Fatal(err)
	}
	const hold = 1500 * time.Millisecond
	if err := s.HoldIAM("UpdateAssumeRolePolicy", hold); err != nil {
		t.Fatal(err)
	}
	timed := func(what string, call func() error) time.Duration {
		t.Helper()
		start := time.Now()
		if err := call(); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		return time.Since(start)
	}
	other := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"eks.amazonaws.com"},"Action":"sts:AssumeRole"}]}`
	if took := timed("UpdateAssumeRolePolicy", func() error {
		_, err := c.UpdateAssumeRolePolicy(ctx, &iam.UpdateAssumeRolePolicyInput{RoleName: aws.String("held"), PolicyDocument: aws.String(other)})
		return err
	}); took < hold {
		t.Errorf("the held UpdateAssumeRolePolicy answered after %s, want at least %s", took, hold)
	}
	got, err := c.GetRole(ctx, &iam.GetRoleInput{RoleName: aws.String("held")})
	if err != nil {
		t.Fatal(err)
	}
	if doc, _ := url.QueryUnescape(aws.ToString(got.Role.AssumeRolePolicyDocument)); !strings.Contains(doc, "eks.amazonaws.com") {
		t.Errorf("after the held update the trust is %s, want the update carried out", doc)
	}
	if took := timed("GetRole", func() error {
		_, err := c.GetRole(ctx, &iam.GetRoleInput{RoleName: aws.String("held")})
		return err
	}); took >= hold {
		t.Errorf("GetRole, not held, answered after %s", took)
	}
	if err := s.HoldIAM("UpdateAssumeRolePolicy", 0); err != nil {
		t.Fatal(err)
	}
	if took := timed("UpdateAssumeRolePolicy after the hold ended", func() error {
		_, err := c.UpdateAssumeRolePolicy(ctx, &iam.UpdateAssumeRolePolicyInput{RoleName: aws.String("held"), PolicyDocument: aws.String(trust)})
		return err
	}); took >= hold {
		t.Errorf("UpdateAssumeRolePolicy after the hold ended answered after %s", took)
	}
}
