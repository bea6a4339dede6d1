package awsemu

import (
	"maps"
	"slices"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
)

// Property getters over the plain (secret-free) maps the provider hands to a Kind. Pulumi
// numbers are float64; the SDK sends an unset optional input as an absent key or null.

// getStr is the string at k, "" when absent or not a string.
func getStr(m resource.PropertyMap, k string) string {
	if v, ok := m[resource.PropertyKey(k)]; ok && v.IsString() {
		return v.StringValue()
	}
	return ""
}

// getStrPtr is the string at k, nil when absent or empty (AWS's "not set").
func getStrPtr(m resource.PropertyMap, k string) *string {
	if s := getStr(m, k); s != "" {
		return aws.String(s)
	}
	return nil
}

// getBool is the bool at k and whether one was set.
func getBool(m resource.PropertyMap, k string) (value, set bool) {
	if v, ok := m[resource.PropertyKey(k)]; ok && v.IsBool() {
		return v.BoolValue(), true
	}
	return false, false
}

// getInt is the number at k as an int and whether one was set.
func getInt(m resource.PropertyMap, k string) (int, bool) {
	if v, ok := m[resource.PropertyKey(k)]; ok && v.IsNumber() {
		return int(v.NumberValue()), true
	}
	return 0, false
}

// getInt32 is the number at k, nil when not set.
func getInt32(m resource.PropertyMap, k string) *int32 {
	if n, ok := getInt(m, k); ok {
		return aws.Int32(int32(n))
	}
	return nil
}

// getStrs is the string list at k (non-string elements skipped).
func getStrs(m resource.PropertyMap, k string) []string {
	v, ok := m[resource.PropertyKey(k)]
	if !ok || !v.IsArray() {
		return nil
	}
	var out []string
	for _, e := range v.ArrayValue() {
		if e.IsString() {
			out = append(out, e.StringValue())
		}
	}
	return out
}

// getStrMap is the map of strings at k (tags).
func getStrMap(m resource.PropertyMap, k string) map[string]string {
	v, ok := m[resource.PropertyKey(k)]
	if !ok || !v.IsObject() {
		return nil
	}
	out := map[string]string{}
	for kk, e := range v.ObjectValue() {
		if e.IsString() {
			out[string(kk)] = e.StringValue()
		}
	}
	return out
}

// getObj is the nested object at k (a Pulumi input struct such as metadataOptions).
func getObj(m resource.PropertyMap, k string) resource.PropertyMap {
	if v, ok := m[resource.PropertyKey(k)]; ok && v.IsObject() {
		return v.ObjectValue()
	}
	return nil
}

// getObjs is the list of nested objects at k (ingress rules, block device mappings).
func getObjs(m resource.PropertyMap, k string) []resource.PropertyMap {
	v, ok := m[resource.PropertyKey(k)]
	if !ok || !v.IsArray() {
		return nil
	}
	var out []resource.PropertyMap
	for _, e := range v.ArrayValue() {
		if e.IsObject() {
			out = append(out, e.ObjectValue())
		}
	}
	return out
}

// outMap builds an output map from Go values (string, bool, int, []string, map[string]string,
// nested map[string]any, resource.PropertyValue); a nil value becomes null.
func outMap(m map[string]any) resource.PropertyMap {
	out := resource.PropertyMap{}
	for k, v := range m {
		out[resource.PropertyKey(k)] = outVal(v)
	}
	return out
}

func outVal(v any) resource.PropertyValue {
	switch v := v.(type) {
	case nil:
		return resource.NewNullProperty()
	case resource.PropertyValue:
		return v
	case resource.PropertyMap:
		return resource.NewObjectProperty(v)
	case int:
		return resource.NewNumberProperty(float64(v))
	case int32:
		return resource.NewNumberProperty(float64(v))
	case int64:
		return resource.NewNumberProperty(float64(v))
	case *string:
		if v == nil {
			return resource.NewNullProperty()
		}
		return resource.NewStringProperty(*v)
	case []string:
		arr := make([]resource.PropertyValue, 0, len(v))
		for _, s := range v {
			arr = append(arr, resource.NewStringProperty(s))
		}
		return resource.NewArrayProperty(arr)
	case map[string]string:
		obj := resource.PropertyMap{}
		for k, s := range v {
			obj[resource.PropertyKey(k)] = resource.NewStringProperty(s)
		}
		return resource.NewObjectProperty(obj)
	case map[string]any:
		return resource.NewObjectProperty(outMap(v))
	case []map[string]any:
		arr := make([]resource.PropertyValue, 0, len(v))
		for _, o := range v {
			arr = append(arr, resource.NewObjectProperty(outMap(o)))
		}
		return resource.NewArrayProperty(arr)
	default:
		return resource.NewPropertyValue(v)
	}
}

// plain returns m with every secret replaced by the value it wraps: Kinds work on plain
// values and the provider marks the matching outputs secret again.
func plain(m resource.PropertyMap) resource.PropertyMap {
	if m == nil {
		return nil
	}
	out := make(resource.PropertyMap, len(m))
	for k, v := range m {
		out[k] = plainValue(v)
	}
	return out
}

func plainValue(v resource.PropertyValue) resource.PropertyValue {
	switch {
	case v.IsSecret():
		return plainValue(v.SecretValue().Element)
	case v.IsObject():
		return resource.NewObjectProperty(plain(v.ObjectValue()))
	case v.IsArray():
		arr := make([]resource.PropertyValue, len(v.ArrayValue()))
		for i, e := range v.ArrayValue() {
			arr[i] = plainValue(e)
		}
		return resource.NewArrayProperty(arr)
	}
	return v
}

// withInputs returns outs with every input key the outputs lack copied over, as the real
// provider's state holds every input.
func withInputs(outs, news resource.PropertyMap) resource.PropertyMap {
	for k, v := range news {
		if _, ok := outs[k]; !ok {
			outs[k] = v
		}
	}
	return outs
}

// tagsOutputs are the tags and tagsAll outputs: tagsAll is tags merged over the provider's
// default tags, and this provider has none, so they are equal. tags stays absent when the
// program sets none, as in the real provider's state.
func tagsOutputs(outs resource.PropertyMap, tags map[string]string) {
	if tags == nil {
		tags = map[string]string{}
	}
	outs["tagsAll"] = outVal(tags)
	if len(tags) > 0 {
		outs["tags"] = outVal(tags)
	}
}

// sortedKeys are m's keys in order, so requests and outputs are stable.
func sortedKeys[V any](m map[string]V) []string {
	return slices.Sorted(maps.Keys(m))
}
