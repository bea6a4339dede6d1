package integration

import (
	"debug/buildinfo"
	"runtime/debug"
	"slices"
	"testing"

	"github.com/eks-irsa/eks-irsa/integration/testbin"
)

// TestDriverRunsWithTheRaceDetector: the eksirsa this package runs is the product's code and
// keeps the race detector even when the package itself runs without -race (`go test
// ./integration`; tools/test.sh runs it with -race). Read from the binary's build info, as
// `go version -m` shows it.
func TestDriverRunsWithTheRaceDetector(t *testing.T) {
	info, err := buildinfo.ReadFile(testbin.Path(t, "eksirsa"))
	if err != nil {
		t.Fatal(err)
	}
	if !slices.ContainsFunc(info.Settings, func(s debug.BuildSetting) bool { return s.Key == "-race" && s.Value == "true" }) {
		t.Errorf("eksirsa is not race-built: %v", info.Settings)
	}
}
