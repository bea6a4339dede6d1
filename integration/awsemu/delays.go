package awsemu

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"

	"github.com/eks-irsa/eks-irsa/internal/deploytime"
	"github.com/eks-irsa/eks-irsa/internal/graph"
)

// DelaysEnv makes Create take each type's typical create time, scaled: "<path to
// internal/deploytime/durations.csv>,<scale>", e.g. "internal/deploytime/durations.csv,0.01"
// turns the EKS cluster's 600 s into 6 s. The engine's realised critical path can then be
// compared with the deploy-time model's.
const DelaysEnv = "EKSIRSA_EMU_DELAYS"

type delays struct {
	table *deploytime.Table
	scale float64
}

func delaysFromEnv() (*delays, error) {
	spec := os.Getenv(DelaysEnv)
	if spec == "" {
		return nil, nil
	}
	// The scale follows the last comma: a path may hold commas (a Go test's temp dir is named
	// for the test).
	i := strings.LastIndexByte(spec, ',')
	ok := i >= 0
	path, scaleText := spec, ""
	if ok {
		path, scaleText = spec[:i], spec[i+1:]
	}
	scale, err := strconv.ParseFloat(scaleText, 64)
	if !ok || err != nil || scale < 0 {
		return nil, fmt.Errorf("%s = %q: want <path to durations.csv>,<scale >= 0>, e.g. internal/deploytime/durations.csv,0.01", DelaysEnv, spec)
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", DelaysEnv, err)
	}
	defer f.Close()
	t, err := deploytime.Parse(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %s: %w", DelaysEnv, path, err)
	}
	return &delays{table: t, scale: scale}, nil
}

// duration is how long creating a resource of this type with these inputs takes here.
func (d *delays) duration(token string, inputs resource.PropertyMap) time.Duration {
	if d == nil {
		return 0
	}
	row, ok := d.table.Lookup(graph.Resource{Type: token, Inputs: inputs})
	if !ok {
		return 0
	}
	return time.Duration(float64(row.Duration) * d.scale)
}

// wait sleeps for the scaled create time: a stand-in for AWS's own latency, not a poll.
func (d *delays) wait(ctx context.Context, token string, inputs resource.PropertyMap) error {
	dur := d.duration(token, inputs)
	if dur <= 0 {
		return nil
	}
	t := time.NewTimer(dur)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
