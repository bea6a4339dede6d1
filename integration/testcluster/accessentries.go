package testcluster

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/eks"
	ekstypes "github.com/aws/aws-sdk-go-v2/service/eks/types"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	authenticationv1 "k8s.io/api/authentication/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	iamarn "sigs.k8s.io/aws-iam-authenticator/pkg/arn"
	"sigs.k8s.io/aws-iam-authenticator/pkg/mapper/configmap"

	"github.com/eks-irsa/eks-irsa/accessentry"
	"github.com/eks-irsa/eks-irsa/k8s"
)

// EKSAccess, set on AWSIAMAuth, makes the stand-in map an accepted token as EKS does, from the
// EKS API (moto, integration/moto/eks_access_entries.py) rather than to Username: the
// principal's access entry first, aws-auth only when it has none and the cluster's mode reads
// the ConfigMap (EKS User Guide, "Grant IAM users access to Kubernetes with EKS access
// entries": "If an access entry exists for the principal, ... the access entry takes
// precedence"; "Change authentication mode": API ignores aws-auth). A principal neither
// admits is refused.
type EKSAccess struct {
	// Endpoint is the AWS (moto) that holds the cluster, its entries and the STS that names a
	// key-mode token's principal.
	Endpoint string

	mu   sync.Mutex
	kube kubernetes.Interface
}

// UseKube gives the stand-in the cluster's admin client, which reads aws-auth and binds access
// policies as RBAC; set once the cluster (whose webhook this is) has started.
func (e *EKSAccess) UseKube(k kubernetes.Interface) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.kube = k
}

func (e *EKSAccess) client() kubernetes.Interface {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.kube
}

// principal is who a token's presigned GetCallerIdentity names (aws-iam-authenticator v0.7.2
// pkg/token Identity).
type principal struct {
	arn, canonical, account, session string
}

func newPrincipal(raw string) (principal, error) {
	// moto 5.2.1's GetCallerIdentity spells an IAM user arn:aws:sts::<account>:user/<name>
	// (measured here with the dummy keys); AWS's STS answers the user's IAM ARN
	// (STS API reference, GetCallerIdentity examples).
	if parts := strings.SplitN(raw, ":", 6); len(parts) == 6 && parts[2] == "sts" && strings.HasPrefix(parts[5], "user/") {
		parts[2] = "iam"
		raw = strings.Join(parts, ":")
	}
	_, canonical, err := iamarn.Canonicalize(raw)
	if err != nil {
		return principal{}, fmt.Errorf("STS says the token is %s: %w", raw, err)
	}
	p := principal{arn: raw, canonical: canonical}
	parts := strings.Split(raw, ":")
	if len(parts) >= 6 {
		p.account = parts[4]
		if res := strings.Split(parts[5], "/"); res[0] == "assumed-role" && len(res) >= 3 {
			p.session = res[len(res)-1]
		}
	}
	return p, nil
}

// keyPrincipal asks STS who the stand-in's keys are (a key-mode token is signed with them).
func (a *AWSIAMAuth) keyPrincipal(ctx context.Context) (string, error) {
	c := sts.New(sts.Options{Region: a.Region, BaseEndpoint: aws.String(a.EKS.Endpoint),
		Credentials: credentials.NewStaticCredentialsProvider(a.AccessKeyID, a.SecretAccessKey, "")})
	out, err := c.GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if err != nil {
		return "", fmt.Errorf("STS GetCallerIdentity: %w", err)
	}
	return aws.ToString(out.Arn), nil
}

func (a *AWSIAMAuth) eksClient() *eks.Client {
	return eks.New(eks.Options{Region: a.Region, BaseEndpoint: aws.String(a.EKS.Endpoint),
		Credentials: credentials.NewStaticCredentialsProvider("testing", "testing", "")})
}

// mapPrincipal is the user EKS makes of p: its access entry's, or aws-auth's mapping.
func (a *AWSIAMAuth) mapPrincipal(ctx context.Context, p principal) (authenticationv1.UserInfo, error) {
	c := a.eksClient()
	cl, err := c.DescribeCluster(ctx, &eks.DescribeClusterInput{Name: aws.String(a.ClusterName)})
	if err != nil {
		return authenticationv1.UserInfo{}, fmt.Errorf("EKS DescribeCluster %s: %w", a.ClusterName, err)
	}
	mode := ekstypes.AuthenticationModeConfigMap // API_CreateAccessConfigRequest: the API's default
	if ac := cl.Cluster.AccessConfig; ac != nil && ac.AuthenticationMode != "" {
		mode = ac.AuthenticationMode
	}
	if mode != ekstypes.AuthenticationModeConfigMap {
		entryARN, err := a.entryPrincipal(ctx, p)
		if err != nil {
			return authenticationv1.UserInfo{}, err
		}
		entry, err := accessentry.Read(ctx, c, "aws-iam authenticator", a.ClusterName, entryARN)
		if err != nil {
			return authenticationv1.UserInfo{}, err
		}
		if entry != nil {
			return a.fromEntry(ctx, p, *entry)
		}
	}
	if mode == ekstypes.AuthenticationModeApi {
		return authenticationv1.UserInfo{}, fmt.Errorf("%s has no access entry in cluster %s, whose mode API ignores aws-auth", p.canonical, a.ClusterName)
	}
	return a.fromAWSAuth(ctx, p)
}

// entryPrincipal is the ARN p's access entry is under. A session's ARN names its role without
// the role's path, and canonicalizing it cannot restore it (aws-iam-authenticator v0.7.2
// pkg/arn Canonicalize); EKS matches an entry by the role's unique id instead (EKS User Guide,
// "Create access entries": an entry is bound to the role's id, and a role ARN may carry a
// path). Here IAM GetRole on the role's name gives its full ARN, the same role.
func (a *AWSIAMAuth) entryPrincipal(ctx context.Context, p principal) (string, error) {
	kind, _, _ := iamarn.Canonicalize(p.arn)
	if kind != iamarn.ROLE && !strings.Contains(p.arn, ":assumed-role/") {
		return p.canonical, nil
	}
	name := p.canonical[strings.LastIndex(p.canonical, "/")+1:]
	c := iam.New(iam.Options{Region: a.Region, BaseEndpoint: aws.String(a.EKS.Endpoint),
		Credentials: credentials.NewStaticCredentialsProvider("testing", "testing", "")})
	got, err := c.GetRole(ctx, &iam.GetRoleInput{RoleName: aws.String(name)})
	var missing *iamtypes.NoSuchEntityException
	if errors.As(err, &missing) {
		return p.canonical, nil
	}
	if err != nil {
		return "", fmt.Errorf("IAM GetRole %s: %w", name, err)
	}
	return aws.ToString(got.Role.Arn), nil
}

// fromEntry maps p by its entry: the entry's username (EKS's default for its type when none
// was set, which DescribeAccessEntry returns) and groups; a node type is in system:nodes
// (EKS User Guide, "Create access entries": EKS grants a node entry its node permissions).
// Access policies become what EKS documents for each (EKS User Guide, "Review access policy
// permissions"): AmazonEKSClusterAdminPolicy is cluster-admin, here the group system:masters
// that Kubernetes' cluster-admin binding names; AmazonEKSAdminPolicy, AmazonEKSEditPolicy and
// AmazonEKSViewPolicy the ClusterRoles admin, edit and view, bound to the user at cluster scope
// or in each namespace of a namespace scope.
func (a *AWSIAMAuth) fromEntry(ctx context.Context, p principal, e accessentry.Live) (authenticationv1.UserInfo, error) {
	username, err := a.withPrivateDNSName(ctx, aws.ToString(e.Username), p)
	if err != nil {
		return authenticationv1.UserInfo{}, err
	}
	name, err := renderUsername(username, p)
	if err != nil {
		return authenticationv1.UserInfo{}, err
	}
	u := authenticationv1.UserInfo{Username: name, Groups: append([]string(nil), e.KubernetesGroups...)}
	if t := aws.ToString(e.Type); t != accessentry.TypeStandard {
		u.Groups = append(u.Groups, k8s.NodesGroup)
	}
	for _, pol := range e.Policies {
		policy := accessentry.PolicyName(aws.ToString(pol.PolicyArn))
		role, ok := policyRoles[policy]
		if !ok {
			return authenticationv1.UserInfo{}, fmt.Errorf("access policy %s of %s: the stand-in knows no permissions for it", policy, p.canonical)
		}
		cluster := pol.AccessScope == nil || pol.AccessScope.Type == ekstypes.AccessScopeTypeCluster
		if role == "" && cluster {
			u.Groups = append(u.Groups, mastersGroup)
			continue
		}
		if role == "" {
			role = "cluster-admin" // cluster admin in a namespace scope: everything there
		}
		if err := a.bind(ctx, name, policy, role, cluster, pol.AccessScope); err != nil {
			return authenticationv1.UserInfo{}, err
		}
	}
	return u, nil
}

// policyRoles: each access policy's Kubernetes ClusterRole ("" for cluster admin, granted as
// system:masters at cluster scope). EKS User Guide, "Review access policy permissions".
var policyRoles = map[string]string{
	"AmazonEKSClusterAdminPolicy": "",
	"AmazonEKSAdminPolicy":        "admin",
	"AmazonEKSEditPolicy":         "edit",
	"AmazonEKSViewPolicy":         "view",
}

// bind grants role to user, cluster-wide or in the scope's namespaces.
func (a *AWSIAMAuth) bind(ctx context.Context, user, policy, role string, cluster bool, scope *ekstypes.AccessScope) error {
	kube := a.EKS.client()
	if kube == nil {
		return fmt.Errorf("access policy %s of %s: no Kubernetes client to bind it with", policy, user)
	}
	name := strings.ToLower("eks-access-policy:" + policy + ":" + strings.NewReplacer(":", ".", "/", ".", "@", ".").Replace(user))
	subjects := []rbacv1.Subject{{Kind: rbacv1.UserKind, APIGroup: rbacv1.GroupName, Name: user}}
	ref := rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: role}
	if cluster {
		_, err := kube.RbacV1().ClusterRoleBindings().Create(ctx, &rbacv1.ClusterRoleBinding{
			ObjectMeta: metav1.ObjectMeta{Name: name}, Subjects: subjects, RoleRef: ref}, metav1.CreateOptions{})
		if err != nil && !apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("bind %s as %s: %w", user, policy, err)
		}
		return nil
	}
	for _, ns := range scope.Namespaces {
		_, err := kube.RbacV1().RoleBindings(ns).Create(ctx, &rbacv1.RoleBinding{
			ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns}, Subjects: subjects, RoleRef: ref}, metav1.CreateOptions{})
		if err != nil && !apierrors.IsAlreadyExists(err) && !apierrors.IsNotFound(err) {
			return fmt.Errorf("bind %s as %s in %s: %w", user, policy, ns, err)
		}
	}
	return nil
}

// fromAWSAuth maps p by aws-auth, parsed as aws-iam-authenticator parses it (its ParseMap): a
// role by its canonical ARN, a user by its ARN, ARNs compared as the authenticator's mapper
// compares them (lower case).
func (a *AWSIAMAuth) fromAWSAuth(ctx context.Context, p principal) (authenticationv1.UserInfo, error) {
	kube := a.EKS.client()
	if kube == nil {
		return authenticationv1.UserInfo{}, fmt.Errorf("%s has no access entry, and no Kubernetes client reads aws-auth", p.canonical)
	}
	cm, err := kube.CoreV1().ConfigMaps(k8s.KubeSystemNamespace).Get(ctx, k8s.AWSAuthName, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return authenticationv1.UserInfo{}, fmt.Errorf("%s has no access entry and there is no aws-auth", p.canonical)
	}
	if err != nil {
		return authenticationv1.UserInfo{}, fmt.Errorf("read aws-auth: %w", err)
	}
	users, roles, _, err := configmap.ParseMap(cm.Data)
	if err != nil {
		return authenticationv1.UserInfo{}, fmt.Errorf("parse aws-auth: %w", err)
	}
	// The last mapping of an ARN wins: MapStore.saveMap keys role mappings by the lower-cased
	// ARN, so a later one replaces an earlier (aws-iam-authenticator v0.7.2 pkg/mapper/configmap;
	// drift's inForce states the same rule).
	for _, r := range slices.Backward(roles) {
		if strings.EqualFold(r.RoleARN, p.canonical) {
			username, err := a.withPrivateDNSName(ctx, r.Username, p)
			if err != nil {
				return authenticationv1.UserInfo{}, err
			}
			return renderUser(username, r.Groups, p)
		}
	}
	for _, u := range slices.Backward(users) {
		if strings.EqualFold(u.UserARN, p.canonical) {
			return renderUser(u.Username, u.Groups, p)
		}
	}
	return authenticationv1.UserInfo{}, fmt.Errorf("%s has no access entry and aws-auth does not map it", p.canonical)
}

// withPrivateDNSName fills {{EC2PrivateDNSName}} as aws-iam-authenticator v0.7.2 does for a
// node's role session (pkg/server renderTemplate, pkg/ec2provider): the session name is the
// instance id, and EC2 DescribeInstances gives its private DNS name (moto's instances here).
func (a *AWSIAMAuth) withPrivateDNSName(ctx context.Context, template string, p principal) (string, error) {
	const placeholder = "{{EC2PrivateDNSName}}"
	if !strings.Contains(template, placeholder) {
		return template, nil
	}
	if !strings.HasPrefix(p.session, "i-") {
		return "", fmt.Errorf("username %s of %s: the session %q is not an instance id", template, p.canonical, p.session)
	}
	c := ec2.New(ec2.Options{Region: a.Region, BaseEndpoint: aws.String(a.EKS.Endpoint),
		Credentials: credentials.NewStaticCredentialsProvider("testing", "testing", "")})
	out, err := c.DescribeInstances(ctx, &ec2.DescribeInstancesInput{InstanceIds: []string{p.session}})
	if err != nil {
		return "", fmt.Errorf("EC2 DescribeInstances %s: %w", p.session, err)
	}
	for _, r := range out.Reservations {
		for _, i := range r.Instances {
			if dns := aws.ToString(i.PrivateDnsName); dns != "" {
				return strings.ReplaceAll(template, placeholder, dns), nil
			}
		}
	}
	return "", fmt.Errorf("EC2 has no private DNS name for instance %s", p.session)
}

func renderUser(username string, groups []string, p principal) (authenticationv1.UserInfo, error) {
	name, err := renderUsername(username, p)
	if err != nil {
		return authenticationv1.UserInfo{}, err
	}
	u := authenticationv1.UserInfo{Username: name}
	for _, g := range groups {
		rendered, err := renderUsername(g, p)
		if err != nil {
			return authenticationv1.UserInfo{}, err
		}
		u.Groups = append(u.Groups, rendered)
	}
	return u, nil
}

// renderUsername fills a username template as aws-iam-authenticator v0.7.2 pkg/server
// renderTemplate does: {{AccountID}}, {{SessionName}} (with @ made -), {{SessionNameRaw}}.
// {{EC2PrivateDNSName}} is filled before, by withPrivateDNSName: left here, it is refused.
func renderUsername(template string, p principal) (string, error) {
	if strings.Contains(template, "{{EC2PrivateDNSName}}") {
		return "", fmt.Errorf("username %s of %s: {{EC2PrivateDNSName}} is not rendered by the stand-in", template, p.canonical)
	}
	template = strings.ReplaceAll(template, "{{AccountID}}", p.account)
	template = strings.ReplaceAll(template, "{{SessionName}}", strings.ReplaceAll(p.session, "@", "-"))
	return strings.ReplaceAll(template, "{{SessionNameRaw}}", p.session), nil
}
