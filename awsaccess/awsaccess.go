// Package awsaccess owns how eksirsa reaches the stack's AWS: the region, the profile, the
// role the Pulumi AWS provider assumes and the endpoints it calls, read from the stack's
// aws: config exactly as pulumi-aws v6 reads it. The program's kubeconfig (Exec) and every AWS
// call the driver makes (Config) take them from here, so both act as the principal, in the
// account, that created the stack.
package awsaccess

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/arn"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials/stscreds"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	ststypes "github.com/aws/aws-sdk-go-v2/service/sts/types"
	pulumiaws "github.com/pulumi/pulumi-aws/sdk/v6/go/aws/config"

	"github.com/eks-irsa/eks-irsa/eksauth"
)

// The AWS provider's config keys read here (pulumi-aws sdk/go/aws/config/config.go).
const (
	RegionKey     = "aws:region"
	ProfileKey    = "aws:profile"
	AssumeRoleKey = "aws:assumeRole"
	// EndpointsKey is the per-service endpoint override (a list of {service: url} objects;
	// pulumi-aws docs, "Configuration options: endpoints"), which points a stack at an
	// emulator such as LocalStack or moto.
	EndpointsKey = "aws:endpoints"
)

// The session duration bounds of the provider's assume_role.duration ("between 15 minutes
// and 12 hours"; terraform-provider-aws internal/provider/provider.go, assumeRoleSchema and
// validAssumeRoleDuration).
const (
	minDuration = 15 * time.Minute
	maxDuration = 12 * time.Hour
)

// MaxAttempts bounds each call's attempts under the adaptive retryer: IAM throttles a burst
// of reads (Throttling, 400) and the adaptive mode slows the client down instead of failing
// the run; ten attempts ride out a throttled minute.
const MaxAttempts = 10

// AssumeRole is aws:assumeRole as pulumi-aws v6.83.4 declares it (sdk/go/aws/config
// pulumiTypes.go, type AssumeRole; terraform-provider-aws assumeRoleSchema/expandAssumeRole):
// each field goes into the STS AssumeRole call as the provider sends it.
type AssumeRole struct {
	RoleARN           string            `json:"roleArn"`
	SessionName       string            `json:"sessionName,omitempty"`
	ExternalID        string            `json:"externalId,omitempty"`
	Duration          string            `json:"duration,omitempty"` // a Go duration, 15m to 12h
	Policy            string            `json:"policy,omitempty"`
	PolicyARNs        []string          `json:"policyArns,omitempty"`
	SourceIdentity    string            `json:"sourceIdentity,omitempty"`
	Tags              map[string]string `json:"tags,omitempty"`
	TransitiveTagKeys []string          `json:"transitiveTagKeys,omitempty"`

	duration time.Duration
}

// Access is how to reach the stack's AWS.
type Access struct {
	Region     string
	Profile    string
	AssumeRole *AssumeRole
	// Endpoints maps the SDK's service IDs eksirsa calls to aws:endpoints' URLs.
	Endpoints map[string]string

	assumeRoleValue string // aws:assumeRole as given, for messages
}

// Problem is one invalid aws: config value: the key, the value and what would be accepted.
type Problem struct {
	Key, Value, Want string
}

func (p *Problem) Error() string {
	return fmt.Sprintf("%s = %s: %s", p.Key, strconv.Quote(p.Value), p.Want)
}

// Read takes the aws: config values (get returns "" for an unset key; objects and lists as
// the JSON the engine hands a program) and reports every problem at once, each a *Problem.
func Read(get func(key string) string) (Access, error) {
	a := Access{Region: get(RegionKey), Profile: get(ProfileKey), assumeRoleValue: get(AssumeRoleKey)}
	var problems []error
	if v := get(AssumeRoleKey); v != "" {
		role, err := ParseAssumeRole(v)
		if err != nil {
			problems = append(problems, err)
		} else {
			a.AssumeRole = role
		}
	}
	if v := get(EndpointsKey); v != "" {
		endpoints, err := parseEndpoints(v)
		if err != nil {
			problems = append(problems, &Problem{Key: EndpointsKey, Value: v, Want: err.Error()})
		}
		a.Endpoints = endpoints
	}
	return a, errors.Join(problems...)
}

// assumeRoleFields are the keys aws:assumeRole accepts, for the message on any other.
var assumeRoleFields = "roleArn, sessionName, externalId, duration, policy, policyArns, sourceIdentity, tags, transitiveTagKeys"

// ParseAssumeRole reads aws:assumeRole's value (the JSON the engine hands a program or a
// provider) as pulumi-aws does; the error is a *Problem.
func ParseAssumeRole(v string) (*AssumeRole, error) {
	r, err := parseAssumeRole(v)
	if err != nil {
		return nil, &Problem{Key: AssumeRoleKey, Value: v, Want: err.Error()}
	}
	return r, nil
}

func parseAssumeRole(v string) (*AssumeRole, error) {
	dec := json.NewDecoder(strings.NewReader(v))
	// The provider refuses a key its schema lacks (durationSeconds went with
	// terraform-provider-aws v5): silently dropping one would assume the role differently.
	dec.DisallowUnknownFields()
	var r AssumeRole
	if err := dec.Decode(&r); err != nil {
		return nil, fmt.Errorf(`want an object such as {"roleArn": "arn:aws:iam::123456789012:role/deployer"} with the keys %s (%v)`, assumeRoleFields, err)
	}
	var bad []string
	if r.RoleARN == "" {
		bad = append(bad, "roleArn is missing: the provider assumes no role without it")
	} else if a, err := arn.Parse(r.RoleARN); err != nil || a.Service != "iam" || !strings.HasPrefix(a.Resource, "role/") {
		bad = append(bad, fmt.Sprintf("roleArn %q is not an IAM role ARN (arn:<partition>:iam::<account>:role/<name>)", r.RoleARN))
	}
	if r.Duration != "" {
		d, err := time.ParseDuration(r.Duration)
		switch {
		case err != nil:
			bad = append(bad, fmt.Sprintf("duration %q is not a duration such as 1h or 90m (units ns, us, ms, s, m, h)", r.Duration))
		case d < minDuration || d > maxDuration:
			bad = append(bad, fmt.Sprintf("duration %s is outside 15m to 12h", r.Duration))
		default:
			r.duration = d
		}
	}
	if r.Policy != "" && !json.Valid([]byte(r.Policy)) {
		bad = append(bad, "policy is not a JSON policy document")
	}
	for _, p := range r.PolicyARNs {
		if _, err := arn.Parse(p); err != nil {
			bad = append(bad, fmt.Sprintf("policyArns: %q is not an ARN", p))
		}
	}
	for _, k := range r.TransitiveTagKeys {
		if _, ok := r.Tags[k]; !ok {
			// STS: "the transitive tag keys must be a subset of the session tags" (AssumeRole,
			// TransitiveTagKeys).
			bad = append(bad, fmt.Sprintf("transitiveTagKeys: %q is not one of tags", k))
		}
	}
	if len(bad) > 0 {
		return nil, errors.New(strings.Join(bad, "; "))
	}
	return &r, nil
}

// endpointServices maps the provider's endpoint keys to the SDK's service IDs that eksirsa
// calls.
var endpointServices = map[string]string{
	"ec2":            "EC2",
	"eks":            "EKS",
	"iam":            "IAM",
	"sts":            "STS",
	"logs":           "CloudWatch Logs",
	"cloudwatchlogs": "CloudWatch Logs",
}

// endpointKeys are the keys aws:endpoints takes: the pulumi tags of pulumi-aws v6.83.4's
// config.Endpoints, the provider's own schema. The provider refuses any other key ("Invalid or
// unknown key. Examine values at 'prov.endpoints'", pulumi/pulumi-aws#4004), so eksirsa refuses
// it offline, before the engine starts. EKS Auth has none: see EKSAuthEndpoint.
var endpointKeys = func() map[string]bool {
	keys := map[string]bool{}
	t := reflect.TypeFor[pulumiaws.Endpoints]()
	for i := range t.NumField() {
		if k, _, _ := strings.Cut(t.Field(i).Tag.Get("pulumi"), ","); k != "" {
			keys[k] = true
		}
	}
	return keys
}()

// parseEndpoints reads aws:endpoints into SDK service ID → URL, for the services eksirsa calls,
// and refuses a key the provider would refuse.
func parseEndpoints(value string) (map[string]string, error) {
	var list []map[string]string
	if err := json.Unmarshal([]byte(value), &list); err != nil {
		return nil, fmt.Errorf("want a list of {service: url} objects (%v)", err)
	}
	out := map[string]string{}
	var unknown []string
	for _, m := range list {
		for key, url := range m {
			if !endpointKeys[key] {
				unknown = append(unknown, strconv.Quote(key))
			}
			if id, ok := endpointServices[strings.ToLower(key)]; ok && url != "" {
				out[id] = url
			}
		}
	}
	if len(unknown) > 0 {
		slices.Sort(unknown)
		return out, fmt.Errorf("%s %s not among the AWS provider's endpoint keys (pulumi-aws v6.83.4: ec2, eks, iam, sts, logs, ... in lower case), and the provider refuses the stack; EKS Auth has no key: eksirsa sends it where eks goes when that is not AWS's (an emulator), else to https://eks-auth.<region>.api.aws",
			strings.Join(unknown, ", "), map[bool]string{true: "is", false: "are"}[len(unknown) == 1])
	}
	return out, nil
}

// awsDomains are the DNS suffixes of AWS's own endpoints in every partition: each "dnsSuffix"
// and "dualStackDnsSuffix" of aws-sdk-go-v2's internal/endpoints/awsrulesfn/partitions.json
// (v1.48.0). A host under one of them is AWS's, whatever the URL (regional, FIPS, a VPC
// endpoint's vpce-….sts.….vpce.amazonaws.com).
var awsDomains = []string{
	"amazonaws.com", "amazonaws.com.cn", "amazonaws.eu", "c2s.ic.gov", "cloud.adc-e.uk", "csp.hci.ic.gov", "sc2s.sgov.gov",
	"api.aws", "api.amazonwebservices.com.cn", "api.amazonwebservices.eu", "api.aws.hci.ic.gov", "api.aws.ic.gov",
	"api.aws.scloud", "api.cloud-aws.adc-e.uk",
}

// AWSHost says whether endpoint (a URL, or a bare host) is served by AWS: its host is under
// one of AWS's partition domains. Anything else is an emulator (moto, LocalStack) or a proxy.
func AWSHost(endpoint string) bool {
	host := endpoint
	if u, err := url.Parse(endpoint); err == nil && u.Hostname() != "" {
		host = u.Hostname()
	}
	host = strings.ToLower(strings.TrimSuffix(host, "."))
	return slices.ContainsFunc(awsDomains, func(d string) bool { return host == d || strings.HasSuffix(host, "."+d) })
}

// EKSAuthEndpoint is where eksirsa calls EKS Auth (verify --identities' Pod Identity proof) for
// region. The provider has no endpoint key for it (pulumi-aws v6.83.4's config.Endpoints), so
// it follows aws:endpoints' eks when that is not AWS's: an emulator serves EKS Auth beside EKS
// at one URL (moto picks the service by the signing name; integration/moto/eks_auth.py). An
// eks endpoint of AWS's own (FIPS, a VPC endpoint) is EKS's alone: EKS Auth keeps AWS's
// endpoint, eksauth.DefaultEndpoint.
func (a Access) EKSAuthEndpoint(ctx context.Context, region string) (string, error) {
	if u := a.Endpoints["EKS"]; u != "" && !AWSHost(u) {
		return u, nil
	}
	return eksauth.DefaultEndpoint(ctx, region)
}

// Config is the SDK configuration of eksirsa's own AWS calls: the default credential chain
// (with aws:profile), as the provider builds its base credentials, then, with aws:assumeRole,
// the role assumed with those credentials (stscreds, the SDK's AssumeRole provider, with every
// field the provider passes); aws:endpoints; and the adaptive retryer, so throttling slows a
// run down instead of failing it.
func (a Access) Config(ctx context.Context) (aws.Config, error) {
	loaders := []func(*awsconfig.LoadOptions) error{
		awsconfig.WithRegion(a.Region),
		awsconfig.WithRetryer(func() aws.Retryer {
			return retry.NewAdaptiveMode(func(o *retry.AdaptiveModeOptions) {
				o.StandardOptions = append(o.StandardOptions, func(so *retry.StandardOptions) { so.MaxAttempts = MaxAttempts })
			})
		}),
	}
	if a.Profile != "" {
		loaders = append(loaders, awsconfig.WithSharedConfigProfile(a.Profile))
	}
	if len(a.Endpoints) > 0 {
		endpoints := a.Endpoints
		//nolint:staticcheck // the per-service resolver is the SDK's one hook for a service-specific URL in an aws.Config
		loaders = append(loaders, awsconfig.WithEndpointResolverWithOptions(aws.EndpointResolverWithOptionsFunc(
			func(service, region string, _ ...any) (aws.Endpoint, error) {
				if url, ok := endpoints[service]; ok {
					return aws.Endpoint{URL: url, SigningRegion: region, HostnameImmutable: true}, nil
				}
				return aws.Endpoint{}, &aws.EndpointNotFoundError{}
			})))
	}
	cfg, err := awsconfig.LoadDefaultConfig(ctx, loaders...)
	if err != nil {
		return cfg, fmt.Errorf("AWS configuration for region %s: %w", a.Region, err)
	}
	cfg.HTTPClient = PlainBodies(cfg.HTTPClient)
	if r := a.AssumeRole; r != nil {
		// The STS client signs with the base credentials; everything else with the role's.
		cfg.Credentials = r.Credentials(sts.NewFromConfig(cfg))
	}
	return cfg, nil
}

// Credentials are the role's, assumed through client (signed with the base credentials) with
// every field the provider passes, and renewed before they expire.
func (r *AssumeRole) Credentials(client stscreds.AssumeRoleAPIClient) aws.CredentialsProvider {
	return aws.NewCredentialsCache(stscreds.NewAssumeRoleProvider(client, r.RoleARN, r.options))
}

// options are the AssumeRole call's parameters, as terraform-provider-aws's expandAssumeRole
// hands them to aws-sdk-go-base (which fills stscreds.AssumeRoleOptions the same way).
func (r *AssumeRole) options(o *stscreds.AssumeRoleOptions) {
	o.RoleSessionName = r.SessionName
	o.Duration = r.duration
	if r.ExternalID != "" {
		o.ExternalID = aws.String(r.ExternalID)
	}
	if r.Policy != "" {
		o.Policy = aws.String(r.Policy)
	}
	for _, p := range r.PolicyARNs {
		o.PolicyARNs = append(o.PolicyARNs, ststypes.PolicyDescriptorType{Arn: aws.String(p)})
	}
	if r.SourceIdentity != "" {
		o.SourceIdentity = aws.String(r.SourceIdentity)
	}
	keys := make([]string, 0, len(r.Tags))
	for k := range r.Tags {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		o.Tags = append(o.Tags, ststypes.Tag{Key: aws.String(k), Value: aws.String(r.Tags[k])})
	}
	o.TransitiveTagKeys = r.TransitiveTagKeys
}

// ExecCredentials is who the kubeconfig's `aws eks get-token` signs as. It must be the
// principal the AWS provider created the cluster as: EKS makes that principal the cluster's
// admin (bootstrapClusterCreatorAdminPermissions), and anyone else is Unauthorized until
// aws-auth, which this very kubeconfig applies, maps them.
type ExecCredentials struct {
	Profile string // aws:profile, passed as AWS_PROFILE
	RoleARN string // aws:assumeRole.roleArn, passed as --role-arn
}

// Exec is the kubeconfig's share of Access. EKS maps an assumed-role session to its role, so
// the session's name, duration, policies and tags do not change who the cluster sees; an
// external id does, and `aws eks get-token` has no flag for it: that is refused.
func (a Access) Exec() (ExecCredentials, error) {
	creds := ExecCredentials{Profile: a.Profile}
	if a.AssumeRole == nil {
		return creds, nil
	}
	if a.AssumeRole.ExternalID != "" {
		return creds, &Problem{Key: AssumeRoleKey, Value: a.assumeRoleValue,
			Want: "externalId is set, which `aws eks get-token` cannot pass: assume the role through a profile (role_arn and external_id in ~/.aws/config) and set aws:profile instead"}
	}
	creds.RoleARN = a.AssumeRole.RoleARN
	return creds, nil
}

// Concurrency bounds the calls eksirsa has in flight against one AWS API when it reads
// identity by identity (drift, verify --identities): IAM's request quotas are per account,
// so a hundred roles are read a few at a time, and the adaptive retryer (Config) slows
// those few down when IAM throttles instead of failing the run.
const Concurrency = 8

// Parallel calls fn(i) for every i in [0, n) on at most Concurrency goroutines, and returns
// when all have.
func Parallel(n int, fn func(i int)) {
	slots := make(chan struct{}, Concurrency)
	var wg sync.WaitGroup
	for i := range n {
		slots <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-slots; wg.Done() }()
			fn(i)
		}()
	}
	wg.Wait()
}
