// Package statelock reads the locks the Pulumi CLI's diy backends (file:// and s3://) hold on a
// stack while an update runs, so the driver can tell a live update from a dead one: it fails
// fast naming a live update's lock, and releases a lock whose process is provably gone.
package statelock

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"path"
	"strings"
	"syscall"
	"time"

	"gocloud.dev/blob"
	"gocloud.dev/blob/fileblob"
	"gocloud.dev/blob/s3blob"
)

// Lock is what the Pulumi CLI's diy backend writes in
// <state>/.pulumi/locks/<org>/<project>/<stack>/<id>.json while an update runs
// (github.com/pulumi/pulumi/pkg/v3@v3.274.1 backend/diy/lock.go, lockContent).
type Lock struct {
	// URL is where the lock is: a path in a file backend, s3://bucket/key in S3.
	URL       string    `json:"-"`
	Pid       int       `json:"pid"`
	Username  string    `json:"username"`
	Hostname  string    `json:"hostname"`
	Timestamp time.Time `json:"timestamp"`
	// Owners are eksirsa's records of processes with the lock's hostname and pid (RecordOwner).
	Owners []Owner `json:"-"`
	key    string
	raw    string
}

// Dead reports whether the update holding the lock is provably gone: its CLI was started by
// eksirsa in this boot and pid namespace (recorded beside the lock) and that process no longer
// exists (a CLI killed with SIGKILL). Anything else (another machine, another container with
// the same hostname, a CLI run by hand, a live process) may be an update still running.
func (l Lock) Dead() bool { return l.unproven() == "" }

// Unproven says why the lock's update cannot be proven dead from here ("" when it is dead).
func (l Lock) Unproven() string { return l.unproven() }

// String names the lock for a person: who holds it, since when, and where it is.
func (l Lock) String() string {
	return fmt.Sprintf("pid %d of %s on %s, since %s (lock %s)", l.Pid, l.Username, l.Hostname,
		l.Timestamp.Format(time.RFC3339), l.URL)
}

// ErrUnreadable is returned for backends whose locks live on a server (Pulumi Cloud) or in a
// store this package does not open (gs://, azblob://).
var ErrUnreadable = errors.New("the backend's locks cannot be read here")

// Read returns the locks held on project/stack in the diy backend at backendURL (file:// or
// s3://, with the query parameters the Pulumi CLI takes), or ErrUnreadable for any other
// backend.
func Read(ctx context.Context, backendURL, project, stackName string) ([]Lock, error) {
	bucket, where, err := open(ctx, backendURL)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil // a file backend not made yet holds no lock
	}
	if err != nil {
		return nil, err
	}
	defer bucket.Close()
	return read(ctx, bucket, where, project, stackName)
}

func read(ctx context.Context, bucket *blob.Bucket, where func(string) string, project, stackName string) ([]Lock, error) {
	// Project-scoped stacks lock under <org>/<project>/<stack>; older state under <stack>.
	patterns := []string{path.Join(locksDir, "*", project, stackName, "*.json"), path.Join(locksDir, stackName, "*.json")}
	var locks []Lock
	iter := bucket.List(&blob.ListOptions{Prefix: locksDir + "/"})
	for {
		obj, err := iter.Next(ctx)
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("read stack locks in %s: %w", where(""), err)
		}
		if !matchesAny(obj.Key, patterns) {
			continue
		}
		data, err := bucket.ReadAll(ctx, obj.Key)
		if err != nil {
			return nil, fmt.Errorf("read stack lock %s: %w", where(obj.Key), err)
		}
		lock := Lock{URL: where(obj.Key), key: obj.Key, raw: string(data)}
		if err := json.Unmarshal(data, &lock); err != nil {
			return nil, fmt.Errorf("read stack lock %s: %w", lock.URL, err)
		}
		locks = append(locks, lock)
	}
	if len(locks) == 0 {
		return nil, nil
	}
	owners, err := readOwners(ctx, bucket, where, project, stackName)
	if err != nil {
		return nil, err
	}
	for i, l := range locks {
		for _, o := range owners {
			if o.Hostname == l.Hostname && o.Pid == l.Pid {
				locks[i].Owners = append(locks[i].Owners, o)
			}
		}
	}
	return locks, nil
}

// ErrLocksChanged is returned by Release when the stack's locks are not those it was given.
var ErrLocksChanged = errors.New("the stack's locks changed since they were read")

// Release deletes one dead lock of project/stack, and its owner record, after reading the
// stack's locks again: they must still be exactly seen (another update may have locked the
// stack meanwhile) and the lock still dead. It deletes only that lock's file: `pulumi cancel`
// (the Automation API's Cancel) deletes every file in the stack's lock directory
// (backend/diy/backend.go, CancelCurrentUpdate), a lock taken since the read included, while a
// diy lock is nothing but its file (lock.go: Lock writes it, Unlock deletes it).
func Release(ctx context.Context, backendURL, project, stackName string, seen []Lock, dead Lock) error {
	bucket, where, err := open(ctx, backendURL)
	if err != nil {
		return err
	}
	defer bucket.Close()
	now, err := read(ctx, bucket, where, project, stackName)
	if err != nil {
		return err
	}
	if !sameLocks(now, seen) {
		return fmt.Errorf("release stack %s's lock %s: %w", stackName, dead.URL, ErrLocksChanged)
	}
	for _, l := range now {
		if l.key != dead.key {
			continue
		}
		if why := l.unproven(); why != "" {
			return fmt.Errorf("release stack %s's lock %s: %w (%s)", stackName, dead.URL, ErrLocksChanged, why)
		}
		if err := deleteKey(ctx, bucket, l.key); err != nil {
			return fmt.Errorf("release stack %s's lock %s: %w", stackName, l.URL, err)
		}
		for _, o := range l.Owners { // all of this boot and namespace: they proved it dead
			_ = deleteKey(ctx, bucket, o.key(project, stackName))
		}
		return nil
	}
	return fmt.Errorf("release stack %s's lock %s: %w (it is gone)", stackName, dead.URL, ErrLocksChanged)
}

// sameLocks reports whether a and b are the same lock files with the same contents.
func sameLocks(a, b []Lock) bool {
	if len(a) != len(b) {
		return false
	}
	have := map[string]string{}
	for _, l := range a {
		have[l.key] = l.raw
	}
	for _, l := range b {
		if raw, ok := have[l.key]; !ok || raw != l.raw {
			return false
		}
	}
	return true
}

// locksDir is the diy backend's lock directory under the state root
// (workspace.BookkeepingDir/LockDir).
const locksDir = ".pulumi/locks"

func matchesAny(key string, patterns []string) bool {
	for _, p := range patterns {
		if ok, _ := path.Match(p, key); ok {
			return true
		}
	}
	return false
}

// open opens the state root of a diy backend as the Pulumi CLI does (backend/diy/backend.go,
// newDIYBackend: gocloud.dev's opener, the s3 URL's path a prefix inside the bucket) and
// returns how to name a key in it.
func open(ctx context.Context, backendURL string) (*blob.Bucket, func(key string) string, error) {
	if dir, ok := strings.CutPrefix(backendURL, "file://"); ok {
		dir, _, _ = strings.Cut(dir, "?")
		// file://~/state is under the home directory, as the CLI reads it (massageBlobPath).
		if rest, ok := strings.CutPrefix(dir, "~"); ok {
			home, err := os.UserHomeDir()
			if err != nil {
				return nil, nil, fmt.Errorf("backend %s: %w", backendURL, err)
			}
			dir = home + rest
		}
		b, err := fileblob.OpenBucket(dir, nil)
		if err != nil {
			return nil, nil, fmt.Errorf("open backend %s: %w", backendURL, err)
		}
		return b, func(key string) string { return path.Join(dir, key) }, nil
	}
	if !strings.HasPrefix(backendURL, "s3://") {
		return nil, nil, fmt.Errorf("backend %s: %w", backendURL, ErrUnreadable)
	}
	u, err := url.Parse(backendURL)
	if err != nil {
		return nil, nil, fmt.Errorf("backend %s: %w", backendURL, err)
	}
	u.RawQuery = translateLegacyS3Params(u.Query()).Encode()
	prefix := strings.Trim(u.Path, "/")
	u.Path = ""
	b, err := (&s3blob.URLOpener{}).OpenBucketURL(ctx, u)
	if err != nil {
		return nil, nil, fmt.Errorf("open backend %s: %w", redact(backendURL), err)
	}
	root := "s3://" + u.Host
	if prefix != "" {
		b = blob.PrefixedBucket(b, prefix+"/")
		root += "/" + prefix
	}
	return b, func(key string) string { return strings.TrimSuffix(root+"/"+key, "/") }, nil
}

// translateLegacyS3Params rewrites the AWS SDK v1-era parameters the Pulumi CLI still accepts
// on s3:// URLs into those gocloud.dev reads, as the CLI does
// (github.com/pulumi/pulumi/pkg/v3@v3.274.1 backend/diy/backend.go, translateLegacyS3Params):
// disableSSL becomes disable_https (dropped when the endpoint names its scheme), and a
// scheme-less endpoint gets one.
func translateLegacyS3Params(q url.Values) url.Values {
	disableSSL := false
	if v, ok := q["disableSSL"]; ok {
		disableSSL = len(v) > 0 && (v[len(v)-1] == "true" || v[len(v)-1] == "1")
		q.Del("disableSSL")
		if !strings.Contains(q.Get("endpoint"), "://") {
			q.Set("disable_https", fmt.Sprint(disableSSL))
		}
	}
	if endpoint := q.Get("endpoint"); endpoint != "" && !strings.Contains(endpoint, "://") {
		scheme := "https"
		if disableSSL {
			scheme = "http"
		}
		q.Set("endpoint", scheme+"://"+endpoint)
	}
	// The CLI's rule for what it writes to a third-party store (request checksums only when
	// required), applied to what this package reads: such stores (moto, MinIO) send no
	// checksum, and the SDK would warn about each response.
	if q.Get("endpoint") != "" && q.Get("response_checksum_validation") == "" && os.Getenv("AWS_RESPONSE_CHECKSUM_VALIDATION") == "" {
		q.Set("response_checksum_validation", "when_required")
	}
	return q
}

// redact drops the query (which may carry a profile or role) from a URL in an error.
func redact(s string) string {
	before, _, _ := strings.Cut(s, "?")
	return before
}

// processAlive reports whether a process with that pid exists (signal 0 checks, sends nothing)
// and is not a zombie: a killed CLI whose parent died too stays a zombie wherever PID 1 does
// not reap orphans (seen in this project's containers), and a zombie holds no lock.
func processAlive(pid int) bool {
	err := syscall.Kill(pid, 0)
	if err != nil && !errors.Is(err, syscall.EPERM) {
		return false
	}
	return !zombie(pid)
}

// zombie reads the process state from /proc/<pid>/stat ("pid (comm) state ..."); false when
// it cannot be read.
func zombie(pid int) bool {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	s := string(data)
	closing := strings.LastIndexByte(s, ')')
	fields := strings.Fields(s[closing+1:])
	return closing >= 0 && len(fields) > 0 && fields[0] == "Z"
}
