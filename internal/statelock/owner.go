package statelock

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"strconv"
	"strings"

	"gocloud.dev/blob"
	"gocloud.dev/gcerrors"
)

// Owner is the evidence eksirsa records beside the lock a Pulumi CLI it starts takes: the
// lock says only hostname and pid, which a container on another machine (CI runners' generated
// names, hostNetwork pods) or in another pid namespace shares. A pid names one process only
// within one pid namespace of one boot; the start time tells it from a later process that
// reused the pid.
type Owner struct {
	Hostname string `json:"hostname"`
	Pid      int    `json:"pid"`
	// BootID is /proc/sys/kernel/random/boot_id: new on every boot of every machine.
	BootID string `json:"bootId"`
	// PidNamespace is the link /proc/<pid>/ns/pid, "pid:[inode]".
	PidNamespace string `json:"pidNamespace"`
	// StartTime is field 22 of /proc/<pid>/stat: clock ticks from boot to the process's start.
	StartTime uint64 `json:"startTime"`
}

// ownersDir holds the owner records under the state root, outside the CLI's bookkeeping
// directory: the CLI counts every file under a stack's lock directory as a lock
// (backend/diy/lock.go, checkForLock) and `pulumi cancel` deletes them all.
const ownersDir = ".eksirsa/lock-owners"

// ProcessOwner reads the evidence naming process pid of this machine.
func ProcessOwner(pid int) (Owner, error) {
	host, err := os.Hostname()
	if err != nil {
		return Owner{}, fmt.Errorf("hostname: %w", err)
	}
	boot, err := os.ReadFile("/proc/sys/kernel/random/boot_id")
	if err != nil {
		return Owner{}, fmt.Errorf("boot id: %w", err)
	}
	ns, err := os.Readlink(fmt.Sprintf("/proc/%d/ns/pid", pid))
	if err != nil {
		return Owner{}, fmt.Errorf("pid namespace of %d: %w", pid, err)
	}
	start, ok := startTime(pid)
	if !ok {
		return Owner{}, fmt.Errorf("start time of process %d: not readable from /proc", pid)
	}
	return Owner{Hostname: host, Pid: pid, BootID: strings.TrimSpace(string(boot)), PidNamespace: ns, StartTime: start}, nil
}

// here is this process's machine and pid namespace (its pid and start time are eksirsa's).
func here() (Owner, error) { return ProcessOwner(os.Getpid()) }

// key is where the record is: one per boot, namespace and pid, so a namesake elsewhere never
// overwrites it.
func (o Owner) key(project, stackName string) string {
	ns := strings.Trim(strings.TrimPrefix(o.PidNamespace, "pid:"), "[]")
	return path.Join(ownersDir, project, stackName, fmt.Sprintf("%s-%s-%d.json", o.BootID, ns, o.Pid))
}

// RecordOwner records, in the diy backend at backendURL, the evidence naming process pid (a
// Pulumi CLI just started on project/stack), and returns how to remove it once the process has
// ended. Backends whose locks cannot be read here (ErrUnreadable) get no record.
func RecordOwner(ctx context.Context, backendURL, project, stackName string, pid int) (remove func(context.Context) error, err error) {
	owner, err := ProcessOwner(pid)
	if err != nil {
		return nil, fmt.Errorf("record the owner of stack %s's lock: %w", stackName, err)
	}
	bucket, where, err := open(ctx, backendURL)
	if errors.Is(err, ErrUnreadable) {
		return func(context.Context) error { return nil }, nil
	}
	if err != nil {
		return nil, err
	}
	defer bucket.Close()
	data, _ := json.Marshal(owner)
	key := owner.key(project, stackName)
	if err := bucket.WriteAll(ctx, key, data, nil); err != nil {
		return nil, fmt.Errorf("record the owner of stack %s's lock in %s: %w", stackName, where(key), err)
	}
	return func(ctx context.Context) error {
		bucket, _, err := open(ctx, backendURL)
		if err != nil {
			return err
		}
		defer bucket.Close()
		return deleteKey(ctx, bucket, key)
	}, nil
}

// readOwners returns the owner records of project/stack.
func readOwners(ctx context.Context, bucket *blob.Bucket, where func(string) string, project, stackName string) ([]Owner, error) {
	var owners []Owner
	iter := bucket.List(&blob.ListOptions{Prefix: path.Join(ownersDir, project, stackName) + "/"})
	for {
		obj, err := iter.Next(ctx)
		if err == io.EOF {
			return owners, nil
		}
		if err != nil {
			return nil, fmt.Errorf("read lock owners in %s: %w", where(ownersDir), err)
		}
		data, err := bucket.ReadAll(ctx, obj.Key)
		if err != nil {
			return nil, fmt.Errorf("read lock owner %s: %w", where(obj.Key), err)
		}
		var o Owner
		if err := json.Unmarshal(data, &o); err != nil {
			return nil, fmt.Errorf("read lock owner %s: %w", where(obj.Key), err)
		}
		owners = append(owners, o)
	}
}

func deleteKey(ctx context.Context, bucket *blob.Bucket, key string) error {
	if err := bucket.Delete(ctx, key); err != nil && gcerrors.Code(err) != gcerrors.NotFound {
		return err
	}
	return nil
}

// unproven says why the lock's update cannot be proven dead from here, or "" when it is dead:
// a record of its process from this boot and pid namespace, no record of a namesake from
// elsewhere, and that process gone (or a different process under its pid).
func (l Lock) unproven() string {
	me, err := here()
	if err != nil {
		return fmt.Sprintf("this machine's evidence cannot be read (%v)", err)
	}
	if l.Hostname != me.Hostname {
		return "it was taken on another host"
	}
	var ours *Owner
	for i, o := range l.Owners {
		if o.BootID != me.BootID || o.PidNamespace != me.PidNamespace {
			return fmt.Sprintf("a process %d of host %s ran on another machine or in another container (boot %s, %s)", o.Pid, o.Hostname, o.BootID, o.PidNamespace)
		}
		ours = &l.Owners[i]
	}
	switch {
	case ours == nil:
		return "no eksirsa on this host recorded starting it (another machine or container with the same hostname, or a Pulumi CLI run by hand)"
	case !processAlive(l.Pid):
		return ""
	}
	if start, ok := startTime(l.Pid); ok && start != ours.StartTime {
		return "" // the pid now names a later process
	}
	return fmt.Sprintf("process %d is still running here", l.Pid)
}

// startTime reads field 22 of /proc/<pid>/stat ("pid (comm) state ppid ... starttime").
func startTime(pid int) (uint64, bool) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, false
	}
	s := string(data)
	closing := strings.LastIndexByte(s, ')')
	if closing < 0 {
		return 0, false
	}
	fields := strings.Fields(s[closing+1:])
	const startTimeField = 22 - 3 // fields[0] is field 3, the state
	if len(fields) <= startTimeField {
		return 0, false
	}
	v, err := strconv.ParseUint(fields[startTimeField], 10, 64)
	return v, err == nil
}
