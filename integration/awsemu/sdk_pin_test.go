package awsemu

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// The pulumi-aws Go SDK in the module cache is generated from the provider's schema at the
// pin (schema.go), which the bridge derives from upstream's: it is the nearest thing to the
// pinned sources this machine holds. What it shows of each property is checked against the
// rows here: that the property exists, whether New<Resource> refuses it missing (Required),
// whether it sets a default (a pulumi-aws SchemaInfo default), and, for a top-level scalar or
// block, whether its output is a pointer (Optional without Computed) or not (Required,
// Computed or defaulted). ForceNew is not in the SDK, and nested Computed neither (nested
// output types are pointers either way), so those stay cited by hand.

const pulumiAWSSDK = "github.com/pulumi/pulumi-aws/sdk/v6"

// pinnedSDK is the directory of the SDK the program builds against, after checking that it is
// the pinned release: go.mod's version, the content hash the go command computed when it
// downloaded the module (cache/download/<module>/@v/<version>.ziphash, checked by the go
// command against go.sum), and the commit where the proxy's record beside it
// (<version>.info) names one. Proxies differ in that record: the one this machine kind reaches
// gave no Origin on 2026-12-07 (a new machine's fresh run failed here on it), an earlier one
// gave the tag and commit; the content hash is the same everywhere.
func pinnedSDK(t *testing.T) string {
	t.Helper()
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Version}}\n{{.Dir}}\n{{.GoMod}}", pulumiAWSSDK).Output()
	if err != nil {
		t.Fatalf("go list -m %s: %v", pulumiAWSSDK, err)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if len(lines) != 3 {
		t.Fatalf("go list -m %s: %q", pulumiAWSSDK, out)
	}
	version, dir, gomod := lines[0], lines[1], lines[2]
	if err := checkPin(version, strings.TrimSuffix(gomod, ".mod")); err != nil {
		t.Fatal(err)
	}
	return filepath.Join(dir, "go", "aws")
}

// checkPin holds the module cache's copy of the SDK at version, whose download records start
// with base (<cache>/@v/<version>), to the pin in schema.go.
func checkPin(version, base string) error {
	if version != pulumiAWSVersion {
		return fmt.Errorf("go.mod requires %s %s; the pin (schema.go) is %s: move the pin with go.mod", pulumiAWSSDK, version, pulumiAWSVersion)
	}
	sum, err := os.ReadFile(base + ".ziphash")
	if err != nil {
		return fmt.Errorf("the go command's hash of %s@%s: %w", pulumiAWSSDK, version, err)
	}
	if got := strings.TrimSpace(string(sum)); got != pulumiAWSSum {
		return fmt.Errorf("%s@%s's content hash is %s, the pin says %s", pulumiAWSSDK, version, got, pulumiAWSSum)
	}
	info, err := os.ReadFile(base + ".info")
	if err != nil {
		return fmt.Errorf("the proxy's record of %s@%s: %w", pulumiAWSSDK, version, err)
	}
	var rec struct{ Origin *struct{ Hash, Ref string } }
	if err := json.Unmarshal(info, &rec); err != nil {
		return fmt.Errorf("the proxy's record of %s@%s: %w", pulumiAWSSDK, version, err)
	}
	if rec.Origin != nil && (rec.Origin.Hash != pulumiAWSCommit || rec.Origin.Ref != "refs/tags/sdk/"+version) {
		return fmt.Errorf("%s@%s is %s at %s, the pin says %s", pulumiAWSSDK, version, rec.Origin.Ref, rec.Origin.Hash, pulumiAWSCommit)
	}
	return nil
}

// sdkField is one property of an SDK struct: its Go type and, on a resource, what
// New<Resource> does when it is missing.
type sdkField struct {
	goType   string
	required bool   // New<Resource> fails without it
	dflt     string // the value New<Resource> fills in, as written in Go
}

var (
	sdkFieldRe    = regexp.MustCompile("(?m)^\t\\w+\\s+(\\S+)\\s+`pulumi:\"(\\w+)\"`")
	sdkRequiredRe = regexp.MustCompile(`if args\.(\w+) == nil \{\n\t\treturn nil, errors\.New\("invalid value for required argument`)
	sdkDefaultRe  = regexp.MustCompile(`if args\.(\w+) == nil \{\n\t\targs\.\w+ = pulumi\.\w+\((.*)\)\n`)
)

// sdkStruct reads `type <name> struct` from src: its fields by Pulumi name.
func sdkStruct(src, name string) (map[string]sdkField, bool) {
	start := strings.Index(src, "\ntype "+name+" struct {\n")
	if start < 0 {
		return nil, false
	}
	body := src[start:]
	body = body[:strings.Index(body, "\n}\n")]
	fields := map[string]sdkField{}
	for _, m := range sdkFieldRe.FindAllStringSubmatch(body, -1) {
		fields[m[2]] = sdkField{goType: m[1]}
	}
	return fields, true
}

// elemType is the SDK type a block's field names: "ClusterVpcConfigOutput" → "ClusterVpcConfig".
func elemType(goType string) string {
	goType = strings.TrimLeft(goType, "[]*")
	for _, suffix := range []string{"ArrayOutput", "PtrOutput", "Output"} {
		if s, ok := strings.CutSuffix(goType, suffix); ok {
			return s
		}
	}
	return goType
}

func TestSchemaRowsAgainstPinnedSDK(t *testing.T) {
	dir := pinnedSDK(t)
	for _, token := range sortedKeys(kinds) {
		k := kinds[token]
		// "aws:eks/cluster:Cluster" → eks/cluster.go, type Cluster.
		mod, rest, _ := strings.Cut(strings.TrimPrefix(token, "aws:"), "/")
		file, res, _ := strings.Cut(rest, ":")
		b, err := os.ReadFile(filepath.Join(dir, mod, file+".go"))
		if err != nil {
			t.Fatalf("%s: %v", token, err)
		}
		src := string(b)
		fields, ok := sdkStruct(src, res)
		if !ok {
			t.Fatalf("%s: no type %s in %s.go", token, res, file)
		}
		for _, m := range sdkRequiredRe.FindAllStringSubmatch(src, -1) {
			if f, ok := fieldByGoName(src, res, m[1], fields); ok {
				f.required = true
				fields[f.name] = f.sdkField
			}
		}
		for _, m := range sdkDefaultRe.FindAllStringSubmatch(src, -1) {
			if f, ok := fieldByGoName(src, res, m[1], fields); ok {
				f.dflt = m[2]
				fields[f.name] = f.sdkField
			}
		}
		// The module's block types (pulumiTypes.go, split into pulumiTypes1.go... when large).
		typeFiles, _ := filepath.Glob(filepath.Join(dir, mod, "pulumiTypes*.go"))
		types := ""
		for _, name := range typeFiles {
			b, err := os.ReadFile(name)
			if err != nil {
				t.Fatalf("%s: %v", token, err)
			}
			types += string(b)
		}
		checkRows(t, token+" ", k.Schema, fields, types, true)
	}
}

type namedField struct {
	name string
	sdkField
}

// fieldByGoName finds the field whose Go name is goName in type res.
func fieldByGoName(src, res, goName string, fields map[string]sdkField) (namedField, bool) {
	m := regexp.MustCompile("\n\t" + goName + "\\s+\\S+\\s+`pulumi:\"(\\w+)\"`").FindStringSubmatch(src[strings.Index(src, "\ntype "+res+" struct {\n"):])
	if m == nil {
		return namedField{}, false
	}
	return namedField{m[1], fields[m[1]]}, true
}

// checkRows holds one table (a resource's or a block's) to the SDK struct of the same place.
func checkRows(t *testing.T, where string, s Schema, fields map[string]sdkField, types string, top bool) {
	t.Helper()
	for _, name := range sortedKeys(s) {
		p, at := s[name], where+name
		f, ok := fields[name]
		if !ok {
			t.Errorf("%s: a row for a property pulumi-aws %s does not have", at, pulumiAWSVersion)
			continue
		}
		single := p.Kind == kScalar || p.Kind == kBlock
		pointer := strings.Contains(f.goType, "Ptr") || strings.HasPrefix(f.goType, "*")
		if top {
			if f.required != p.Required {
				t.Errorf("%s: Required %v in the row, %v in the SDK (New<Resource> refusing it missing)", at, p.Required, f.required)
			}
			if f.dflt != "" && fmt.Sprint(p.Default) != strings.Trim(f.dflt, `"`) {
				t.Errorf("%s: the SDK defaults it to %s, the row to %v", at, f.dflt, p.Default)
			}
			if single && !pointer != (p.Required || p.Computed || f.dflt != "") {
				t.Errorf("%s: output %s, but the row is Required %v, Computed %v (a pointer output is Optional without Computed)", at, f.goType, p.Required, p.Computed)
			}
		} else if single && !pointer != p.Required {
			t.Errorf("%s: %s in the SDK, Required %v in the row", at, f.goType, p.Required)
		}
		if p.Elem != nil {
			typ := elemType(f.goType)
			elems, ok := sdkStruct(types, typ)
			if !ok {
				t.Errorf("%s: no SDK type %s for the block", at, typ)
				continue
			}
			checkRows(t, at+".", p.Elem, elems, types, false)
		}
	}
}

// TestPinHoldsOnEveryProxysRecord: the pin check takes a proxy's record with or without the
// origin (this machine kind's proxy gives none) and refuses another content or commit.
func TestPinHoldsOnEveryProxysRecord(t *testing.T) {
	origin := fmt.Sprintf(`{"Version":%q,"Time":"2026-06-03T20:39:51Z","Origin":{"VCS":"git","URL":"https://github.com/pulumi/pulumi-aws","Hash":%%q,"Ref":"refs/tags/sdk/%s"}}`, pulumiAWSVersion, pulumiAWSVersion)
	for _, tc := range []struct {
		name, version, sum, info, wantErr string
	}{
		{name: "no origin recorded", version: pulumiAWSVersion, sum: pulumiAWSSum,
			info: `{"Version":"v6.83.4","Time":"2026-06-03T20:39:51Z"}`},
		{name: "the pinned origin", version: pulumiAWSVersion, sum: pulumiAWSSum, info: fmt.Sprintf(origin, pulumiAWSCommit)},
		{name: "another commit", version: pulumiAWSVersion, sum: pulumiAWSSum, info: fmt.Sprintf(origin, strings.Repeat("0", 40)),
			wantErr: "the pin says " + pulumiAWSCommit},
		{name: "another content", version: pulumiAWSVersion, sum: "h1:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=", info: `{"Version":"v6.83.4"}`,
			wantErr: "content hash is h1:AAAA"},
		{name: "another version", version: "v6.83.5", sum: pulumiAWSSum, info: `{"Version":"v6.83.5"}`,
			wantErr: "move the pin with go.mod"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			base := filepath.Join(t.TempDir(), tc.version)
			if err := os.WriteFile(base+".ziphash", []byte(tc.sum+"\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(base+".info", []byte(tc.info), 0o600); err != nil {
				t.Fatal(err)
			}
			err := checkPin(tc.version, base)
			switch {
			case tc.wantErr == "" && err != nil:
				t.Fatalf("checkPin: %v", err)
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Fatalf("checkPin: %v, want an error with %q", err, tc.wantErr)
			}
		})
	}
}
