package statelock_test

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/eks-irsa/eks-irsa/internal/statelock"
	"github.com/eks-irsa/eks-irsa/internal/statelock/statelocktest"
)

// inNamespaceEnv makes the test binary, run inside `unshare --pid`, play a Pulumi CLI started
// by an eksirsa of another container: it records itself as eksirsa does, takes the lock, and
// exits.
const inNamespaceEnv = "STATELOCK_TEST_LOCK_IN_NAMESPACE"

func TestMain(m *testing.M) {
	if dir := os.Getenv(inNamespaceEnv); dir != "" {
		if _, err := statelock.RecordOwner(context.Background(), "file://"+dir, "eks-irsa", "test", os.Getpid()); err != nil {
			os.Stderr.WriteString(err.Error() + "\n")
			os.Exit(1)
		}
		host, _ := os.Hostname()
		lock, _ := json.Marshal(map[string]any{"pid": os.Getpid(), "username": "root", "hostname": host, "timestamp": "2026-12-06T10:00:00Z"})
		lockDir := filepath.Join(dir, ".pulumi", "locks", "organization", "eks-irsa", "test")
		if err := os.MkdirAll(lockDir, 0o755); err != nil {
			os.Exit(1)
		}
		if err := os.WriteFile(filepath.Join(lockDir, "e5f6.json"), lock, 0o600); err != nil {
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// A container on this machine with this hostname but its own pid namespace (a hostNetwork
// pod, a CI job's container) holds a lock whose pid means nothing here, even when no process
// here has it: such a lock is not dead. Measured with a real pid namespace (unshare --pid,
// root in this container), the pid inside it set to one that does not exist out here
// (ns_last_pid), so a rule of "same hostname, pid gone" would call it dead.
func TestLockFromAnotherPidNamespaceIsNotDead(t *testing.T) {
	if _, err := exec.LookPath("unshare"); err != nil {
		t.Fatalf("unshare (util-linux) is needed: %v", err)
	}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	gone := statelocktest.DeadPid(t)
	dir := t.TempDir()
	// sh is pid 1 in the new namespace; the test binary it starts gets ns_last_pid+1 = gone.
	cmd := exec.Command("unshare", "--pid", "--fork", "--mount-proc", "sh", "-c",
		`echo `+strconv.Itoa(gone-1)+` > /proc/sys/kernel/ns_last_pid && "$0" -test.run=^$`, self)
	cmd.Env = append(os.Environ(), inNamespaceEnv+"="+dir)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("the update in another pid namespace: %v\n%s", err, out)
	}
	locks, err := statelock.Read(t.Context(), "file://"+dir, "eks-irsa", "test")
	if err != nil || len(locks) != 1 {
		t.Fatalf("locks %+v, %v; want the one taken in the namespace", locks, err)
	}
	l := locks[0]
	if l.Pid != gone || len(l.Owners) != 1 {
		t.Fatalf("lock %+v: want pid %d (not running out here) with its owner record", l, gone)
	}
	if l.Dead() {
		t.Errorf("a lock from another pid namespace reads as dead: %+v", l.Owners)
	}
	if why := l.Unproven(); !strings.Contains(why, "another container") {
		t.Errorf("Unproven() = %q, want it to say the pid namespace differs", why)
	}
	if err := statelock.Release(t.Context(), "file://"+dir, "eks-irsa", "test", locks, l); err == nil {
		t.Error("Release deleted a lock from another pid namespace")
	}
}

// A record of another boot (the same hostname on another machine, or this one before a
// reboot) proves nothing about a pid here, even when this boot also has a record of it.
func TestLockRecordedOnAnotherBootIsNotDead(t *testing.T) {
	dir := t.TempDir()
	url := statelocktest.KilledUpdate(t, dir, "eks-irsa", "test", "a1b2.json")
	locks, err := statelock.Read(t.Context(), url, "eks-irsa", "test")
	if err != nil || len(locks) != 1 || !locks[0].Dead() {
		t.Fatalf("the killed update's lock: %+v, %v; want it dead", locks, err)
	}
	other := locks[0].Owners[0]
	other.BootID = "0f1e2d3c-0000-4000-8000-000000000000"
	data, _ := json.Marshal(other)
	ownerDir := filepath.Join(dir, ".eksirsa", "lock-owners", "eks-irsa", "test")
	if err := os.WriteFile(filepath.Join(ownerDir, "other-boot.json"), data, 0o600); err != nil {
		t.Fatal(err)
	}
	locks, err = statelock.Read(t.Context(), url, "eks-irsa", "test")
	if err != nil || len(locks) != 1 {
		t.Fatal(locks, err)
	}
	if locks[0].Dead() {
		t.Error("a lock whose pid another boot also recorded reads as dead")
	}
}

// Release deletes the one dead lock and its record, after reading the locks again: a lock
// another update took since they were read survives, and nothing is deleted. `pulumi cancel`
// would have deleted both (CancelCurrentUpdate deletes every file of the stack's lock
// directory).
func TestReleaseDeletesOnlyTheDeadLock(t *testing.T) {
	dir := t.TempDir()
	url := statelocktest.KilledUpdate(t, dir, "eks-irsa", "test", "a1b2.json")
	locks, err := statelock.Read(t.Context(), url, "eks-irsa", "test")
	if err != nil || len(locks) != 1 || !locks[0].Dead() {
		t.Fatalf("the killed update's lock: %+v, %v; want it dead", locks, err)
	}
	host, _ := os.Hostname()
	// Taken between the read and the release, by a live update.
	taken := statelocktest.WriteLockAs(t, dir, "eks-irsa", "test", "c3d4.json", os.Getpid(), host)
	err = statelock.Release(t.Context(), url, "eks-irsa", "test", locks, locks[0])
	if !errors.Is(err, statelock.ErrLocksChanged) {
		t.Errorf("Release with a lock taken meanwhile: %v, want ErrLocksChanged", err)
	}
	for _, f := range []string{locks[0].URL, taken} {
		if _, err := os.Stat(f); err != nil {
			t.Errorf("%s: %v; Release deleted a lock although the locks changed", f, err)
		}
	}

	// Without the newcomer the dead lock goes, and with it its owner record; a live lock of
	// another stack stays.
	if err := os.Remove(taken); err != nil {
		t.Fatal(err)
	}
	prod := statelocktest.WriteLockAs(t, dir, "eks-irsa", "prod", "9999.json", os.Getpid(), host)
	if err := statelock.Release(t.Context(), url, "eks-irsa", "test", locks, locks[0]); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(locks[0].URL); !os.IsNotExist(err) {
		t.Errorf("the dead lock is still there: %v", err)
	}
	if _, err := os.Stat(prod); err != nil {
		t.Errorf("another stack's lock: %v", err)
	}
	records, _ := filepath.Glob(filepath.Join(dir, ".eksirsa", "lock-owners", "eks-irsa", "test", "*"))
	if len(records) != 0 {
		t.Errorf("owner records left: %v", records)
	}
	if err := statelock.Release(t.Context(), url, "eks-irsa", "test", locks, locks[0]); !errors.Is(err, statelock.ErrLocksChanged) {
		t.Errorf("releasing a lock already gone: %v, want ErrLocksChanged", err)
	}
}
