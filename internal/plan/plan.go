// Package plan owns the offline plan of `eksirsa plan`: it collects a program's stack outputs
// under the mocks and turns a recorded resource graph into the plan (resource tree, IRSA trust
// policies, aws-auth, the aws-node patches, outputs, deploy-time model) rendered as text,
// JSON, Mermaid or DOT.
package plan

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/eks-irsa/eks-irsa/internal/deploytime"
	"github.com/eks-irsa/eks-irsa/internal/graph"
	"github.com/eks-irsa/eks-irsa/irsa"
	"github.com/eks-irsa/eks-irsa/k8s"
	"github.com/eks-irsa/eks-irsa/stack"
)

// What the plan picks out of the graph.
const (
	awsAuthName        = k8s.AWSAuthName
	awsNodeName        = k8s.AWSNodeName
	webIdentityAction  = irsa.AssumeAction
	roleType           = "aws:iam/role:Role"
	configMapType      = "kubernetes:core/v1:ConfigMap"
	kubernetesTypesPfx = "kubernetes:"
)

// Plan is what `eksirsa plan` shows. Its JSON form is stable: fields are added, never renamed
// or removed. Durations are in seconds.
type Plan struct {
	Project string `json:"project"`
	Stack   string `json:"stack"`
	// Resources are every registration in the order the deploy-time model creates them
	// (then by URN).
	Resources []Resource `json:"resources"`
	// CountsByType counts Resources per type token.
	CountsByType map[string]int `json:"countsByType"`
	// TrustPolicies are the assume-role policies of the IRSA roles (web-identity trust).
	TrustPolicies []TrustPolicy `json:"trustPolicies"`
	// AWSAuth is the aws-auth ConfigMap as the program applies it, if it does.
	AWSAuth *Manifest `json:"awsAuth,omitempty"`
	// AWSNodePatches are the patches of the aws-node ServiceAccount and DaemonSet.
	AWSNodePatches []Manifest `json:"awsNodePatches"`
	// Outputs are the stack outputs, secrets blinded, sorted by name.
	Outputs    []Output   `json:"outputs"`
	DeployTime DeployTime `json:"deployTime"`
	// Kubernetes is the cluster version's support status (set by AddConfig).
	Kubernetes *KubernetesVersion `json:"kubernetes,omitempty"`
	// Warnings are what a valid configuration should still be told (set by AddConfig), each
	// "key = value: text".
	Warnings []string `json:"warnings,omitempty"`
	// Access says who gets into the cluster and how (set by AddConfig: the mode, the creator's
	// admin entry, the nodes, each aws-auth mapping and access entry).
	Access []string `json:"access,omitempty"`
}

// Resource is one registration.
type Resource struct {
	URN    string `json:"urn"`
	Type   string `json:"type"`
	Name   string `json:"name"`
	Parent string `json:"parent,omitempty"` // URN of the parent component; empty at the top
	Custom bool   `json:"custom"`
	// DependsOn are the URNs of registrations the resource waits for.
	DependsOn []string `json:"dependsOn,omitempty"`
}

// TrustPolicy is one role's trust policy.
type TrustPolicy struct {
	Resource string          `json:"resource"` // the role's resource name
	RoleName string          `json:"roleName"` // the IAM role name
	Policy   json.RawMessage `json:"policy"`
}

// Manifest is a Kubernetes object as the program sends it.
type Manifest struct {
	Type     string         `json:"type"`
	Resource string         `json:"resource"`
	Object   map[string]any `json:"object"`
}

// Output is one stack output.
type Output struct {
	Name   string `json:"name"`
	Value  any    `json:"value"`
	Secret bool   `json:"secret"`
}

// DeployTime is the deploy-time model (see package deploytime).
type DeployTime struct {
	CriticalSeconds float64     `json:"criticalSeconds"`
	FloorSeconds    float64     `json:"floorSeconds"`
	SerialSeconds   float64     `json:"serialSeconds"`
	Ratio           float64     `json:"ratio"`
	CriticalPath    []PathStep  `json:"criticalPath"`
	Floor           []FloorStep `json:"floor"`

	estimate *deploytime.Estimate
}

// PathStep is one resource on the critical path.
type PathStep struct {
	URN          string  `json:"urn"`
	Type         string  `json:"type"`
	Name         string  `json:"name"`
	StartSeconds float64 `json:"startSeconds"`
	Seconds      float64 `json:"seconds"`
	Source       string  `json:"source"`
}

// FloorStep is one link of the floor.
type FloorStep struct {
	Type    string  `json:"type"`
	Seconds float64 `json:"seconds"`
	Source  string  `json:"source"`
}

// Outputs collects a program's stack outputs as they resolve under the mocks, which record
// registrations but not exports.
type Outputs struct {
	mu   sync.Mutex
	list []Output
	// pending counts outputs not yet resolved: an Apply on an output that no resource
	// produced (a constant, a ToSecret) is not awaited by the run.
	pending sync.WaitGroup
}

// Program returns a program that runs build and exports each output, as the stack's
// Program does, recording each resolved value.
func (o *Outputs) Program(build func(*pulumi.Context) (pulumi.Map, error)) pulumi.RunFunc {
	return func(ctx *pulumi.Context) error {
		outs, err := build(ctx)
		if err != nil {
			return err
		}
		for name, v := range outs {
			ctx.Export(name, v)
			out := pulumi.ToOutput(v)
			o.pending.Add(1)
			out.ApplyT(func(value any) any {
				defer o.pending.Done()
				o.add(Output{Name: name, Value: value, Secret: pulumi.IsSecret(out)})
				return nil
			})
		}
		return nil
	}
}

func (o *Outputs) add(out Output) {
	if out.Secret {
		out.Value = stack.SecretPlaceholder
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	o.list = append(o.list, out)
}

// Wait returns the outputs sorted by name once each has resolved, or ctx's error.
func (o *Outputs) Wait(ctx context.Context) ([]Output, error) {
	done := make(chan struct{})
	go func() {
		o.pending.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-ctx.Done():
		return nil, fmt.Errorf("stack outputs: %w", ctx.Err())
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	out := slices.Clone(o.list)
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// Build makes the plan of a recorded graph.
func Build(project, stack string, regs []graph.Resource, outputs []Output, table *deploytime.Table) (*Plan, error) {
	p := &Plan{
		Project: project, Stack: stack,
		CountsByType:   map[string]int{},
		TrustPolicies:  []TrustPolicy{},
		AWSNodePatches: []Manifest{},
		Outputs:        outputs,
	}
	if p.Outputs == nil {
		p.Outputs = []Output{}
	}
	est, err := table.Analyze(regs)
	if err != nil {
		return nil, err
	}
	// The SDK registers resources concurrently, so registration order varies between runs:
	// list them in the order the model creates them, then by URN.
	regs = slices.SortedFunc(slices.Values(regs), func(a, b graph.Resource) int {
		if c := cmp.Compare(est.Starts[a.URN], est.Starts[b.URN]); c != 0 {
			return c
		}
		return strings.Compare(a.URN, b.URN)
	})
	known := map[string]bool{}
	for _, reg := range regs {
		known[reg.URN] = true
	}
	for _, reg := range regs {
		r := Resource{URN: reg.URN, Type: reg.Type, Name: reg.Name, Custom: reg.Custom}
		if known[reg.Parent] {
			r.Parent = reg.Parent
		}
		for _, dep := range reg.DependsOn {
			if known[dep] {
				r.DependsOn = append(r.DependsOn, dep)
			}
		}
		p.Resources = append(p.Resources, r)
		p.CountsByType[reg.Type]++

		switch {
		case reg.Type == roleType:
			tp, ok, err := trustPolicy(reg)
			if err != nil {
				return nil, err
			}
			if ok {
				p.TrustPolicies = append(p.TrustPolicies, tp)
			}
		case reg.Type == configMapType && objectName(reg) == awsAuthName:
			p.AWSAuth = &Manifest{Type: reg.Type, Resource: reg.Name, Object: reg.Inputs.Mappable()}
		case strings.HasPrefix(reg.Type, kubernetesTypesPfx) && strings.HasSuffix(reg.Type, "Patch") && objectName(reg) == awsNodeName:
			p.AWSNodePatches = append(p.AWSNodePatches, Manifest{Type: reg.Type, Resource: reg.Name, Object: reg.Inputs.Mappable()})
		}
	}

	p.DeployTime = DeployTime{
		CriticalSeconds: est.Critical.Seconds(),
		FloorSeconds:    est.Floor.Seconds(),
		SerialSeconds:   est.Serial.Seconds(),
		Ratio:           est.Ratio,
		CriticalPath:    []PathStep{},
		estimate:        est,
	}
	for _, s := range est.Path {
		p.DeployTime.CriticalPath = append(p.DeployTime.CriticalPath, PathStep{
			URN: s.URN, Type: s.Type, Name: s.Name,
			StartSeconds: s.Start.Seconds(), Seconds: s.Duration.Seconds(), Source: s.Source,
		})
	}
	for _, row := range est.FloorPath {
		p.DeployTime.Floor = append(p.DeployTime.Floor, FloorStep{Type: row.Type, Seconds: row.Duration.Seconds(), Source: row.Source})
	}
	return p, nil
}

// trustPolicy returns a role's trust policy when it admits web identities (IRSA).
func trustPolicy(reg graph.Resource) (TrustPolicy, bool, error) {
	v, ok := reg.Inputs["assumeRolePolicy"]
	if !ok || !v.IsString() || !strings.Contains(v.StringValue(), webIdentityAction) {
		return TrustPolicy{}, false, nil
	}
	doc := v.StringValue()
	if !json.Valid([]byte(doc)) {
		return TrustPolicy{}, false, fmt.Errorf("plan: role %s: trust policy is not JSON: %s", reg.Name, doc)
	}
	tp := TrustPolicy{Resource: reg.Name, RoleName: reg.Name, Policy: json.RawMessage(doc)}
	if n, ok := reg.Inputs["name"]; ok && n.IsString() {
		tp.RoleName = n.StringValue()
	}
	return tp, true, nil
}

// objectName is a Kubernetes resource's metadata.name input.
func objectName(reg graph.Resource) string {
	md, ok := reg.Inputs["metadata"]
	if !ok || !md.IsObject() {
		return ""
	}
	name, ok := md.ObjectValue()[resource.PropertyKey("name")]
	if !ok || !name.IsString() {
		return ""
	}
	return name.StringValue()
}
