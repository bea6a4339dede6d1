package awsemu

import (
	"net/url"
	gostrings "strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource/plugin"
	"github.com/pulumi/pulumi/sdk/v3/go/common/tokens"
)

const (
	ec2Trust = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"}]}`
	// The same document, re-spaced: a no-op for the real provider, and so here.
	ec2TrustSpaced = `{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}]}`
	eksTrust       = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":["ec2.amazonaws.com","eks.amazonaws.com"]},"Action":"sts:AssumeRole"}]}`
	malformed      = `{"Version":"2012-10-17","Statement":[{"Effect":"Alow","Action":"logs:PutLogEvents","Resource":"*"}]}`
	logsPolicy     = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"logs:PutLogEvents","Resource":"*"}]}`
	logsPolicy2    = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["logs:PutLogEvents","logs:CreateLogStream"],"Resource":"*"}]}`
	workerPolicy   = "arn:aws:iam::aws:policy/AmazonEKSWorkerNodePolicy"
	thumbprintA    = "9e99a48a9960b14926bb7f3b02e22da2b0ab7280"
	thumbprintB    = "06b25927c42a721631c1efd9431e648fa62e1e39"
)

// TestIAMKindsAgainstMoto builds the program's IAM objects the way the engine drives the
// provider: a role with an inline policy, a managed-policy attachment, an instance profile and
// an OIDC provider; updates what updates in place; sees AWS's own refusals come through; and
// deletes in the engine's order, which is the one AWS accepts.
func TestIAMKindsAgainstMoto(t *testing.T) {
	h := newHarness(t)
	ctx := t.Context()

	roleIn := map[string]any{"name": "node", "assumeRolePolicy": ec2Trust, "description": "nodes", "tags": map[string]any{"team": "a"}}
	role := h.create("aws:iam/role:Role", "node", roleIn)
	if got := str(role, "arn"); got != "arn:aws:iam::123456789012:role/node" {
		t.Errorf("role arn = %q", got)
	}
	if str(role, "uniqueId") == "" || str(role, "path") != "/" || str(role, "assumeRolePolicy") != ec2Trust {
		t.Errorf("role outputs: %v", role.outputs)
	}
	h.expectDiff(role, map[string]any{"name": "node", "assumeRolePolicy": ec2Trust, "description": "nodes", "tags": map[string]any{"team": "a"}, "path": "/system/"},
		plugin.DiffSome, []string{"path"})
	// Refresh keeps the configured text of the document IAM returns URL-encoded.
	if resp, err := h.refresh(role); err != nil || resp.Outputs["assumeRolePolicy"].StringValue() != ec2Trust {
		t.Fatalf("refresh role: %v %v", err, resp.Outputs["assumeRolePolicy"])
	}
	// A re-spaced document is the same policy to IAM, and so to a refresh.
	if got := policyDocument(url.QueryEscape(ec2TrustSpaced), ec2Trust); got != ec2Trust {
		t.Errorf("policyDocument(re-spaced) = %q, want the configured text", got)
	}
	h.update(role, map[string]any{"name": "node", "assumeRolePolicy": eksTrust, "description": "worker nodes", "maxSessionDuration": 7200, "tags": map[string]any{"team": "b"}})
	got, err := h.c.IAM.GetRole(ctx, &iam.GetRoleInput{RoleName: aws.String("node")})
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToString(got.Role.Description) != "worker nodes" || aws.ToInt32(got.Role.MaxSessionDuration) != 7200 ||
		!gostrings.Contains(policyDocument(aws.ToString(got.Role.AssumeRolePolicyDocument), ""), "eks.amazonaws.com") {
		t.Errorf("role in moto after update: %+v", got.Role)
	}
	if tags := role.outputs["tags"].ObjectValue(); tags["team"].StringValue() != "b" || len(tags) != 1 {
		t.Errorf("role tags after update: %v", tags)
	}

	// IAM refuses a malformed trust policy and the error reaches the engine. moto 5.2.1
	// validates trust policies on UpdateAssumeRolePolicy only (not on CreateRole), so the
	// refusal is seen on an update.
	if err := tryUpdate(h, role, map[string]any{"name": "node", "assumeRolePolicy": malformed, "description": "worker nodes", "maxSessionDuration": 7200, "tags": map[string]any{"team": "b"}}); err == nil || !gostrings.Contains(err.Error(), "MalformedPolicyDocument") {
		t.Errorf("trust policy with Effect Alow: err = %v, want MalformedPolicyDocument", err)
	}

	inline := h.create("aws:iam/rolePolicy:RolePolicy", "node-inline", map[string]any{"role": "node", "name": "logs", "policy": logsPolicy})
	if inline.id != "node:logs" {
		t.Errorf("role policy id = %q, want node:logs", inline.id)
	}
	h.update(inline, map[string]any{"role": "node", "name": "logs", "policy": logsPolicy2})
	h.expectDiff(inline, map[string]any{"role": "other", "name": "logs", "policy": logsPolicy2}, plugin.DiffSome, []string{"role"})
	if _, err := h.tryCreate("aws:iam/rolePolicy:RolePolicy", "bad-inline", map[string]any{"role": "node", "name": "bad", "policy": malformed}); err == nil || !gostrings.Contains(err.Error(), "MalformedPolicyDocument") {
		t.Errorf("malformed inline policy: err = %v, want MalformedPolicyDocument", err)
	}
	// Autonamed, as the program leaves it: Check names it, Create uses that name.
	auto := h.create("aws:iam/rolePolicy:RolePolicy", "node-auto", map[string]any{"role": "node", "policy": logsPolicy})
	if !gostrings.HasPrefix(string(auto.id), "node:node-auto-") {
		t.Errorf("autonamed role policy id = %q", auto.id)
	}

	attach := h.create("aws:iam/rolePolicyAttachment:RolePolicyAttachment", "node-worker", map[string]any{"role": "node", "policyArn": workerPolicy})
	if !gostrings.HasPrefix(string(attach.id), "node-") {
		t.Errorf("attachment id = %q, want the real provider's <role>-<unique>", attach.id)
	}
	h.expectDiff(attach, map[string]any{"role": "node", "policyArn": "arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryReadOnly"}, plugin.DiffSome, []string{"policyArn"})

	profile := h.create("aws:iam/instanceProfile:InstanceProfile", "node-profile", map[string]any{"name": "node", "role": "node"})
	if str(profile, "arn") != "arn:aws:iam::123456789012:instance-profile/node" || str(profile, "role") != "node" {
		t.Errorf("instance profile outputs: %v", profile.outputs)
	}

	oidcIn := map[string]any{"url": "https://oidc.eks.us-west-2.amazonaws.com/id/ABC", "clientIdLists": []any{"sts.amazonaws.com"}, "thumbprintLists": []any{thumbprintA}}
	oidc := h.create("aws:iam/openIdConnectProvider:OpenIdConnectProvider", "oidc", oidcIn)
	if string(oidc.id) != "arn:aws:iam::123456789012:oidc-provider/oidc.eks.us-west-2.amazonaws.com/id/ABC" || str(oidc, "arn") != string(oidc.id) {
		t.Errorf("oidc id %q outputs %v", oidc.id, oidc.outputs)
	}
	h.update(oidc, map[string]any{"url": "https://oidc.eks.us-west-2.amazonaws.com/id/ABC", "clientIdLists": []any{"sts.amazonaws.com"}, "thumbprintLists": []any{thumbprintB}})
	p, err := h.c.IAM.GetOpenIDConnectProvider(ctx, &iam.GetOpenIDConnectProviderInput{OpenIDConnectProviderArn: aws.String(string(oidc.id))})
	if err != nil || len(p.ThumbprintList) != 1 || p.ThumbprintList[0] != thumbprintB {
		t.Errorf("oidc thumbprints in moto after update: %v %v", p, err)
	}
	h.expectDiff(oidc, map[string]any{"url": "https://oidc.eks.us-west-2.amazonaws.com/id/DEF", "clientIdLists": []any{"sts.amazonaws.com"}, "thumbprintLists": []any{thumbprintB}}, plugin.DiffSome, []string{"url"})

	// AWS refuses to delete a role that still has policies: DeleteConflict, surfaced as is.
	if err := h.tryDelete(role); err == nil || !gostrings.Contains(err.Error(), "DeleteConflict") {
		t.Errorf("deleting a role with an attached policy: err = %v, want DeleteConflict", err)
	}
	// The engine deletes dependents first, and then the role goes.
	for _, r := range []*live{oidc, profile, attach, auto, inline, role} {
		h.delete(r)
	}
	if left := leftovers(t, h.srv); len(left) > 0 {
		t.Errorf("left in moto after the deletes: %q", left)
	}
}

// tryUpdate is Check + Update without the harness's checks: the error is the caller's to judge.
func tryUpdate(h *harness, r *live, in map[string]any) error {
	h.t.Helper()
	news, err := h.check(r.token, r.name, r.inputs, in)
	if err != nil {
		return err
	}
	_, err = h.p.Update(h.t.Context(), plugin.UpdateRequest{URN: urn(r.token, r.name), Name: r.name, Type: tokens.Type(r.token),
		ID: r.id, OldInputs: r.inputs, OldOutputs: r.outputs, NewInputs: news})
	return err
}

func TestLogGroupAgainstMoto(t *testing.T) {
	h := newHarness(t)
	in := map[string]any{"name": "/aws/eks/demo/cluster", "retentionInDays": 30, "tags": map[string]any{"env": "test"}}
	g := h.create("aws:cloudwatch/logGroup:LogGroup", "logs", in)
	if g.id != "/aws/eks/demo/cluster" || str(g, "arn") != "arn:aws:logs:us-west-2:123456789012:log-group:/aws/eks/demo/cluster" {
		t.Errorf("log group id %q outputs %v", g.id, g.outputs)
	}
	if n := g.outputs["retentionInDays"]; !n.IsNumber() || n.NumberValue() != 30 {
		t.Errorf("retentionInDays = %v, want 30 read back from moto", n)
	}
	h.update(g, map[string]any{"name": "/aws/eks/demo/cluster", "retentionInDays": 7, "tags": map[string]any{"env": "prod"}})
	resp, err := h.refresh(g)
	if err != nil || resp.Outputs["retentionInDays"].NumberValue() != 7 || resp.Outputs["tags"].ObjectValue()["env"].StringValue() != "prod" {
		t.Errorf("refresh after update: %v %v", resp.Outputs, err)
	}
	h.expectDiff(g, map[string]any{"name": "/aws/eks/other/cluster", "retentionInDays": 7, "tags": map[string]any{"env": "prod"}}, plugin.DiffSome, []string{"name"})
	// A group that already exists (EKS made it first) is an error, as in AWS.
	if _, err := h.tryCreate("aws:cloudwatch/logGroup:LogGroup", "again", in); err == nil || !gostrings.Contains(err.Error(), "ResourceAlreadyExistsException") {
		t.Errorf("second log group of the same name: err = %v, want ResourceAlreadyExistsException", err)
	}
	h.delete(g)
	if left := leftovers(t, h.srv); len(left) > 0 {
		t.Errorf("left in moto after the delete: %q", left)
	}
}

func TestClientsIdentity(t *testing.T) {
	h := newHarness(t)
	if h.c.Partition != "aws" || h.c.AccountID != "123456789012" || h.c.Region != "us-west-2" {
		t.Errorf("clients: partition %q account %q region %q", h.c.Partition, h.c.AccountID, h.c.Region)
	}
}
