package statelock_test

import (
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/eks-irsa/eks-irsa/integration/moto"
	"github.com/eks-irsa/eks-irsa/internal/statelock"
	"github.com/eks-irsa/eks-irsa/internal/statelock/statelocktest"
)

func TestReadFileBackend(t *testing.T) {
	host, _ := os.Hostname()
	dead := statelocktest.DeadPid(t)
	tests := []struct {
		name     string
		pid      int
		host     string
		wantDead bool
	}{
		// Killed: the pid is gone, and eksirsa recorded starting it in this boot and namespace.
		{"killed update on this host", 0, host, true},
		// Same hostname, pid gone here, but no record: a container elsewhere with this
		// hostname, or a CLI run by hand, may still be running it.
		{"unrecorded update with this hostname", dead, host, false},
		{"live update on this host", os.Getpid(), host, false},
		{"update on another host", dead, "build-agent-7", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			var url string
			if tc.pid == 0 {
				url = statelocktest.KilledUpdate(t, dir, "eks-irsa", "test", "a1b2.json")
			} else {
				url = statelocktest.WriteLock(t, dir, "eks-irsa", "test", tc.pid, tc.host)
			}
			// Another stack's lock is not this one's.
			statelocktest.WriteLock(t, dir, "eks-irsa", "prod", os.Getpid(), host)
			locks, err := statelock.Read(t.Context(), url, "eks-irsa", "test")
			if err != nil {
				t.Fatal(err)
			}
			if len(locks) != 1 {
				t.Fatalf("locks = %+v, want the one of stack test", locks)
			}
			l := locks[0]
			if (tc.pid != 0 && l.Pid != tc.pid) || l.Hostname != tc.host || !l.Timestamp.Equal(time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)) {
				t.Errorf("lock read as %+v", l)
			}
			if want := filepath.Join(dir, ".pulumi/locks/organization/eks-irsa/test/a1b2.json"); l.URL != want {
				t.Errorf("lock URL %q, want %q", l.URL, want)
			}
			if l.Dead() != tc.wantDead {
				t.Errorf("Dead() = %v, want %v (%s)", l.Dead(), tc.wantDead, l.Unproven())
			}
		})
	}
	if locks, err := statelock.Read(t.Context(), "file://"+t.TempDir(), "eks-irsa", "test"); err != nil || len(locks) != 0 {
		t.Errorf("no locks: %v, %v", locks, err)
	}
	if locks, err := statelock.Read(t.Context(), "file://"+filepath.Join(t.TempDir(), "not-made-yet"), "eks-irsa", "test"); err != nil || len(locks) != 0 {
		t.Errorf("a backend directory not made yet: %v, %v", locks, err)
	}
	home := t.TempDir()
	t.Setenv("HOME", home)
	statelocktest.WriteLock(t, filepath.Join(home, "state"), "eks-irsa", "test", dead, host)
	if locks, err := statelock.Read(t.Context(), "file://~/state", "eks-irsa", "test"); err != nil || len(locks) != 1 {
		t.Errorf("file://~/state: %+v, %v; want the lock under the home directory", locks, err)
	}
	dir := t.TempDir()
	url := statelocktest.WriteLock(t, dir, "eks-irsa", "test", dead, host)
	_ = os.WriteFile(filepath.Join(dir, ".pulumi", "locks", "organization", "eks-irsa", "test", "c3d4.json"), []byte("{"), 0o600)
	if _, err := statelock.Read(t.Context(), url, "eks-irsa", "test"); err == nil || !strings.Contains(err.Error(), "c3d4.json") {
		t.Errorf("a torn lock file: err = %v, want it named", err)
	}
	for _, url := range []string{"https://api.pulumi.com", "gs://bucket/state"} {
		if _, err := statelock.Read(t.Context(), url, "eks-irsa", "test"); !errors.Is(err, statelock.ErrUnreadable) {
			t.Errorf("%s: err = %v, want ErrUnreadable", url, err)
		}
	}
}

// The S3 backend, on moto's S3: the lock is read where the Pulumi CLI writes it, under the
// URL's path inside the bucket, through the URL's endpoint and path-style addressing, and
// with the v1-era parameters the CLI still accepts.
func TestReadS3Backend(t *testing.T) {
	m := moto.Start(t)
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIDSTATELOCK")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "statelock")
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(t.TempDir(), "none"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(t.TempDir(), "none"))
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	for _, k := range []string{"AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3", "AWS_PROFILE", "AWS_REGION", "AWS_DEFAULT_REGION"} {
		t.Setenv(k, "")
		os.Unsetenv(k)
	}
	client := s3.NewFromConfig(m.Config("us-west-2"), func(o *s3.Options) { o.UsePathStyle = true })
	ctx := t.Context()
	if _, err := client.CreateBucket(ctx, &s3.CreateBucketInput{
		Bucket:                    aws.String("team-state"),
		CreateBucketConfiguration: &s3types.CreateBucketConfiguration{LocationConstraint: s3types.BucketLocationConstraintUsWest2},
	}); err != nil {
		t.Fatal(err)
	}
	host, _ := os.Hostname()
	put := func(key, body string) {
		t.Helper()
		if _, err := client.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("team-state"), Key: aws.String(key), Body: strings.NewReader(body)}); err != nil {
			t.Fatal(err)
		}
	}
	put("eks/.pulumi/locks/organization/eks-irsa/test/5f0e.json",
		`{"pid":`+strconv.Itoa(os.Getpid())+`,"username":"ci","hostname":"`+host+`","timestamp":"2026-12-04T10:00:00Z"}`)
	put("eks/.pulumi/locks/organization/eks-irsa/prod/77aa.json", `{"pid":1,"username":"ci","hostname":"other","timestamp":"2026-12-04T10:00:00Z"}`)
	put(".pulumi/locks/organization/eks-irsa/test/0000.json", `{"pid":1,"username":"ci","hostname":"other","timestamp":"2026-12-04T10:00:00Z"}`)

	hostPort := strings.TrimPrefix(m.URL, "http://")
	for name, url := range map[string]string{
		"gocloud.dev parameters": "s3://team-state/eks?region=us-west-2&endpoint=" + m.URL + "&use_path_style=true",
		"v1-era parameters":      "s3://team-state/eks/?region=us-west-2&endpoint=" + hostPort + "&disableSSL=true&s3ForcePathStyle=true",
	} {
		t.Run(name, func(t *testing.T) {
			locks, err := statelock.Read(ctx, url, "eks-irsa", "test")
			if err != nil {
				t.Fatal(err)
			}
			if len(locks) != 1 {
				t.Fatalf("locks = %+v, want the one of stack test under eks/", locks)
			}
			l := locks[0]
			if l.URL != "s3://team-state/eks/.pulumi/locks/organization/eks-irsa/test/5f0e.json" || l.Pid != os.Getpid() || l.Username != "ci" {
				t.Errorf("lock read as %+v", l)
			}
			if l.Dead() {
				t.Error("this live process's lock reads as dead")
			}
			if !strings.Contains(l.String(), l.URL) || !strings.Contains(l.String(), host) {
				t.Errorf("String() = %q, want where it is and which host holds it", l.String())
			}
		})
	}
	if _, err := statelock.Read(ctx, "s3://no-such-bucket?region=us-west-2&endpoint="+m.URL+"&use_path_style=true", "eks-irsa", "test"); err == nil {
		t.Error("a bucket that does not exist read as no locks")
	}
}
