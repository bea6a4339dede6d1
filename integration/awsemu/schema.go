package awsemu

import (
	"encoding/json"
	"maps"
	"slices"
	"sort"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource/plugin"
)

// The generic diff and refresh engine. Each Kind carries a Schema: its input properties as
// terraform-provider-aws declares them (type, ForceNew, Optional+Computed, Default), each row
// citing its source. The rules of the engine are the bridge's and Terraform's plan:
//
//   - Diff compares the program's new inputs with the resource's state (the old outputs), as
//     the bridge's pkg/tfbridge/provider.go Diff (line 1093) does: it unmarshals req.Olds
//     (1112) and builds the Terraform state from them (makeTerraformStateWithAssetsWithOpts,
//     1139), then plans the new config against it. An Optional+Computed
//     property the program leaves out keeps what the state holds and is no change; an
//     Optional one it leaves out is removed when the state holds a value.
//   - Read refreshes the inputs from the live state recursively, as the bridge's
//     ExtractInputsFromOutputs(isRefresh) (pkg/tfbridge/schema.go:1875) →
//     extractInputsObject (1665) / extractInputs (1596) does: every input already present
//     takes the live value, objects key by key, lists by position, sets by content.

// The upstream pin: the one place the emulator says which sources it follows. Every
// "<file>: <attribute>" beside a schema row is terraform-provider-aws at the upstream below;
// every bridge file:line is at the bridge commit below.
//
//   - pulumi-aws v6.83.4 is commit 4cd0c9b4fb1bb83a7457f673a21f72111e097f97: the Go module
//     proxy's origin record of github.com/pulumi/pulumi-aws/sdk/v6@v6.83.4 (the module
//     cache's cache/download/.../@v/v6.83.4.info: Ref refs/tags/sdk/v6.83.4).
//   - upstream = terraform-provider-aws v5.100.0 (pulumi-aws v6.83.4 upstream submodule), by
//     release line, not yet by commit: the gitlink at 4cd0c9b4 has not been read (the
//     pulumi-aws snapshot is over the fetch limit, the file index keeps no gitlinks, and the
//     proxy refuses both pulumi-aws/provider/v6 and terraform-provider-aws). v5.100.0 is
//     the last 5.x release; pulumi-aws v7 is the line that moved to upstream 6.x, so v6.83.x
//     patch releases stay on it. Attribute names are the anchor, not line numbers, until
//     the commit is read.
//   - bridge = pulumi-terraform-bridge v3.110.0 (commit
//     50486d5517aea941fa9966b78dbc7614df2dabfb), inferred: pulumi-aws sdk/go.mod at 4cd0c9b4
//     requires pulumi/sdk/v3 v3.175.0, which v3.110.0 is the bridge release to require
//     (v3.109.0 requires v3.172.0, v3.111.0 v3.185.0); provider/go.mod at 4cd0c9b4 has not
//     been read. The bridge lines cited here were read at that commit.
//
// TestSchemaRowsAgainstPinnedSDK holds these to the module cache (go.mod's pulumi-aws SDK, the
// hash of its content the go command computed when it downloaded it, and the commit where the
// proxy's record of it names one), and every row to what that SDK shows.
const (
	pulumiAWSVersion = "v6.83.4"
	pulumiAWSCommit  = "4cd0c9b4fb1bb83a7457f673a21f72111e097f97"
	// pulumiAWSSum is the module's content hash (go.sum's h1: line for it): the same on every
	// proxy, where the origin commit is not (this machine's proxy records none, 2026-12-07).
	pulumiAWSSum = "h1:rI5FtYK0SY5VKPIRqwCqpnLJ7G7BeD4CAWb/ZdtzX8w="
)

// propKind is a property's Terraform type, which decides how two values compare.
type propKind int

const (
	kScalar    propKind = iota // TypeString, TypeBool, TypeInt
	kList                      // TypeList of scalars: order matters
	kSet                       // TypeSet of scalars: order does not
	kMap                       // TypeMap of strings (tags)
	kBlock                     // TypeList MaxItems 1 of a Resource: a Pulumi object
	kBlockList                 // TypeList of a Resource
	kBlockSet                  // TypeSet of a Resource
)

// Prop is one row of a Kind's schema table.
type Prop struct {
	Kind     propKind
	ForceNew bool // a change replaces the resource
	Computed bool // Optional+Computed: left out by the program, the state's value stands
	Required bool
	Default  any    // the schema Default, which Check writes into the inputs
	Elem     Schema // a block's properties
	// Normalize is the attribute's StateFunc or DiffSuppressFunc as a normal form: two values
	// with the same normal form are no change (a re-serialised policy, "all" and "-1").
	Normalize func(resource.PropertyValue) resource.PropertyValue
	// ReplaceOnRemove: removing the block replaces the resource, adding or changing it does
	// not (a CustomizeDiff ForceNewIfChange on the old value being set).
	ReplaceOnRemove bool
}

// Schema is a Kind's (or a block's) properties by Pulumi name.
type Schema map[string]Prop

// forceNewKeys are the top-level ForceNew properties, sorted.
func (s Schema) forceNewKeys() []string {
	var out []string
	for k, p := range s {
		if p.ForceNew {
			out = append(out, k)
		}
	}
	slices.Sort(out)
	return out
}

// defaults are the schema Defaults of the top-level properties.
func (s Schema) defaults() map[string]any {
	out := map[string]any{}
	for k, p := range s {
		if p.Default != nil {
			out[k] = p.Default
		}
	}
	return out
}

// required are the top-level Required properties, sorted.
func (s Schema) required() []string {
	var out []string
	for k, p := range s {
		if p.Required {
			out = append(out, k)
		}
	}
	slices.Sort(out)
	return out
}

// hasForceNew: a change anywhere inside p replaces the resource.
func (p Prop) hasForceNew() bool {
	if p.ForceNew {
		return true
	}
	for _, e := range p.Elem {
		if e.hasForceNew() {
			return true
		}
	}
	return false
}

// bookkeeping keys are the provider's own, never diffed nor refreshed.
func bookkeeping(k resource.PropertyKey) bool { return k == defaultsKey }

// diffState is Terraform's plan of news against the state, as detailed-diff paths.
func diffState(s Schema, state, news resource.PropertyMap) map[string]plugin.PropertyDiff {
	d := map[string]plugin.PropertyDiff{}
	diffObject(s, state, news, "", false, d)
	return d
}

func diffObject(s Schema, state, news resource.PropertyMap, prefix string, replace bool, d map[string]plugin.PropertyDiff) {
	keys := map[resource.PropertyKey]bool{}
	for k := range news {
		keys[k] = true
	}
	for k := range s {
		if _, ok := state[resource.PropertyKey(k)]; ok {
			keys[resource.PropertyKey(k)] = true
		}
	}
	for _, k := range slices.Sorted(maps.Keys(keys)) {
		if bookkeeping(k) {
			continue
		}
		p, known := s[string(k)]
		if !known {
			// Not in the table: compare it as an in-place attribute (TestSchemaCoversProgram
			// keeps every input the program sets in the table).
			p = Prop{}
		}
		diffValue(p, state[k], news[k], joinPath(prefix, string(k)), replace, d)
	}
}

func joinPath(prefix, key string) string {
	if prefix == "" {
		return key
	}
	return prefix + "." + key
}

func indexPath(prefix string, i int) string {
	return prefix + "[" + itoa(i) + "]"
}

func itoa(i int) string {
	b, _ := json.Marshal(i)
	return string(b)
}

// diffKind picks the detailed-diff kind for a change at a path.
func diffKind(base plugin.DiffKind, replace bool) plugin.PropertyDiff {
	pd := plugin.PropertyDiff{Kind: base, InputDiff: true}
	if replace {
		return pd.ToReplace()
	}
	return pd
}

func diffValue(p Prop, old, new resource.PropertyValue, path string, replace bool, d map[string]plugin.PropertyDiff) {
	replace = replace || p.ForceNew
	if new.IsComputed() || new.IsOutput() {
		// Unknown until apply: a change, as Terraform plans "(known after apply)".
		d[path] = diffKind(plugin.DiffUpdate, replace || p.hasForceNew())
		return
	}
	if new.IsNull() && p.Default != nil {
		new = outVal(p.Default) // a nested block's Default, which Check does not write
	}
	if new.IsNull() {
		// Left out by the program: an Optional+Computed value stands; an Optional one the
		// state holds is removed.
		if p.Computed || empty(old) {
			return
		}
		d[path] = diffKind(plugin.DiffDelete, replace || p.hasForceNew() || p.ReplaceOnRemove)
		return
	}
	if empty(new) && empty(old) {
		return // "" and unset, [] and unset: the same to Terraform
	}
	if old.IsNull() {
		d[path] = diffKind(plugin.DiffAdd, replace || p.hasForceNew())
		return
	}
	switch p.Kind {
	case kBlock:
		if !old.IsObject() || !new.IsObject() {
			d[path] = diffKind(plugin.DiffUpdate, replace || p.hasForceNew())
			return
		}
		diffObject(p.Elem, old.ObjectValue(), new.ObjectValue(), path, replace, d)
	case kBlockList:
		ol, nl := arr(old), arr(new)
		for i := 0; i < max(len(ol), len(nl)); i++ {
			switch {
			case i >= len(ol):
				d[indexPath(path, i)] = diffKind(plugin.DiffAdd, replace || p.hasForceNew())
			case i >= len(nl):
				d[indexPath(path, i)] = diffKind(plugin.DiffDelete, replace || p.hasForceNew())
			default:
				diffObject(p.Elem, obj(ol[i]), obj(nl[i]), indexPath(path, i), replace, d)
			}
		}
	case kSet, kBlockSet:
		if !sameSetValues(p, old, new) {
			d[path] = diffKind(plugin.DiffUpdate, replace || p.hasForceNew())
		}
	case kMap:
		om, nm := obj(old), obj(new)
		for _, k := range slices.Sorted(maps.Keys(union(om, nm))) {
			ov, nv := om[k], nm[k]
			switch {
			case empty(nv) && !empty(ov):
				d[joinPath(path, string(k))] = diffKind(plugin.DiffDelete, replace)
			case empty(ov) && !empty(nv):
				d[joinPath(path, string(k))] = diffKind(plugin.DiffAdd, replace)
			case !ov.DeepEquals(nv):
				d[joinPath(path, string(k))] = diffKind(plugin.DiffUpdate, replace)
			}
		}
	case kList:
		if !normal(p, old).DeepEquals(normal(p, new)) {
			d[path] = diffKind(plugin.DiffUpdate, replace)
		}
	default:
		if !normal(p, old).DeepEquals(normal(p, new)) {
			d[path] = diffKind(plugin.DiffUpdate, replace)
		}
	}
}

func union(a, b resource.PropertyMap) map[resource.PropertyKey]bool {
	out := map[resource.PropertyKey]bool{}
	for k := range a {
		out[k] = true
	}
	for k := range b {
		out[k] = true
	}
	return out
}

func arr(v resource.PropertyValue) []resource.PropertyValue {
	if v.IsArray() {
		return v.ArrayValue()
	}
	return nil
}

func obj(v resource.PropertyValue) resource.PropertyMap {
	if v.IsObject() {
		return v.ObjectValue()
	}
	return resource.PropertyMap{}
}

// empty is Terraform SDKv2's "not set": null, or the type's zero value.
func empty(v resource.PropertyValue) bool {
	switch {
	case v.IsNull():
		return true
	case v.IsString():
		return v.StringValue() == ""
	case v.IsBool():
		return !v.BoolValue()
	case v.IsNumber():
		return v.NumberValue() == 0
	case v.IsArray():
		return len(v.ArrayValue()) == 0
	case v.IsObject():
		return len(v.ObjectValue()) == 0
	}
	return false
}

func normal(p Prop, v resource.PropertyValue) resource.PropertyValue {
	if p.Normalize != nil && !empty(v) {
		return p.Normalize(v)
	}
	return v
}

// canonical is a value's set-hash form: zero values dropped (SDKv2 hashes what is set),
// normal forms applied, nested sets sorted; computed nested attributes are left out unless
// keepComputed, so what AWS fills in does not make a configured element differ.
func canonical(p Prop, v resource.PropertyValue, keepComputed bool) any {
	if empty(v) {
		return nil
	}
	switch p.Kind {
	case kBlock:
		return canonicalObject(p.Elem, obj(v), keepComputed)
	case kBlockList:
		var out []any
		for _, e := range arr(v) {
			out = append(out, canonicalObject(p.Elem, obj(e), keepComputed))
		}
		return out
	case kSet, kBlockSet:
		var out []string
		elem := Prop{Kind: kScalar, Normalize: p.Normalize}
		if p.Kind == kBlockSet {
			elem = Prop{Kind: kBlock, Elem: p.Elem}
		}
		for _, e := range arr(v) {
			b, _ := json.Marshal(canonical(elem, e, keepComputed))
			out = append(out, string(b))
		}
		sort.Strings(out)
		return slices.Compact(out)
	}
	return normal(p, v).Mappable()
}

func canonicalObject(s Schema, m resource.PropertyMap, keepComputed bool) map[string]any {
	out := map[string]any{}
	for k, v := range m {
		p, known := s[string(k)]
		if known && p.Computed && !keepComputed {
			continue
		}
		if c := canonical(p, v, keepComputed); c != nil {
			out[string(k)] = c
		}
	}
	return out
}

// sameSetValues compares two sets by content. For sets of blocks, computed nested
// attributes count only when the new elements set them.
func sameSetValues(p Prop, old, new resource.PropertyValue) bool {
	keep := false
	if p.Kind == kBlockSet {
		for _, e := range arr(new) {
			for k, v := range obj(e) {
				if ep, ok := p.Elem[string(k)]; ok && ep.Computed && !empty(v) {
					keep = true
				}
			}
		}
	}
	a, _ := json.Marshal(canonical(p, old, keep))
	b, _ := json.Marshal(canonical(p, new, keep))
	return string(a) == string(b)
}

// refreshInputs is the bridge's extractInputsObject: each input present in olds takes the
// live value, recursively; an input the live state no longer has is dropped.
func refreshInputs(s Schema, olds, live resource.PropertyMap) resource.PropertyMap {
	out := resource.PropertyMap{}
	for k, ov := range olds {
		if bookkeeping(k) {
			out[k] = ov
			continue
		}
		lv, ok := live[k]
		if !ok {
			continue
		}
		out[k] = refreshValue(s[string(k)], ov, lv)
	}
	return out
}

// refreshValue is the bridge's extractInputs for one value.
func refreshValue(p Prop, old, live resource.PropertyValue) resource.PropertyValue {
	secret := old.IsSecret()
	ov := plainValue(old)
	var out resource.PropertyValue
	switch {
	case ov.IsArray() && live.IsArray():
		ol, ll := ov.ArrayValue(), live.ArrayValue()
		elem := Prop{Kind: kScalar, Normalize: p.Normalize}
		if p.Kind == kBlockList || p.Kind == kBlockSet {
			elem = Prop{Kind: kBlock, Elem: p.Elem}
		}
		var res []resource.PropertyValue
		if p.Kind == kBlockSet {
			// Sets of blocks match by content, not position (the bridge's
			// matchSetElements); an old element with no match was removed.
			used := map[int]bool{}
			for _, o := range ol {
				if j := bestMatch(elem, o, ll, used); j >= 0 {
					used[j] = true
					res = append(res, refreshValue(elem, o, ll[j]))
				}
			}
		} else {
			// Lists, and sets of scalars (no keys to match on), by position, as far as the
			// old inputs go.
			for i, o := range ol {
				if i >= len(ll) {
					break
				}
				res = append(res, refreshValue(elem, o, ll[i]))
			}
		}
		if res == nil {
			res = []resource.PropertyValue{}
		}
		out = resource.NewArrayProperty(res)
	case ov.IsObject() && live.IsObject():
		out = resource.NewObjectProperty(refreshInputs(p.Elem, ov.ObjectValue(), live.ObjectValue()))
	case ov.IsString() && live.IsString() && p.Normalize != nil &&
		normal(p, ov).DeepEquals(normal(p, live)):
		// The same value in another form (a re-serialised policy): the program's text stays.
		out = ov
	default:
		out = live
	}
	if secret && !out.IsSecret() {
		out = resource.MakeSecret(out)
	}
	return out
}

// bestMatch is the index of the live element matching o: equal in set-hash form, else the one
// sharing most keys and values (the bridge's matchSetElements scoring); -1 when none is left.
func bestMatch(elem Prop, o resource.PropertyValue, ll []resource.PropertyValue, used map[int]bool) int {
	want, _ := json.Marshal(canonical(elem, o, false))
	for j, l := range ll {
		if got, _ := json.Marshal(canonical(elem, l, false)); !used[j] && string(got) == string(want) {
			return j
		}
	}
	if !o.IsObject() {
		return -1
	}
	best, score := -1, 0
	for j, l := range ll {
		if used[j] || !l.IsObject() {
			continue
		}
		s := 0
		for k, v := range o.ObjectValue() {
			if lv, ok := l.ObjectValue()[k]; ok {
				s++
				if plainValue(v).DeepEquals(lv) {
					s += 2
				}
			}
		}
		if s > score {
			best, score = j, s
		}
	}
	return best
}
