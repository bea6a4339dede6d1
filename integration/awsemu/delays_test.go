package awsemu

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
)

func TestDelaysFromEnv(t *testing.T) {
	const table = "../../internal/deploytime/durations.csv"
	t.Setenv(DelaysEnv, table+",0.01")
	d, err := delaysFromEnv()
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		token  string
		inputs resource.PropertyMap
		want   time.Duration
	}{
		{"aws:eks/cluster:Cluster", nil, 6 * time.Second},
		{"aws:ec2/natGateway:NatGateway", nil, 900 * time.Millisecond},
		// The row with a condition applies only when the input matches.
		{"aws:ec2/vpcEndpoint:VpcEndpoint", pm(map[string]any{"vpcEndpointType": "Interface"}), 900 * time.Millisecond},
		{"aws:ec2/vpcEndpoint:VpcEndpoint", pm(map[string]any{"vpcEndpointType": "Gateway"}), 50 * time.Millisecond},
		{"aws:unknown/thing:Thing", nil, 0},
	} {
		if got := d.duration(tc.token, tc.inputs); got != tc.want {
			t.Errorf("%s %v: %s, want %s", tc.token, tc.inputs, got, tc.want)
		}
	}

	for _, bad := range []string{table, table + ",fast", table + ",-1", "/no/such/file.csv,1"} {
		t.Setenv(DelaysEnv, bad)
		if _, err := delaysFromEnv(); err == nil {
			t.Errorf("%s=%q accepted", DelaysEnv, bad)
		}
	}
	// A path with a comma in it (a Go test's temp dir is named for the test): the scale is
	// what follows the last comma.
	data, err := os.ReadFile(table)
	if err != nil {
		t.Fatal(err)
	}
	commaDir := filepath.Join(t.TempDir(), "while a, b")
	if err := os.MkdirAll(commaDir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(commaDir, "durations.csv"), data, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv(DelaysEnv, filepath.Join(commaDir, "durations.csv")+",0.5")
	if d, err := delaysFromEnv(); err != nil || d.duration("aws:eks/cluster:Cluster", nil) != 300*time.Second {
		t.Errorf("a table under a path with a comma: %v, %v", d, err)
	}
	t.Setenv(DelaysEnv, "")
	if d, err := delaysFromEnv(); d != nil || err != nil || d.duration("aws:eks/cluster:Cluster", nil) != 0 {
		t.Errorf("unset: %v %v", d, err)
	}
}
