package stack

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi/config"

	"github.com/eks-irsa/eks-irsa/awsaccess"
	"github.com/eks-irsa/eks-irsa/k8s"
)

// ProjectName is the Pulumi project, and so the namespace of every config key below.
const ProjectName = "eks-irsa"

// RegionKey is the AWS provider's region, which the program also reads.
const RegionKey = awsaccess.RegionKey

// Config is everything the program reads from the stack's configuration.
type Config struct {
	Region      string            `json:"-"`
	ServiceType string            `json:"serviceType"`
	Environment string            `json:"environment"`
	ClusterName string            `json:"clusterName"`
	Tags        map[string]string `json:"tags"`
	Network     NetworkConfig     `json:"network"`
	Cluster     ClusterConfig     `json:"cluster"`
	Nodes       NodesConfig       `json:"nodes"`
	OIDC        OIDCConfig        `json:"oidc"`
	AWSNode     AWSNodeConfig     `json:"awsNode"`
	// ServiceAccountRoles are the IRSA roles made besides kube-system/aws-node's.
	ServiceAccountRoles []ServiceAccountRoleConfig `json:"serviceAccountRoles"`
	AWSAuth             AWSAuthConfig              `json:"awsAuth"`
	// AccessEntries are EKS access entries the stack owns (see access.go).
	AccessEntries []AccessEntryConfig `json:"accessEntries"`
	IAM           IAMConfig           `json:"iam"`
}

// IAMConfig holds the account's IAM quotas that the configuration is checked against.
type IAMConfig struct {
	// TrustPolicyMaxChars is the "Role trust policy length" quota: 2,048 characters unless
	// raised (to at most 4,096) through Service Quotas.
	TrustPolicyMaxChars int `json:"trustPolicyMaxChars"`
}

// NetworkConfig is the VPC.
type NetworkConfig struct {
	CIDR              string   `json:"cidr"`
	AvailabilityZones []string `json:"availabilityZones"`
	PublicSubnets     []string `json:"publicSubnets"`
	PrivateSubnets    []string `json:"privateSubnets"`
	// NATGateways is "single" (one, in the first AZ) or "perAz".
	NATGateways  string `json:"natGateways"`
	ECREndpoints bool   `json:"ecrEndpoints"`
	S3Endpoint   bool   `json:"s3Endpoint"`
	FlowLogs     bool   `json:"flowLogs"`
}

// ClusterConfig is the EKS control plane.
type ClusterConfig struct {
	Version           string   `json:"version"`
	PublicAccessCIDRs []string `json:"publicAccessCidrs"`
	LogRetentionDays  int      `json:"logRetentionDays"`
	// SecretsKMSKeyARN turns on envelope encryption of Secrets with that key.
	SecretsKMSKeyARN string `json:"secretsKmsKeyArn"`
	// AuthenticationMode is API_AND_CONFIG_MAP (aws-auth and access entries) or API (access
	// entries only, no aws-auth). EKS moves it one way only.
	AuthenticationMode string `json:"authenticationMode"`
}

// NodesConfig is the self-managed worker group.
type NodesConfig struct {
	InstanceType string `json:"instanceType"`
	Desired      int    `json:"desired"`
	Min          int    `json:"min"`
	Max          int    `json:"max"`
	DiskGiB      int    `json:"diskGiB"`
	// AttachCNIPolicy gives the node role AmazonEKS_CNI_Policy too. Off by default: aws-node
	// gets its credentials through IRSA, and pods must not borrow them from the node.
	AttachCNIPolicy bool `json:"attachCniPolicy"`
	// AMIReleaseVersion pins the nodes' AMI to one EKS AMI release ("1.33.5-20251120");
	// empty: the recommended AMI when the launch template is created, kept from then on.
	AMIReleaseVersion string `json:"amiReleaseVersion"`
	// AccessEntry gives the node role its EC2_LINUX access entry in API_AND_CONFIG_MAP too (API
	// mode always has it): set while aws-auth still maps the nodes, so that they keep joining,
	// by the entry, once the row is removed (eksirsa migrate access-entries sets it).
	AccessEntry bool `json:"accessEntry"`
}

// OIDCConfig tunes the IAM OIDC provider's thumbprints.
type OIDCConfig struct {
	// ExtraThumbprints are added to the one read from the issuer's TLS chain.
	ExtraThumbprints []string `json:"extraThumbprints"`
	// Thumbprints, when set, replace the one read from the chain (e.g. behind a
	// TLS-inspecting proxy, where the chain seen here is the proxy's).
	Thumbprints []string `json:"thumbprints"`
}

// AWSNodeConfig is the VPC CNI's IRSA role, the one every stack makes.
type AWSNodeConfig struct {
	// RoleName overrides the derived "<cluster>-aws-node" (a naming convention, a role name
	// an IAM permission boundary or SCP expects). Changing it creates the new role, re-annotates
	// kube-system/aws-node, rolls the aws-node DaemonSet once onto it, and only then deletes the
	// old role.
	RoleName string `json:"roleName"`
}

// ServiceAccountRoleConfig is one extra IRSA role.
type ServiceAccountRoleConfig struct {
	Namespace      string `json:"namespace"`
	ServiceAccount string `json:"serviceAccount"`
	// RoleName overrides the derived "<cluster>-<serviceAccount>".
	RoleName          string          `json:"roleName"`
	ManagedPolicyARNs []string        `json:"managedPolicyArns"`
	InlinePolicy      json.RawMessage `json:"inlinePolicy"`
	// Account is what the stack does with the Kubernetes account: "none" (role only, e.g.
	// a Helm chart annotates it), "annotate" (patch an existing account) or "create".
	Account         k8s.ServiceAccountMode `json:"account"`
	CreateNamespace bool                   `json:"createNamespace"`
	// Identity is how the account's pods get the role: IdentityIRSA (the default: OIDC trust
	// and the role annotation), IdentityPodIdentity (EKS Pod Identity: the role trusts
	// pods.eks.amazonaws.com, an association binds it, the agent add-on is installed) or
	// IdentityBoth (both trusts, the annotation and the association: the migration's first
	// step) or IdentityBothUnannotated (both trusts and the association, no annotation: the
	// migration's middle state, in which restarted pods take Pod Identity while pods started
	// under IRSA still assume the role until they are gone).
	Identity Identity `json:"identity"`
}

// Identity is a serviceAccountRoles entry's identity; the values are the words config uses.
type Identity string

const (
	IdentityIRSA        Identity = "irsa"
	IdentityPodIdentity Identity = "podIdentity"
	IdentityBoth        Identity = "both"
	// IdentityBothUnannotated is a config state of its own so that the migration's middle
	// step survives a later up and a rerun finds it: pods created while the annotation was
	// there carry AWS_ROLE_ARN (which the SDKs prefer) and would fail the moment the OIDC
	// statement went, so it stays until every workload has restarted without the annotation.
	IdentityBothUnannotated Identity = "bothUnannotated"
)

// identities lists the accepted values, in the order errors name them.
var identities = []Identity{IdentityIRSA, IdentityPodIdentity, IdentityBoth, IdentityBothUnannotated}

// PodIdentity says whether the entry uses EKS Pod Identity (podIdentity, both or
// bothUnannotated): an association, the agent, the pods.eks.amazonaws.com statement.
func (r ServiceAccountRoleConfig) PodIdentity() bool {
	return r.Identity == IdentityPodIdentity || r.Identity == IdentityBoth || r.Identity == IdentityBothUnannotated
}

// identity is the entry's identity as config names it, the default spelt out.
func (r ServiceAccountRoleConfig) identity() Identity {
	if r.Identity == "" {
		return IdentityIRSA
	}
	return r.Identity
}

// IRSA says whether the entry's role trusts the OIDC provider (irsa, the default, both or
// bothUnannotated): the OIDC statement, and the role in OutIRSARoles.
func (r ServiceAccountRoleConfig) IRSA() bool { return r.Identity != IdentityPodIdentity }

// Annotated says whether the stack writes the role annotation on the account (irsa or both,
// where account is annotate or create).
func (r ServiceAccountRoleConfig) Annotated() bool {
	return r.IRSA() && r.Identity != IdentityBothUnannotated
}

// AWSAuthConfig lists the aws-auth mappings besides the node role's.
type AWSAuthConfig struct {
	Roles []AWSAuthMapping `json:"roles"`
	Users []AWSAuthMapping `json:"users"`
	// Adopt takes over an aws-auth ConfigMap that someone else wrote, after its mappings
	// have been copied into Roles and Users. Without it such a ConfigMap is left untouched
	// and the update fails.
	Adopt bool `json:"adopt"`
}

// AWSAuthMapping maps an IAM role or user to a Kubernetes user and groups.
type AWSAuthMapping struct {
	ARN      string   `json:"arn"`
	Username string   `json:"username"`
	Groups   []string `json:"groups"`
}

// Defaults returns the configuration used for every key the stack leaves unset. Pulumi.yaml
// declares the same defaults; a test keeps the two equal.
func Defaults() Config {
	return Config{
		ServiceType: "demo-eks-oidc",
		Environment: "dev",
		Tags:        map[string]string{},
		Network: NetworkConfig{
			CIDR:              "10.0.0.0/16",
			AvailabilityZones: []string{},
			PublicSubnets:     []string{},
			PrivateSubnets:    []string{},
			NATGateways:       "single",
			ECREndpoints:      false,
			S3Endpoint:        false,
			FlowLogs:          true,
		},
		Cluster: ClusterConfig{
			Version:            "1.36",
			PublicAccessCIDRs:  []string{"0.0.0.0/0"},
			LogRetentionDays:   30,
			AuthenticationMode: ModeAPIAndConfigMap,
		},
		Nodes: NodesConfig{
			InstanceType: "t3.medium",
			Desired:      2,
			Min:          1,
			Max:          3,
			DiskGiB:      20,
		},
		OIDC:                OIDCConfig{ExtraThumbprints: []string{}, Thumbprints: []string{}},
		AWSNode:             AWSNodeConfig{},
		ServiceAccountRoles: []ServiceAccountRoleConfig{},
		AWSAuth:             AWSAuthConfig{Roles: []AWSAuthMapping{}, Users: []AWSAuthMapping{}},
		AccessEntries:       []AccessEntryConfig{},
		IAM:                 IAMConfig{TrustPolicyMaxChars: defaultTrustPolicyChars},
	}
}

// Keys are the project config keys the program reads, in the order Pulumi.yaml declares them.
var Keys = []string{
	"serviceType", "environment", "clusterName", "tags", "network", "cluster", "nodes", "oidc",
	"awsNode", "serviceAccountRoles", "awsAuth", "accessEntries", "iam",
}

// LoadConfig reads and validates the stack's configuration.
func LoadConfig(ctx *pulumi.Context) (*Config, error) {
	raw := map[string]string{RegionKey: config.Get(ctx, RegionKey)}
	cfg := config.New(ctx, ProjectName)
	for _, key := range Keys {
		if v, err := cfg.Try(key); err == nil {
			raw[ProjectName+":"+key] = v
		}
	}
	return Decode(raw)
}

// Decode turns raw config values, keyed as the engine hands them over ("eks-irsa:nodes",
// "aws:region"; strings, objects as JSON), into a validated Config. Unset keys take Defaults; an object sets only the fields it names.
// Every problem is reported, as a *ConfigError.
func Decode(raw map[string]string) (*Config, error) {
	c := Defaults()
	c.Region = raw[RegionKey]
	var problems []Problem
	for _, key := range Keys {
		v, ok := raw[ProjectName+":"+key]
		if !ok {
			continue
		}
		if err := decodeKey(&c, key, v); err != nil {
			problems = append(problems, Problem{Key: key, Value: v, Want: err.Error()})
		}
	}
	if len(problems) > 0 {
		return nil, &ConfigError{Problems: problems}
	}
	if err := c.Validate(); err != nil {
		return nil, err
	}
	return &c, nil
}

func decodeKey(c *Config, key, v string) error {
	switch key {
	case "serviceType":
		c.ServiceType = v
	case "environment":
		c.Environment = v
	case "clusterName":
		c.ClusterName = v
	case "tags":
		return strictJSON(v, &c.Tags, "an object of string tags")
	case "network":
		return strictJSON(v, &c.Network, "an object with cidr, availabilityZones, publicSubnets, privateSubnets, natGateways, ecrEndpoints, s3Endpoint, flowLogs")
	case "cluster":
		return strictJSON(v, &c.Cluster, "an object with version, publicAccessCidrs, logRetentionDays, secretsKmsKeyArn, authenticationMode")
	case "nodes":
		return strictJSON(v, &c.Nodes, "an object with instanceType, desired, min, max, diskGiB, attachCniPolicy, amiReleaseVersion, accessEntry")
	case "oidc":
		return strictJSON(v, &c.OIDC, "an object with extraThumbprints, thumbprints")
	case "awsNode":
		return strictJSON(v, &c.AWSNode, "an object with roleName")
	case "serviceAccountRoles":
		return strictJSON(v, &c.ServiceAccountRoles, "a list of objects with namespace, serviceAccount, roleName, managedPolicyArns, inlinePolicy, account, createNamespace, identity")
	case "awsAuth":
		return strictJSON(v, &c.AWSAuth, "an object with roles, users (each arn, username, groups) and adopt")
	case "accessEntries":
		return strictJSON(v, &c.AccessEntries, "a list of objects with principalArn, type, username, kubernetesGroups, policies (each name, namespaces), adminBridge")
	case "iam":
		return strictJSON(v, &c.IAM, "an object with trustPolicyMaxChars")
	}
	return nil
}

// strictJSON decodes v over the defaults already in out, refusing unknown fields so that a
// misspelt key is an error rather than a silently ignored setting.
func strictJSON(v string, out any, want string) error {
	dec := json.NewDecoder(bytes.NewReader([]byte(v)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(out); err != nil {
		return fmt.Errorf("want %s (%s)", want, strings.TrimPrefix(err.Error(), "json: "))
	}
	if dec.More() {
		return fmt.Errorf("want %s (trailing data)", want)
	}
	return nil
}

// Name is the cluster's name: clusterName, else "<serviceType>-<environment>".
func (c *Config) Name() string {
	if c.ClusterName != "" {
		return c.ClusterName
	}
	return c.ServiceType + "-" + c.Environment
}

// AllTags are the tags every AWS resource carries: ServiceType, Environment and the
// configured ones (which win).
func (c *Config) AllTags() map[string]string {
	tags := map[string]string{"ServiceType": c.ServiceType, "Environment": c.Environment}
	for k, v := range c.Tags {
		tags[k] = v
	}
	return tags
}

// RoleName is the IAM role name of an extra service-account role.
func (c *Config) RoleName(r ServiceAccountRoleConfig) string {
	if r.RoleName != "" {
		return r.RoleName
	}
	return c.Name() + "-" + r.ServiceAccount
}

// Problem is one invalid config value.
type Problem struct {
	Key   string // e.g. "eks-irsa:nodes.min"
	Value string
	Want  string // what would be accepted
}

func (p Problem) String() string {
	key := p.Key
	if !strings.Contains(key, ":") {
		key = ProjectName + ":" + key
	}
	return fmt.Sprintf("%s = %s: %s", key, strconv.Quote(p.Value), p.Want)
}

// ConfigError lists every invalid config value; nothing has been registered when it is returned.
type ConfigError struct{ Problems []Problem }

func (e *ConfigError) Error() string {
	lines := make([]string, 0, len(e.Problems)+1)
	lines = append(lines, fmt.Sprintf("invalid configuration (%d problems):", len(e.Problems)))
	for _, p := range e.Problems {
		lines = append(lines, "  "+p.String())
	}
	return strings.Join(lines, "\n")
}

// IsConfigError reports whether err is (or wraps) a *ConfigError.
func IsConfigError(err error) bool {
	var ce *ConfigError
	return errors.As(err, &ce)
}
