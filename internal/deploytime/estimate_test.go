package deploytime

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/eks-irsa/eks-irsa/internal/graph"
)

// graphBuilder hand-builds a resource graph the way the recorder adapts it.
type graphBuilder struct {
	regs []graph.Resource
}

func (b *graphBuilder) add(custom bool, typ, name, parent string, deps ...string) string {
	urn := "urn:pulumi:test::eks-irsa::" + typ + "::" + name
	b.regs = append(b.regs, graph.Resource{
		Type: typ, Name: name, URN: urn, Parent: parent, Custom: custom, DependsOn: deps,
	})
	return urn
}

// res adds a custom resource that waits for deps.
func (b *graphBuilder) res(typ, name string, deps ...string) string {
	return b.add(true, typ, name, "", deps...)
}

func (b *graphBuilder) last() *graph.Resource { return &b.regs[len(b.regs)-1] }

// network adds the floor's VPC and subnet, a NAT gateway and the cluster's role; it returns
// the subnet, the NAT gateway and the role.
func (b *graphBuilder) network() (subnet, nat, role string) {
	vpc := b.res("aws:ec2/vpc:Vpc", "vpc")
	subnet = b.res("aws:ec2/subnet:Subnet", "private-a", vpc)
	public := b.res("aws:ec2/subnet:Subnet", "public-a", vpc)
	eip := b.res("aws:ec2/eip:Eip", "nat-a")
	nat = b.res("aws:ec2/natGateway:NatGateway", "nat-a", public, eip)
	role = b.res("aws:iam/role:Role", "cluster-role")
	return subnet, nat, role
}

func stepNames(path []Step) []string {
	var out []string
	for _, s := range path {
		out = append(out, s.Name)
	}
	return out
}

func TestAnalyze(t *testing.T) {
	const floor = 760 * time.Second // VPC 5 + subnet 5 + control plane 600 + node join 150
	tests := []struct {
		name     string
		build    func(b *graphBuilder)
		wantPath []string
		want     time.Duration
	}{
		{
			name: "cluster in parallel with NAT: the floor",
			build: func(b *graphBuilder) {
				subnet, nat, role := b.network()
				cluster := b.res(ControlPlaneType, "cluster", subnet, role)
				route := b.res("aws:ec2/route:Route", "private-default", nat)
				b.res(NodeJoinType, "workers", cluster, route)
			},
			wantPath: []string{"vpc", "private-a", "cluster", "workers"},
			want:     floor,
		},
		{
			name: "cluster waiting for NAT: an avoidable wait",
			build: func(b *graphBuilder) {
				subnet, nat, role := b.network()
				cluster := b.res(ControlPlaneType, "cluster", subnet, role, nat)
				b.res(NodeJoinType, "workers", cluster)
			},
			wantPath: []string{"vpc", "public-a", "nat-a", "cluster", "workers"},
			want:     floor + 90*time.Second,
		},
		{
			name: "workers wait for a component: all its children",
			build: func(b *graphBuilder) {
				subnet, _, role := b.network()
				cluster := b.res(ControlPlaneType, "cluster", subnet, role)
				k8s := b.add(false, "eksirsa:k8s:AwsNode", "aws-node", "")
				provider := b.res("pulumi:providers:kubernetes", "k8s", cluster)
				b.res("kubernetes:core/v1:ServiceAccountPatch", "aws-node-sa", provider)
				b.last().Parent = k8s
				b.res("kubernetes:apps/v1:DaemonSetPatch", "aws-node-restart", provider)
				b.last().Parent = k8s
				b.res(NodeJoinType, "workers", cluster, k8s)
			},
			wantPath: []string{"vpc", "private-a", "cluster", "k8s", "aws-node-restart", "workers"},
			want:     floor + 10*time.Second,
		},
		{
			name: "a child starts after its parent's dependencies",
			build: func(b *graphBuilder) {
				subnet, _, role := b.network()
				cluster := b.res(ControlPlaneType, "cluster", subnet, role)
				irsa := b.add(false, "eksirsa:infra:IRSARole", "aws-node", "", cluster)
				b.res("aws:iam/role:Role", "aws-node-role")
				b.last().Parent = irsa
				b.res(NodeJoinType, "workers", irsa)
			},
			wantPath: []string{"vpc", "private-a", "cluster", "aws-node-role", "workers"},
			want:     floor + 3*time.Second,
		},
		{
			name: "a resource waits for its provider",
			build: func(b *graphBuilder) {
				subnet, _, role := b.network()
				cluster := b.res(ControlPlaneType, "cluster", subnet, role)
				provider := b.res("pulumi:providers:kubernetes", "k8s", cluster)
				b.res("kubernetes:core/v1:ConfigMap", "aws-auth")
				b.last().DependsOn = []string{provider} // the recorder lists a provider among the dependencies
				b.res(NodeJoinType, "workers", b.last().URN)
			},
			wantPath: []string{"vpc", "private-a", "cluster", "k8s", "aws-auth", "workers"},
			want:     floor + 2*time.Second,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := &graphBuilder{}
			tc.build(b)
			est, err := Default().Analyze(b.regs)
			if err != nil {
				t.Fatalf("Analyze: %v", err)
			}
			if got := stepNames(est.Path); !slices.Equal(got, tc.wantPath) {
				t.Errorf("critical path %q, want %q", got, tc.wantPath)
			}
			if est.Critical != tc.want {
				t.Errorf("critical %s, want %s", est.Critical, tc.want)
			}
			if est.Floor != floor {
				t.Errorf("floor %s, want %s", est.Floor, floor)
			}
			if want := float64(tc.want) / float64(floor); est.Ratio != want {
				t.Errorf("ratio %.4f, want %.4f", est.Ratio, want)
			}
			var serial time.Duration
			for _, reg := range b.regs {
				if row, _ := Default().Lookup(reg); reg.Custom {
					serial += row.Duration
				}
			}
			if est.Serial != serial {
				t.Errorf("serial %s, want %s", est.Serial, serial)
			}
			if len(est.Starts) != len(b.regs) {
				t.Errorf("%d starts for %d registrations", len(est.Starts), len(b.regs))
			}
			for _, s := range est.Path {
				if est.Starts[s.URN] != s.Start {
					t.Errorf("Starts[%s] = %s, path says %s", s.Name, est.Starts[s.URN], s.Start)
				}
			}
			for i, s := range est.Path[1:] {
				if prev := est.Path[i]; s.Start != prev.Start+prev.Duration {
					t.Errorf("step %s starts at %s, want when %s is ready (%s)", s.Name, s.Start, prev.Name, prev.Start+prev.Duration)
				}
			}
		})
	}
}

func TestAnalyzeReportsUnknownTypes(t *testing.T) {
	b := &graphBuilder{}
	b.network()
	b.res("aws:rds/instance:Instance", "db")
	b.res("aws:rds/instance:Instance", "replica")
	b.add(false, "acme:infra:Thing", "thing", "")

	_, err := Default().Analyze(b.regs)
	var unknown *UnknownTypesError
	if !errors.As(err, &unknown) {
		t.Fatalf("Analyze = %v, want *UnknownTypesError", err)
	}
	want := "no typical duration for 2 resource types, add rows to internal/deploytime/durations.csv: " +
		"acme:infra:Thing (thing); aws:rds/instance:Instance (db, replica)"
	if !strings.Contains(err.Error(), want) {
		t.Errorf("error %q\nwant it to contain %q", err, want)
	}
}

func TestAnalyzeRejectsCycles(t *testing.T) {
	b := &graphBuilder{}
	parent := b.add(false, "eksirsa:k8s:AwsNode", "aws-node", "")
	b.res("kubernetes:core/v1:ServiceAccountPatch", "aws-node-sa", parent)
	b.last().Parent = parent
	if _, err := Default().Analyze(b.regs); err == nil || !strings.Contains(err.Error(), "dependency cycle through") {
		t.Fatalf("Analyze of a child waiting for its own parent = %v, want a cycle error", err)
	}
}

func TestAnalyzeRejectsTimedComponents(t *testing.T) {
	table, err := Parse(strings.NewReader("type,when,seconds,source\n" +
		"acme:*,,30,wrong\naws:ec2/vpc:Vpc,,5,s\naws:ec2/subnet:Subnet,,5,s\naws:eks/cluster:Cluster,,600,s\naws:autoscaling/group:Group,,150,s\n"))
	if err != nil {
		t.Fatal(err)
	}
	b := &graphBuilder{}
	b.add(false, "acme:infra:Thing", "thing", "")
	if _, err := table.Analyze(b.regs); err == nil || !strings.Contains(err.Error(), "components take no time of their own") {
		t.Fatalf("Analyze = %v, want an error about the component's duration", err)
	}
}

func TestWriteText(t *testing.T) {
	b := &graphBuilder{}
	subnet, _, role := b.network()
	cluster := b.res(ControlPlaneType, "cluster", subnet, role)
	b.res(NodeJoinType, "workers", cluster)
	est, err := Default().Analyze(b.regs)
	if err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	if err := est.WriteText(&out); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"critical path 12.7 min, floor 12.7 min, ratio 1.000, serial sum 14.3 min\n",
		"floor: aws:ec2/vpc:Vpc 5s → aws:ec2/subnet:Subnet 5s → aws:eks/cluster:Cluster 10m0s → aws:autoscaling/group:Group 2m30s\n",
		"10s  10m0s  aws:eks/cluster:Cluster cluster\n",
		"10m10s  2m30s  aws:autoscaling/group:Group workers\n",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output\n%s\nwant it to contain %q", out.String(), want)
		}
	}
}
