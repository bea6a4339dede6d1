package deploytime

import (
	"strings"
	"testing"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"

	"github.com/eks-irsa/eks-irsa/internal/graph"
)

// TestDefaultTable guards the data file: it parses, every row is reachable (no earlier row
// shadows it), the floor types have rows, and the figures the design states hold.
func TestDefaultTable(t *testing.T) {
	rows := Default().Rows()
	for i, row := range rows {
		for _, earlier := range rows[:i] {
			if earlier.Type == row.Type && (earlier.When == "" || earlier.When == row.When) {
				t.Errorf("row %s %q is shadowed by the earlier row %s %q", row.Type, row.When, earlier.Type, earlier.When)
			}
			if prefix, ok := strings.CutSuffix(earlier.Type, "*"); ok && strings.HasPrefix(row.Type, prefix) {
				t.Errorf("row %s is shadowed by the earlier pattern %s", row.Type, earlier.Type)
			}
		}
	}
	for typ, want := range map[string]time.Duration{
		ControlPlaneType:                    10 * time.Minute,
		NodeJoinType:                        150 * time.Second,
		"aws:ec2/natGateway:NatGateway":     90 * time.Second,
		"aws:iam/role:Role":                 3 * time.Second,
		"kubernetes:core/v1:ConfigMap":      2 * time.Second,
		"pulumi:providers:kubernetes":       0,
		"eksirsa:infra:Network":             0,
		"aws:ec2/vpcEndpoint:VpcEndpoint":   5 * time.Second,
		"kubernetes:apps/v1:DaemonSetPatch": 10 * time.Second,
	} {
		row, ok := Default().Lookup(graph.Resource{Type: typ})
		if !ok || row.Duration != want {
			t.Errorf("%s: row %+v (found %v), want %s", typ, row, ok, want)
		}
	}
}

func TestLookup(t *testing.T) {
	table := Default()
	endpoint := func(kind string) graph.Resource {
		return graph.Resource{
			Type:   "aws:ec2/vpcEndpoint:VpcEndpoint",
			Inputs: resource.NewPropertyMapFromMap(map[string]any{"vpcEndpointType": kind}),
		}
	}
	tests := []struct {
		name string
		reg  graph.Resource
		want time.Duration
		ok   bool
	}{
		{name: "interface endpoint", reg: endpoint("Interface"), want: 90 * time.Second, ok: true},
		{name: "gateway endpoint", reg: endpoint("Gateway"), want: 5 * time.Second, ok: true},
		{name: "endpoint of the default type", reg: graph.Resource{Type: "aws:ec2/vpcEndpoint:VpcEndpoint"}, want: 5 * time.Second, ok: true},
		{name: "provider by prefix", reg: graph.Resource{Type: "pulumi:providers:aws", Custom: true}, ok: true},
		{name: "component by prefix", reg: graph.Resource{Type: "eksirsa:k8s:AwsNodeIRSA"}, ok: true},
		{name: "unknown", reg: graph.Resource{Type: "aws:rds/instance:Instance"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			row, ok := table.Lookup(tc.reg)
			if ok != tc.ok || row.Duration != tc.want {
				t.Errorf("Lookup = %s, %v; want %s, %v", row.Duration, ok, tc.want, tc.ok)
			}
		})
	}
}

func TestParse(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		wantErr []string
	}{
		{
			name: "comments and quoting",
			in:   "# a comment\ntype,when,seconds,source\nx:y:Z,,1.5,\"measured, twice\"\n",
		},
		{
			name:    "wrong header",
			in:      "type,seconds,source,when\n",
			wantErr: []string{`header must be "type,when,seconds,source"`},
		},
		{
			name: "every bad row at once",
			in: "type,when,seconds,source\n" +
				",,1,s\n" +
				"a:b:C,,ten,s\n" +
				"a:b:D,,-1,s\n" +
				"a:b:E,,1,\n" +
				"a:b:F,Interface,1,s\n",
			wantErr: []string{
				"row 2: empty type",
				`row 3 (a:b:C): seconds "ten"`,
				`row 4 (a:b:D): seconds "-1"`,
				"row 5 (a:b:E): empty source",
				`row 6 (a:b:F): when "Interface", want input=value`,
			},
		},
		{
			name:    "wrong column count",
			in:      "type,when,seconds,source\na:b:C,1,s\n",
			wantErr: []string{"wrong number of fields"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			table, err := Parse(strings.NewReader(tc.in))
			if len(tc.wantErr) == 0 {
				if err != nil {
					t.Fatalf("Parse: %v", err)
				}
				rows := table.Rows()
				if len(rows) != 1 || rows[0].Duration != 1500*time.Millisecond || rows[0].Source != "measured, twice" {
					t.Errorf("rows %+v", rows)
				}
				return
			}
			if err == nil {
				t.Fatal("Parse succeeded, want an error")
			}
			for _, w := range tc.wantErr {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q\nwant it to contain %q", err, w)
				}
			}
		})
	}
}
