package awsemu

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net"
	"net/url"
	"os"
	"slices"
	"sync"

	"github.com/blang/semver"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource/plugin"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/eks-irsa/eks-irsa/awsaccess"
)

// Version is the pulumi-aws version this plugin stands in for: the one the program's SDK
// (github.com/pulumi/pulumi-aws/sdk/v6 v6.83.4) asks the engine to load.
const Version = "6.83.4"

// EndpointEnv names the AWS endpoint the plugin sends every call to. It must be loopback:
// this plugin exists for tests and must never reach real AWS.
//
// Not AWS_ENDPOINT_URL: that would also point every other AWS client in the same environment
// at the emulator, among them the aws CLI that the program's kubeconfig runs, whose
// `eks get-token` must presign for the real STS host as it does on a real machine.
const EndpointEnv = "EKSIRSA_EMU_AWS_ENDPOINT"

// defaultsKey is where the real provider records which inputs Check defaulted.
const defaultsKey = resource.PropertyKey("__defaults")

// Provider serves the registered Kinds and the program's invokes to the Pulumi engine.
type Provider struct {
	plugin.UnimplementedProvider

	mu      sync.Mutex
	clients *Clients
	delays  *delays // EKSIRSA_EMU_DELAYS, nil when unset
}

// NewProvider returns an unconfigured provider; the engine calls Configure first.
func NewProvider() (*Provider, error) {
	d, err := delaysFromEnv()
	if err != nil {
		return nil, err
	}
	return &Provider{delays: d}, nil
}

// NewServer is the gRPC server the plugin binary serves.
func NewServer() (pulumirpc.ResourceProviderServer, error) {
	p, err := NewProvider()
	if err != nil {
		return nil, err
	}
	return plugin.NewProviderServer(p), nil
}

func (p *Provider) GetPluginInfo(context.Context) (plugin.PluginInfo, error) {
	v := semver.MustParse(Version)
	return plugin.PluginInfo{Version: &v}, nil
}

func (p *Provider) Close() error                             { return nil }
func (p *Provider) SignalCancellation(context.Context) error { return nil }
func (p *Provider) GetMapping(context.Context, plugin.GetMappingRequest) (plugin.GetMappingResponse, error) {
	return plugin.GetMappingResponse{}, nil
}

func (p *Provider) GetMappings(context.Context, plugin.GetMappingsRequest) (plugin.GetMappingsResponse, error) {
	return plugin.GetMappingsResponse{}, nil
}

func (p *Provider) CheckConfig(_ context.Context, req plugin.CheckConfigRequest) (plugin.CheckConfigResponse, error) {
	return plugin.CheckConfigResponse{Properties: req.News}, nil
}

// DiffConfig reports changed provider settings as updates: nothing here replaces resources.
func (p *Provider) DiffConfig(_ context.Context, req plugin.DiffConfigRequest) (plugin.DiffConfigResponse, error) {
	d := req.OldInputs.Diff(req.NewInputs)
	if d == nil {
		return plugin.DiffResult{Changes: plugin.DiffNone}, nil
	}
	return plugin.DiffResult{Changes: plugin.DiffSome, ChangedKeys: d.ChangedKeys()}, nil
}

// Configure reads the region from the provider's "region" input (aws:region), falling back to
// AWS_REGION as the real provider does, the role to assume from "assumeRole"
// (aws:assumeRole, read by awsaccess as eksirsa reads it), and the endpoint from EndpointEnv.
func (p *Provider) Configure(ctx context.Context, req plugin.ConfigureRequest) (plugin.ConfigureResponse, error) {
	in := plain(req.Inputs)
	role, err := assumeRole(in)
	if err != nil {
		return plugin.ConfigureResponse{}, fmt.Errorf("aws emulator: %w", err)
	}
	region := getStr(in, "region")
	if region == "" {
		region = os.Getenv("AWS_REGION")
	}
	if region == "" {
		region = os.Getenv("AWS_DEFAULT_REGION")
	}
	if region == "" {
		return plugin.ConfigureResponse{}, errors.New("aws emulator: no region: set aws:region in the stack config (or AWS_REGION)")
	}
	endpoint := os.Getenv(EndpointEnv)
	if err := checkLoopback(endpoint); err != nil {
		return plugin.ConfigureResponse{}, err
	}
	c, err := NewClients(ctx, endpoint, region, role)
	if err != nil {
		return plugin.ConfigureResponse{}, fmt.Errorf("aws emulator: clients for %s: %w", endpoint, err)
	}
	p.mu.Lock()
	p.clients = c
	p.mu.Unlock()
	return plugin.ConfigureResponse{}, nil
}

// assumeRole is the provider's "assumeRole" input, nil when unset. The engine hands a
// default provider aws:assumeRole as the JSON text of the stack's object (its config
// values are strings); an explicit provider's input is an object.
func assumeRole(inputs resource.PropertyMap) (*awsaccess.AssumeRole, error) {
	v, ok := inputs["assumeRole"]
	if !ok || v.IsNull() {
		return nil, nil
	}
	text := ""
	switch {
	case v.IsString():
		text = v.StringValue()
	case v.IsObject():
		data, err := json.Marshal(v.Mappable())
		if err != nil {
			return nil, fmt.Errorf("assumeRole: %w", err)
		}
		text = string(data)
	default:
		return nil, fmt.Errorf("assumeRole is a %s, want an object", v.TypeString())
	}
	if text == "" {
		return nil, nil
	}
	return awsaccess.ParseAssumeRole(text)
}

// checkLoopback accepts only an http(s) URL whose host is a loopback address or localhost.
func checkLoopback(endpoint string) error {
	if endpoint == "" {
		return fmt.Errorf("aws emulator: %s is not set: want the emulator's loopback URL, e.g. http://127.0.0.1:5000", EndpointEnv)
	}
	u, err := url.Parse(endpoint)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Hostname() == "" {
		return fmt.Errorf("aws emulator: %s = %q: want an http(s) URL of a loopback emulator, e.g. http://127.0.0.1:5000", EndpointEnv, endpoint)
	}
	host := u.Hostname()
	if ip := net.ParseIP(host); (ip != nil && ip.IsLoopback()) || host == "localhost" {
		return nil
	}
	return fmt.Errorf("aws emulator: %s = %q: host %q is not loopback; this test plugin must never reach real AWS", EndpointEnv, endpoint, host)
}

func (p *Provider) client() (*Clients, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.clients == nil {
		return nil, errors.New("aws emulator: provider used before Configure")
	}
	return p.clients, nil
}

func kindOf(token string) (*Kind, error) {
	k, ok := kinds[token]
	if !ok {
		return nil, fmt.Errorf("aws emulator: resource type %q is not emulated (served: %v)", token, sortedKeys(kinds))
	}
	return k, nil
}

// Check returns the inputs with the real provider's defaults and autonaming applied.
func (p *Provider) Check(_ context.Context, req plugin.CheckRequest) (plugin.CheckResponse, error) {
	k, err := kindOf(string(req.Type))
	if err != nil {
		return plugin.CheckResponse{}, err
	}
	news, failures, err := k.check(req.Name, req.Olds, req.News, req.RandomSeed, req.Autonaming)
	if err != nil {
		return plugin.CheckResponse{}, err
	}
	return plugin.CheckResponse{Properties: news, Failures: failures}, nil
}

func (k *Kind) check(name string, olds, inputs resource.PropertyMap, seed []byte, autonaming *plugin.AutonamingOptions) (resource.PropertyMap, []plugin.CheckFailure, error) {
	news := inputs.Copy()
	delete(news, defaultsKey)
	var defaulted []string
	defaults := k.Schema.defaults()
	for _, key := range sortedKeys(defaults) {
		if v, ok := news[resource.PropertyKey(key)]; !ok || v.IsNull() {
			news[resource.PropertyKey(key)] = outVal(defaults[key])
			defaulted = append(defaulted, key)
		}
	}
	if k.AutoName && !news["name"].HasValue() && !news["namePrefix"].HasValue() {
		n, err := autoName(name, olds, seed, autonaming)
		if err != nil {
			return nil, nil, fmt.Errorf("aws emulator: %s %s: %w", k.Token, name, err)
		}
		news["name"] = resource.NewStringProperty(n)
		defaulted = append(defaulted, "name")
	}
	slices.Sort(defaulted)
	news[defaultsKey] = outVal(append([]string{}, defaulted...))
	var failures []plugin.CheckFailure
	for _, key := range k.Schema.required() {
		if v, ok := news[resource.PropertyKey(key)]; !ok || v.IsNull() {
			failures = append(failures, plugin.CheckFailure{
				Property: resource.PropertyKey(key),
				Reason:   fmt.Sprintf("Missing required argument. The argument %q is required, but no definition was found.", key),
			})
		}
	}
	return news, failures, nil
}

// autoName keeps the name an earlier Check chose, else takes the engine's proposal, else makes
// "<name>-<7 hex>" from the engine's random seed (the real provider's default autonaming).
func autoName(name string, olds resource.PropertyMap, seed []byte, opts *plugin.AutonamingOptions) (string, error) {
	if old := olds["name"]; old.IsString() && slices.Contains(defaulted(olds), "name") {
		return old.StringValue(), nil
	}
	if opts != nil && opts.ProposedName != "" {
		return opts.ProposedName, nil
	}
	return resource.NewUniqueName(seed, name+"-", 7, 0, nil)
}

// defaulted lists the inputs Check filled in.
func defaulted(inputs resource.PropertyMap) []string {
	v, ok := inputs[defaultsKey]
	if !ok || !v.IsArray() {
		return nil
	}
	var out []string
	for _, e := range v.ArrayValue() {
		if e.IsString() {
			out = append(out, e.StringValue())
		}
	}
	return out
}

// Diff plans the new inputs against the resource's state, the old outputs, as the bridge
// does (see schema.go): a ForceNew change anywhere, nested included, replaces; a tags change
// also changes tagsAll.
func (p *Provider) Diff(_ context.Context, req plugin.DiffRequest) (plugin.DiffResponse, error) {
	k, err := kindOf(string(req.Type))
	if err != nil {
		return plugin.DiffResult{}, err
	}
	state := req.OldOutputs
	if len(state) == 0 {
		state = req.OldInputs
	}
	d := k.diff(state, ignoring(req.NewInputs, state, req.IgnoreChanges))
	return d, nil
}

// ignoring is news with each top-level input named in ignoreChanges taken from the state, as
// the bridge leaves ignored attributes out of the plan (its Diff and Update both apply the
// resource's ignoreChanges to the Terraform diff): `pulumi.IgnoreChanges("desiredCapacity")`
// keeps what AWS has, not the old input, so an update never sends it.
func ignoring(news, state resource.PropertyMap, ignoreChanges []string) resource.PropertyMap {
	if len(ignoreChanges) == 0 {
		return news
	}
	out := news.Copy()
	for _, path := range ignoreChanges {
		key := resource.PropertyKey(topKey(path))
		if v, ok := state[key]; ok && string(key) == path {
			out[key] = v
		}
	}
	return out
}

func (k *Kind) diff(state, news resource.PropertyMap) plugin.DiffResult {
	detailed := diffState(k.Schema, plain(state), plain(news))
	if len(detailed) == 0 {
		return plugin.DiffResult{Changes: plugin.DiffNone}
	}
	replace := false
	changed := map[resource.PropertyKey]bool{}
	replaceKeys := map[resource.PropertyKey]bool{}
	for path, pd := range detailed {
		key := resource.PropertyKey(topKey(path))
		changed[key] = true
		if k.Update == nil {
			detailed[path] = pd.ToReplace()
			pd = detailed[path]
		}
		switch pd.Kind {
		case plugin.DiffAddReplace, plugin.DiffUpdateReplace, plugin.DiffDeleteReplace:
			replace = true
			replaceKeys[key] = true
		}
	}
	if changed["tags"] {
		detailed["tagsAll"] = plugin.PropertyDiff{Kind: plugin.DiffUpdate}
	}
	r := plugin.DiffResult{Changes: plugin.DiffSome, DetailedDiff: detailed,
		ChangedKeys: slices.Sorted(maps.Keys(changed)), ReplaceKeys: slices.Sorted(maps.Keys(replaceKeys))}
	if len(r.ReplaceKeys) == 0 {
		r.ReplaceKeys = nil
	}
	if replace && (k.DeleteBeforeReplace || k.nameRequiresDeleteBeforeReplace(news)) {
		r.DeleteBeforeReplace = true
	}
	return r
}

// nameRequiresDeleteBeforeReplace is the bridge's rule of that name (pulumi-terraform-bridge
// pkg/tfbridge/schema.go:195 at the bridge pin in schema.go, asked by provider.go Diff at
// line 1251 for every replacement): with no UniqueNameFields on the resource, a replacement
// deletes first whenever the autonamed property holds a value the program set (absent from
// __defaults), and never when the inputs carry no __defaults list. It does not compare the
// old name with the new one: pulumi-aws sets no UniqueNameFields (provider/resources.go;
// "name" is autonamed by provider/autonaming.go setAutonaming, aws_iam_role's by
// tfbridge.AutoName("name", 64, "-"); these two pulumi-aws files were read before the pin was
// established, not at 4cd0c9b4), so an explicitly named role whose name changes is deleted
// before its successor exists too, as the bridge's own TestDeleteBeforeReplaceAutoname
// (schema_test.go:2503, step 4 at 2583) shows: an explicit name replacing an autonamed one
// is delete-before-replace.
func (k *Kind) nameRequiresDeleteBeforeReplace(news resource.PropertyMap) bool {
	if !k.AutoName || !news[defaultsKey].IsArray() {
		return false
	}
	return news["name"].HasValue() && !slices.Contains(defaulted(news), "name")
}

// topKey is the input a detailed-diff path starts with: "tags.Name" → "tags", "ingress[0]" → "ingress".
func topKey(path string) string {
	pp, err := resource.ParsePropertyPath(path)
	if err != nil || len(pp) == 0 {
		return path
	}
	if s, ok := pp[0].(string); ok {
		return s
	}
	return path
}

// kindInputs are the inputs a Kind sees: plain values, without the provider's bookkeeping.
func kindInputs(m resource.PropertyMap) resource.PropertyMap {
	out := plain(m)
	delete(out, defaultsKey)
	return out
}

// resecret marks secret every output whose input was secret, as the engine expects back.
func resecret(outs, inputs resource.PropertyMap) resource.PropertyMap {
	for key, in := range inputs {
		if v, ok := outs[key]; ok && in.ContainsSecrets() && !v.IsSecret() {
			outs[key] = resource.MakeSecret(v)
		}
	}
	return outs
}

func (p *Provider) Create(ctx context.Context, req plugin.CreateRequest) (plugin.CreateResponse, error) {
	k, err := kindOf(string(req.Type))
	if err != nil {
		return plugin.CreateResponse{}, err
	}
	if req.Preview {
		// Outputs not returned here are unknown to the program during preview.
		return plugin.CreateResponse{Properties: withoutDefaults(req.Properties)}, nil
	}
	c, err := p.client()
	if err != nil {
		return plugin.CreateResponse{}, err
	}
	news := kindInputs(req.Properties)
	id, outs, err := k.Create(ctx, c, news)
	if err == nil {
		// AWS answers a create at once and the provider then waits for the resource to be
		// ready (an EKS cluster ACTIVE, a NAT gateway available): the time is spent with the
		// resource already there, which is what an interrupted update leaves behind.
		if err := p.delays.wait(ctx, string(req.Type), news); err != nil {
			return plugin.CreateResponse{}, initFailed(id, withInputs(outMap(nil), news), req.Properties,
				fmt.Errorf("creating %s %s: waiting: %w", req.Type, req.Name, err))
		}
	}
	if err != nil && id != "" {
		// Created but not ready (a NAT gateway that failed its wait): report it to the engine
		// as the real provider does, so the state holds it and destroy removes it.
		return plugin.CreateResponse{}, initFailed(id, withInputs(outMap(nil), news), req.Properties,
			fmt.Errorf("creating %s %s: %w", req.Type, req.Name, err))
	}
	if err != nil {
		return plugin.CreateResponse{}, fmt.Errorf("creating %s %s: %w", req.Type, req.Name, err)
	}
	outs = resecret(withInputs(outs, news), req.Properties)
	return plugin.CreateResponse{ID: resource.ID(id), Properties: outs, Status: resource.StatusOK}, nil
}

func withoutDefaults(m resource.PropertyMap) resource.PropertyMap {
	out := m.Copy()
	delete(out, defaultsKey)
	return out
}

// Read refreshes a resource: the live outputs, and the inputs refreshed from them recursively
// (see refreshInputs), as the bridge does.
func (p *Provider) Read(ctx context.Context, req plugin.ReadRequest) (plugin.ReadResponse, error) {
	k, err := kindOf(string(req.Type))
	if err != nil {
		return plugin.ReadResponse{}, err
	}
	c, err := p.client()
	if err != nil {
		return plugin.ReadResponse{}, err
	}
	state := kindInputs(req.State)
	outs, err := k.Read(ctx, c, string(req.ID), state)
	if errors.Is(err, ErrNotFound) {
		return plugin.ReadResponse{}, nil // gone: the engine drops it from the state
	}
	if err != nil {
		return plugin.ReadResponse{}, fmt.Errorf("reading %s %s (%s): %w", req.Type, req.Name, req.ID, err)
	}
	outs = resecret(withInputs(outs, state), req.State)
	var inputs resource.PropertyMap
	if len(req.Inputs) == 0 {
		// An import: the bridge derives the inputs from what it read
		// (pulumi-terraform-bridge schema.go:1875 ExtractInputsFromOutputs, isRefresh false).
		inputs = outs.Copy()
	} else {
		inputs = refreshInputs(k.Schema, req.Inputs, plain(outs))
	}
	return plugin.ReadResponse{ReadResult: plugin.ReadResult{ID: req.ID, Inputs: inputs, Outputs: outs}, Status: resource.StatusOK}, nil
}

func (p *Provider) Update(ctx context.Context, req plugin.UpdateRequest) (plugin.UpdateResponse, error) {
	k, err := kindOf(string(req.Type))
	if err != nil {
		return plugin.UpdateResponse{}, err
	}
	if k.Update == nil {
		return plugin.UpdateResponse{}, fmt.Errorf("aws emulator: %s has no in-place update; Diff should have replaced %s", req.Type, req.Name)
	}
	if req.Preview {
		return plugin.UpdateResponse{Properties: withoutDefaults(req.NewInputs)}, nil
	}
	c, err := p.client()
	if err != nil {
		return plugin.UpdateResponse{}, err
	}
	news := kindInputs(ignoring(req.NewInputs, req.OldOutputs, req.IgnoreChanges))
	outs, err := k.Update(ctx, c, string(req.ID), kindInputs(req.OldOutputs), news)
	if err != nil {
		return plugin.UpdateResponse{}, fmt.Errorf("updating %s %s (%s): %w", req.Type, req.Name, req.ID, err)
	}
	outs = resecret(withInputs(outs, news), req.NewInputs)
	return plugin.UpdateResponse{Properties: outs, Status: resource.StatusOK}, nil
}

func (p *Provider) Delete(ctx context.Context, req plugin.DeleteRequest) (plugin.DeleteResponse, error) {
	k, err := kindOf(string(req.Type))
	if err != nil {
		return plugin.DeleteResponse{}, err
	}
	c, err := p.client()
	if err != nil {
		return plugin.DeleteResponse{}, err
	}
	if err := k.Delete(ctx, c, string(req.ID), kindInputs(req.Outputs)); err != nil {
		return plugin.DeleteResponse{}, fmt.Errorf("deleting %s %s (%s): %w", req.Type, req.Name, req.ID, err)
	}
	return plugin.DeleteResponse{Status: resource.StatusOK}, nil
}

// Invoke serves the functions the program calls (see invokes.go).
func (p *Provider) Invoke(ctx context.Context, req plugin.InvokeRequest) (plugin.InvokeResponse, error) {
	fn, ok := invokes[string(req.Tok)]
	if !ok {
		return plugin.InvokeResponse{}, fmt.Errorf("aws emulator: function %q is not emulated (served: %v)", req.Tok, sortedKeys(invokes))
	}
	c, err := p.client()
	if err != nil {
		return plugin.InvokeResponse{}, err
	}
	out, err := fn(ctx, c, plain(req.Args))
	if err != nil {
		return plugin.InvokeResponse{}, fmt.Errorf("%s: %w", req.Tok, err)
	}
	if req.Args.ContainsSecrets() {
		for key, v := range out {
			out[key] = resource.MakeSecret(v)
		}
	}
	return plugin.InvokeResponse{Properties: out}, nil
}

// initFailed is the gRPC error that tells the engine a resource exists but failed to
// initialize (pulumirpc.ErrorResourceInitFailed): the engine records it with its id.
func initFailed(id string, outs, inputs resource.PropertyMap, err error) error {
	opts := plugin.MarshalOptions{Label: "initFailed", KeepUnknowns: true, KeepSecrets: true}
	props, merr := plugin.MarshalProperties(resecret(outs, inputs), opts)
	if merr != nil {
		return err
	}
	ins, merr := plugin.MarshalProperties(withoutDefaults(inputs), opts)
	if merr != nil {
		return err
	}
	st, serr := status.New(codes.Unknown, err.Error()).WithDetails(&pulumirpc.ErrorResourceInitFailed{
		Id: id, Properties: props, Inputs: ins, Reasons: []string{err.Error()},
	})
	if serr != nil {
		return err
	}
	return st.Err()
}
