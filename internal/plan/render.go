package plan

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"sigs.k8s.io/yaml"
)

// Formats are the renderings Write accepts.
var Formats = []string{"text", "json", "mermaid", "dot"}

// Write renders p in one of Formats.
func (p *Plan) Write(w io.Writer, format string) error {
	switch format {
	case "text":
		return p.WriteText(w)
	case "json":
		return p.WriteJSON(w)
	case "mermaid":
		return p.WriteMermaid(w)
	case "dot":
		return p.WriteDot(w)
	}
	return fmt.Errorf("format %q, want one of %s", format, strings.Join(Formats, ", "))
}

// WriteJSON writes the plan as indented JSON.
func (p *Plan) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(p)
}

// WriteText writes the plan for a reader: tree, trust policies, aws-auth, aws-node patches,
// outputs and the deploy-time model.
func (p *Plan) WriteText(w io.Writer) error {
	var b bytes.Buffer
	custom := 0
	for _, r := range p.Resources {
		if r.Custom {
			custom++
		}
	}
	fmt.Fprintf(&b, "%s/%s: %d resources (%d components)\n", p.Project, p.Stack, custom, len(p.Resources)-custom)
	if p.Kubernetes != nil {
		fmt.Fprintf(&b, "%s (EKS release calendar checked %s)\n", p.Kubernetes.Summary, p.Kubernetes.CalendarChecked)
	}
	if len(p.Warnings) > 0 {
		section(&b, "Warnings")
		for _, w := range p.Warnings {
			fmt.Fprintf(&b, "  %s\n", w)
		}
	}
	if len(p.Access) > 0 {
		section(&b, "Cluster access")
		for _, a := range p.Access {
			fmt.Fprintf(&b, "  %s\n", a)
		}
	}

	section(&b, "Resources")
	children := p.children()
	var tree func(parent string, depth int)
	tree = func(parent string, depth int) {
		for _, r := range children[parent] {
			fmt.Fprintf(&b, "%s%s  %s\n", strings.Repeat("  ", depth+1), r.Type, r.Name)
			tree(r.URN, depth+1)
		}
	}
	tree("", 0)

	section(&b, "IRSA trust policies")
	for _, tp := range p.TrustPolicies {
		fmt.Fprintf(&b, "  %s\n", tp.RoleName)
		// The document exactly as the role sends it to IAM, each line indented.
		fmt.Fprintf(&b, "    %s\n", strings.ReplaceAll(string(tp.Policy), "\n", "\n    "))
	}

	section(&b, "aws-auth")
	if p.AWSAuth == nil {
		b.WriteString("  (not managed)\n")
	} else if err := writeYAML(&b, p.AWSAuth.Object); err != nil {
		return err
	}

	section(&b, "aws-node patches")
	for i, m := range p.AWSNodePatches {
		if i > 0 {
			b.WriteString("  ---\n")
		}
		if err := writeYAML(&b, m.Object); err != nil {
			return err
		}
	}

	section(&b, "Outputs")
	for _, o := range p.Outputs {
		v, err := json.Marshal(o.Value)
		if err != nil {
			return fmt.Errorf("output %s: %w", o.Name, err)
		}
		text := string(v)
		// Strings (and string types such as pulumi.ID) print bare.
		var s string
		if json.Unmarshal(v, &s) == nil {
			text = s
		}
		fmt.Fprintf(&b, "  %s: %s\n", o.Name, oneLine(text))
	}

	section(&b, "Deploy time")
	var dt bytes.Buffer
	if p.DeployTime.estimate != nil {
		if err := p.DeployTime.estimate.WriteText(&dt); err != nil {
			return err
		}
	}
	for _, line := range strings.SplitAfter(dt.String(), "\n") {
		if line != "" {
			b.WriteString("  " + line)
		}
	}
	_, err := w.Write(b.Bytes())
	return err
}

func section(b *bytes.Buffer, title string) {
	fmt.Fprintf(b, "\n%s\n", title)
}

func writeYAML(b *bytes.Buffer, obj map[string]any) error {
	y, err := yaml.Marshal(obj)
	if err != nil {
		return fmt.Errorf("render YAML: %w", err)
	}
	for _, line := range strings.SplitAfter(string(y), "\n") {
		if line != "" {
			b.WriteString("  " + line)
		}
	}
	return nil
}

// oneLine keeps long values (a kubeconfig) from breaking the list.
func oneLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i] + " …"
	}
	return s
}

// children indexes resources by parent URN ("" for the top), in registration order.
func (p *Plan) children() map[string][]Resource {
	out := map[string][]Resource{}
	for _, r := range p.Resources {
		out[r.Parent] = append(out[r.Parent], r)
	}
	return out
}

// critical returns the URNs on the critical path.
func (p *Plan) critical() map[string]bool {
	out := map[string]bool{}
	for _, s := range p.DeployTime.CriticalPath {
		out[s.URN] = true
	}
	return out
}

// WriteMermaid writes a flowchart: components as nested subgraphs, custom resources as
// nodes, an edge from each dependency to what waits for it, the critical path highlighted.
func (p *Plan) WriteMermaid(w io.Writer) error {
	var b bytes.Buffer
	ids := p.ids()
	critical := p.critical()
	children := p.children()
	b.WriteString("flowchart LR\n")
	b.WriteString("  classDef critical stroke:#d33,stroke-width:3px\n")
	var walk func(parent string, depth int)
	walk = func(parent string, depth int) {
		indent := strings.Repeat("  ", depth+1)
		for _, r := range children[parent] {
			label := mermaidLabel(r.Type + "<br/>" + r.Name)
			if r.Custom {
				fmt.Fprintf(&b, "%s%s[\"%s\"]\n", indent, ids[r.URN], label)
				if critical[r.URN] {
					fmt.Fprintf(&b, "%sclass %s critical\n", indent, ids[r.URN])
				}
				continue
			}
			fmt.Fprintf(&b, "%ssubgraph %s [\"%s\"]\n", indent, ids[r.URN], label)
			walk(r.URN, depth+1)
			fmt.Fprintf(&b, "%send\n", indent)
		}
	}
	walk("", 0)
	for _, e := range p.edges(ids) {
		fmt.Fprintf(&b, "  %s --> %s\n", e[0], e[1])
	}
	_, err := w.Write(b.Bytes())
	return err
}

func mermaidLabel(s string) string {
	return strings.ReplaceAll(s, `"`, "#quot;")
}

// WriteDot writes a Graphviz digraph with components as nested clusters.
func (p *Plan) WriteDot(w io.Writer) error {
	var b bytes.Buffer
	ids := p.ids()
	critical := p.critical()
	children := p.children()
	fmt.Fprintf(&b, "digraph %s {\n  rankdir=LR;\n  node [shape=box, fontsize=10];\n", dotQuote(p.Project+"/"+p.Stack))
	var walk func(parent string, depth int)
	walk = func(parent string, depth int) {
		indent := strings.Repeat("  ", depth+1)
		for _, r := range children[parent] {
			label := dotQuote(r.Type + "\n" + r.Name)
			if r.Custom {
				style := ""
				if critical[r.URN] {
					style = ", color=red, penwidth=2"
				}
				fmt.Fprintf(&b, "%s%s [label=%s%s];\n", indent, ids[r.URN], label, style)
				continue
			}
			fmt.Fprintf(&b, "%ssubgraph cluster_%s {\n%s  label=%s;\n", indent, ids[r.URN], indent, label)
			walk(r.URN, depth+1)
			fmt.Fprintf(&b, "%s}\n", indent)
		}
	}
	walk("", 0)
	for _, e := range p.edges(ids) {
		fmt.Fprintf(&b, "  %s -> %s;\n", e[0], e[1])
	}
	b.WriteString("}\n")
	_, err := w.Write(b.Bytes())
	return err
}

func dotQuote(s string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`).Replace(s) + `"`
}

// ids names each resource r<index> in registration order: stable across runs, valid in
// both Mermaid and DOT.
func (p *Plan) ids() map[string]string {
	ids := make(map[string]string, len(p.Resources))
	for i, r := range p.Resources {
		ids[r.URN] = fmt.Sprintf("r%d", i)
	}
	return ids
}

// edges are dependency → dependent pairs between custom resources; a dependency on a
// component is drawn from each custom resource under it.
func (p *Plan) edges(ids map[string]string) [][2]string {
	children := p.children()
	byURN := map[string]Resource{}
	for _, r := range p.Resources {
		byURN[r.URN] = r
	}
	var leaves func(urn string) []string
	leaves = func(urn string) []string {
		if byURN[urn].Custom {
			return []string{urn}
		}
		var out []string
		for _, c := range children[urn] {
			out = append(out, leaves(c.URN)...)
		}
		return out
	}
	seen := map[[2]string]bool{}
	var out [][2]string
	for _, r := range p.Resources {
		if !r.Custom {
			continue
		}
		for _, dep := range r.DependsOn {
			for _, leaf := range leaves(dep) {
				e := [2]string{ids[leaf], ids[r.URN]}
				if !seen[e] {
					seen[e] = true
					out = append(out, e)
				}
			}
		}
	}
	return out
}
