package integration

import (
	"fmt"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/eks-irsa/eks-irsa/integration/awsemu"
)

// TestEmulatedS3Backend keeps the stack's state where a team keeps it, in an S3 bucket (moto's
// S3, reached through the backend URL's endpoint as the Pulumi CLI reaches any S3-compatible
// store). A second `eksirsa up` started while the first one is creating the cluster must fail
// at once and name the first one's lock, not take that update's pending creates for an
// interrupted update's and set about recovering them. The first up then finishes, another
// changes nothing, and destroy leaves nothing and no lock.
func TestEmulatedS3Backend(t *testing.T) {
	t.Parallel() // see startEmulated
	e := startEmulated(t)
	ctx := t.Context()
	const bucket, prefix = "eks-irsa-state", "platform"
	client := s3.NewFromConfig(e.moto.Config(emuRegion), func(o *s3.Options) { o.UsePathStyle = true })
	if _, err := client.CreateBucket(ctx, &s3.CreateBucketInput{
		Bucket:                    aws.String(bucket),
		CreateBucketConfiguration: &s3types.CreateBucketConfiguration{LocationConstraint: s3types.BucketLocationConstraint(emuRegion)},
	}); err != nil {
		t.Fatal(err)
	}
	durations, err := filepath.Abs("../internal/deploytime/durations.csv")
	if err != nil {
		t.Fatal(err)
	}
	// The cluster takes 15 min × 0.02 = 18 s to create: the window the second up falls in.
	e.env = append(e.env,
		"PULUMI_BACKEND_URL="+fmt.Sprintf("s3://%s/%s?region=%s&endpoint=%s&s3ForcePathStyle=true", bucket, prefix, emuRegion, e.moto.URL),
		fmt.Sprintf("%s=%s,%g", awsemu.DelaysEnv, durations, 0.02))
	locks := func() []string {
		t.Helper()
		out, err := client.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String(bucket), Prefix: aws.String(prefix + "/.pulumi/locks/")})
		if err != nil {
			t.Fatal(err)
		}
		var keys []string
		for _, o := range out.Contents {
			keys = append(keys, aws.ToString(o.Key))
		}
		return keys
	}

	first := e.start("up", "--yes", "--no-verify")
	// The first up holds its lock and has written a checkpoint with the cluster's create
	// pending once its progress says the cluster is being created.
	if !first.waitFor(regexp.MustCompile(`aws:eks:Cluster\s+`+regexp.QuoteMeta(e.name)+`\s+creating`), emuOpTimeout) {
		t.Fatalf("the first up never started creating the cluster:\n%s", first.output())
	}
	held := locks()
	if len(held) != 1 {
		t.Fatalf("locks while the first up runs: %q, want one", held)
	}

	start := time.Now()
	out, err := e.eksirsa("up", "--yes", "--no-verify")
	took := time.Since(start)
	if err == nil {
		t.Fatal("a second up succeeded while the first one held the stack's lock")
	}
	for _, want := range []string{"stack test is locked by an update that may still be running", "s3://" + bucket + "/" + held[0]} {
		if !strings.Contains(out, want) {
			t.Errorf("the second up did not say %q:\n%s", want, out)
		}
	}
	for _, wrong := range []string{"interrupted", "Cancelling", "Refreshing", "Importing"} {
		if strings.Contains(out, wrong) {
			t.Errorf("the second up took the running update for an interrupted one (%q):\n%s", wrong, out)
		}
	}
	if first.done() {
		t.Errorf("the second up returned after the first one finished (%s): it waited, not failed fast", took)
	}
	t.Logf("the second up failed after %s, the first one still running", took.Round(time.Millisecond))

	if err := first.wait(); err != nil {
		t.Fatalf("the first up, after the second one was refused: %v\n%s", err, first.output())
	}
	e.upChangesNothing("the up after the first one")
	if _, err := e.eksirsa("destroy", "--yes"); err != nil {
		t.Fatalf("eksirsa destroy: %v", err)
	}
	e.nothingLeft("destroy")
	if left := locks(); len(left) != 0 {
		t.Errorf("locks left after destroy: %q", left)
	}
}
