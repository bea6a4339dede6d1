package awsemu

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"reflect"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
)

func init() {
	register(&Kind{
		Token:    "aws:iam/role:Role",
		Schema:   roleSchema,
		AutoName: true,
		Create:   createRole,
		Read:     readRole,
		Update:   updateRole,
		Delete:   deleteRole,
	})
	register(&Kind{
		Token:    "aws:iam/rolePolicy:RolePolicy",
		Schema:   rolePolicySchema,
		AutoName: true,
		Create:   createRolePolicy,
		Read:     readRolePolicy,
		Update: func(ctx context.Context, c *Clients, id string, _, news resource.PropertyMap) (resource.PropertyMap, error) {
			if err := putRolePolicy(ctx, c, news); err != nil {
				return nil, err
			}
			return readRolePolicy(ctx, c, id, news)
		},
		Delete: func(ctx context.Context, c *Clients, id string, olds resource.PropertyMap) error {
			role, name, err := rolePolicyID(id)
			if err != nil {
				return err
			}
			_, err = c.IAM.DeleteRolePolicy(ctx, &iam.DeleteRolePolicyInput{RoleName: aws.String(role), PolicyName: aws.String(name)})
			return ignoreNoSuchEntity(err)
		},
	})
	register(&Kind{
		Token:  "aws:iam/rolePolicyAttachment:RolePolicyAttachment",
		Schema: rolePolicyAttachmentSchema,
		// pulumi-aws provider/resources.go aws_iam_role_policy_attachment: DeleteBeforeReplace
		// ("a create followed by a delete actually deletes the same attachment we just created").
		DeleteBeforeReplace: true,
		Create:              createRolePolicyAttachment,
		Read:                readRolePolicyAttachment,
		Delete: func(ctx context.Context, c *Clients, _ string, olds resource.PropertyMap) error {
			_, err := c.IAM.DetachRolePolicy(ctx, &iam.DetachRolePolicyInput{
				RoleName: aws.String(getStr(olds, "role")), PolicyArn: aws.String(getStr(olds, "policyArn")),
			})
			return ignoreNoSuchEntity(err)
		},
	})
	register(&Kind{
		Token:    "aws:iam/instanceProfile:InstanceProfile",
		Schema:   instanceProfileSchema,
		AutoName: true,
		Create:   createInstanceProfile,
		Read:     readInstanceProfile,
		Update:   updateInstanceProfile,
		Delete:   deleteInstanceProfile,
	})
	register(&Kind{
		Token:  "aws:iam/openIdConnectProvider:OpenIdConnectProvider",
		Schema: oidcProviderSchema,
		Create: createOIDCProvider,
		Read:   readOIDCProvider,
		Update: updateOIDCProvider,
		Delete: func(ctx context.Context, c *Clients, id string, _ resource.PropertyMap) error {
			_, err := c.IAM.DeleteOpenIDConnectProvider(ctx, &iam.DeleteOpenIDConnectProviderInput{OpenIDConnectProviderArn: aws.String(id)})
			return ignoreNoSuchEntity(err)
		},
	})
}

func isNoSuchEntity(err error) bool {
	var nse *iamtypes.NoSuchEntityException
	return errors.As(err, &nse) || isCode(err, "NoSuchEntity")
}

func ignoreNoSuchEntity(err error) error {
	if isNoSuchEntity(err) {
		return nil
	}
	return err
}

func notFoundIfNoSuchEntity(err error) error {
	if isNoSuchEntity(err) {
		return ErrNotFound
	}
	return err
}

func iamTags(tags map[string]string) []iamtypes.Tag {
	out := make([]iamtypes.Tag, 0, len(tags))
	for _, k := range sortedKeys(tags) {
		out = append(out, iamtypes.Tag{Key: aws.String(k), Value: aws.String(tags[k])})
	}
	return out
}

func fromIAMTags(tags []iamtypes.Tag) map[string]string {
	out := map[string]string{}
	for _, t := range tags {
		out[aws.ToString(t.Key)] = aws.ToString(t.Value)
	}
	return out
}

// tagDiff splits a tag change into the tags to set and the keys to remove.
func tagDiff(olds, news map[string]string) (set map[string]string, remove []string) {
	set = map[string]string{}
	for k, v := range news {
		if ov, ok := olds[k]; !ok || ov != v {
			set[k] = v
		}
	}
	for _, k := range sortedKeys(olds) {
		if _, ok := news[k]; !ok {
			remove = append(remove, k)
		}
	}
	return set, remove
}

// policyDocument is the document IAM returns (URL-encoded, as AWS sends it), given back as the
// input text when the two are the same JSON: the real provider keeps the configured text for
// an equivalent document, so a refresh shows no change.
func policyDocument(returned, configured string) string {
	doc := returned
	if d, err := url.QueryUnescape(returned); err == nil && strings.HasPrefix(strings.TrimSpace(returned), "%7B") {
		doc = d
	}
	if configured != "" && jsonEqual(doc, configured) {
		return configured
	}
	return doc
}

func jsonEqual(a, b string) bool {
	var va, vb any
	if json.Unmarshal([]byte(a), &va) != nil || json.Unmarshal([]byte(b), &vb) != nil {
		return a == b
	}
	return reflect.DeepEqual(va, vb)
}

// notEmulated refuses inputs the program never sets, rather than ignoring them silently.
func notEmulated(news resource.PropertyMap, token string, keys ...string) error {
	for _, k := range keys {
		v, ok := news[resource.PropertyKey(k)]
		if !ok || v.IsNull() || (v.IsArray() && len(v.ArrayValue()) == 0) {
			continue
		}
		return fmt.Errorf("%s input %q is not emulated (the program does not set it)", token, k)
	}
	return nil
}

// --- Role ---

func createRole(ctx context.Context, c *Clients, news resource.PropertyMap) (string, resource.PropertyMap, error) {
	if err := notEmulated(news, "aws:iam/role:Role", "inlinePolicies", "managedPolicyArns"); err != nil {
		return "", nil, err
	}
	name := getStr(news, "name")
	if name == "" {
		return "", nil, errors.New("no name: Check names every role")
	}
	in := &iam.CreateRoleInput{
		RoleName:                 aws.String(name),
		AssumeRolePolicyDocument: aws.String(getStr(news, "assumeRolePolicy")),
		Path:                     getStrPtr(news, "path"),
		Description:              getStrPtr(news, "description"),
		MaxSessionDuration:       getInt32(news, "maxSessionDuration"),
		PermissionsBoundary:      getStrPtr(news, "permissionsBoundary"),
	}
	if tags := getStrMap(news, "tags"); len(tags) > 0 {
		in.Tags = iamTags(tags)
	}
	if _, err := c.IAM.CreateRole(ctx, in); err != nil {
		return "", nil, fmt.Errorf("creating IAM Role (%s): %w", name, err)
	}
	outs, err := readRole(ctx, c, name, news)
	return name, outs, err
}

func readRole(ctx context.Context, c *Clients, id string, olds resource.PropertyMap) (resource.PropertyMap, error) {
	out, err := c.IAM.GetRole(ctx, &iam.GetRoleInput{RoleName: aws.String(id)})
	if err != nil {
		return nil, notFoundIfNoSuchEntity(err)
	}
	r := out.Role
	force, _ := getBool(olds, "forceDetachPolicies")
	outs := outMap(map[string]any{
		"arn":                 aws.ToString(r.Arn),
		"uniqueId":            aws.ToString(r.RoleId),
		"name":                aws.ToString(r.RoleName),
		"path":                aws.ToString(r.Path),
		"description":         aws.ToString(r.Description),
		"maxSessionDuration":  aws.ToInt32(r.MaxSessionDuration),
		"assumeRolePolicy":    policyDocument(aws.ToString(r.AssumeRolePolicyDocument), getStr(olds, "assumeRolePolicy")),
		"forceDetachPolicies": resource.NewBoolProperty(force),
	})
	if r.CreateDate != nil {
		outs["createDate"] = resource.NewStringProperty(r.CreateDate.UTC().Format(time.RFC3339))
	}
	if r.PermissionsBoundary != nil {
		outs["permissionsBoundary"] = resource.NewStringProperty(aws.ToString(r.PermissionsBoundary.PermissionsBoundaryArn))
	}
	if getStr(olds, "description") == "" && r.Description == nil {
		delete(outs, "description")
	}
	tagsOutputs(outs, fromIAMTags(r.Tags))
	return withInputs(outs, olds), nil
}

func updateRole(ctx context.Context, c *Clients, id string, olds, news resource.PropertyMap) (resource.PropertyMap, error) {
	if err := notEmulated(news, "aws:iam/role:Role", "inlinePolicies", "managedPolicyArns"); err != nil {
		return nil, err
	}
	name := aws.String(id)
	if doc := getStr(news, "assumeRolePolicy"); !jsonEqual(doc, getStr(olds, "assumeRolePolicy")) {
		if _, err := c.IAM.UpdateAssumeRolePolicy(ctx, &iam.UpdateAssumeRolePolicyInput{RoleName: name, PolicyDocument: aws.String(doc)}); err != nil {
			return nil, fmt.Errorf("updating IAM Role (%s) assume role policy: %w", id, err)
		}
	}
	if getStr(news, "description") != getStr(olds, "description") {
		if _, err := c.IAM.UpdateRoleDescription(ctx, &iam.UpdateRoleDescriptionInput{RoleName: name, Description: aws.String(getStr(news, "description"))}); err != nil {
			return nil, fmt.Errorf("updating IAM Role (%s) description: %w", id, err)
		}
	}
	if n, _ := getInt(news, "maxSessionDuration"); n != 0 {
		if o, _ := getInt(olds, "maxSessionDuration"); o != n {
			// The description goes along: moto's UpdateRole clears one it is not given.
			if _, err := c.IAM.UpdateRole(ctx, &iam.UpdateRoleInput{RoleName: name, MaxSessionDuration: aws.Int32(int32(n)), Description: getStrPtr(news, "description")}); err != nil {
				return nil, fmt.Errorf("updating IAM Role (%s) MaxSessionDuration: %w", id, err)
			}
		}
	}
	if nb, ob := getStr(news, "permissionsBoundary"), getStr(olds, "permissionsBoundary"); nb != ob {
		var err error
		if nb == "" {
			_, err = c.IAM.DeleteRolePermissionsBoundary(ctx, &iam.DeleteRolePermissionsBoundaryInput{RoleName: name})
		} else {
			_, err = c.IAM.PutRolePermissionsBoundary(ctx, &iam.PutRolePermissionsBoundaryInput{RoleName: name, PermissionsBoundary: aws.String(nb)})
		}
		if err != nil {
			return nil, fmt.Errorf("updating IAM Role (%s) permissions boundary: %w", id, err)
		}
	}
	set, remove := tagDiff(getStrMap(olds, "tags"), getStrMap(news, "tags"))
	if len(remove) > 0 {
		if _, err := c.IAM.UntagRole(ctx, &iam.UntagRoleInput{RoleName: name, TagKeys: remove}); err != nil {
			return nil, fmt.Errorf("untagging IAM Role (%s): %w", id, err)
		}
	}
	if len(set) > 0 {
		if _, err := c.IAM.TagRole(ctx, &iam.TagRoleInput{RoleName: name, Tags: iamTags(set)}); err != nil {
			return nil, fmt.Errorf("tagging IAM Role (%s): %w", id, err)
		}
	}
	return readRole(ctx, c, id, news)
}

// deleteRole deletes the role as it stands: with a managed policy still attached or an inline
// policy still present AWS answers DeleteConflict, and so does moto; the engine deletes the
// attachments first because they depend on the role. forceDetachPolicies, as in the real
// provider, detaches and deletes them first.
func deleteRole(ctx context.Context, c *Clients, id string, olds resource.PropertyMap) error {
	name := aws.String(id)
	if force, _ := getBool(olds, "forceDetachPolicies"); force {
		attached, err := c.IAM.ListAttachedRolePolicies(ctx, &iam.ListAttachedRolePoliciesInput{RoleName: name})
		if err != nil {
			return ignoreNoSuchEntity(err)
		}
		for _, p := range attached.AttachedPolicies {
			if _, err := c.IAM.DetachRolePolicy(ctx, &iam.DetachRolePolicyInput{RoleName: name, PolicyArn: p.PolicyArn}); ignoreNoSuchEntity(err) != nil {
				return err
			}
		}
		inline, err := c.IAM.ListRolePolicies(ctx, &iam.ListRolePoliciesInput{RoleName: name})
		if err != nil {
			return ignoreNoSuchEntity(err)
		}
		for _, p := range inline.PolicyNames {
			if _, err := c.IAM.DeleteRolePolicy(ctx, &iam.DeleteRolePolicyInput{RoleName: name, PolicyName: aws.String(p)}); ignoreNoSuchEntity(err) != nil {
				return err
			}
		}
	}
	_, err := c.IAM.DeleteRole(ctx, &iam.DeleteRoleInput{RoleName: name})
	if err = ignoreNoSuchEntity(err); err != nil {
		return fmt.Errorf("deleting IAM Role (%s): %w", id, err)
	}
	return nil
}

// --- RolePolicy ---

// rolePolicyID splits the real provider's "<role>:<policy name>" id.
func rolePolicyID(id string) (role, name string, err error) {
	role, name, ok := strings.Cut(id, ":")
	if !ok || role == "" || name == "" {
		return "", "", fmt.Errorf("role policy id %q: want <role name>:<policy name>", id)
	}
	return role, name, nil
}

func putRolePolicy(ctx context.Context, c *Clients, news resource.PropertyMap) error {
	role, name := getStr(news, "role"), getStr(news, "name")
	if name == "" {
		return errors.New("no name: Check names every role policy")
	}
	_, err := c.IAM.PutRolePolicy(ctx, &iam.PutRolePolicyInput{
		RoleName: aws.String(role), PolicyName: aws.String(name), PolicyDocument: aws.String(getStr(news, "policy")),
	})
	if err != nil {
		return fmt.Errorf("putting IAM Role (%s) Policy (%s): %w", role, name, err)
	}
	return nil
}

func createRolePolicy(ctx context.Context, c *Clients, news resource.PropertyMap) (string, resource.PropertyMap, error) {
	if err := putRolePolicy(ctx, c, news); err != nil {
		return "", nil, err
	}
	id := getStr(news, "role") + ":" + getStr(news, "name")
	outs, err := readRolePolicy(ctx, c, id, news)
	return id, outs, err
}

func readRolePolicy(ctx context.Context, c *Clients, id string, olds resource.PropertyMap) (resource.PropertyMap, error) {
	role, name, err := rolePolicyID(id)
	if err != nil {
		return nil, err
	}
	out, err := c.IAM.GetRolePolicy(ctx, &iam.GetRolePolicyInput{RoleName: aws.String(role), PolicyName: aws.String(name)})
	if err != nil {
		return nil, notFoundIfNoSuchEntity(err)
	}
	return withInputs(outMap(map[string]any{
		"role":   aws.ToString(out.RoleName),
		"name":   aws.ToString(out.PolicyName),
		"policy": policyDocument(aws.ToString(out.PolicyDocument), getStr(olds, "policy")),
	}), olds), nil
}

// --- RolePolicyAttachment ---

var uniqueIDCounter atomic.Uint32

// prefixedUniqueID is terraform-plugin-sdk's id.PrefixedUniqueId, the real provider's id for
// a role policy attachment ("<role>-" + a UTC timestamp + a counter): unique, not derived.
func prefixedUniqueID(prefix string) string {
	ts := strings.ReplaceAll(time.Now().UTC().Format("20060102150405.0000"), ".", "")
	return fmt.Sprintf("%s%s%08x", prefix, ts, uniqueIDCounter.Add(1))
}

func createRolePolicyAttachment(ctx context.Context, c *Clients, news resource.PropertyMap) (string, resource.PropertyMap, error) {
	role, arn := getStr(news, "role"), getStr(news, "policyArn")
	if _, err := c.IAM.AttachRolePolicy(ctx, &iam.AttachRolePolicyInput{RoleName: aws.String(role), PolicyArn: aws.String(arn)}); err != nil {
		return "", nil, fmt.Errorf("attaching IAM Policy (%s) to IAM Role (%s): %w", arn, role, err)
	}
	id := prefixedUniqueID(role + "-")
	outs, err := readRolePolicyAttachment(ctx, c, id, news)
	return id, outs, err
}

func readRolePolicyAttachment(ctx context.Context, c *Clients, id string, olds resource.PropertyMap) (resource.PropertyMap, error) {
	role, arn := getStr(olds, "role"), getStr(olds, "policyArn")
	if role == "" || arn == "" {
		// An import: the id is "<role name>/<policy ARN>" (terraform-provider-aws
		// internal/service/iam/role_policy_attachment.go resourceRolePolicyAttachmentImport).
		var ok bool
		if role, arn, ok = strings.Cut(id, "/"); !ok || role == "" || !strings.HasPrefix(arn, "arn:") {
			return nil, fmt.Errorf("role policy attachment import id %q: want <role name>/<policy ARN>", id)
		}
	}
	pages := iam.NewListAttachedRolePoliciesPaginator(c.IAM, &iam.ListAttachedRolePoliciesInput{RoleName: aws.String(role)})
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			return nil, notFoundIfNoSuchEntity(err)
		}
		if slices.ContainsFunc(page.AttachedPolicies, func(p iamtypes.AttachedPolicy) bool { return aws.ToString(p.PolicyArn) == arn }) {
			return outMap(map[string]any{"role": role, "policyArn": arn}), nil
		}
	}
	return nil, ErrNotFound
}

// --- InstanceProfile ---

func createInstanceProfile(ctx context.Context, c *Clients, news resource.PropertyMap) (string, resource.PropertyMap, error) {
	name := getStr(news, "name")
	if name == "" {
		return "", nil, errors.New("no name: Check names every instance profile")
	}
	in := &iam.CreateInstanceProfileInput{InstanceProfileName: aws.String(name), Path: getStrPtr(news, "path")}
	if tags := getStrMap(news, "tags"); len(tags) > 0 {
		in.Tags = iamTags(tags)
	}
	if _, err := c.IAM.CreateInstanceProfile(ctx, in); err != nil {
		return "", nil, fmt.Errorf("creating IAM Instance Profile (%s): %w", name, err)
	}
	if role := getStr(news, "role"); role != "" {
		if _, err := c.IAM.AddRoleToInstanceProfile(ctx, &iam.AddRoleToInstanceProfileInput{InstanceProfileName: aws.String(name), RoleName: aws.String(role)}); err != nil {
			return "", nil, fmt.Errorf("adding IAM Role (%s) to IAM Instance Profile (%s): %w", role, name, err)
		}
	}
	outs, err := readInstanceProfile(ctx, c, name, news)
	return name, outs, err
}

func readInstanceProfile(ctx context.Context, c *Clients, id string, olds resource.PropertyMap) (resource.PropertyMap, error) {
	out, err := c.IAM.GetInstanceProfile(ctx, &iam.GetInstanceProfileInput{InstanceProfileName: aws.String(id)})
	if err != nil {
		return nil, notFoundIfNoSuchEntity(err)
	}
	p := out.InstanceProfile
	outs := outMap(map[string]any{
		"arn":      aws.ToString(p.Arn),
		"uniqueId": aws.ToString(p.InstanceProfileId),
		"name":     aws.ToString(p.InstanceProfileName),
		"path":     aws.ToString(p.Path),
	})
	if p.CreateDate != nil {
		outs["createDate"] = resource.NewStringProperty(p.CreateDate.UTC().Format(time.RFC3339))
	}
	if len(p.Roles) > 0 {
		outs["role"] = resource.NewStringProperty(aws.ToString(p.Roles[0].RoleName))
	} else {
		outs["role"] = resource.NewNullProperty()
	}
	// GetInstanceProfile carries the tags (moto has no ListInstanceProfileTags).
	tagsOutputs(outs, fromIAMTags(p.Tags))
	return withInputs(outs, olds), nil
}

func updateInstanceProfile(ctx context.Context, c *Clients, id string, olds, news resource.PropertyMap) (resource.PropertyMap, error) {
	name := aws.String(id)
	if or, nr := getStr(olds, "role"), getStr(news, "role"); or != nr {
		if or != "" {
			if _, err := c.IAM.RemoveRoleFromInstanceProfile(ctx, &iam.RemoveRoleFromInstanceProfileInput{InstanceProfileName: name, RoleName: aws.String(or)}); ignoreNoSuchEntity(err) != nil {
				return nil, fmt.Errorf("removing IAM Role (%s) from IAM Instance Profile (%s): %w", or, id, err)
			}
		}
		if nr != "" {
			if _, err := c.IAM.AddRoleToInstanceProfile(ctx, &iam.AddRoleToInstanceProfileInput{InstanceProfileName: name, RoleName: aws.String(nr)}); err != nil {
				return nil, fmt.Errorf("adding IAM Role (%s) to IAM Instance Profile (%s): %w", nr, id, err)
			}
		}
	}
	set, remove := tagDiff(getStrMap(olds, "tags"), getStrMap(news, "tags"))
	if len(remove) > 0 {
		if _, err := c.IAM.UntagInstanceProfile(ctx, &iam.UntagInstanceProfileInput{InstanceProfileName: name, TagKeys: remove}); err != nil {
			return nil, err
		}
	}
	if len(set) > 0 {
		if _, err := c.IAM.TagInstanceProfile(ctx, &iam.TagInstanceProfileInput{InstanceProfileName: name, Tags: iamTags(set)}); err != nil {
			return nil, err
		}
	}
	return readInstanceProfile(ctx, c, id, news)
}

// deleteInstanceProfile removes its roles first, as the real provider does: AWS refuses to
// delete a profile that still holds a role (DeleteConflict).
func deleteInstanceProfile(ctx context.Context, c *Clients, id string, _ resource.PropertyMap) error {
	out, err := c.IAM.GetInstanceProfile(ctx, &iam.GetInstanceProfileInput{InstanceProfileName: aws.String(id)})
	if err != nil {
		return ignoreNoSuchEntity(err)
	}
	for _, r := range out.InstanceProfile.Roles {
		if _, err := c.IAM.RemoveRoleFromInstanceProfile(ctx, &iam.RemoveRoleFromInstanceProfileInput{InstanceProfileName: aws.String(id), RoleName: r.RoleName}); ignoreNoSuchEntity(err) != nil {
			return fmt.Errorf("removing IAM Role (%s) from IAM Instance Profile (%s): %w", aws.ToString(r.RoleName), id, err)
		}
	}
	_, err = c.IAM.DeleteInstanceProfile(ctx, &iam.DeleteInstanceProfileInput{InstanceProfileName: aws.String(id)})
	return ignoreNoSuchEntity(err)
}

// --- OpenIdConnectProvider ---

func createOIDCProvider(ctx context.Context, c *Clients, news resource.PropertyMap) (string, resource.PropertyMap, error) {
	in := &iam.CreateOpenIDConnectProviderInput{
		Url:            aws.String(getStr(news, "url")),
		ClientIDList:   getStrs(news, "clientIdLists"),
		ThumbprintList: getStrs(news, "thumbprintLists"),
	}
	if tags := getStrMap(news, "tags"); len(tags) > 0 {
		in.Tags = iamTags(tags)
	}
	out, err := c.IAM.CreateOpenIDConnectProvider(ctx, in)
	if err != nil {
		return "", nil, fmt.Errorf("creating IAM OIDC Provider: %w", err)
	}
	id := aws.ToString(out.OpenIDConnectProviderArn)
	outs, err := readOIDCProvider(ctx, c, id, news)
	return id, outs, err
}

func readOIDCProvider(ctx context.Context, c *Clients, id string, olds resource.PropertyMap) (resource.PropertyMap, error) {
	out, err := c.IAM.GetOpenIDConnectProvider(ctx, &iam.GetOpenIDConnectProviderInput{OpenIDConnectProviderArn: aws.String(id)})
	if err != nil {
		return nil, notFoundIfNoSuchEntity(err)
	}
	// IAM returns the URL without its scheme; the real provider suppresses that difference
	// (suppressOpenIDURL), so the configured URL stays.
	u := aws.ToString(out.Url)
	if cfg := getStr(olds, "url"); strings.TrimPrefix(cfg, "https://") == strings.TrimPrefix(u, "https://") {
		u = cfg
	}
	clientIDs := out.ClientIDList
	// client_id_list is a set in the real provider: keep the configured order when equal.
	if cfg := getStrs(olds, "clientIdLists"); sameSet(cfg, clientIDs) {
		clientIDs = cfg
	}
	outs := outMap(map[string]any{
		"arn":             id,
		"url":             u,
		"clientIdLists":   clientIDs,
		"thumbprintLists": out.ThumbprintList,
	})
	tagsOutputs(outs, fromIAMTags(out.Tags))
	return withInputs(outs, olds), nil
}

func sameSet(a, b []string) bool {
	x, y := slices.Clone(a), slices.Clone(b)
	slices.Sort(x)
	slices.Sort(y)
	return slices.Equal(slices.Compact(x), slices.Compact(y))
}

func updateOIDCProvider(ctx context.Context, c *Clients, id string, olds, news resource.PropertyMap) (resource.PropertyMap, error) {
	arn := aws.String(id)
	if tp := getStrs(news, "thumbprintLists"); len(tp) > 0 && !slices.Equal(tp, getStrs(olds, "thumbprintLists")) {
		if _, err := c.IAM.UpdateOpenIDConnectProviderThumbprint(ctx, &iam.UpdateOpenIDConnectProviderThumbprintInput{OpenIDConnectProviderArn: arn, ThumbprintList: tp}); err != nil {
			return nil, fmt.Errorf("updating IAM OIDC Provider (%s) thumbprint: %w", id, err)
		}
	}
	oldIDs, newIDs := getStrs(olds, "clientIdLists"), getStrs(news, "clientIdLists")
	for _, v := range newIDs {
		if !slices.Contains(oldIDs, v) {
			if _, err := c.IAM.AddClientIDToOpenIDConnectProvider(ctx, &iam.AddClientIDToOpenIDConnectProviderInput{OpenIDConnectProviderArn: arn, ClientID: aws.String(v)}); err != nil {
				return nil, fmt.Errorf("adding IAM OIDC Provider (%s) client ID (%s): %w", id, v, err)
			}
		}
	}
	for _, v := range oldIDs {
		if !slices.Contains(newIDs, v) {
			if _, err := c.IAM.RemoveClientIDFromOpenIDConnectProvider(ctx, &iam.RemoveClientIDFromOpenIDConnectProviderInput{OpenIDConnectProviderArn: arn, ClientID: aws.String(v)}); err != nil {
				return nil, fmt.Errorf("removing IAM OIDC Provider (%s) client ID (%s): %w", id, v, err)
			}
		}
	}
	set, remove := tagDiff(getStrMap(olds, "tags"), getStrMap(news, "tags"))
	if len(remove) > 0 {
		if _, err := c.IAM.UntagOpenIDConnectProvider(ctx, &iam.UntagOpenIDConnectProviderInput{OpenIDConnectProviderArn: arn, TagKeys: remove}); err != nil {
			return nil, err
		}
	}
	if len(set) > 0 {
		if _, err := c.IAM.TagOpenIDConnectProvider(ctx, &iam.TagOpenIDConnectProviderInput{OpenIDConnectProviderArn: arn, Tags: iamTags(set)}); err != nil {
			return nil, err
		}
	}
	return readOIDCProvider(ctx, c, id, news)
}
