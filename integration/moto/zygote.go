package moto

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// zygoteEnv makes the moto_server Python that sitecustomize.py runs in a fork server
// (zygote.py) instead of a server.
const zygoteEnv = "EKSIRSA_MOTO_ZYGOTE"

// A zygote is one moto_server Python per test process that has imported moto and this
// package's extensions and answered a request of each service the tests use, and that forks
// a server for each Start (zygote.py says why: about 2.5 s of CPU saved per server). It
// listens on nothing itself; each server it forks is its test's, stopped by that test.
type zygote struct {
	mu     sync.Mutex // one fork request at a time
	cmd    *exec.Cmd
	in     io.WriteCloser
	out    *bufio.Reader
	stderr *tailBuffer
	err    error // set once the zygote is unusable
}

var (
	zygoteOnce sync.Once
	theZygote  *zygote
	zygoteErr  error
)

// sharedZygote starts the process's zygote on first use.
func sharedZygote(bin string) (*zygote, error) {
	zygoteOnce.Do(func() { theZygote, zygoteErr = startZygote(bin) })
	return theZygote, zygoteErr
}

func startZygote(bin string) (*zygote, error) {
	dir, err := os.MkdirTemp("", "eksirsa-moto-zygote-")
	if err != nil {
		return nil, err
	}
	// The zygote imports every module at its start and the servers it forks import none
	// from here, so the directory goes once the zygote is ready (or failed).
	defer os.RemoveAll(dir)
	modules, err := fs.Glob(python, "*.py")
	if err != nil {
		return nil, err
	}
	for _, m := range modules {
		b, err := python.ReadFile(m)
		if err != nil {
			return nil, err
		}
		if err := os.WriteFile(filepath.Join(dir, m), b, 0o644); err != nil {
			return nil, err
		}
	}
	pythonPath := dir
	if p := os.Getenv("PYTHONPATH"); p != "" {
		pythonPath += string(os.PathListSeparator) + p
	}
	cmd := exec.Command(bin)
	cmd.Env = append(os.Environ(),
		zygoteEnv+"=1",
		"MOTO_IAM_LOAD_MANAGED_POLICIES=true",
		"PYTHONPATH="+pythonPath,
		"PYTHONDONTWRITEBYTECODE=1",
	)
	// The extensions install their patches only when their file's variable is set; each
	// server gets its own files (fork).
	for _, name := range serverFiles {
		cmd.Env = append(cmd.Env, name+"="+filepath.Join(dir, "none", name))
	}
	z := &zygote{cmd: cmd, stderr: &tailBuffer{max: 64 << 10}}
	cmd.Stderr = z.stderr
	if z.in, err = cmd.StdinPipe(); err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	z.out = bufio.NewReader(stdout)
	// Pdeathsig: the zygote dies with the test binary (go test -timeout runs no Cleanup),
	// and its servers with it (zygote.py); a closed stdin ends it too.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", bin, err)
	}
	go func() { _ = cmd.Wait() }()
	ready := make(chan error, 1)
	go func() {
		line, err := z.out.ReadString('\n')
		if err == nil && line != "ready\n" {
			err = fmt.Errorf("said %q", line)
		}
		ready <- err
	}()
	select {
	case err = <-ready:
	case <-time.After(startTimeout):
		err = fmt.Errorf("not ready within %s", startTimeout)
	}
	if err != nil {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		return nil, fmt.Errorf("moto: the fork server (%s with %s=1): %v\n%s", bin, zygoteEnv, err, z.stderr.String())
	}
	return z, nil
}

// serverFiles are the variables naming the files a test writes for its server
// (publicParametersEnv, iamRateEnv, controlPlanesEnv), which zygote.py hands the extensions.
var serverFiles = []string{publicParametersEnv, iamRateEnv, controlPlanesEnv}

// fork starts a server on port, logging to logPath, with the extensions reading files (one
// path per serverFiles name), and returns its pid.
func (z *zygote) fork(port int, logPath string, files map[string]string) (int, error) {
	z.mu.Lock()
	defer z.mu.Unlock()
	if z.err != nil {
		return 0, z.err
	}
	req, err := json.Marshal(map[string]any{"port": port, "log": logPath, "paths": files})
	if err != nil {
		return 0, err
	}
	if _, err := z.in.Write(append(req, '\n')); err != nil {
		z.err = fmt.Errorf("moto: the fork server is gone: %v\n%s", err, z.stderr.String())
		return 0, z.err
	}
	line, err := z.out.ReadString('\n')
	if err != nil {
		z.err = fmt.Errorf("moto: the fork server is gone: %v\n%s", err, z.stderr.String())
		return 0, z.err
	}
	pid, err := strconv.Atoi(strings.TrimSpace(line))
	if err != nil {
		return 0, fmt.Errorf("moto: the fork server answered %q", line)
	}
	return pid, nil
}

// tailBuffer keeps the last max bytes written to it.
type tailBuffer struct {
	mu  sync.Mutex
	buf []byte
	max int
}

func (b *tailBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf = append(b.buf, p...)
	if over := len(b.buf) - b.max; over > 0 {
		b.buf = b.buf[over:]
	}
	return len(p), nil
}

func (b *tailBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return string(b.buf)
}

// watchExit closes done once process pid is gone. The servers are the zygote's children,
// not ours, so there is no Wait; the zygote ignores SIGCHLD, so they leave no zombie.
func watchExit(pid int, done chan<- struct{}) {
	for {
		if err := syscall.Kill(pid, 0); errors.Is(err, syscall.ESRCH) {
			close(done)
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
}
