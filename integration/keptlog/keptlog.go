// Package keptlog keeps the log of a server a test started when that test fails.
//
// A server's log lives in the test's temporary directory, which goes with the test. Printed
// whole into a failing test's output, forty lines of each server's log (moto, etcd,
// kube-apiserver, kube-controller-manager) came after the test's own failure messages and
// pushed them out of the part of the output CI shows: CI's run of 2ae7f94 showed moto's last
// requests and not the assertion that failed. So a failing test keeps each log in a directory
// that outlives it and prints where, with the last lines only.
package keptlog

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// DirEnv names the directory kept logs go to; without it, eksirsa-failed-logs under the
// system's temporary directory.
const DirEnv = "EKSIRSA_FAILED_LOGS"

// shown is how many of a kept log's last lines the test's output gets.
const shown = 3

// OnFailure keeps the log at path when t has failed, and says in t's log where it is, with its
// last lines. Call it from a cleanup, after the server has stopped (so the log is whole) and
// before the temporary directory holding it goes.
func OnFailure(t testing.TB, name, path string) {
	t.Helper()
	if !t.Failed() {
		return
	}
	kept, err := keep(t.Name(), name, path)
	if err != nil {
		t.Logf("--- %s log (%s) not kept: %v; its last lines:\n%s", name, path, err, Tail(path, shown))
		return
	}
	t.Logf("--- %s log kept at %s; its last lines:\n%s", name, kept, Tail(kept, shown))
}

func keep(test, name, path string) (string, error) {
	root := os.Getenv(DirEnv)
	if root == "" {
		root = filepath.Join(os.TempDir(), "eksirsa-failed-logs")
	}
	dir := filepath.Join(root, strings.NewReplacer("/", "__", " ", "_").Replace(test))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	src, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer src.Close()
	dst, err := os.CreateTemp(dir, name+"-*.log") // a test may start the same server twice
	if err != nil {
		return "", err
	}
	if _, err := io.Copy(dst, src); err != nil {
		dst.Close()
		return "", err
	}
	return dst.Name(), dst.Close()
}

// Tail returns the last n lines of the file at path, or the error reading it.
func Tail(path string, n int) string {
	data, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	lines := bytes.Split(bytes.TrimRight(data, "\n"), []byte("\n"))
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return string(bytes.Join(lines, []byte("\n")))
}
