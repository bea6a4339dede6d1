package moto_test

import (
	"errors"
	"fmt"
	"net/http"
	"runtime"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"

	"github.com/eks-irsa/eks-irsa/integration/moto"
)

// recordingTB records how Start ends a test: Skip and Fatal stop its goroutine, as testing's do.
type recordingTB struct {
	testing.TB
	skipped, fatal string
}

func (r *recordingTB) Skip(args ...any)  { r.skipped = fmt.Sprint(args...); runtime.Goexit() }
func (r *recordingTB) Fatal(args ...any) { r.fatal = fmt.Sprint(args...); runtime.Goexit() }

// Without moto_server a developer's run skips the emulated tier, saying why; CI fails it.
func TestStartWithoutMotoServer(t *testing.T) {
	for _, tc := range []struct {
		ci                    string
		wantSkip, wantFailure bool
	}{
		{ci: "", wantSkip: true},
		{ci: "true", wantFailure: true},
	} {
		t.Run("CI="+tc.ci, func(t *testing.T) {
			t.Setenv("PATH", t.TempDir())
			t.Setenv("CI", tc.ci)
			rec := &recordingTB{TB: t}
			done := make(chan struct{})
			go func() {
				defer close(done)
				moto.Start(rec)
			}()
			<-done
			if (rec.skipped != "") != tc.wantSkip || (rec.fatal != "") != tc.wantFailure {
				t.Fatalf("skipped %q, failed %q; want skip %v, failure %v", rec.skipped, rec.fatal, tc.wantSkip, tc.wantFailure)
			}
			if msg := rec.skipped + rec.fatal; !strings.Contains(msg, "moto_server is not on PATH") {
				t.Errorf("message %q does not name what is missing", msg)
			}
		})
	}
}

// Each Start is a server of its own, forked from the test process's warmed-up moto_server
// (zygote.go): what one test makes the other does not see, ids are drawn anew in each (a
// fork inherits its parent's random state), each reads its own files (the seeded
// parameters), and a stopped server's port no longer answers.
func TestStartForksServersApart(t *testing.T) {
	ctx := t.Context()
	a, b := moto.Start(t), moto.Start(t)

	// The same first request in each: a repeated random state gives the same id.
	var vpcs []string
	for _, s := range []*moto.Server{a, b} {
		out, err := ec2.NewFromConfig(s.Config("")).CreateVpc(ctx, &ec2.CreateVpcInput{CidrBlock: aws.String("10.9.0.0/16")})
		if err != nil {
			t.Fatal(err)
		}
		vpcs = append(vpcs, aws.ToString(out.Vpc.VpcId))
	}
	if vpcs[0] == vpcs[1] {
		t.Errorf("both servers made VPC %s: their ids repeat each other", vpcs[0])
	}

	if _, err := iam.NewFromConfig(a.Config("")).CreateRole(ctx, &iam.CreateRoleInput{
		RoleName: aws.String("only-in-a"), AssumeRolePolicyDocument: aws.String(trust),
	}); err != nil {
		t.Fatal(err)
	}
	roles, err := iam.NewFromConfig(b.Config("")).ListRoles(ctx, &iam.ListRolesInput{})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range roles.Roles {
		if aws.ToString(r.RoleName) == "only-in-a" {
			t.Errorf("a role created in %s is in %s too", a.URL, b.URL)
		}
	}

	seeded, err := a.SeedEKSAMIParameters(ctx, "", "1.33")
	if err != nil {
		t.Fatal(err)
	}
	for name := range seeded {
		if _, err := ssm.NewFromConfig(a.Config("")).GetParameter(ctx, &ssm.GetParameterInput{Name: aws.String(name)}); err != nil {
			t.Errorf("%s seeded in %s: %v", name, a.URL, err)
		}
		_, err := ssm.NewFromConfig(b.Config("")).GetParameter(ctx, &ssm.GetParameterInput{Name: aws.String(name)})
		var notFound *ssmtypes.ParameterNotFound
		if !errors.As(err, &notFound) {
			t.Errorf("%s seeded in %s only: %s answers %v, want ParameterNotFound", name, a.URL, b.URL, err)
		}
		break
	}

	var stopped string
	t.Run("stopped at its test's end", func(t *testing.T) { stopped = moto.Start(t).URL })
	if resp, err := http.Get(stopped + "/moto-api/"); err == nil {
		resp.Body.Close()
		t.Errorf("%s still answers after its test ended", stopped)
	}
}
