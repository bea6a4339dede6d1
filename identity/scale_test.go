package identity

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"

	"github.com/eks-irsa/eks-irsa/awsaccess"
	"github.com/eks-irsa/eks-irsa/integration/moto"
	"github.com/eks-irsa/eks-irsa/irsa"
)

// BenchmarkVerifyTrust100Roles runs the trust/policy half of `verify --identities` over 100
// IRSA roles in moto: each role's trust policy read from IAM (TrustPolicies, as Checker.Run
// reads them) and evaluated for its own account's token and another's, with the AWS
// configuration eksirsa uses (awsaccess), and reports the AWS calls per identity.
//
//	PATH=$HOME/.pyenv/shims:$PATH go test ./identity -run '^$' -bench VerifyTrust100Roles -benchtime 3x
func BenchmarkVerifyTrust100Roles(b *testing.B) {
	const roles = 100
	m := moto.Start(b)
	for _, kv := range m.Env() {
		k, v, _ := strings.Cut(kv, "=")
		b.Setenv(k, v)
	}
	b.Setenv("AWS_CONFIG_FILE", filepath.Join(b.TempDir(), "none"))
	b.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(b.TempDir(), "none"))
	b.Setenv("AWS_PROFILE", "")
	os.Unsetenv("AWS_PROFILE") // b.Setenv restores it afterwards
	ctx := b.Context()
	seed := iam.NewFromConfig(m.Config(""))
	arns := make([]string, roles)
	subjects := make([]string, roles)
	for i := range roles {
		subjects[i] = irsa.Subject("team", fmt.Sprintf("app-%03d", i))
		doc := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Federated":"` + testProvider + `"},` +
			`"Action":["sts:AssumeRoleWithWebIdentity"],"Condition":{"StringEquals":{"` + testHost + `:sub":"` + subjects[i] + `","` + testHost + `:aud":"sts.amazonaws.com"}}}]}`
		out, err := seed.CreateRole(ctx, &iam.CreateRoleInput{RoleName: aws.String(fmt.Sprintf("app-%03d", i)), AssumeRolePolicyDocument: aws.String(doc)})
		if err != nil {
			b.Fatal(err)
		}
		arns[i] = aws.ToString(out.Role.Arn)
	}
	cfg := map[string]string{awsaccess.RegionKey: m.Region, awsaccess.EndpointsKey: `[{"iam":"` + m.URL + `","sts":"` + m.URL + `"}]`}
	access, err := awsaccess.Read(func(k string) string { return cfg[k] })
	if err != nil {
		b.Fatal(err)
	}
	awsCfg, err := access.Config(ctx)
	if err != nil {
		b.Fatal(err)
	}
	calls := moto.CountCalls(&awsCfg)
	client := iam.NewFromConfig(awsCfg)

	b.ResetTimer()
	start := time.Now()
	for b.Loop() {
		policies, errs := TrustPolicies(ctx, client, arns)
		for i, p := range policies {
			if errs[i] != nil {
				b.Fatal(errs[i])
			}
			if d := p.Admits(testProvider, claims(subjects[i], irsa.Audience)); d.Verdict != Admitted {
				b.Fatalf("%s does not admit its own account: %+v", arns[i], d)
			}
			if d := p.Admits(testProvider, claims(subjects[(i+1)%roles], irsa.Audience)); d.Verdict != Refused {
				b.Fatalf("%s does not refuse another account: %+v", arns[i], d)
			}
		}
	}
	elapsed := time.Since(start)
	b.ReportMetric(float64(calls.Total())/float64(b.N)/roles, "AWScalls/identity")
	b.ReportMetric(elapsed.Seconds()/float64(b.N), "s/run")
	b.Logf("%d roles, concurrency %d: %v per run; calls %v", roles, awsaccess.Concurrency, elapsed/time.Duration(b.N), calls.ByOperation())
}
