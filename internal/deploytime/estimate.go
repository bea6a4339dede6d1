package deploytime

import (
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/eks-irsa/eks-irsa/internal/graph"
)

// Type tokens of the floor: every EKS deploy creates a VPC, then a subnet, then the control
// plane in it, then nodes that join it, one after another, whatever else the program does.
const (
	VPCType          = "aws:ec2/vpc:Vpc"
	SubnetType       = "aws:ec2/subnet:Subnet"
	ControlPlaneType = "aws:eks/cluster:Cluster"
	NodeJoinType     = "aws:autoscaling/group:Group"
)

// FloorTypes returns the floor's chain in order.
func FloorTypes() []string {
	return []string{VPCType, SubnetType, ControlPlaneType, NodeJoinType}
}

// Step is one resource on the critical path.
type Step struct {
	URN      string
	Type     string
	Name     string
	Start    time.Duration // when its last dependency is ready
	Duration time.Duration
	Source   string
}

// Estimate is the deploy-time model of one resource graph.
type Estimate struct {
	// Path is the chain of custom resources that is ready last, each starting when the one
	// before it is ready.
	Path []Step
	// Critical is when the last resource is ready: the wall time of `pulumi up`, since the
	// engine creates every resource as soon as its dependencies are ready.
	Critical time.Duration
	// Serial is the sum of every custom resource's duration: the wall time without parallelism.
	Serial time.Duration
	// FloorPath holds the table rows of FloorTypes, and Floor their sum.
	FloorPath []Row
	Floor     time.Duration
	// Ratio is Critical / Floor; 1 means nothing avoidable waits on the critical path.
	Ratio float64
	// Starts maps every registration's URN to when it starts: the creation order.
	Starts map[string]time.Duration
}

// UnknownTypesError names the registered types the table has no row for, with the names
// of the resources of each type.
type UnknownTypesError struct {
	Types map[string][]string
}

func (e *UnknownTypesError) Error() string {
	var parts []string
	for _, typ := range slices.Sorted(maps.Keys(e.Types)) {
		parts = append(parts, fmt.Sprintf("%s (%s)", typ, strings.Join(e.Types[typ], ", ")))
	}
	return fmt.Sprintf("deploytime: no typical duration for %d resource types, add rows to %s: %s",
		len(parts), DataFile, strings.Join(parts, "; "))
}

// Analyze weighs every registration with its typical duration and finds when each is ready:
// a resource starts when its dependencies (inputs, DependsOn, provider) are ready and when
// its parent could be registered; a component is ready when all its children are. Types the
// table does not know are an error, never zero.
func (t *Table) Analyze(regs []graph.Resource) (*Estimate, error) {
	// The SDK registers resources concurrently; URN order makes ties break the same way on
	// every run.
	regs = slices.SortedFunc(slices.Values(regs), func(a, b graph.Resource) int {
		return strings.Compare(a.URN, b.URN)
	})
	g := &model{
		regs:     make(map[string]graph.Resource, len(regs)),
		children: map[string][]string{},
		rows:     map[string]Row{},
		start:    map[string]timing{},
		finish:   map[string]timing{},
		visiting: map[string]bool{},
	}
	unknown := map[string][]string{}
	var badComponents []string
	for _, reg := range regs {
		g.regs[reg.URN] = reg
		g.children[reg.Parent] = append(g.children[reg.Parent], reg.URN)
		row, ok := t.Lookup(reg)
		if !ok {
			unknown[reg.Type] = append(unknown[reg.Type], reg.Name)
			continue
		}
		if !reg.Custom && row.Duration != 0 {
			badComponents = append(badComponents, fmt.Sprintf("%s %s has %s", reg.Type, reg.Name, row.Duration))
		}
		g.rows[reg.URN] = row
	}
	if len(unknown) > 0 {
		return nil, &UnknownTypesError{Types: unknown}
	}
	if len(badComponents) > 0 {
		return nil, fmt.Errorf("deploytime: components take no time of their own, their children do: %s",
			strings.Join(badComponents, "; "))
	}

	est := &Estimate{Starts: make(map[string]time.Duration, len(regs))}
	var last string
	for _, reg := range regs {
		f, err := g.finishOf(reg.URN)
		if err != nil {
			return nil, err
		}
		est.Starts[reg.URN] = g.start[reg.URN].at
		if !reg.Custom {
			continue
		}
		est.Serial += g.rows[reg.URN].Duration
		if last == "" || f.at > est.Critical {
			est.Critical, last = f.at, reg.URN
		}
	}
	for urn := last; urn != ""; urn = g.start[urn].by {
		reg, row := g.regs[urn], g.rows[urn]
		est.Path = append(est.Path, Step{
			URN: urn, Type: reg.Type, Name: reg.Name,
			Start: g.start[urn].at, Duration: row.Duration, Source: row.Source,
		})
	}
	slices.Reverse(est.Path)

	for _, typ := range FloorTypes() {
		row, ok := t.Lookup(graph.Resource{Type: typ, Custom: true})
		if !ok {
			return nil, fmt.Errorf("deploytime: floor type %s has no row in %s", typ, DataFile)
		}
		est.FloorPath = append(est.FloorPath, row)
		est.Floor += row.Duration
	}
	if est.Floor <= 0 {
		return nil, fmt.Errorf("deploytime: floor is %s, want a positive duration", est.Floor)
	}
	est.Ratio = float64(est.Critical) / float64(est.Floor)
	return est, nil
}

// timing is when something happens and which custom resource, by being ready, decides it
// ("" when nothing does and it happens at the start).
type timing struct {
	at time.Duration
	by string
}

type model struct {
	regs          map[string]graph.Resource
	children      map[string][]string // parent URN → child URNs, in registration order
	rows          map[string]Row
	start, finish map[string]timing
	visiting      map[string]bool
}

// enter guards the recursion: a resource that waits for itself would never be created.
func (g *model) enter(phase, urn string) error {
	key := phase + " " + urn
	if g.visiting[key] {
		return fmt.Errorf("deploytime: dependency cycle through %s", urn)
	}
	g.visiting[key] = true
	return nil
}

func (g *model) startOf(urn string) (timing, error) {
	if t, ok := g.start[urn]; ok {
		return t, nil
	}
	if err := g.enter("start", urn); err != nil {
		return timing{}, err
	}
	reg := g.regs[urn]
	var t timing
	for _, dep := range reg.DependsOn {
		// URNs outside the graph (the root stack, a provider not registered through the
		// mocks) are ready from the start.
		if _, ok := g.regs[dep]; !ok {
			continue
		}
		f, err := g.finishOf(dep)
		if err != nil {
			return timing{}, err
		}
		if f.at > t.at {
			t = f
		}
	}
	// A child is registered once its parent's URN is known, after the parent's own
	// dependencies are ready.
	if _, ok := g.regs[reg.Parent]; ok {
		s, err := g.startOf(reg.Parent)
		if err != nil {
			return timing{}, err
		}
		if s.at > t.at {
			t = s
		}
	}
	g.start[urn] = t
	return t, nil
}

func (g *model) finishOf(urn string) (timing, error) {
	if t, ok := g.finish[urn]; ok {
		return t, nil
	}
	if err := g.enter("ready", urn); err != nil {
		return timing{}, err
	}
	s, err := g.startOf(urn)
	if err != nil {
		return timing{}, err
	}
	t := s
	if g.regs[urn].Custom {
		t = timing{at: s.at + g.rows[urn].Duration, by: urn}
	} else {
		for _, child := range g.children[urn] {
			f, err := g.finishOf(child)
			if err != nil {
				return timing{}, err
			}
			if f.at > t.at {
				t = f
			}
		}
	}
	g.finish[urn] = t
	return t, nil
}

// WriteText prints the summary, the floor and the critical path.
func (e *Estimate) WriteText(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "critical path %s, floor %s, ratio %.3f, serial sum %s\n",
		minutes(e.Critical), minutes(e.Floor), e.Ratio, minutes(e.Serial))
	var floor []string
	for _, row := range e.FloorPath {
		floor = append(floor, fmt.Sprintf("%s %s", row.Type, row.Duration))
	}
	fmt.Fprintf(tw, "floor: %s\n", strings.Join(floor, " → "))
	fmt.Fprintf(tw, "start\ttakes\t  resource\n")
	for _, s := range e.Path {
		fmt.Fprintf(tw, "%s\t%s\t  %s %s\n", s.Start, s.Duration, s.Type, s.Name)
	}
	return tw.Flush()
}

func minutes(d time.Duration) string {
	return fmt.Sprintf("%.1f min", d.Minutes())
}
