package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/pulumi/pulumi/sdk/v3/go/common/apitype"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"

	"github.com/eks-irsa/eks-irsa/internal/statelock"
	"github.com/eks-irsa/eks-irsa/stack"
)

// exportDeployment reads the stack's state (pulumi stack export) and decodes it.
func exportDeployment(ctx context.Context, s stackAPI) (apitype.DeploymentV3, error) {
	state, err := s.Export(ctx)
	if err != nil {
		return apitype.DeploymentV3{}, fmt.Errorf("read stack state: %w", err)
	}
	return readDeployment(state)
}

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
// create; the create of a component (the engine records one pending like any other, but
// nothing exists outside the state), of a provider, or of a Kubernetes object.
// A forgotten object we own makes the next up stop with "already exists" (ExplainExistingObject
// says what to do); a forgotten patch is simply applied again.
func clearable(op apitype.OperationV2) bool {
	typ := string(op.Resource.Type)
	return op.Type != apitype.OperationTypeCreating || !op.Resource.Custom ||
		strings.HasPrefix(typ, "kubernetes:") || strings.HasPrefix(typ, "pulumi:providers:")
}

// pendingImport is a pending create of an AWS resource whose physical name the program sets:
// once the pending operations are cleared it is imported under the same URN (same name, same
// parent), so the resource the interrupted update may have made is adopted, not orphaned.
type pendingImport struct {
	Type, Name, ID string
	Parent         string              // the parent's URN; empty under the stack
	Op             apitype.OperationV2 // the pending create it adopts (its URN, for the manual command)
}

// findCreated looks up the physical ids of what a pending create may have made, for types
// whose id AWS assigns: by the tags the program gave it (a NAT gateway's nat-…, an interface
// endpoint's vpce-…, both billed by the hour), by its name (a launch template's lt-…) or by
// what it is for (a Pod Identity association's a-…, by its cluster and service account).
type findCreated func(ctx context.Context, op apitype.OperationV2) ([]string, error)

// lookedUp are the types findCreated can look up.
var lookedUp = map[string]bool{
	"aws:ec2/natGateway:NatGateway":         true,
	"aws:ec2/vpcEndpoint:VpcEndpoint":       true,
	"aws:ec2/launchTemplate:LaunchTemplate": true,
	podIdentityAssociationType:              true,
}

// awaited are the types whose id follows from the inputs but which AWS makes in stages:
// findCreated also answers for them, once the resource is ready to be imported (the cluster
// or add-on ACTIVE), with nothing if it was never made, or an error if it cannot be adopted
// (FAILED, CREATE_FAILED).
var awaited = map[string]bool{"aws:eks/cluster:Cluster": true, addonType: true}

// planRecovery sorts the pending operations: those clearable as they are, the AWS creates to
// import after clearing (by the name the program sets, or looked up through find: one
// match is imported, none means it was never made), and the rest, named in the error with
// how to find and import them. Nothing is changed when it returns an error.
func planRecovery(ctx context.Context, stackName string, ops []apitype.OperationV2, find findCreated) ([]pendingImport, error) {
	var imports []pendingImport
	var problems []string
	for _, op := range ops {
		if clearable(op) {
			continue
		}
		typ := string(op.Resource.Type)
		id, known := importID(typ, op.Resource.Inputs)
		if (!known && lookedUp[typ] || awaited[typ]) && find != nil {
			ids, err := find(ctx, op)
			switch {
			case err != nil:
				problems = append(problems, describePendingCreate(stackName, op)+fmt.Sprintf("\n      (looking it up failed: %v)", err))
				continue
			case len(ids) == 0:
				continue // never made: the update creates it
			case len(ids) > 1:
				problems = append(problems, describePendingCreate(stackName, op)+fmt.Sprintf("\n      (%d match: %s)", len(ids), strings.Join(ids, ", ")))
				continue
			}
			id, known = ids[0], true
		}
		if !known {
			problems = append(problems, describePendingCreate(stackName, op))
			continue
		}
		imp := pendingImport{Type: typ, Name: resource.URN(op.Resource.URN).Name(), ID: id, Op: op}
		if p := resource.URN(op.Resource.Parent); p != "" && p.QualifiedType() != resource.RootStackType {
			imp.Parent = string(p)
		}
		imports = append(imports, imp)
	}
	if len(problems) > 0 {
		return nil, errors.New("the last update was interrupted while creating AWS resources that may now exist outside the stack; " +
			"clearing them would lose track of them, so nothing was changed. For each one, look for it in AWS and import it " +
			"(or delete it), then run up again:\n" + strings.Join(problems, "\n"))
	}
	return imports, nil
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

// importID is the id `pulumi import` takes for the types whose id follows from the inputs the
// program gives them (github.com/pulumi/pulumi-aws/sdk/v6@v6.83.4, each type's import section):
// known from the pending create's inputs alone.
func importID(typ string, inputs map[string]any) (string, bool) {
	str := func(key string) string { s, _ := inputs[key].(string); return s }
	join := func(sep string, keys ...string) (string, bool) {
		parts := make([]string, len(keys))
		for i, k := range keys {
			if parts[i] = str(k); parts[i] == "" {
				return "", false
			}
		}
		return strings.Join(parts, sep), true
	}
	switch typ {
	case "aws:eks/cluster:Cluster", "aws:iam/role:Role", "aws:cloudwatch/logGroup:LogGroup",
		"aws:iam/instanceProfile:InstanceProfile", "aws:autoscaling/group:Group":
		return join("", "name")
	case "aws:ec2/route:Route": // ROUTETABLEID_DESTINATION
		return join("_", "routeTableId", "destinationCidrBlock")
	case "aws:ec2/routeTableAssociation:RouteTableAssociation": // subnet-…/rtb-…
		return join("/", "subnetId", "routeTableId")
	case "aws:iam/rolePolicyAttachment:RolePolicyAttachment": // role-name/policy-arn
		return join("/", "role", "policyArn")
	case "aws:iam/rolePolicy:RolePolicy": // role_name:role_policy_name
		return join(":", "role", "name")
	case "aws:eks/accessEntry:AccessEntry": // cluster_name:principal_arn
		return join(":", "clusterName", "principalArn")
	case "aws:eks/accessPolicyAssociation:AccessPolicyAssociation": // cluster_name#principal_arn#policy_arn
		return join("#", "clusterName", "principalArn", "policyArn")
	case addonType: // cluster_name:addon_name
		return join(":", "clusterName", "addonName")
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

// adoptionPlanKind names the adoption plan kept beside the state (statelock.SaveAside).
const adoptionPlanKind = "adoption-plans"

// adoptionStore keeps the imports a recovery still owes durably, from before the pending
// operations are cleared until each import is done: once cleared, the state no longer says
// what the interrupted update may have made, so an import that fails (or is killed) would
// otherwise be forgotten and the next update would create a second NAT gateway. It lives
// beside the state in a file or S3 backend (every machine running the stack finds it), else
// in the project directory.
type adoptionStore struct {
	backendURL, dir, stack string
}

func (a adoptionStore) localFile() string {
	return filepath.Join(a.dir, ".eksirsa", adoptionPlanKind, a.stack+".json")
}

// load returns the imports still owed (none when there is no plan).
func (a adoptionStore) load(ctx context.Context) ([]pendingImport, error) {
	data, err := statelock.LoadAside(ctx, a.backendURL, adoptionPlanKind, stack.ProjectName, a.stack)
	if errors.Is(err, statelock.ErrUnreadable) {
		data, err = os.ReadFile(a.localFile())
		if errors.Is(err, os.ErrNotExist) {
			return nil, nil
		}
	}
	if err != nil || len(data) == 0 {
		return nil, err
	}
	var plan []pendingImport
	if err := json.Unmarshal(data, &plan); err != nil {
		return nil, fmt.Errorf("read the adoption plan of stack %s: %w", a.stack, err)
	}
	return plan, nil
}

// save writes the imports still owed; none drops the plan.
func (a adoptionStore) save(ctx context.Context, plan []pendingImport) error {
	if len(plan) == 0 {
		err := statelock.DropAside(ctx, a.backendURL, adoptionPlanKind, stack.ProjectName, a.stack)
		if errors.Is(err, statelock.ErrUnreadable) {
			if err = os.Remove(a.localFile()); errors.Is(err, os.ErrNotExist) {
				err = nil
			}
		}
		return err
	}
	data, err := json.Marshal(plan)
	if err != nil {
		return err
	}
	err = statelock.SaveAside(ctx, a.backendURL, adoptionPlanKind, stack.ProjectName, a.stack, data)
	if errors.Is(err, statelock.ErrUnreadable) {
		if err = os.MkdirAll(filepath.Dir(a.localFile()), 0o700); err == nil {
			err = os.WriteFile(a.localFile(), data, 0o600)
		}
	}
	if err != nil {
		return fmt.Errorf("save the adoption plan of stack %s: %w", a.stack, err)
	}
	return nil
}

// mergePlans adds to owed the imports of found whose resource it does not hold yet.
func mergePlans(owed, found []pendingImport) []pendingImport {
	have := map[string]bool{}
	for _, imp := range owed {
		have[string(imp.Op.Resource.URN)] = true
	}
	for _, imp := range found {
		if !have[string(imp.Op.Resource.URN)] {
			owed = append(owed, imp)
		}
	}
	return owed
}
