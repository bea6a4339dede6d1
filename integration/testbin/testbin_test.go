package testbin

import (
	"bufio"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestPluginExitsAtOnceOnSIGINT stops a race-built plugin as the Pulumi engine stops every
// plugin at the end of an operation (SIGINT, then it waits for the exit: cmdutil.InterruptChildren
// and the plugin's kill in sdk/go/common/resource/plugin/plugin.go, v3.274.1). The race
// runtime's default exit sleep (atexit_sleep_ms=1000) made every operation a second longer.
func TestPluginExitsAtOnceOnSIGINT(t *testing.T) {
	if !raceEnabled {
		t.Skip("the exit sleep is the race runtime's; this test binary is not built with -race")
	}
	cmd := exec.Command(filepath.Join(Dir(t), "pulumi-resource-tls"))
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill() })
	// A provider prints its port once it serves.
	if _, err := bufio.NewReader(stdout).ReadString('\n'); err != nil {
		t.Fatalf("plugin's port: %v", err)
	}
	start := time.Now()
	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("plugin after SIGINT: %v", err)
	}
	// With the sleep the exit takes 1 s or more, however quiet the machine.
	if took := time.Since(start); took >= time.Second {
		t.Fatalf("the plugin exited %v after SIGINT; want well under the race runtime's 1 s exit sleep (GORACE=%q)", took, "atexit_sleep_ms=0")
	}
}

// The binaries' directory is named by what they are linked from, not by where the checkout
// is: two clones at different paths (a developer's and CI's) have the same key, so the
// second finds the binaries linked, also when the second has a commit of its own that changes
// nothing they import (a README's), and a change to a package they import is a new key.
func TestContentKeyFollowsTheCodeNotThePath(t *testing.T) {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		t.Fatal(err)
	}
	root := filepath.Dir(strings.TrimSpace(string(out)))
	b := []goBuild{{flags: buildFlags(raceEnabled), pkgs: []string{"./integration/podcreds"}}}
	var keys []string
	var clones []string
	for _, name := range []string{"one", "two"} {
		clone := filepath.Join(t.TempDir(), name)
		if out, err := exec.Command("git", "clone", "--quiet", "--shared", root, clone).CombinedOutput(); err != nil {
			t.Fatalf("git clone: %v\n%s", err, out)
		}
		if name == "two" {
			git := func(args ...string) {
				t.Helper()
				cmd := exec.Command("git", append([]string{"-C", clone, "-c", "user.name=t", "-c", "user.email=t@t"}, args...)...)
				if out, err := cmd.CombinedOutput(); err != nil {
					t.Fatalf("git %v: %v\n%s", args, err, out)
				}
			}
			if err := os.WriteFile(filepath.Join(clone, "README.md"), []byte("another commit\n"), 0o644); err != nil {
				t.Fatal(err)
			}
			git("commit", "--quiet", "-am", "a commit that changes no code")
		}
		// tools/test.sh's link cache is a wrapper in the checkout: its path is no part of
		// what the binaries are.
		t.Setenv("GOFLAGS", strings.TrimSpace(os.Getenv("GOFLAGS")+" -toolexec="+filepath.Join(clone, "tools", "linkcache")))
		key, err := contentKey(clone, b)
		if err != nil {
			t.Fatal(err)
		}
		keys, clones = append(keys, key), append(clones, clone)
	}
	if keys[0] != keys[1] {
		t.Errorf("the same code at %s and %s: keys %s and %s", clones[0], clones[1], keys[0], keys[1])
	}
	main := filepath.Join(clones[1], "integration", "podcreds", "main.go")
	src, err := os.ReadFile(main)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(main, append(src, []byte("\nvar _ = 1\n")...), 0o644); err != nil {
		t.Fatal(err)
	}
	if changed, err := contentKey(clones[1], b); err != nil || changed == keys[1] {
		t.Errorf("after a change to the code: key %s (%v), want a new one", changed, err)
	}
}

// The cache keeps the directory in use and the keptBesides most recently used others; one
// being built elsewhere (a lock, no .built yet) is left alone, an old unfinished one removed.
func TestPruneKeepsTheMostRecentlyUsed(t *testing.T) {
	top := t.TempDir()
	now := time.Now()
	mk := func(name, mark string, age time.Duration) string {
		d := filepath.Join(top, name)
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		f := filepath.Join(d, mark)
		if err := os.WriteFile(f, nil, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(f, now.Add(-age), now.Add(-age)); err != nil {
			t.Fatal(err)
		}
		return d
	}
	keep := mk("in-use", ".built", 48*time.Hour)
	for i := range 6 {
		mk(fmt.Sprintf("used-%dh-ago", i), ".built", time.Duration(i)*time.Hour)
	}
	mk("building", ".lock", time.Minute)
	mk("abandoned", ".lock", 2*time.Hour)
	pruneUnused(top, keep)
	entries, err := os.ReadDir(top)
	if err != nil {
		t.Fatal(err)
	}
	var left []string
	for _, e := range entries {
		left = append(left, e.Name())
	}
	want := []string{"building", "in-use", "used-0h-ago", "used-1h-ago", "used-2h-ago"}
	if !slices.Equal(left, want) {
		t.Errorf("left %v, want %v", left, want)
	}
}

// The driver is built with the race detector in both modes; the doubles as the test binary
// that starts them: tools/test.sh runs the integration package without -race and every other
// with it (see the package's doc). The integration package checks the binary it runs
// (TestDriverRunsWithTheRaceDetector).
func TestDriverIsRaceBuiltInBothModes(t *testing.T) {
	for _, race := range []bool{true, false} {
		got := map[string]bool{}
		for _, b := range plan(race) {
			for _, pkg := range b.pkgs {
				got[pkg] = slices.Contains(b.flags, "-race")
			}
		}
		for _, name := range slices.Sorted(maps.Keys(Packages)) {
			if want := race || name == "eksirsa"; got[Packages[name]] != want {
				t.Errorf("%s with a test binary race-built %v: race-built %v, want %v", name, race, got[Packages[name]], want)
			}
		}
	}
}
