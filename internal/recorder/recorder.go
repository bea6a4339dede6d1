// Package recorder runs a Pulumi program in-process under the SDK's mocks and keeps a
// record of every registration and invoke, so tests and the offline `plan` can inspect the
// resource graph (types, names, inputs, parents, providers, dependencies) without a cloud
// account, an engine or a language host.
package recorder

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/common/tokens"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/eks-irsa/eks-irsa/internal/graph"
)

// Registration is one RegisterResource call as the engine would have seen it.
type Registration struct {
	Type     string
	Name     string
	URN      string
	Parent   string // URN; the root stack for top-level resources
	Provider string // provider reference "urn::id"; empty for components and default providers
	Custom   bool
	Inputs   resource.PropertyMap
	// Dependencies are the URNs the SDK told the engine to wait for: explicit DependsOn
	// (components expanded to their children) and the sources of every input Output.
	Dependencies []string
	// PropertyDependencies maps each input property to the URNs its value came from.
	PropertyDependencies map[string][]string
	RetainOnDelete       bool
	Protect              bool
	DeleteBeforeReplace  bool
	// IgnoreChanges are the input properties the engine keeps at their value in the state
	// (pulumi.IgnoreChanges), so a later update never changes them.
	IgnoreChanges []string
	// DeletedWith is the URN of the resource whose deletion deletes this one (pulumi.DeletedWith).
	DeletedWith string
	// ReplacementTrigger is the value whose change replaces the resource
	// (pulumi.ReplacementTrigger), when it is a string.
	ReplacementTrigger string
	// AliasNames are the names of the resource's aliases (pulumi.Aliases): an alias spec's
	// name, or an alias URN's last part.
	AliasNames []string
	Outputs    resource.PropertyMap
}

// Invoke is one data-source call.
type Invoke struct {
	Token string
	Args  resource.PropertyMap
}

// InvokeFunc answers an invoke under the mocks.
type InvokeFunc func(args resource.PropertyMap) (resource.PropertyMap, error)

// Recorder implements pulumi.MockResourceMonitor. Outputs of resources and invokes come from
// Fakes (realistic ARNs, ids, endpoints), overridable per token with OnInvoke.
type Recorder struct {
	project, stack string
	fakes          *Fakes

	mu            sync.Mutex
	registrations []Registration
	invokes       []Invoke
	onInvoke      map[string]InvokeFunc
}

// New returns an empty recorder for the given project and stack names.
func New(project, stack string) *Recorder {
	return &Recorder{project: project, stack: stack, fakes: DefaultFakes(), onInvoke: map[string]InvokeFunc{}}
}

// Fakes returns the fake cloud the recorder answers from, for tests to adjust.
func (r *Recorder) Fakes() *Fakes { return r.fakes }

// OnInvoke replaces the answer for one invoke token.
func (r *Recorder) OnInvoke(token string, fn InvokeFunc) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.onInvoke[token] = fn
}

// Run runs fn as the program of r's project and stack with the given configuration
// (fully qualified keys such as "aws:region" or "eks-irsa:clusterVersion").
func (r *Recorder) Run(config map[string]string, fn pulumi.RunFunc) error {
	ctx, err := pulumi.NewContext(context.Background(), pulumi.RunInfo{
		Project: r.project,
		Stack:   r.stack,
		Config:  config,
		Mocks:   r,
	})
	if err != nil {
		return fmt.Errorf("mock context: %w", err)
	}
	return pulumi.RunWithContext(ctx, fn)
}

// NewResource records a registration and answers with fake outputs.
func (r *Recorder) NewResource(args pulumi.MockResourceArgs) (string, resource.PropertyMap, error) {
	reg := Registration{
		Type:     args.TypeToken,
		Name:     args.Name,
		Provider: args.Provider,
		Custom:   args.Custom,
		Inputs:   args.Inputs,
	}
	if rpc := args.RegisterRPC; rpc != nil {
		reg.Parent = rpc.GetParent()
		reg.Dependencies = dedupe(rpc.GetDependencies())
		reg.RetainOnDelete = rpc.GetRetainOnDelete()
		reg.Protect = rpc.GetProtect()
		reg.DeleteBeforeReplace = rpc.GetDeleteBeforeReplace()
		reg.IgnoreChanges = slices.Clone(rpc.GetIgnoreChanges())
		reg.DeletedWith = rpc.GetDeletedWith()
		reg.ReplacementTrigger = rpc.GetReplacementTrigger().GetStringValue()
		for _, a := range rpc.GetAliases() {
			if spec := a.GetSpec(); spec != nil {
				reg.AliasNames = append(reg.AliasNames, spec.GetName())
			} else {
				reg.AliasNames = append(reg.AliasNames, resource.URN(a.GetUrn()).Name())
			}
		}
		if pd := rpc.GetPropertyDependencies(); len(pd) > 0 {
			reg.PropertyDependencies = make(map[string][]string, len(pd))
			for k, v := range pd {
				reg.PropertyDependencies[k] = dedupe(v.GetUrns())
			}
		}
	}
	reg.URN = r.urn(reg.Parent, reg.Type, reg.Name)

	id, outputs := "", args.Inputs.Copy()
	if args.Custom {
		id, outputs = r.fakes.Resource(reg.Type, reg.Name, args.Inputs)
	}
	reg.Outputs = outputs

	r.mu.Lock()
	r.registrations = append(r.registrations, reg)
	r.mu.Unlock()
	return id, outputs, nil
}

// Call records an invoke and answers it from OnInvoke or the fakes.
func (r *Recorder) Call(args pulumi.MockCallArgs) (resource.PropertyMap, error) {
	r.mu.Lock()
	r.invokes = append(r.invokes, Invoke{Token: args.Token, Args: args.Args})
	fn, ok := r.onInvoke[args.Token]
	r.mu.Unlock()
	if ok {
		return fn(args.Args)
	}
	return r.fakes.Invoke(args.Token, args.Args)
}

// urn computes the URN the mock monitor gives a resource, so parents and dependencies
// recorded as URNs can be matched to registrations.
func (r *Recorder) urn(parent, typ, name string) string {
	parentType := tokens.Type("")
	if p := resource.URN(parent); p != "" && p.QualifiedType() != resource.RootStackType {
		parentType = p.QualifiedType()
	}
	return string(resource.NewURN(tokens.QName(r.stack), tokens.PackageName(r.project), parentType,
		tokens.Type(typ), name))
}

// Registrations returns every registration in the order the program made them.
func (r *Recorder) Registrations() []Registration {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.registrations)
}

// Invokes returns every invoke in the order the program made them.
func (r *Recorder) Invokes() []Invoke {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.invokes)
}

// ByType returns the registrations of one type token, in registration order.
func (r *Recorder) ByType(typ string) []Registration {
	var out []Registration
	for _, reg := range r.Registrations() {
		if reg.Type == typ {
			out = append(out, reg)
		}
	}
	return out
}

// Get returns the registration with the given type and name.
func (r *Recorder) Get(typ, name string) (Registration, bool) {
	for _, reg := range r.Registrations() {
		if reg.Type == typ && reg.Name == name {
			return reg, true
		}
	}
	return Registration{}, false
}

// ByURN returns the registration with the given URN.
func (r *Recorder) ByURN(urn string) (Registration, bool) {
	for _, reg := range r.Registrations() {
		if reg.URN == urn {
			return reg, true
		}
	}
	return Registration{}, false
}

// Children returns the registrations whose parent is urn.
func (r *Recorder) Children(urn string) []Registration {
	var out []Registration
	for _, reg := range r.Registrations() {
		if reg.Parent == urn {
			out = append(out, reg)
		}
	}
	return out
}

// CountByType returns how many resources of each type were registered.
func (r *Recorder) CountByType() map[string]int {
	out := map[string]int{}
	for _, reg := range r.Registrations() {
		out[reg.Type]++
	}
	return out
}

// DirectDeps returns the URNs a registration waits for: its dependencies and property
// dependencies. Provider references count too: a resource cannot be created before its
// provider is configured.
func (reg Registration) DirectDeps() []string {
	deps := slices.Clone(reg.Dependencies)
	for _, urns := range reg.PropertyDependencies {
		deps = append(deps, urns...)
	}
	if p := providerURN(reg.Provider); p != "" {
		deps = append(deps, p)
	}
	return dedupe(deps)
}

// DependsOn reports whether the resource with URN from waits, directly or transitively, for
// the resource with URN to. Waiting on a component means waiting on every resource under it.
func (r *Recorder) DependsOn(from, to string) bool {
	regs := r.Registrations()
	byURN := make(map[string]Registration, len(regs))
	for _, reg := range regs {
		byURN[reg.URN] = reg
	}
	targets := map[string]bool{to: true}
	for changed := true; changed; {
		changed = false
		for _, reg := range regs {
			if !targets[reg.URN] && targets[reg.Parent] {
				targets[reg.URN], changed = true, true
			}
		}
	}
	seen := map[string]bool{}
	var visit func(urn string) bool
	visit = func(urn string) bool {
		if seen[urn] {
			return false
		}
		seen[urn] = true
		for _, dep := range byURN[urn].DirectDeps() {
			if targets[dep] || visit(dep) {
				return true
			}
		}
		return false
	}
	return visit(from)
}

// Graph returns the registrations as the plan and the deploy-time model read them, in
// registration order.
func (r *Recorder) Graph() []graph.Resource {
	regs := r.Registrations()
	out := make([]graph.Resource, 0, len(regs))
	for _, reg := range regs {
		out = append(out, graph.Resource{
			URN: reg.URN, Type: reg.Type, Name: reg.Name, Parent: reg.Parent, Custom: reg.Custom,
			Inputs: reg.Inputs, DependsOn: reg.DirectDeps(),
		})
	}
	return out
}

// Types returns the registered type tokens, sorted.
func (r *Recorder) Types() []string {
	var out []string
	for typ := range r.CountByType() {
		out = append(out, typ)
	}
	sort.Strings(out)
	return out
}

func providerURN(ref string) string {
	if i := strings.LastIndex(ref, "::"); i > 0 {
		return ref[:i]
	}
	return ""
}

func dedupe(in []string) []string {
	if len(in) == 0 {
		return nil
	}
	out := slices.Clone(in)
	sort.Strings(out)
	return slices.Compact(out)
}
