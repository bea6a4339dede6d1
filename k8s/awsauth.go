package k8s

import (
	"errors"
	"fmt"
	"strings"

	"github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes"
	corev1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/core/v1"
	metav1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/meta/v1"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"gopkg.in/yaml.v3"
)

// RoleMapping maps an IAM role to a Kubernetes identity in aws-auth's mapRoles.
type RoleMapping struct {
	// RoleARN may carry a path; aws-auth gets it without (see mapRoleARN).
	RoleARN  pulumi.StringInput
	Username string
	Groups   []string
}

// UserMapping maps an IAM user to a Kubernetes identity in aws-auth's mapUsers.
type UserMapping struct {
	UserARN  pulumi.StringInput
	Username string
	Groups   []string
}

// AWSAuthArgs configures the aws-auth ConfigMap.
type AWSAuthArgs struct {
	Provider *kubernetes.Provider
	// Cluster ties every object to the cluster it lives in (see ClusterInstance). NewLayer
	// always sets it; nil (a component used alone, on a cluster that is never replaced and
	// never deleted with the stack) ties nothing.
	Cluster *ClusterInstance
	// NodeRoleARN is the worker nodes' role; it is mapped to NodeUsername in
	// BootstrappersGroup and NodesGroup.
	NodeRoleARN pulumi.StringInput
	// Roles and Users are extra mappings (admins, CI roles), written after the node mapping in
	// the order given.
	Roles []RoleMapping
	Users []UserMapping
	// AdoptExisting takes over an aws-auth another field manager wrote: the apply is forced,
	// so Roles and Users replace its mappings wholesale, and the ConfigMap is retained on
	// delete. Set it only after copying the existing mappings into Roles and Users. While it
	// is set every apply is forced, so config is the only source of truth for the mappings;
	// turning it off later makes the ConfigMap ours (destroy deletes it) and applies unforced.
	AdoptExisting bool
	// After are what the ConfigMap is written after (the access entries that take precedence
	// over its rows).
	After []pulumi.Resource
}

// AWSAuth is the kube-system/aws-auth ConfigMap.
type AWSAuth struct {
	pulumi.ResourceState

	// MapRoles and MapUsers are the YAML written to the ConfigMap's data.
	MapRoles pulumi.StringOutput
	MapUsers pulumi.StringOutput
	// ConfigMap is the object itself, for DependsOn (worker capacity waits for it).
	ConfigMap *corev1.ConfigMap
}

// mapRole and mapUser are aws-auth entries, field for field the subset of
// aws-iam-authenticator's config.RoleMapping and config.UserMapping that EKS documents.
type mapRole struct {
	RoleARN  string   `yaml:"rolearn"`
	Username string   `yaml:"username"`
	Groups   []string `yaml:"groups"`
}

type mapUser struct {
	UserARN  string   `yaml:"userarn"`
	Username string   `yaml:"username"`
	Groups   []string `yaml:"groups"`
}

// roles returns every role mapping: the node role first, then the extra roles.
func (a *AWSAuthArgs) roles() []RoleMapping {
	node := RoleMapping{RoleARN: a.NodeRoleARN, Username: NodeUsername, Groups: []string{BootstrappersGroup, NodesGroup}}
	return append([]RoleMapping{node}, a.Roles...)
}

func (a *AWSAuthArgs) validate() error {
	if a == nil {
		return errors.New("args: required")
	}
	var v validator
	v.provider("Provider", "Apply", a.Provider)
	v.roleARN("NodeRoleARN", a.NodeRoleARN)

	seen := map[string]string{}
	if s, ok := knownString(a.NodeRoleARN); ok {
		if arn, err := mapRoleARN(s); err == nil {
			seen[strings.ToLower(arn)] = "NodeRoleARN"
		}
	}
	for i, r := range a.Roles {
		field := fmt.Sprintf("Roles[%d]", i)
		v.roleARN(field+".RoleARN", r.RoleARN)
		v.identity(field, r.Username, r.Groups)
		if s, ok := knownString(r.RoleARN); ok {
			if arn, err := mapRoleARN(s); err == nil {
				v.unique(seen, field+".RoleARN", arn)
			}
		}
	}
	for i, u := range a.Users {
		field := fmt.Sprintf("Users[%d]", i)
		v.userARN(field+".UserARN", u.UserARN)
		v.identity(field, u.Username, u.Groups)
		if s, ok := knownString(u.UserARN); ok {
			if _, err := mapUserARN(s); err == nil {
				v.unique(seen, field+".UserARN", s)
			}
		}
	}
	return errors.Join(v.errs...)
}

// identity checks the Kubernetes side of a mapping.
func (v *validator) identity(field, username string, groups []string) {
	if strings.TrimSpace(username) == "" {
		v.addf(field+".Username", "required: the Kubernetes username, e.g. \"admin\" or \"{{SessionName}}\"")
	}
	if len(groups) == 0 {
		v.addf(field+".Groups", "at least one Kubernetes group is required, e.g. \"system:masters\"")
	}
	for j, g := range groups {
		if strings.TrimSpace(g) == "" {
			v.addf(fmt.Sprintf("%s.Groups[%d]", field, j), "empty group name")
		}
	}
}

// unique reports an ARN mapped twice: the authenticator keys mappings by lower-cased ARN and
// silently keeps only the last one.
func (v *validator) unique(seen map[string]string, field, arn string) {
	key := strings.ToLower(arn)
	if first, dup := seen[key]; dup {
		v.addf(field, "%q is already mapped by %s; aws-auth would keep only one of them", arn, first)
		return
	}
	seen[key] = field
}

// NewAWSAuth writes kube-system/aws-auth. See the package documentation for what happens when
// it already exists.
func NewAWSAuth(ctx *pulumi.Context, name string, args *AWSAuthArgs, opts ...pulumi.ResourceOption) (*AWSAuth, error) {
	if err := args.validate(); err != nil {
		return nil, fmt.Errorf("aws-auth %s: %w", name, err)
	}
	c := &AWSAuth{}
	if err := ctx.RegisterComponentResource(AWSAuthType, name, c, opts...); err != nil {
		return nil, fmt.Errorf("aws-auth %s: register component: %w", name, err)
	}
	c.MapRoles = encodeRoles(args.roles())
	c.MapUsers = encodeUsers(args.Users)

	annotations := pulumi.StringMap{PatchFieldManagerAnnotation: pulumi.String(FieldManager)}
	cmOpts := []pulumi.ResourceOption{pulumi.Parent(c), pulumi.Provider(args.Provider), pulumi.DeleteBeforeReplace(true)}
	cmOpts = append(cmOpts, args.Cluster.options()...)
	if len(args.After) > 0 {
		cmOpts = append(cmOpts, pulumi.DependsOn(args.After))
	}
	if args.AdoptExisting {
		annotations[PatchForceAnnotation] = pulumi.String("true")
		cmOpts = append(cmOpts, pulumi.RetainOnDelete(true))
	}
	cm, err := corev1.NewConfigMap(ctx, name+"-configmap", &corev1.ConfigMapArgs{
		Metadata: &metav1.ObjectMetaArgs{
			Name:        pulumi.String(AWSAuthName),
			Namespace:   pulumi.String(KubeSystemNamespace),
			Annotations: annotations,
		},
		Data: pulumi.StringMap{MapRolesKey: c.MapRoles, MapUsersKey: c.MapUsers},
	}, cmOpts...)
	if err != nil {
		return nil, fmt.Errorf("aws-auth %s: create ConfigMap: %w", name, err)
	}
	c.ConfigMap = cm

	if err := ctx.RegisterResourceOutputs(c, pulumi.Map{
		MapRolesKey: c.MapRoles,
		MapUsersKey: c.MapUsers,
	}); err != nil {
		return nil, fmt.Errorf("aws-auth %s: register outputs: %w", name, err)
	}
	return c, nil
}

// encodeRoles renders mapRoles once every role ARN is known. ARNs that were Outputs at
// validation time are checked here; an error fails the ConfigMap instead of writing a
// mapping that can never match.
func encodeRoles(mappings []RoleMapping) pulumi.StringOutput {
	arns := make(pulumi.StringArray, len(mappings))
	for i, m := range mappings {
		arns[i] = m.RoleARN
	}
	return arns.ToStringArrayOutput().ApplyT(func(resolved []string) (string, error) {
		entries := make([]mapRole, len(mappings))
		seen := map[string]bool{}
		for i, m := range mappings {
			arn, err := mapRoleARN(resolved[i])
			if err != nil {
				return "", fmt.Errorf("%s: %w", MapRolesKey, err)
			}
			if seen[strings.ToLower(arn)] {
				return "", fmt.Errorf("%s: %q is mapped twice; aws-auth would keep only one mapping", MapRolesKey, arn)
			}
			seen[strings.ToLower(arn)] = true
			entries[i] = mapRole{RoleARN: arn, Username: m.Username, Groups: m.Groups}
		}
		return encodeYAML(entries)
	}).(pulumi.StringOutput)
}

// encodeUsers renders mapUsers; with no users it is an empty list, so an existing mapUsers
// written by someone else conflicts instead of being adopted silently.
func encodeUsers(mappings []UserMapping) pulumi.StringOutput {
	arns := make(pulumi.StringArray, len(mappings))
	for i, m := range mappings {
		arns[i] = m.UserARN
	}
	return arns.ToStringArrayOutput().ApplyT(func(resolved []string) (string, error) {
		entries := make([]mapUser, len(mappings))
		seen := map[string]bool{}
		for i, m := range mappings {
			arn, err := mapUserARN(resolved[i])
			if err != nil {
				return "", fmt.Errorf("%s: %w", MapUsersKey, err)
			}
			if seen[strings.ToLower(arn)] {
				return "", fmt.Errorf("%s: %q is mapped twice; aws-auth would keep only one mapping", MapUsersKey, arn)
			}
			seen[strings.ToLower(arn)] = true
			entries[i] = mapUser{UserARN: arn, Username: m.Username, Groups: m.Groups}
		}
		return encodeYAML(entries)
	}).(pulumi.StringOutput)
}

func encodeYAML(v any) (string, error) {
	var b strings.Builder
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(v); err != nil {
		return "", fmt.Errorf("encode aws-auth mappings: %w", err)
	}
	if err := enc.Close(); err != nil {
		return "", fmt.Errorf("encode aws-auth mappings: %w", err)
	}
	return b.String(), nil
}

// ExplainAWSAuthConflict adds the way out to an update that failed because aws-auth already
// holds mappings another field manager wrote; other errors are returned unchanged. The
// provider's own message names the conflicting manager and fields but not what to do.
func ExplainAWSAuthConflict(err error) error {
	if err == nil {
		return nil
	}
	msg := err.Error()
	if !strings.Contains(msg, "Server-Side Apply field conflict detected") || !strings.Contains(msg, AWSAuthName) {
		return err
	}
	return fmt.Errorf("%w\n\n%s", err, AWSAuthConflictHelp)
}

// AWSAuthConflictHelp says how to proceed when aws-auth already exists with someone else's
// mappings. Nothing was changed: the failed apply left the ConfigMap as it was.
const AWSAuthConflictHelp = "kube-system/aws-auth already exists with mappings written by another tool, and " +
	"eks-irsa will not drop them silently (the ConfigMap was left untouched). To let eks-irsa manage it: " +
	"1) list the existing mappings: kubectl -n kube-system get configmap aws-auth -o yaml; " +
	"2) copy every entry of mapRoles and mapUsers except the node role into the stack config (awsAuth.roles, awsAuth.users); " +
	"3) set awsAuth.adopt to true and run the update again. Adopting overwrites mapRoles and mapUsers with the configured " +
	"list and keeps the ConfigMap when the stack is destroyed."
