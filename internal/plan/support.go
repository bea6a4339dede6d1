package plan

import (
	"time"

	"github.com/eks-irsa/eks-irsa/stack"
)

// KubernetesVersion is the cluster version's place in the EKS release calendar on the day the
// plan was made (stack/eks-kubernetes-versions.csv).
type KubernetesVersion struct {
	Version              string `json:"version"`
	Status               string `json:"status"` // "standard support", "extended support"
	Summary              string `json:"summary"`
	EKSRelease           string `json:"eksRelease"`
	EndOfStandardSupport string `json:"endOfStandardSupport"`
	EndOfExtendedSupport string `json:"endOfExtendedSupport"`
	CalendarChecked      string `json:"calendarChecked"`
}

// AddConfig records what the configuration says beyond the graph: the Kubernetes version's
// support status and the warnings of a valid configuration.
func (p *Plan) AddConfig(c *stack.Config) {
	table := stack.Versions()
	if kv, ok := table.Lookup(c.Cluster.Version); ok {
		now := stack.Now()
		p.Kubernetes = &KubernetesVersion{
			Version:              kv.Version,
			Status:               string(kv.Status(now)),
			Summary:              kv.Describe(now),
			EKSRelease:           kv.Released.Format(time.DateOnly),
			EndOfStandardSupport: kv.EndOfStandard.Format(time.DateOnly),
			EndOfExtendedSupport: kv.EndOfExtended.Format(time.DateOnly),
			CalendarChecked:      table.Checked.Format(time.DateOnly),
		}
	}
	p.Access = c.AccessSummary()
	p.Warnings = nil
	for _, w := range c.Warnings() {
		p.Warnings = append(p.Warnings, w.String())
	}
}
