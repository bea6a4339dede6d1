package linkcache

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// wrapper is tools/linkcache of this checkout.
func wrapper(t *testing.T) string {
	t.Helper()
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		t.Fatal(err)
	}
	return filepath.Join(filepath.Dir(strings.TrimSpace(string(out))), "tools", "linkcache")
}

// module writes a one-package module whose test prints word, in a new directory.
func module(t *testing.T, word string) string {
	t.Helper()
	dir := t.TempDir()
	files := map[string]string{
		"go.mod":       "module example.com/linked\n\ngo 1.26\n",
		"word_test.go": "package linked\n\nimport (\n\t\"fmt\"\n\t\"testing\"\n)\n\nvar suffix string\n\nfunc TestWord(t *testing.T) { fmt.Println(\"" + word + "\" + suffix) }\n",
	}
	for name, text := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// cache is one link cache and its log, in new directories.
type cache struct{ dir, log, wrapper string }

func newCache(t *testing.T) *cache {
	t.Helper()
	return &cache{dir: t.TempDir(), log: filepath.Join(t.TempDir(), "log"), wrapper: wrapper(t)}
}

// testBinary runs go test -c as tools/test.sh does, with c's wrapper (none when c is nil),
// and returns the binary's path.
func (c *cache) testBinary(t *testing.T, dir string, extra ...string) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "linked.test")
	args := append([]string{"test", "-c", "-race", "-ldflags=-w" + strings.Join(extra, " "), "-o", bin}, ".")
	cmd := exec.Command("go", args...)
	cmd.Dir = dir
	// tools/test.sh's GOFLAGS (its compile flags: the standard library's race-built packages
	// come from its build cache) with this cache's wrapper in place of the run's.
	flags := []string{"-trimpath"}
	for _, f := range strings.Fields(os.Getenv("GOFLAGS")) {
		if !strings.HasPrefix(f, "-toolexec=") {
			flags = append(flags, f)
		}
	}
	env := os.Environ()
	if c != nil {
		flags = append(flags, "-toolexec="+c.wrapper)
		env = append(env, "EKSIRSA_LINK_CACHE="+c.dir, "EKSIRSA_LINK_LOG="+c.log)
	}
	cmd.Env = append(env, "GOFLAGS="+strings.Join(flags, " "))
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return bin
}

// events are the log's lines since the last call, each "reused" or "linked".
func (c *cache) events(t *testing.T, seen *int) []string {
	t.Helper()
	data, err := os.ReadFile(c.log)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	var words []string
	for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		if f := strings.Fields(line); len(f) > 0 {
			words = append(words, f[0])
		}
	}
	got := words[*seen:]
	*seen = len(words)
	return got
}

func output(t *testing.T, bin string) string {
	t.Helper()
	out, err := exec.Command(bin, "-test.run", "TestWord").CombinedOutput()
	if err != nil {
		t.Fatalf("%s: %v\n%s", bin, err, out)
	}
	return strings.Fields(string(out))[0]
}

// A second link of the same inputs is a copy of the first's output, and the binary is byte
// for byte the one the go command links without the wrapper (its build ID stamped the same).
func TestSameInputsReuseTheLinkersOutput(t *testing.T) {
	c, seen := newCache(t), 0
	dir := module(t, "first")
	one := c.testBinary(t, dir)
	if got := c.events(t, &seen); strings.Join(got, " ") != "linked" {
		t.Fatalf("first build: %v, want one link", got)
	}
	two := c.testBinary(t, dir)
	if got := c.events(t, &seen); strings.Join(got, " ") != "reused" {
		t.Fatalf("second build of the same code: %v, want the link reused", got)
	}
	plain := (*cache)(nil).testBinary(t, dir)
	for _, bin := range []string{one, two} {
		a, err := os.ReadFile(bin)
		if err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(plain)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(a, b) {
			t.Errorf("%s differs from the binary linked without the wrapper", bin)
		}
	}
	if got := output(t, two); got != "first" {
		t.Errorf("the reused binary prints %q, want first", got)
	}
}

// Anything the link depends on, the code or the link flags, is a new link, and the binary
// runs what changed.
func TestChangedInputsLinkAgain(t *testing.T) {
	c, seen := newCache(t), 0
	c.testBinary(t, module(t, "first"))
	c.events(t, &seen)
	changed := c.testBinary(t, module(t, "second"))
	if got := c.events(t, &seen); strings.Join(got, " ") != "linked" {
		t.Errorf("after a change to the test's code: %v, want a new link", got)
	}
	if got := output(t, changed); got != "second" {
		t.Errorf("the binary after the change prints %q, want second", got)
	}
	flagged := c.testBinary(t, module(t, "first"), " -X example.com/linked.suffix=-x")
	if got := c.events(t, &seen); strings.Join(got, " ") != "linked" {
		t.Errorf("after a change to the link flags: %v, want a new link", got)
	}
	if got := output(t, flagged); got != "first-x" {
		t.Errorf("the binary linked with -X prints %q, want first-x", got)
	}
}

// A cache that cannot be written costs the reuse, never the link: the binary is made and runs.
func TestUnwritableCacheStillLinks(t *testing.T) {
	c, seen := newCache(t), 0
	file := filepath.Join(t.TempDir(), "a-file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	c.dir = filepath.Join(file, "links") // under a file: mkdir fails
	bin := c.testBinary(t, module(t, "first"))
	if got := c.events(t, &seen); strings.Join(got, " ") != "linked" {
		t.Errorf("with an unwritable cache: %v, want one link", got)
	}
	if got := output(t, bin); got != "first" {
		t.Errorf("the binary prints %q, want first", got)
	}
}

// --prune keeps the most recently used outputs within the size given, and removes a copy
// left half-made by a killed link once it is an hour old.
func TestPruneKeepsTheMostRecentlyUsed(t *testing.T) {
	dir := t.TempDir()
	now := time.Now()
	mb := bytes.Repeat([]byte{0}, 1<<20)
	put := func(name string, age time.Duration) {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, mb, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(p, now.Add(-age), now.Add(-age)); err != nil {
			t.Fatal(err)
		}
	}
	put("used-now", 0)
	put("used-1h-ago", time.Hour)
	put("used-2h-ago", 2*time.Hour)
	put("used-3h-ago", 3*time.Hour)
	put(".tmp.copying", time.Minute)
	put(".tmp.killed", 2*time.Hour)
	cmd := exec.Command(wrapper(t), "--prune", "2")
	cmd.Env = append(os.Environ(), "EKSIRSA_LINK_CACHE="+dir)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("--prune: %v\n%s", err, out)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var left []string
	for _, e := range entries {
		left = append(left, e.Name())
	}
	if got, want := strings.Join(left, " "), ".tmp.copying used-1h-ago used-now"; got != want {
		t.Errorf("left %s, want %s", got, want)
	}
}
