package recorder

import (
	"slices"
	"strings"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

type component struct{ pulumi.ResourceState }

// a → b (a child of component c) → d: d waits for a through b, and so for c's contents.
// d names b itself, not c: the SDK records a component's children asynchronously, so a
// DependsOn on c may or may not list b (seen flaking here), and the recorder only reports.
func TestDependsOnFollowsInputsOptionsAndComponents(t *testing.T) {
	rec := New("p", "s")
	err := rec.Run(nil, func(ctx *pulumi.Context) error {
		var a, b, d, lone pulumi.CustomResourceState
		if err := ctx.RegisterResource("test:index:A", "a", pulumi.Map{"x": pulumi.String("1")}, &a); err != nil {
			return err
		}
		c := &component{}
		if err := ctx.RegisterComponentResource("test:index:C", "c", c); err != nil {
			return err
		}
		if err := ctx.RegisterResource("test:index:B", "b", pulumi.Map{"fromA": a.ID()}, &b, pulumi.Parent(c)); err != nil {
			return err
		}
		if err := ctx.RegisterResource("test:index:D", "d", pulumi.Map{}, &d, pulumi.DependsOn([]pulumi.Resource{&b})); err != nil {
			return err
		}
		return ctx.RegisterResource("test:index:L", "lone", pulumi.Map{}, &lone, pulumi.DeleteBeforeReplace(true))
	})
	if err != nil {
		t.Fatal(err)
	}
	urn := func(typ, name string) string {
		reg, ok := rec.Get(typ, name)
		if !ok {
			t.Fatalf("no %s %s", typ, name)
		}
		return reg.URN
	}
	a, b, c, d, lone := urn("test:index:A", "a"), urn("test:index:B", "b"), urn("test:index:C", "c"), urn("test:index:D", "d"), urn("test:index:L", "lone")
	cases := []struct {
		from, to string
		want     bool
	}{
		{b, a, true},     // an input from a
		{d, b, true},     // DependsOn
		{d, c, true},     // waiting on a child is waiting on (part of) its component
		{d, a, true},     // transitively
		{a, d, false},    // not backwards
		{lone, a, false}, // unrelated
	}
	for _, tc := range cases {
		if got := rec.DependsOn(tc.from, tc.to); got != tc.want {
			t.Errorf("DependsOn(%s, %s) = %v, want %v", tc.from, tc.to, got, tc.want)
		}
	}
	if reg, _ := rec.ByURN(b); reg.Parent != c {
		t.Errorf("b's parent = %s, want %s", reg.Parent, c)
	}
	if reg, _ := rec.ByURN(lone); !reg.DeleteBeforeReplace {
		t.Error("deleteBeforeReplace not recorded")
	}
	if kids := rec.Children(c); len(kids) != 1 || kids[0].URN != b {
		t.Errorf("children of c = %v", kids)
	}
}

func TestFakesAnswerWithWiredValues(t *testing.T) {
	f := DefaultFakes()
	id, out := f.Resource("aws:iam/role:Role", "logical", resource.NewPropertyMapFromMap(map[string]any{"name": "physical"}))
	if id != "physical" || out["arn"].StringValue() != "arn:aws:iam::123456789012:role/physical" {
		t.Errorf("role id %s arn %v", id, out["arn"])
	}
	_, cluster := f.Resource("aws:eks/cluster:Cluster", "c", resource.PropertyMap{})
	issuer := cluster["identities"].ArrayValue()[0].ObjectValue()["oidcs"].ArrayValue()[0].ObjectValue()["issuer"].StringValue()
	if issuer != f.Issuer() || !strings.HasPrefix(issuer, "https://oidc.eks.us-west-2.amazonaws.com/id/") {
		t.Errorf("issuer %s", issuer)
	}
	chain, err := f.Invoke(GetCertificate, resource.NewPropertyMapFromMap(map[string]any{"url": issuer}))
	if err != nil {
		t.Fatal(err)
	}
	first := chain["certificates"].ArrayValue()[0].ObjectValue()
	if !first["isCa"].BoolValue() || first["sha1Fingerprint"].StringValue() != f.Chain[0].SHA1Fingerprint {
		t.Errorf("the chain does not list the root first: %v", first)
	}
	if _, err := f.Invoke("aws:unknown/thing:get", nil); err == nil {
		t.Error("an unknown invoke was answered")
	}
}

// The graph the plan and the deploy-time model read lists, for each resource, what it waits
// for: its inputs' sources, its DependsOn and its provider (nothing is created before its
// provider is configured).
func TestGraphListsInputsDependsOnAndProvider(t *testing.T) {
	rec := New("p", "s")
	err := rec.Run(nil, func(ctx *pulumi.Context) error {
		var a, b, w pulumi.CustomResourceState
		if err := ctx.RegisterResource("test:index:A", "a", pulumi.Map{}, &a); err != nil {
			return err
		}
		if err := ctx.RegisterResource("test:index:B", "b", pulumi.Map{}, &b); err != nil {
			return err
		}
		p := &pulumi.ProviderResourceState{}
		if err := ctx.RegisterResource("pulumi:providers:test", "p", pulumi.Map{}, p); err != nil {
			return err
		}
		return ctx.RegisterResource("test:index:W", "w", pulumi.Map{"fromA": a.ID()}, &w,
			pulumi.DependsOn([]pulumi.Resource{&b}), pulumi.Provider(p))
	})
	if err != nil {
		t.Fatal(err)
	}
	urns := map[string]string{}
	var w []string
	for _, res := range rec.Graph() {
		urns[res.Name] = res.URN
		if res.Name == "w" {
			w = res.DependsOn
		}
	}
	for _, name := range []string{"a", "b", "p"} {
		if !slices.Contains(w, urns[name]) {
			t.Errorf("w waits for %v, want %s among them", w, urns[name])
		}
	}
}
