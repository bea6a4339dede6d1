package awsemu

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"slices"
	"strconv"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
)

// invokeFunc is one provider function: plain args in, result properties out.
type invokeFunc func(ctx context.Context, c *Clients, args resource.PropertyMap) (resource.PropertyMap, error)

// invokes are the functions the program calls (grep infra/ for aws.Get, iam.Get, ssm.Lookup),
// by the token the SDK sends, with the SDK's result property names.
var invokes = map[string]invokeFunc{
	"aws:index/getPartition:getPartition":           getPartition,
	"aws:index/getRegion:getRegion":                 getRegion,
	"aws:index/getCallerIdentity:getCallerIdentity": getCallerIdentity,
	"aws:iam/getPolicyDocument:getPolicyDocument":   getPolicyDocument,
	"aws:ssm/getParameter:getParameter":             getParameter,
}

// partitionDNS are each partition's DNS suffix and reverse-DNS prefix (the AWS SDK's
// partitions table).
var partitionDNS = map[string][2]string{
	"aws":        {"amazonaws.com", "com.amazonaws"},
	"aws-cn":     {"amazonaws.com.cn", "cn.com.amazonaws"},
	"aws-us-gov": {"amazonaws.com", "com.amazonaws"},
}

// getPartition mirrors aws.GetPartition's GetPartitionResult.
func getPartition(_ context.Context, c *Clients, _ resource.PropertyMap) (resource.PropertyMap, error) {
	dns, ok := partitionDNS[c.Partition]
	if !ok {
		return nil, fmt.Errorf("partition %q: want one of %v", c.Partition, sortedKeys(partitionDNS))
	}
	return outMap(map[string]any{
		"id": c.Partition, "partition": c.Partition, "dnsSuffix": dns[0], "reverseDnsPrefix": dns[1],
	}), nil
}

// getRegion mirrors aws.GetRegion's GetRegionResult for the provider's region.
func getRegion(_ context.Context, c *Clients, _ resource.PropertyMap) (resource.PropertyMap, error) {
	dns := partitionDNS[c.Partition]
	return outMap(map[string]any{
		"id": c.Region, "name": c.Region, "region": c.Region,
		"endpoint":    fmt.Sprintf("ec2.%s.%s", c.Region, dns[0]),
		"description": c.Region,
	}), nil
}

// getCallerIdentity mirrors aws.GetCallerIdentity, asking the emulator's STS.
func getCallerIdentity(ctx context.Context, c *Clients, _ resource.PropertyMap) (resource.PropertyMap, error) {
	out, err := c.STS.GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if err != nil {
		return nil, err
	}
	return outMap(map[string]any{
		"id": aws.ToString(out.Account), "accountId": aws.ToString(out.Account),
		"arn": aws.ToString(out.Arn), "userId": aws.ToString(out.UserId),
	}), nil
}

// getParameter mirrors ssm.LookupParameter, reading the emulator's SSM. value is secret, as
// the real provider marks it (Terraform's data source declares it sensitive); insecureValue
// is not.
func getParameter(ctx context.Context, c *Clients, args resource.PropertyMap) (resource.PropertyMap, error) {
	name := getStr(args, "name")
	if name == "" {
		return nil, errors.New(`missing required argument "name"`)
	}
	decrypt := true
	if v, set := getBool(args, "withDecryption"); set {
		decrypt = v
	}
	out, err := c.SSM.GetParameter(ctx, &ssm.GetParameterInput{Name: aws.String(name), WithDecryption: aws.Bool(decrypt)})
	if err != nil {
		return nil, fmt.Errorf("reading SSM parameter %s: %w", name, err)
	}
	p := out.Parameter
	value := aws.ToString(p.Value)
	res := outMap(map[string]any{
		"arn": aws.ToString(p.ARN), "id": aws.ToString(p.Name), "name": aws.ToString(p.Name),
		"type": string(p.Type), "version": int(p.Version), "withDecryption": decrypt,
		"insecureValue": value,
	})
	if p.Type == ssmtypes.ParameterTypeSecureString && !decrypt {
		res["insecureValue"] = resource.NewStringProperty("")
	}
	res["value"] = resource.MakeSecret(resource.NewStringProperty(value))
	return res, nil
}

// The policy document types mirror terraform-provider-aws v5's
// internal/service/iam/policy_model.go (what pulumi-aws v6 bridges): Sid is always written
// (""), a one-element list is a bare string, longer lists are sorted in reverse, a condition
// with one value is a bare string, Principal {"*": ["*"]} is "*".
type policyDoc struct {
	Version    string             `json:",omitempty"`
	Id         string             `json:",omitempty"` //nolint:revive // the IAM JSON key
	Statements []*policyStatement `json:"Statement"`
}

type policyStatement struct {
	Sid           string
	Effect        string       `json:",omitempty"`
	Actions       any          `json:"Action,omitempty"`
	NotActions    any          `json:"NotAction,omitempty"`
	Resources     any          `json:"Resource,omitempty"`
	NotResources  any          `json:"NotResource,omitempty"`
	Principals    principalSet `json:"Principal,omitempty"`
	NotPrincipals principalSet `json:"NotPrincipal,omitempty"`
	Conditions    conditionSet `json:"Condition,omitempty"`
}

type principal struct {
	Type        string
	Identifiers any
}

type principalSet []principal

func (ps principalSet) MarshalJSON() ([]byte, error) {
	if len(ps) == 1 && ps[0].Type == "*" {
		if s, ok := ps[0].Identifiers.(string); ok && s == "*" {
			return []byte(`"*"`), nil
		}
	}
	raw := map[string]any{}
	for _, p := range ps {
		switch ids := p.Identifiers.(type) {
		case []string:
			prev, _ := raw[p.Type].([]string)
			if s, ok := raw[p.Type].(string); ok {
				prev = []string{s}
			}
			raw[p.Type] = append(prev, ids...)
		case string:
			switch prev := raw[p.Type].(type) {
			case nil:
				raw[p.Type] = ids
			case string:
				raw[p.Type] = []string{prev, ids}
			case []string:
				raw[p.Type] = append(prev, ids)
			}
		}
	}
	return json.Marshal(raw)
}

type condition struct {
	Test, Variable string
	Values         any
}

type conditionSet []condition

func (cs conditionSet) MarshalJSON() ([]byte, error) {
	raw := map[string]map[string]any{}
	for _, c := range cs {
		if raw[c.Test] == nil {
			raw[c.Test] = map[string]any{}
		}
		switch v := c.Values.(type) {
		case []string:
			prev, _ := raw[c.Test][c.Variable].([]string)
			raw[c.Test][c.Variable] = append(prev, v...) // order matters: not sorted
		case string:
			raw[c.Test][c.Variable] = v
		}
	}
	return json.Marshal(raw)
}

// stringSet is a Terraform TypeSet of strings rendered as the policy model does: duplicates
// gone, one element as a bare string, more sorted in reverse.
func stringSet(l []string) any {
	slices.Sort(l)
	l = slices.Compact(l)
	if len(l) == 1 {
		return l[0]
	}
	slices.Reverse(l)
	return l
}

// policyVars turns the data source's "&{" into IAM's "${" policy variables.
var policyVars = strings.NewReplacer("&{", "${")

func replaceVars(v any) any {
	switch v := v.(type) {
	case string:
		return policyVars.Replace(v)
	case []string:
		out := make([]string, len(v))
		for i, s := range v {
			out[i] = policyVars.Replace(s)
		}
		return out
	}
	return v
}

// getPolicyDocument renders iam.GetPolicyDocument's json and minifiedJson as the real data
// source does (terraform-provider-aws internal/service/iam/policy_document_data_source.go):
// indented with two spaces, id = crc32 of the JSON. sourcePolicyDocuments and
// overridePolicyDocuments (unused by the program) are refused rather than half-emulated.
func getPolicyDocument(_ context.Context, _ *Clients, args resource.PropertyMap) (resource.PropertyMap, error) {
	version := getStr(args, "version")
	if version == "" {
		version = "2012-10-17"
	}
	for _, k := range []resource.PropertyKey{"sourcePolicyDocuments", "overridePolicyDocuments", "sourceJson", "overrideJson"} {
		if args[k].HasValue() {
			return nil, fmt.Errorf("%s is not emulated: the program never merges documents", k)
		}
	}
	doc := &policyDoc{Version: version, Id: getStr(args, "policyId")}
	sids := map[string]bool{}
	for _, s := range getObjs(args, "statements") {
		st := &policyStatement{Sid: getStr(s, "sid"), Effect: getStr(s, "effect")}
		if st.Effect == "" {
			st.Effect = "Allow"
		}
		if st.Effect != "Allow" && st.Effect != "Deny" {
			return nil, fmt.Errorf("statement effect %q: want Allow or Deny", st.Effect)
		}
		if st.Sid != "" {
			if sids[st.Sid] {
				return nil, fmt.Errorf("duplicate Sid (%s). Remove the Sid or ensure the Sid is unique", st.Sid)
			}
			sids[st.Sid] = true
		}
		if l := getStrs(s, "actions"); len(l) > 0 {
			st.Actions = stringSet(l)
		}
		if l := getStrs(s, "notActions"); len(l) > 0 {
			st.NotActions = stringSet(l)
		}
		if l := getStrs(s, "resources"); len(l) > 0 {
			st.Resources = replaceVars(stringSet(l))
		}
		if l := getStrs(s, "notResources"); len(l) > 0 {
			st.NotResources = replaceVars(stringSet(l))
		}
		st.Principals = principals(getObjs(s, "principals"))
		st.NotPrincipals = principals(getObjs(s, "notPrincipals"))
		for _, c := range getObjs(s, "conditions") {
			values := replaceVars(getStrs(c, "values")).([]string)
			var v any = values
			if len(values) == 1 {
				v = values[0]
			}
			st.Conditions = append(st.Conditions, condition{Test: getStr(c, "test"), Variable: getStr(c, "variable"), Values: v})
		}
		doc.Statements = append(doc.Statements, st)
	}
	pretty, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		return nil, err
	}
	minified, err := json.Marshal(doc)
	if err != nil {
		return nil, err
	}
	out := resource.PropertyMap{}
	for k, v := range args {
		out[k] = v
	}
	out["json"] = resource.NewStringProperty(string(pretty))
	out["minifiedJson"] = resource.NewStringProperty(string(minified))
	out["id"] = resource.NewStringProperty(strconv.Itoa(int(crc32.ChecksumIEEE(pretty))))
	out["version"] = resource.NewStringProperty(version)
	return out, nil
}

func principals(blocks []resource.PropertyMap) principalSet {
	var ps principalSet
	for _, b := range blocks {
		ps = append(ps, principal{Type: getStr(b, "type"), Identifiers: replaceVars(stringSet(getStrs(b, "identifiers")))})
	}
	return ps
}
