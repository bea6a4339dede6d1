package stack

import (
	"os"
	"strings"
	"testing"
	"time"
)

// today is the day this package's tests run on: the day the version table was checked, so a
// test's verdict on a version never changes with the calendar.
var today = time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)

func TestMain(m *testing.M) {
	Now = func() time.Time { return today }
	os.Exit(m.Run())
}

func day(s string) time.Time {
	d, err := time.Parse(time.DateOnly, s)
	if err != nil {
		panic(err)
	}
	return d
}

func TestVersionTableIsCheckedAndOrdered(t *testing.T) {
	table := Versions()
	if !table.Checked.Equal(day("2026-12-06")) {
		t.Errorf("checked %s", date(table.Checked))
	}
	for _, v := range table.Versions {
		// EKS: 14 months of standard support, then 12 of extended.
		if got := v.Released.AddDate(0, 14, 0); !got.Equal(v.EndOfStandard) {
			t.Errorf("%s: end of standard support %s, want release + 14 months = %s", v.Version, date(v.EndOfStandard), date(got))
		}
		if got := v.EndOfStandard.AddDate(1, 0, 0); !got.Equal(v.EndOfExtended) {
			t.Errorf("%s: end of extended support %s, want + 12 months = %s", v.Version, date(v.EndOfExtended), date(got))
		}
		if v.Source == "" {
			t.Errorf("%s: no source", v.Version)
		}
	}
	for _, bad := range []string{
		"version,eks_release,end_of_standard_support,end_of_extended_support,source\n1.30,2024-05-23,2025-07-23,2026-07-23,x\n",           // no checked line
		"# checked: 2026-11-29\nversion,a,b,c,source\n1.30,2024-05-23,2023-07-23,2026-07-23,x\n",                                          // out of order
		"# checked: 2026-11-29\nversion,a,b,c,source\n1.30,2024-05-23,2025-07-23,2026-07-23,x\n1.32,2025-01-23,2026-03-23,2027-03-23,x\n", // gap
	} {
		if _, err := parseVersions([]byte(bad)); err == nil {
			t.Errorf("accepted %q", bad)
		}
	}
}

func TestSupportStatusByDay(t *testing.T) {
	v133, _ := Versions().Lookup("1.33")
	for _, tc := range []struct {
		day  string
		want SupportStatus
	}{
		{"2025-05-28", Unreleased},
		{"2025-05-29", StandardSupport},
		{"2026-07-28", StandardSupport},
		{"2026-07-29", ExtendedSupport}, // billing starts at the beginning of the day
		{"2027-07-28", ExtendedSupport},
		{"2027-07-29", EndOfSupport},
	} {
		if got := v133.Status(day(tc.day)); got != tc.want {
			t.Errorf("1.33 on %s: %s, want %s", tc.day, got, tc.want)
		}
	}
}

// The default (Defaults, Pulumi.yaml, the test stack) is the newest version in standard
// support on the day the table was checked.
func TestDefaultVersionIsNewestInStandardSupport(t *testing.T) {
	table := Versions()
	newest, ok := table.NewestStandard(table.Checked)
	if !ok {
		t.Fatal("no version in standard support")
	}
	if d := Defaults().Cluster.Version; d != newest.Version {
		t.Errorf("default version %s, newest in standard support on %s is %s", d, date(table.Checked), newest.Version)
	}
	cfg, err := Decode(testConfig(t))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Cluster.Version != newest.Version {
		t.Errorf("Pulumi.test.yaml asks for %s, want %s", cfg.Cluster.Version, newest.Version)
	}
	for _, w := range cfg.Warnings() {
		if strings.HasPrefix(w.Key, "cluster.") {
			t.Errorf("test stack warning: %s", w)
		}
	}
}
