// Package linkcache holds the tests of tools/linkcache, the go -toolexec wrapper through which
// tools/test.sh links the test binaries: it reuses a link's output when the go command's action
// ID for the link (all of its inputs) is one it has linked before.
package linkcache
