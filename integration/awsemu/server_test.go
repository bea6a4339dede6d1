package awsemu

import (
	"context"
	"errors"
	"io"
	"net"
	gostrings "strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"
	"github.com/pulumi/pulumi/sdk/v3/go/common/diag"
	"github.com/pulumi/pulumi/sdk/v3/go/common/diag/colors"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource/plugin"
	"github.com/pulumi/pulumi/sdk/v3/go/common/tokens"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
)

// engineClient serves the provider over gRPC on loopback and returns the engine's own client
// for it (plugin.NewProviderWithClient: the code the engine talks to every plugin through),
// so marshalling, secrets and unknowns cross the wire as in a real deployment.
func engineClient(t *testing.T) plugin.Provider {
	t.Helper()
	server, err := NewServer()
	if err != nil {
		t.Fatal(err)
	}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	g := grpc.NewServer()
	pulumirpc.RegisterResourceProviderServer(g, server)
	go func() { _ = g.Serve(lis) }()
	t.Cleanup(g.Stop)
	conn, err := grpc.NewClient(lis.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	sink := diag.DefaultSink(io.Discard, io.Discard, diag.FormatOptions{Color: colors.Never})
	pctx, err := plugin.NewContext(t.Context(), sink, sink, &plugin.MockHost{}, nil, t.TempDir(), nil, false, nil)
	if err != nil {
		t.Fatal(err)
	}
	return plugin.NewProviderWithClient(pctx, pulumirpc.NewResourceProviderClient(conn), false)
}

func TestServerAsTheEngineUsesIt(t *testing.T) {
	srv := startMoto(t)
	ctx := t.Context()
	p := engineClient(t)

	info, err := p.GetPluginInfo(ctx)
	if err != nil || info.Version.String() != Version {
		t.Fatalf("plugin info %v %v: want version %s", info, err, Version)
	}
	typ := tokens.Type("pulumi:providers:aws")
	if _, err := p.Configure(ctx, plugin.ConfigureRequest{Type: &typ, Inputs: pm(map[string]any{"region": "us-west-2"})}); err != nil {
		t.Fatalf("configure: %v", err)
	}

	// Invokes the program makes.
	part, err := p.Invoke(ctx, plugin.InvokeRequest{Tok: "aws:index/getPartition:getPartition", Args: resource.PropertyMap{}})
	if err != nil || part.Properties["reverseDnsPrefix"].StringValue() != "com.amazonaws" {
		t.Fatalf("getPartition: %v %v", part.Properties, err)
	}
	c, err := NewClients(ctx, srv.URL, "us-west-2", nil)
	if err != nil {
		t.Fatal(err)
	}
	const param = "/eksirsa/test/image_id" // moto reserves /aws/ names; emu-core seeds those
	if _, err := c.SSM.PutParameter(ctx, &ssm.PutParameterInput{Name: aws.String(param), Value: aws.String("ami-0abc"), Type: ssmtypes.ParameterTypeString}); err != nil {
		t.Fatal(err)
	}
	got, err := p.Invoke(ctx, plugin.InvokeRequest{Tok: "aws:ssm/getParameter:getParameter", Args: pm(map[string]any{"name": param})})
	if err != nil {
		t.Fatalf("getParameter: %v", err)
	}
	if v := got.Properties["value"]; !v.IsSecret() || v.SecretValue().Element.StringValue() != "ami-0abc" {
		t.Errorf("getParameter value = %v: want the secret ami-0abc", v)
	}
	if _, err := p.Invoke(ctx, plugin.InvokeRequest{Tok: "aws:ec2/getAmi:getAmi", Args: resource.PropertyMap{}}); err == nil || !gostrings.Contains(err.Error(), "aws:ec2/getAmi:getAmi") {
		t.Errorf("unknown function: err = %v, want one naming the token", err)
	}

	// Preview: an unknown input stays unknown, and nothing is created.
	subnetType := tokens.Type("aws:ec2/subnet:Subnet")
	news := pm(map[string]any{"cidrBlock": "10.0.1.0/24"})
	news["vpcId"] = resource.MakeComputed(resource.NewStringProperty(""))
	checked, err := p.Check(ctx, plugin.CheckRequest{URN: urn(string(subnetType), "s"), Name: "s", Type: subnetType, News: news, AllowUnknowns: true})
	if err != nil || len(checked.Failures) > 0 {
		t.Fatalf("check with an unknown vpcId: %v %v", err, checked.Failures)
	}
	preview, err := p.Create(ctx, plugin.CreateRequest{URN: urn(string(subnetType), "s"), Name: "s", Type: subnetType, Properties: checked.Properties, Preview: true})
	if err != nil || preview.ID != "" || !preview.Properties["vpcId"].IsComputed() {
		t.Fatalf("preview create: id %q props %v err %v", preview.ID, preview.Properties, err)
	}

	// Create with a secret input: the output stays secret.
	vpcType := tokens.Type("aws:ec2/vpc:Vpc")
	vpcIn := pm(map[string]any{"cidrBlock": "10.0.0.0/16"})
	vpcIn["tags"] = resource.MakeSecret(resource.NewPropertyValue(map[string]any{"owner": "team-a"}))
	checked, err = p.Check(ctx, plugin.CheckRequest{URN: urn(string(vpcType), "v"), Name: "v", Type: vpcType, News: vpcIn})
	if err != nil {
		t.Fatal(err)
	}
	created, err := p.Create(ctx, plugin.CreateRequest{URN: urn(string(vpcType), "v"), Name: "v", Type: vpcType, Properties: checked.Properties})
	if err != nil || !gostrings.HasPrefix(string(created.ID), "vpc-") {
		t.Fatalf("create vpc: %v %v", created.ID, err)
	}
	if !created.Properties["tags"].IsSecret() {
		t.Errorf("tags output = %v: a secret input must stay secret", created.Properties["tags"])
	}
	if v := created.Properties["enableDnsSupport"]; !v.IsBool() || !v.BoolValue() {
		t.Errorf("enableDnsSupport = %v", v)
	}
	d, err := p.Diff(ctx, plugin.DiffRequest{URN: urn(string(vpcType), "v"), Name: "v", Type: vpcType, ID: created.ID,
		OldInputs: checked.Properties, OldOutputs: created.Properties, NewInputs: checked.Properties})
	if err != nil || d.Changes != plugin.DiffNone {
		t.Errorf("second up diff: %+v %v, want no change", d, err)
	}
	if _, err := p.Delete(ctx, plugin.DeleteRequest{URN: urn(string(vpcType), "v"), Name: "v", Type: vpcType, ID: created.ID,
		Inputs: checked.Properties, Outputs: created.Properties}); err != nil {
		t.Fatalf("delete: %v", err)
	}

	// An unknown type is refused by name.
	if _, err := p.Check(ctx, plugin.CheckRequest{URN: urn("aws:s3/bucket:Bucket", "b"), Name: "b", Type: "aws:s3/bucket:Bucket", News: resource.PropertyMap{}}); err == nil || !gostrings.Contains(err.Error(), "aws:s3/bucket:Bucket") {
		t.Errorf("unknown type: err = %v, want one naming the token", err)
	}
}

func TestConfigureRefusesANonLoopbackEndpoint(t *testing.T) {
	t.Setenv(EndpointEnv, "https://ec2.us-west-2.amazonaws.com")
	p, err := NewProvider()
	if err != nil {
		t.Fatal(err)
	}
	_, err = p.Configure(t.Context(), plugin.ConfigureRequest{Inputs: pm(map[string]any{"region": "us-west-2"})})
	if err == nil || !gostrings.Contains(err.Error(), "not loopback") {
		t.Fatalf("configure against real AWS: err = %v, want a refusal", err)
	}
}

// TestPartialCreateReachesTheEngine: a resource created but not ready (a NAT gateway whose
// wait fails) comes back to the engine as an InitError with its id, so the state keeps it
// and destroy can remove it.
func TestPartialCreateReachesTheEngine(t *testing.T) {
	startMoto(t)
	const token = "aws:test/partial:Partial"
	register(&Kind{Token: token,
		Create: func(context.Context, *Clients, resource.PropertyMap) (string, resource.PropertyMap, error) {
			return "p-1", nil, errors.New("waiting for it: not done after 10m0s")
		},
		Read: func(context.Context, *Clients, string, resource.PropertyMap) (resource.PropertyMap, error) {
			return nil, ErrNotFound
		},
		Delete: func(context.Context, *Clients, string, resource.PropertyMap) error { return nil },
	})
	t.Cleanup(func() { delete(kinds, token) })
	p := engineClient(t)
	typ := tokens.Type("pulumi:providers:aws")
	if _, err := p.Configure(t.Context(), plugin.ConfigureRequest{Type: &typ, Inputs: pm(map[string]any{"region": "us-west-2"})}); err != nil {
		t.Fatal(err)
	}
	resp, err := p.Create(t.Context(), plugin.CreateRequest{URN: urn(token, "x"), Name: "x", Type: token,
		Properties: pm(map[string]any{"size": 1, "__defaults": []any{}})})
	var initErr *plugin.InitError
	if !errors.As(err, &initErr) || resp.ID != "p-1" || resp.Status != resource.StatusPartialFailure {
		t.Fatalf("create: id %q status %v err %v (%T), want an InitError for p-1", resp.ID, resp.Status, err, err)
	}
	if v := resp.Properties["size"]; !v.IsNumber() || v.NumberValue() != 1 {
		t.Errorf("partial state %v: want the inputs kept", resp.Properties)
	}
}

// TestConfigureAssumesTheStacksRole: with aws:assumeRole (as the engine hands a default
// provider: the stack's object as JSON text) every call signs as the role's session, so
// moto, which keeps accounts apart by access key, puts what the stack makes in the role's
// account; a value pulumi-aws would refuse fails Configure naming the key.
func TestConfigureAssumesTheStacksRole(t *testing.T) {
	startMoto(t)
	ctx := t.Context()
	typ := tokens.Type("pulumi:providers:aws")
	const role = `{"roleArn":"arn:aws:iam::222222222222:role/deployer","sessionName":"emu","duration":"1h"}`
	for name, inputs := range map[string]map[string]any{
		"default provider (JSON text)": {"region": "us-west-2", "assumeRole": role},
		"explicit provider (object)": {"region": "us-west-2", "assumeRole": map[string]any{
			"roleArn": "arn:aws:iam::222222222222:role/deployer", "sessionName": "emu", "duration": "1h"}},
	} {
		t.Run(name, func(t *testing.T) {
			p := engineClient(t)
			if _, err := p.Configure(ctx, plugin.ConfigureRequest{Type: &typ, Inputs: pm(inputs)}); err != nil {
				t.Fatalf("configure: %v", err)
			}
			id, err := p.Invoke(ctx, plugin.InvokeRequest{Tok: "aws:index/getCallerIdentity:getCallerIdentity", Args: resource.PropertyMap{}})
			if err != nil {
				t.Fatal(err)
			}
			if got, want := id.Properties["arn"].StringValue(), "arn:aws:sts::222222222222:assumed-role/deployer/emu"; got != want {
				t.Errorf("the provider signs as %s, want %s", got, want)
			}
		})
	}
	p := engineClient(t)
	_, err := p.Configure(ctx, plugin.ConfigureRequest{Type: &typ, Inputs: pm(map[string]any{"region": "us-west-2", "assumeRole": `{"roleArn":"deployer"}`})})
	if err == nil {
		// The engine's client configures in the background and reports on the next call.
		_, err = p.Invoke(ctx, plugin.InvokeRequest{Tok: "aws:index/getCallerIdentity:getCallerIdentity", Args: resource.PropertyMap{}})
	}
	if err == nil || !gostrings.Contains(err.Error(), "aws:assumeRole") || !gostrings.Contains(err.Error(), "not an IAM role ARN") {
		t.Errorf("configure with roleArn deployer: err = %v, want aws:assumeRole's problem", err)
	}
}
