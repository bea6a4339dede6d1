package testcluster

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/eks-irsa/eks-irsa/integration/keptlog"
)

// process is one control-plane binary running in its own process group, its output in a file.
type process struct {
	name    string
	cmd     *exec.Cmd
	logPath string
	done    chan struct{} // closed when Wait returns
	waitErr error
	once    sync.Once // stop runs once: a failed Start attempt stops early, cleanup again
}

// startProcess starts bin with args, stdout and stderr to dir/name.log, and registers its
// stop in t.Cleanup before returning, so a later failure still stops it. Pdeathsig covers
// the case Cleanup cannot: the test binary killed by `go test -timeout`.
func startProcess(t testing.TB, dir, name, bin string, args ...string) (*process, error) {
	t.Helper()
	logPath := filepath.Join(dir, name+".log")
	logFile, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, args...)
	cmd.Dir = dir
	cmd.Stdout = logFile
	cmd.Stderr = logFile
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		logFile.Close()
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	p := &process{name: name, cmd: cmd, logPath: logPath, done: make(chan struct{})}
	go func() {
		p.waitErr = cmd.Wait()
		logFile.Close()
		close(p.done)
	}()
	t.Cleanup(func() {
		p.stop(t)
		keptlog.OnFailure(t, name, logPath)
	})
	return p, nil
}

// exited reports whether the process has ended, and how.
func (p *process) exited() (bool, error) {
	select {
	case <-p.done:
		return true, p.waitErr
	default:
		return false, nil
	}
}

// stop sends SIGTERM to the whole process group, waits, and escalates to SIGKILL; it returns
// only once the process has been reaped.
func (p *process) stop(t testing.TB) {
	p.once.Do(func() { p.stopOnce(t) })
}

func (p *process) stopOnce(t testing.TB) {
	pgid := p.cmd.Process.Pid // Setpgid: the group id is the leader's pid
	if done, _ := p.exited(); !done {
		_ = syscall.Kill(-pgid, syscall.SIGTERM)
		select {
		case <-p.done:
		case <-time.After(10 * time.Second):
			t.Logf("testcluster: %s ignored SIGTERM for 10s, killing", p.name)
			_ = syscall.Kill(-pgid, syscall.SIGKILL)
			<-p.done
		}
	}
	// Any straggler in the group (none of these binaries forks, but be sure).
	if err := syscall.Kill(-pgid, syscall.SIGKILL); err != nil && !errors.Is(err, syscall.ESRCH) {
		t.Logf("testcluster: kill group of %s: %v", p.name, err)
	}
}
