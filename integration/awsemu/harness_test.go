package awsemu

import (
	"slices"
	gostrings "strings"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource/plugin"
	"github.com/pulumi/pulumi/sdk/v3/go/common/tokens"

	"github.com/eks-irsa/eks-irsa/integration/moto"
)

// harness drives a configured Provider the way the engine does for each resource: Check,
// then Create, or Check + Diff + Update; Read for refresh; Delete.
type harness struct {
	t   *testing.T
	p   *Provider
	c   *Clients
	srv *moto.Server
}

// live is one resource as the engine's state holds it.
type live struct {
	token, name     string
	id              resource.ID
	inputs, outputs resource.PropertyMap
}

// startMoto starts a moto server for the test and points the test's environment at it (the
// endpoint, keys and region the plugin reads), as the emulated tier's tests do for the engine.
func startMoto(t *testing.T) *moto.Server {
	t.Helper()
	srv := moto.Start(t)
	for _, kv := range srv.Env() {
		k, v, _ := gostrings.Cut(kv, "=")
		t.Setenv(k, v)
	}
	return srv
}

func newHarness(t *testing.T) *harness {
	t.Helper()
	srv := startMoto(t)
	p, err := NewProvider()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Configure(t.Context(), plugin.ConfigureRequest{Inputs: pm(map[string]any{"region": srv.Region})}); err != nil {
		t.Fatal(err)
	}
	c, err := p.client()
	if err != nil {
		t.Fatal(err)
	}
	return &harness{t: t, p: p, c: c, srv: srv}
}

func urn(token, name string) resource.URN {
	return resource.NewURN("test", "awsemu", "", tokens.Type(token), name)
}

func (h *harness) check(token, name string, olds resource.PropertyMap, in map[string]any) (resource.PropertyMap, error) {
	h.t.Helper()
	resp, err := h.p.Check(h.t.Context(), plugin.CheckRequest{
		URN: urn(token, name), Name: name, Type: tokens.Type(token), Olds: olds, News: pm(in), RandomSeed: []byte(name),
	})
	if err != nil {
		return nil, err
	}
	if len(resp.Failures) > 0 {
		return nil, &checkError{resp.Failures}
	}
	return resp.Properties, nil
}

type checkError struct{ failures []plugin.CheckFailure }

func (e *checkError) Error() string {
	var b gostrings.Builder
	for _, f := range e.failures {
		b.WriteString(string(f.Property) + ": " + f.Reason + "; ")
	}
	return b.String()
}

// tryCreate is Check + Create; the error is the caller's to judge.
func (h *harness) tryCreate(token, name string, in map[string]any) (*live, error) {
	h.t.Helper()
	inputs, err := h.check(token, name, nil, in)
	if err != nil {
		return nil, err
	}
	resp, err := h.p.Create(h.t.Context(), plugin.CreateRequest{URN: urn(token, name), Name: name, Type: tokens.Type(token), Properties: inputs})
	if err != nil {
		return nil, err
	}
	if resp.ID == "" {
		h.t.Fatalf("%s %s: created without an id", token, name)
	}
	return &live{token: token, name: name, id: resp.ID, inputs: inputs, outputs: resp.Properties}, nil
}

func (h *harness) create(token, name string, in map[string]any) *live {
	h.t.Helper()
	r, err := h.tryCreate(token, name, in)
	if err != nil {
		h.t.Fatalf("create %s %s: %v", token, name, err)
	}
	// The next `up` with the same program must show no change.
	h.expectDiff(r, in, plugin.DiffNone, nil)
	return r
}

// expectDiff checks the program's inputs against r's state and wants changes with exactly
// the replace keys given.
func (h *harness) expectDiff(r *live, in map[string]any, changes plugin.DiffChanges, replaces []string) resource.PropertyMap {
	h.t.Helper()
	news, err := h.check(r.token, r.name, r.inputs, in)
	if err != nil {
		h.t.Fatalf("check %s: %v", r.name, err)
	}
	d, err := h.p.Diff(h.t.Context(), plugin.DiffRequest{URN: urn(r.token, r.name), Name: r.name, Type: tokens.Type(r.token),
		ID: r.id, OldInputs: r.inputs, OldOutputs: r.outputs, NewInputs: news})
	if err != nil {
		h.t.Fatalf("diff %s: %v", r.name, err)
	}
	var got []string
	for _, k := range d.ReplaceKeys {
		got = append(got, string(k))
	}
	slices.Sort(got)
	slices.Sort(replaces)
	if d.Changes != changes || !slices.Equal(got, replaces) {
		h.t.Fatalf("diff %s: changes %v replaces %v (detailed %v), want %v replaces %v", r.name, d.Changes, got, d.DetailedDiff, changes, replaces)
	}
	return news
}

// update is a second `up` with changed in-place inputs: the diff must be an update.
func (h *harness) update(r *live, in map[string]any) {
	h.t.Helper()
	news := h.expectDiff(r, in, plugin.DiffSome, nil)
	resp, err := h.p.Update(h.t.Context(), plugin.UpdateRequest{URN: urn(r.token, r.name), Name: r.name, Type: tokens.Type(r.token),
		ID: r.id, OldInputs: r.inputs, OldOutputs: r.outputs, NewInputs: news})
	if err != nil {
		h.t.Fatalf("update %s: %v", r.name, err)
	}
	r.inputs, r.outputs = news, resp.Properties
	h.expectDiff(r, in, plugin.DiffNone, nil)
}

// refresh is Read: the live outputs, and the state's inputs as refreshed.
func (h *harness) refresh(r *live) (plugin.ReadResponse, error) {
	h.t.Helper()
	return h.p.Read(h.t.Context(), plugin.ReadRequest{URN: urn(r.token, r.name), Name: r.name, Type: tokens.Type(r.token),
		ID: r.id, Inputs: r.inputs, State: r.outputs})
}

func (h *harness) tryDelete(r *live) error {
	h.t.Helper()
	_, err := h.p.Delete(h.t.Context(), plugin.DeleteRequest{URN: urn(r.token, r.name), Name: r.name, Type: tokens.Type(r.token),
		ID: r.id, Inputs: r.inputs, Outputs: r.outputs})
	return err
}

// delete removes r and checks that a refresh then finds it gone.
func (h *harness) delete(r *live) {
	h.t.Helper()
	if err := h.tryDelete(r); err != nil {
		h.t.Fatalf("delete %s %s: %v", r.token, r.name, err)
	}
	resp, err := h.refresh(r)
	if err != nil {
		h.t.Fatalf("read %s after delete: %v", r.name, err)
	}
	if resp.ID != "" {
		h.t.Fatalf("%s %s still there after delete: %v", r.token, r.name, resp.Outputs)
	}
	// Deleting what is gone is not an error (a retried destroy).
	if err := h.tryDelete(r); err != nil {
		h.t.Fatalf("second delete of %s: %v", r.name, err)
	}
}

func str(r *live, k string) string {
	if v := r.outputs[resource.PropertyKey(k)]; v.IsString() {
		return v.StringValue()
	}
	return ""
}

// leftovers is what moto still holds after a destroy (moto.Server.Leftovers).
func leftovers(t *testing.T, srv *moto.Server) []string {
	t.Helper()
	left, err := srv.Leftovers(t.Context())
	if err != nil {
		t.Fatalf("audit: %v", err)
	}
	return left
}
