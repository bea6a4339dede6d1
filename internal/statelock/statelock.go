// Package statelock finds the lock a killed Pulumi update leaves in a file backend, so the
// driver can release it by itself (pulumi cancel) when, and only when, its process is gone.
package statelock

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// Lock is what the Pulumi CLI's file ("diy") backend writes in
// <state>/.pulumi/locks/<org>/<project>/<stack>/<id>.json while an update runs.
type Lock struct {
	Path      string    `json:"-"`
	Pid       int       `json:"pid"`
	Username  string    `json:"username"`
	Hostname  string    `json:"hostname"`
	Timestamp time.Time `json:"timestamp"`
}

// Stale returns the locks of a file-backend stack whose update is dead: written on this
// host by a process that no longer exists (a CLI killed with SIGKILL, a machine that lost
// power). A lock held by a live process, or from another host, is never stale: that update
// may still be running. Other backends lock on their server and are left to `--cancel`.
func Stale(backendURL, project, stackName string) ([]Lock, error) {
	dir, ok := strings.CutPrefix(backendURL, "file://")
	if !ok {
		return nil, nil
	}
	host, err := os.Hostname()
	if err != nil {
		return nil, fmt.Errorf("read stack locks: %w", err)
	}
	// Project-scoped stacks lock under <org>/<project>/<stack>; older state under <stack>.
	var paths []string
	for _, pattern := range []string{
		filepath.Join(dir, ".pulumi", "locks", "*", project, stackName, "*.json"),
		filepath.Join(dir, ".pulumi", "locks", stackName, "*.json"),
	} {
		found, err := filepath.Glob(pattern)
		if err != nil {
			return nil, fmt.Errorf("read stack locks: %w", err)
		}
		paths = append(paths, found...)
	}
	var stale []Lock
	for _, path := range paths {
		data, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("read stack lock: %w", err)
		}
		lock := Lock{Path: path}
		if err := json.Unmarshal(data, &lock); err != nil {
			return nil, fmt.Errorf("read stack lock %s: %w", path, err)
		}
		if lock.Hostname != host || lock.Pid <= 0 || processAlive(lock.Pid) {
			return nil, nil // someone may still be updating: leave every lock alone
		}
		stale = append(stale, lock)
	}
	return stale, nil
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
