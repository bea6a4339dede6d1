package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/pulumi/pulumi/sdk/v3/go/common/apitype"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
)

// readDeployment decodes an exported stack state: the one reader of pending operations.
func readDeployment(state apitype.UntypedDeployment) (apitype.DeploymentV3, error) {
	var dep apitype.DeploymentV3
	if len(state.Deployment) == 0 {
		return dep, nil
	}
	if err := json.Unmarshal(state.Deployment, &dep); err != nil {
		return dep, fmt.Errorf("read stack state: %w", err)
	}
	return dep, nil
}

// clearable reports whether forgetting a pending operation loses nothing: anything but a
// create, or the create of a Kubernetes object or a provider.
// A forgotten object we own makes the next up stop with "already exists" (ExplainExistingObject
// says what to do); a forgotten patch is simply applied again.
func clearable(op apitype.OperationV2) bool {
	typ := string(op.Resource.Type)
	return op.Type != apitype.OperationTypeCreating ||
		strings.HasPrefix(typ, "kubernetes:") || strings.HasPrefix(typ, "pulumi:providers:")
}

// pendingImport is a pending create of an AWS resource whose physical name the program sets:
// once the pending operations are cleared it is imported under the same URN (same name, same
// parent), so the resource the interrupted update may have made is adopted, not orphaned.
type pendingImport struct {
	Type, Name, ID string
	Parent         string // the parent's URN; empty under the stack
	op             apitype.OperationV2
}

// pendingImports returns the pending AWS creates that can be imported by their name.
func pendingImports(ops []apitype.OperationV2) []pendingImport {
	var out []pendingImport
	for _, op := range ops {
		if clearable(op) {
			continue
		}
		id, known := importID(string(op.Resource.Type), op.Resource.Inputs)
		if !known {
			continue
		}
		imp := pendingImport{Type: string(op.Resource.Type), Name: resource.URN(op.Resource.URN).Name(), ID: id, op: op}
		if p := resource.URN(op.Resource.Parent); p != "" && p.QualifiedType() != resource.RootStackType {
			imp.Parent = string(p)
		}
		out = append(out, imp)
	}
	return out
}

// unsafePendingCreates returns an error naming each pending create that can be neither
// cleared nor imported by name: an AWS resource the interrupted update may have created (a
// NAT gateway, a VPC), which a cleared create would leave running and billed outside the
// stack. The error says how to find each one (its tags) and the `pulumi import` command that
// adopts it; nil when every pending operation is clearable or importable.
func unsafePendingCreates(stackName string, ops []apitype.OperationV2) error {
	var problems []string
	for _, op := range ops {
		if clearable(op) {
			continue
		}
		if _, known := importID(string(op.Resource.Type), op.Resource.Inputs); known {
			continue
		}
		problems = append(problems, describePendingCreate(stackName, op))
	}
	if len(problems) == 0 {
		return nil
	}
	return errors.New("the last update was interrupted while creating AWS resources that may now exist outside the stack; " +
		"clearing them would lose track of them, so nothing was changed. For each one, look for it in AWS and import it " +
		"(or delete it), then run up again:\n" + strings.Join(problems, "\n"))
}

// describePendingCreate says how to find one pending AWS create and adopt it.
func describePendingCreate(stackName string, op apitype.OperationV2) string {
	urn := resource.URN(op.Resource.URN)
	typ, name := string(op.Resource.Type), urn.Name()
	var b strings.Builder
	fmt.Fprintf(&b, "  * %s %s (%s)\n", typ, name, urn)
	if tags := stringMap(op.Resource.Inputs["tags"]); len(tags) > 0 {
		keys := make([]string, 0, len(tags))
		for k := range tags {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		parts := make([]string, 0, len(keys))
		for _, k := range keys {
			parts = append(parts, k+"="+tags[k])
		}
		fmt.Fprintf(&b, "      find it by its tags: %s\n", strings.Join(parts, ", "))
	}
	id, known := importID(typ, op.Resource.Inputs)
	if !known {
		id = "<its id>"
	}
	parent := ""
	if p := resource.URN(op.Resource.Parent); p != "" && p.QualifiedType() != resource.RootStackType {
		parent = fmt.Sprintf(" --parent '%s=%s'", p.Name(), p)
	}
	fmt.Fprintf(&b, "      pulumi import --stack %s '%s' '%s' '%s'%s", stackName, typ, name, id, parent)
	return b.String()
}

// importID is the id `pulumi import` takes for the types whose physical name the program
// sets and the provider imports by (github.com/pulumi/pulumi-aws/sdk/v6@v6.83.4, each type's
// import section): known from the pending create's inputs alone.
func importID(typ string, inputs map[string]any) (string, bool) {
	switch typ {
	case "aws:eks/cluster:Cluster", "aws:iam/role:Role", "aws:cloudwatch/logGroup:LogGroup",
		"aws:iam/instanceProfile:InstanceProfile", "aws:autoscaling/group:Group":
		name, ok := inputs["name"].(string)
		return name, ok && name != ""
	}
	return "", false
}

func stringMap(v any) map[string]string {
	m, _ := v.(map[string]any)
	out := make(map[string]string, len(m))
	for k, v := range m {
		if s, ok := v.(string); ok {
			out[k] = s
		}
	}
	return out
}
