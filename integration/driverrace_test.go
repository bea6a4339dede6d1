package integration

import (
	"debug/buildinfo"
	"runtime/debug"
	"slices"
	"testing"

	"github.com/eks-irsa/eks-irsa/integration/testbin"
)

// TestDriverRunsWithTheRaceDetector: this package runs without -race (tools/test.sh: it only
// orchestrates processes), but the eksirsa it runs is the product's code and must keep the
// detector (integration/testbin). Read from the binary's build info, as `go version -m`
// shows it.
func TestDriverRunsWithTheRaceDetector(t *testing.T) {
	info, err := buildinfo.ReadFile(testbin.Path(t, "eksirsa"))
	if err != nil {
		t.Fatal(err)
	}
	if !slices.ContainsFunc(info.Settings, func(s debug.BuildSetting) bool { return s.Key == "-race" && s.Value == "true" }) {
		t.Errorf("eksirsa is not race-built: %v", info.Settings)
	}
}
