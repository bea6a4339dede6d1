// Package deploytime owns the deploy-time model: typical create durations per resource type
// (one embedded data table, durations.csv, each row with its source) and the analysis of a
// recorded resource graph that turns them into the critical path Pulumi's parallel engine
// walks, the serial sum, the floor no program can beat and the ratio between them.
package deploytime

import (
	_ "embed"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"

	"github.com/eks-irsa/eks-irsa/internal/graph"
)

// DataFile names the embedded table, for messages that ask for a row to be added.
const DataFile = "internal/deploytime/durations.csv"

//go:embed durations.csv
var durationsCSV string

// Row is one line of the table.
type Row struct {
	// Type is a type token; a trailing "*" matches every token with that prefix.
	Type string
	// When is "input=value", a string input the registration must carry for the row to
	// apply, or empty.
	When     string
	Duration time.Duration
	Source   string
}

// Table holds the typical create durations.
type Table struct {
	rows []Row
}

var header = []string{"type", "when", "seconds", "source"}

// Parse reads a table in the format of durations.csv, reporting every bad row at once.
func Parse(r io.Reader) (*Table, error) {
	cr := csv.NewReader(r)
	cr.Comment = '#'
	cr.FieldsPerRecord = len(header)
	records, err := cr.ReadAll()
	if err != nil {
		return nil, fmt.Errorf("deploytime: read table: %w", err)
	}
	if len(records) == 0 || strings.Join(records[0], ",") != strings.Join(header, ",") {
		return nil, fmt.Errorf("deploytime: table header must be %q", strings.Join(header, ","))
	}
	t := &Table{}
	var errs []error
	for i, rec := range records[1:] {
		line := i + 2 // 1-based, after the header; comments are not counted
		typ, when, secs, source := rec[0], rec[1], rec[2], rec[3]
		s, err := strconv.ParseFloat(secs, 64)
		switch {
		case typ == "":
			errs = append(errs, fmt.Errorf("row %d: empty type", line))
		case err != nil || s < 0:
			errs = append(errs, fmt.Errorf("row %d (%s): seconds %q, want a number ≥ 0", line, typ, secs))
		case source == "":
			errs = append(errs, fmt.Errorf("row %d (%s): empty source, want where the figure comes from", line, typ))
		case when != "" && !strings.Contains(when, "="):
			errs = append(errs, fmt.Errorf("row %d (%s): when %q, want input=value", line, typ, when))
		}
		t.rows = append(t.rows, Row{Type: typ, When: when, Duration: time.Duration(s * float64(time.Second)), Source: source})
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("deploytime: table: %w", err)
	}
	return t, nil
}

// Default returns the embedded table, parsed once; a Table is read-only, so it is shared.
// It panics if durations.csv is malformed, which the package's tests rule out.
func Default() *Table { return defaultTable() }

var defaultTable = sync.OnceValue(func() *Table {
	t, err := Parse(strings.NewReader(durationsCSV))
	if err != nil {
		panic(err)
	}
	return t
})

// Rows returns the table's rows in order.
func (t *Table) Rows() []Row {
	return append([]Row(nil), t.rows...)
}

// Lookup returns the first row that applies to reg.
func (t *Table) Lookup(reg graph.Resource) (Row, bool) {
	for _, row := range t.rows {
		if row.matches(reg) {
			return row, true
		}
	}
	return Row{}, false
}

func (row Row) matches(reg graph.Resource) bool {
	if prefix, ok := strings.CutSuffix(row.Type, "*"); ok {
		if !strings.HasPrefix(reg.Type, prefix) {
			return false
		}
	} else if reg.Type != row.Type {
		return false
	}
	if row.When == "" {
		return true
	}
	key, want, _ := strings.Cut(row.When, "=")
	v, ok := reg.Inputs[resource.PropertyKey(key)]
	return ok && v.IsString() && v.StringValue() == want
}
