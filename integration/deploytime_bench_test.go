package integration

import (
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/eks-irsa/eks-irsa/integration/awsemu"
)

// benchScale turns durations.csv's minutes into 1.2 s: the model's ~779 s critical path
// becomes 15.5 s, well above the engine's own ~10 s for a whole up with no waits and its
// noise of about a second (1 min → 100 ms would leave 1.3 s, inside that noise).
const benchScale = 0.02

// BenchmarkEmulatedUpCriticalPath measures the critical path the real engine realises for
// `eksirsa up` of the test stack and compares it with the deploy-time model `plan` prints:
// the emulator sleeps each resource's durations.csv time × benchScale after AWS answers, as
// the provider waits for ready. The engine's own time is taken away by a second stack whose
// creates do not sleep. Run it with
//
//	EKSIRSA_TOOLS_BIN=$(tools/build) go test ./integration -run '^$' -bench EmulatedUpCriticalPath -benchtime 1x
func BenchmarkEmulatedUpCriticalPath(b *testing.B) {
	durations, err := filepath.Abs("../internal/deploytime/durations.csv")
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		up := func(delays bool) (time.Duration, float64) {
			e := startEmulated(b)
			var plan struct {
				DeployTime struct {
					CriticalSeconds float64 `json:"criticalSeconds"`
				} `json:"deployTime"`
			}
			out, err := e.eksirsa("plan", "--format", "json")
			if err != nil {
				b.Fatalf("plan: %v", err)
			}
			jsonAfter(b, out, &plan)
			if delays {
				e.env = append(e.env, fmt.Sprintf("%s=%s,%g", awsemu.DelaysEnv, durations, benchScale))
			}
			start := time.Now()
			if _, err := e.eksirsa("up", "--yes", "--no-verify"); err != nil {
				b.Fatalf("up: %v", err)
			}
			return time.Since(start), plan.DeployTime.CriticalSeconds
		}
		plain, _ := up(false)
		delayed, model := up(true)
		realised := delayed - plain
		predicted := time.Duration(model * benchScale * float64(time.Second))
		b.ReportMetric(plain.Seconds(), "engine-s")
		b.ReportMetric(delayed.Seconds(), "up-s")
		b.ReportMetric(realised.Seconds(), "realised-s")
		b.ReportMetric(predicted.Seconds(), "model-s")
		b.ReportMetric(realised.Seconds()/predicted.Seconds(), "realised/model")
		b.Logf("up with no waits %s, with waits ×%g %s: realised critical path %s against the model's %s (%.0f s unscaled)",
			plain.Round(time.Millisecond), benchScale, delayed.Round(time.Millisecond), realised.Round(time.Millisecond), predicted.Round(time.Millisecond), model)
	}
}
