package stack

import (
	"bufio"
	"bytes"
	_ "embed"
	"encoding/csv"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"
)

// versionsCSV is the EKS release calendar (see the file's header for its source and date).
//
//go:embed eks-kubernetes-versions.csv
var versionsCSV []byte

// ReleaseCalendarURL is the EKS user guide's release calendar, the source of
// eks-kubernetes-versions.csv.
const ReleaseCalendarURL = "https://docs.aws.amazon.com/eks/latest/userguide/kubernetes-versions.html#kubernetes-release-calendar"

// Now is the clock the version rules read; tests pin it.
var Now = time.Now

// KubernetesVersion is one row of the EKS release calendar.
type KubernetesVersion struct {
	Version       string    // "1.35"
	Released      time.Time // EKS release
	EndOfStandard time.Time // first day of extended support
	EndOfExtended time.Time // first day EKS no longer creates the version
	Source        string
	minor         int
}

// SupportStatus is where a version stands on a given day.
type SupportStatus string

const (
	Unreleased      SupportStatus = "not released"
	StandardSupport SupportStatus = "standard support"
	ExtendedSupport SupportStatus = "extended support"
	EndOfSupport    SupportStatus = "end of support"
)

// Status is the version's support status on day (UTC).
func (v KubernetesVersion) Status(day time.Time) SupportStatus {
	d := day.UTC()
	switch {
	case d.Before(v.Released):
		return Unreleased
	case d.Before(v.EndOfStandard):
		return StandardSupport
	case d.Before(v.EndOfExtended):
		return ExtendedSupport
	default:
		return EndOfSupport
	}
}

// Describe says where the version stands on day, with the next date that matters.
func (v KubernetesVersion) Describe(day time.Time) string {
	switch s := v.Status(day); s {
	case Unreleased:
		return fmt.Sprintf("Kubernetes %s: not released on EKS until %s", v.Version, date(v.Released))
	case StandardSupport:
		return fmt.Sprintf("Kubernetes %s: standard support until %s, then extended support (at a higher price) until %s",
			v.Version, date(v.EndOfStandard), date(v.EndOfExtended))
	case ExtendedSupport:
		return fmt.Sprintf("Kubernetes %s: extended support since %s (billed at the extended-support rate) until %s",
			v.Version, date(v.EndOfStandard), date(v.EndOfExtended))
	default:
		return fmt.Sprintf("Kubernetes %s: end of support since %s; EKS no longer creates it", v.Version, date(v.EndOfExtended))
	}
}

func date(t time.Time) string { return t.Format(time.DateOnly) }

// VersionTable is the parsed calendar.
type VersionTable struct {
	Checked  time.Time // the day the calendar was last compared with its source
	Versions []KubernetesVersion
}

// Versions returns the calendar embedded in the program.
func Versions() *VersionTable {
	t, err := parseVersions(versionsCSV)
	if err != nil {
		panic("stack: eks-kubernetes-versions.csv: " + err.Error()) // a test parses it
	}
	return t
}

func parseVersions(data []byte) (*VersionTable, error) {
	t := &VersionTable{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "# checked: "); ok {
			d, err := time.Parse(time.DateOnly, strings.TrimSpace(rest))
			if err != nil {
				return nil, fmt.Errorf("checked date: %w", err)
			}
			t.Checked = d
		}
	}
	if t.Checked.IsZero() {
		return nil, fmt.Errorf("no '# checked: YYYY-MM-DD' line")
	}
	r := csv.NewReader(bytes.NewReader(data))
	r.Comment = '#'
	r.FieldsPerRecord = 5
	header := true
	for {
		rec, err := r.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
		if header {
			header = false
			continue
		}
		v := KubernetesVersion{Version: rec[0], Source: rec[4]}
		m := versionRE.FindStringSubmatch(v.Version)
		if m == nil {
			return nil, fmt.Errorf("version %q is not 1.NN", v.Version)
		}
		v.minor, _ = strconv.Atoi(m[1])
		for i, dst := range []*time.Time{&v.Released, &v.EndOfStandard, &v.EndOfExtended} {
			if *dst, err = time.Parse(time.DateOnly, rec[i+1]); err != nil {
				return nil, fmt.Errorf("%s: %w", v.Version, err)
			}
		}
		if !v.Released.Before(v.EndOfStandard) || !v.EndOfStandard.Before(v.EndOfExtended) {
			return nil, fmt.Errorf("%s: dates out of order", v.Version)
		}
		if n := len(t.Versions); n > 0 && t.Versions[n-1].minor+1 != v.minor {
			return nil, fmt.Errorf("%s follows %s: want consecutive minors in order", v.Version, t.Versions[n-1].Version)
		}
		t.Versions = append(t.Versions, v)
	}
	if len(t.Versions) == 0 {
		return nil, fmt.Errorf("no versions")
	}
	return t, nil
}

// Lookup finds "1.NN" in the calendar.
func (t *VersionTable) Lookup(version string) (KubernetesVersion, bool) {
	i := slices.IndexFunc(t.Versions, func(v KubernetesVersion) bool { return v.Version == version })
	if i < 0 {
		return KubernetesVersion{}, false
	}
	return t.Versions[i], true
}

// NewestStandard is the newest version in standard support on day: the default.
func (t *VersionTable) NewestStandard(day time.Time) (KubernetesVersion, bool) {
	for _, v := range slices.Backward(t.Versions) {
		if v.Status(day) == StandardSupport {
			return v, true
		}
	}
	return KubernetesVersion{}, false
}

// Creatable lists the versions EKS creates on day (standard or extended support).
func (t *VersionTable) Creatable(day time.Time) []string {
	var out []string
	for _, v := range t.Versions {
		if s := v.Status(day); s == StandardSupport || s == ExtendedSupport {
			out = append(out, v.Version)
		}
	}
	return out
}

// first and last are the oldest and newest rows.
func (t *VersionTable) first() KubernetesVersion { return t.Versions[0] }
func (t *VersionTable) last() KubernetesVersion  { return t.Versions[len(t.Versions)-1] }
