package stack

import (
	"fmt"
	"strconv"
	"strings"
	"testing"
)

func TestAMIReleaseVersionIsAReleaseOfTheClusterVersion(t *testing.T) {
	base, err := Decode(testConfig(t))
	if err != nil {
		t.Fatalf("test stack: %v", err)
	}
	version := base.Cluster.Version // the test stack's, whatever it is
	minor, err := strconv.Atoi(strings.TrimPrefix(version, "1."))
	if err != nil {
		t.Fatalf("cluster.version %q", version)
	}
	other := fmt.Sprintf("1.%d", minor-1)
	cases := []struct {
		release string
		want    string // substring of the one problem; empty: accepted
	}{
		{"", ""},
		{version + ".5-20251120", ""},
		{version + ".10-20260105", ""},
		{other + ".9-20251120", fmt.Sprintf("built for Kubernetes %s, but cluster.version is %s", other, version)},
		{"v20251120", "want an EKS AMI release version"},
		{"amazon-eks-node-al2023-x86_64-standard-" + version + "-v20251120", "want an EKS AMI release version"},
		{version + ".5", "want an EKS AMI release version"},
		{version + ".5-2025112", "want an EKS AMI release version"},
	}
	for _, tc := range cases {
		t.Run(tc.release, func(t *testing.T) {
			_, err := Decode(set(t, "nodes.amiReleaseVersion", tc.release))
			if tc.want == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			ce, ok := err.(*ConfigError)
			if !ok || len(ce.Problems) != 1 {
				t.Fatalf("err = %v, want one problem", err)
			}
			p := ce.Problems[0]
			if p.Key != "nodes.amiReleaseVersion" || p.Value != tc.release || !strings.Contains(p.Want, tc.want) {
				t.Errorf("problem = %+v, want nodes.amiReleaseVersion = %q: %s", p, tc.release, tc.want)
			}
		})
	}
}
