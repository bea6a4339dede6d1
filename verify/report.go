package verify

import (
	"fmt"
	"io"
	"strings"
)

// TextReporter writes one line per check result and one per waiting round:
//
//	PASS nodes-ready: 3 of 3 nodes Ready
//	WAIT round 2, 4m50s left: coredns-ready
//	FAIL coredns-ready: 1 of 2 coredns pods not Running and Ready: coredns-1 Pending (ContainerCreating)
type TextReporter struct {
	W io.Writer
}

// Result prints a PASS or FAIL line.
func (r TextReporter) Result(res Result) {
	if res.Passed() {
		fmt.Fprintf(r.W, "PASS %s: %s\n", res.Check, res.Summary)
		return
	}
	fmt.Fprintf(r.W, "FAIL %s: %v\n", res.Check, res.Err)
}

// Waiting prints the checks still failing and the time left.
func (r TextReporter) Waiting(p Progress) {
	names := make([]string, 0, len(p.Failing))
	for _, f := range p.Failing {
		names = append(names, f.Check)
	}
	fmt.Fprintf(r.W, "WAIT round %d, %s left: %s\n", p.Round, p.Remaining, strings.Join(names, ", "))
}
