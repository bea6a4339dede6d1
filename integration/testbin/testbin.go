// Package testbin builds this module's own commands for the tests that run them as
// processes: the eksirsa driver and the emulated tier's test-only plugins. Each test process
// builds them once into a directory under the user's cache directory named by the content
// they are linked from and the race mode (contentKey), so a new clone of the same code finds
// them linked, and a warm run links nothing that did not change.
//
// The driver is built with the race detector always: it runs the product's code (the
// program, the migrations, verify), where a race is a bug users would meet. The doubles (the
// plugins, the language host, podcreds) are built as the test binary that starts them is:
// tools/test.sh runs the integration package, which only orchestrates processes, without
// -race, so the scenarios' doubles run without it too, and their own packages' tests (awsemu,
// tlsemu, langhost, with -race) run them with it. See Dir for the one race option they run
// with.
package testbin

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Packages are the module's commands that tests run, by binary name. The plugins' names are
// the ones the Pulumi engine looks up on PATH.
var Packages = map[string]string{
	"eksirsa":             "./cmd/eksirsa",
	"pulumi-resource-aws": "./integration/awsemu/cmd/pulumi-resource-aws",
	"pulumi-resource-tls": "./integration/tlsemu/cmd/pulumi-resource-tls",
	"pulumi-language-go":  "./integration/langhost/cmd/pulumi-language-go",
	// A workload's AWS calls for a pod's whole life, run in its place by the credential poller.
	"podcreds": "./integration/podcreds",
}

// raced are the binaries of Packages built with the race detector whatever the test
// binary's mode (see the package's doc).
var raced = map[string]bool{"eksirsa": true}

var (
	once sync.Once
	dir  string
	err  error
)

// Dir returns a directory holding every binary of Packages, built (or found up to date) once
// per test process. It holds nothing else, so a test may put it first on PATH.
//
// It also sets GORACE's atexit_sleep_ms=0 in this process's environment, which every process
// the tests start inherits (they add to os.Environ()), eksirsa always race-built among them. The
// race runtime otherwise sleeps a second in every process that exits normally (ThreadSanitizer's
// atexit_sleep_ms, 1000 by default; measured: a plugin exits 1.06 s after the engine's SIGINT,
// 0.006 s with it). The Pulumi engine waits for its plugins to exit at the end of every
// operation, and a test waits for each eksirsa it runs, so each `eksirsa up` cost two idle
// seconds. Races while the processes work are reported as before; only races with goroutines
// still running in the last second of a process that is exiting anyway go unseen.
func Dir(t testing.TB) string {
	t.Helper()
	once.Do(func() {
		if err = noRaceExitSleep(); err == nil {
			dir, err = build(raceEnabled)
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	return dir
}

// Path returns the path of one binary of Packages.
func Path(t testing.TB, name string) string {
	t.Helper()
	if _, ok := Packages[name]; !ok {
		t.Fatalf("testbin: %q is not one of %v", name, slices.Sorted(maps.Keys(Packages)))
	}
	return filepath.Join(Dir(t), name)
}

func noRaceExitSleep() error {
	opts := os.Getenv("GORACE")
	if strings.Contains(opts, "atexit_sleep_ms") {
		return nil // set by whoever runs the tests
	}
	if err := os.Setenv("GORACE", strings.TrimSpace(opts+" atexit_sleep_ms=0")); err != nil {
		return fmt.Errorf("testbin: %w", err)
	}
	return nil
}

// build builds Packages, the doubles with the race detector if race, and returns their
// directory.
func build(race bool) (string, error) {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("testbin: go env GOMOD: %w", err)
	}
	root := filepath.Dir(strings.TrimSpace(string(out)))
	cache, err := os.UserCacheDir()
	if err != nil {
		return "", fmt.Errorf("testbin: %w", err)
	}
	mode := "plain"
	if race {
		mode = "race"
	}
	builds := plan(race)
	key, err := contentKey(root, builds)
	if err != nil {
		return "", err
	}
	top := filepath.Join(cache, "eks-irsa", "testbin")
	d := filepath.Join(top, key+"-"+mode)
	if err := os.MkdirAll(d, 0o755); err != nil {
		return "", fmt.Errorf("testbin: %w", err)
	}
	// Test binaries of several packages run at once (go test -p): one builds, the others
	// wait and then find the binaries built.
	lock, err := os.OpenFile(filepath.Join(d, ".lock"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return "", fmt.Errorf("testbin: %w", err)
	}
	defer lock.Close()
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
		return "", fmt.Errorf("testbin: lock %s: %w", d, err)
	}
	defer syscall.Flock(int(lock.Fd()), syscall.LOCK_UN) //nolint:errcheck // closing releases it too

	// The mark is written once every binary is: a build killed half-way leaves none, and the
	// next one links again. Its time is the directory's last use, for pruneUnused.
	done := filepath.Join(d, ".built")
	now := time.Now()
	if err := os.Chtimes(done, now, now); err == nil {
		return d, nil
	}
	for _, b := range builds {
		args := append(append([]string{"build"}, b.flags...), "-o", d+string(os.PathSeparator))
		cmd := exec.Command("go", append(args, b.pkgs...)...)
		cmd.Dir, cmd.Env = root, goEnv()
		if out, err := cmd.CombinedOutput(); err != nil {
			return "", fmt.Errorf("testbin: go %s: %v\n%s", strings.Join(cmd.Args[1:], " "), err, out)
		}
	}
	// go build -o DIR/ names each binary after its package directory's last element.
	for name, pkg := range Packages {
		if filepath.Base(pkg) != name {
			return "", fmt.Errorf("testbin: %s builds to %s, not %s", pkg, filepath.Base(pkg), name)
		}
		if _, err := os.Stat(filepath.Join(d, name)); err != nil {
			return "", fmt.Errorf("testbin: %w", err)
		}
	}
	if err := os.WriteFile(done, nil, 0o644); err != nil {
		return "", fmt.Errorf("testbin: %w", err)
	}
	pruneUnused(top, d)
	return d, nil
}

// buildFlags are the binaries' build flags. No DWARF (as tools/test.sh links the test
// binaries): a quarter less link time. No VCS stamp: a main package's build info would hold
// the commit, so every commit, a README's too, would be a new contentKey and a new link.
func buildFlags(race bool) []string {
	flags := []string{"-ldflags=-w", "-buildvcs=false"}
	if race {
		flags = append(flags, "-race")
	}
	return flags
}

// plan returns the go builds of Packages, one per race mode: eksirsa with the race detector,
// the doubles with it if race.
func plan(race bool) []goBuild {
	groups := map[bool][]string{}
	for _, name := range slices.Sorted(maps.Keys(Packages)) {
		r := race || raced[name]
		groups[r] = append(groups[r], Packages[name])
	}
	var builds []goBuild
	for _, r := range []bool{true, false} {
		if pkgs := groups[r]; len(pkgs) > 0 {
			builds = append(builds, goBuild{flags: buildFlags(r), pkgs: pkgs})
		}
	}
	return builds
}

// goBuild is one go build of some of Packages.
type goBuild struct {
	flags, pkgs []string
}

// contentKey names what the binaries are linked from: for each build, its flags and the
// compiled archive of every package its binaries import, each named in the build cache by a
// hash of its content (go list -export). The same code in another clone (CI's, at a new path)
// has the same key and finds its binaries linked; any change to any of those packages is a
// new key. go list compiles nothing that go test did not (same flags, -trimpath from
// tools/test.sh's GOFLAGS) and answers in 3-4 s of CPU a build, a link of the five binaries
// takes 20-30.
func contentKey(root string, builds []goBuild) (string, error) {
	h := sha256.New()
	fmt.Fprintf(h, "%s\n", goFlags())
	for _, b := range builds {
		args := append(append([]string{"list"}, b.flags...), "-deps", "-export", "-f", "{{if .Export}}{{.ImportPath}} {{.Export}}{{end}}")
		cmd := exec.Command("go", append(args, b.pkgs...)...)
		cmd.Dir, cmd.Env = root, goEnv()
		var stderr strings.Builder
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			return "", fmt.Errorf("testbin: go %s: %v\n%s", strings.Join(cmd.Args[1:], " "), err, stderr.String())
		}
		fmt.Fprintf(h, "%s\n%s\n%s", strings.Join(b.flags, " "), strings.Join(b.pkgs, " "), out)
	}
	return hex.EncodeToString(h.Sum(nil)[:8]), nil
}

// goFlags is GOFLAGS without -toolexec: tools/test.sh sets it to tools/linkcache, which keeps
// go test's links; these binaries are kept here, so they need not be kept twice (five of them,
// 450 MB a version), and the wrapper's path, the checkout's, must not enter contentKey. The
// wrapper changes no compile's cache key (see tools/linkcache), so dropping it rebuilds nothing.
func goFlags() string {
	var kept []string
	for _, f := range strings.Fields(os.Getenv("GOFLAGS")) {
		if !strings.HasPrefix(f, "-toolexec=") && !strings.HasPrefix(f, "--toolexec=") {
			kept = append(kept, f)
		}
	}
	return strings.Join(kept, " ")
}

// goEnv is the environment of testbin's go commands: the test's, with goFlags for GOFLAGS.
func goEnv() []string {
	return append(os.Environ(), "GOFLAGS="+goFlags())
}

// keptBesides is how many directories of binaries are kept besides the one in use: each holds
// five race-built binaries (about 450 MB) for one version of the code tested, and a day of
// changes made a dozen (5 GB on 2026-12-07; 13 GB when they were kept per checkout).
const keptBesides = 3

// pruneUnused removes the directories under top, other than keep, beyond the keptBesides most
// recently used (by their .built mark, touched at every use; one without it is removed).
func pruneUnused(top, keep string) {
	entries, err := os.ReadDir(top)
	if err != nil {
		return
	}
	type used struct {
		dir  string
		when time.Time
	}
	var dirs []used
	for _, e := range entries {
		d := filepath.Join(top, e.Name())
		if !e.IsDir() || d == keep {
			continue
		}
		info, err := os.Stat(filepath.Join(d, ".built"))
		if err != nil {
			// Being built by another test process, or left by a build killed half-way or by
			// the old per-checkout layout: removed once its lock is an hour old.
			if lock, err := os.Stat(filepath.Join(d, ".lock")); err != nil || time.Since(lock.ModTime()) > time.Hour {
				_ = os.RemoveAll(d)
			}
			continue
		}
		dirs = append(dirs, used{d, info.ModTime()})
	}
	slices.SortFunc(dirs, func(a, b used) int { return b.when.Compare(a.when) })
	for _, u := range dirs[min(keptBesides, len(dirs)):] {
		_ = os.RemoveAll(u.dir)
	}
}
