// Package migrate owns the move of a cluster's aws-auth mappings to EKS access entries
// (`eksirsa migrate access-entries`): the plan, read from live state only (aws-auth, the
// cluster's mode and entries, IAM), which says what each row becomes, and the phases that
// carry it out through the stack's own program, each found again from live state.
package migrate

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eks"
	ekstypes "github.com/aws/aws-sdk-go-v2/service/eks/types"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/eks-irsa/eks-irsa/awsaccess"
	"github.com/eks-irsa/eks-irsa/drift"
	"github.com/eks-irsa/eks-irsa/k8s"
	"github.com/eks-irsa/eks-irsa/stack"
)

// Kind is what a row of aws-auth becomes.
type Kind string

const (
	// KindEntry: a STANDARD access entry with its policies, declared in accessEntries.
	KindEntry Kind = "entry"
	// KindNodeEntry: an EC2_LINUX entry; the stack's node role's is the program's own
	// (nodes.accessEntry), another node role's is declared in accessEntries.
	KindNodeEntry Kind = "node-entry"
	// KindEKSOwned: the principal already has an access entry the stack does not own (the
	// creator's, a managed node group's, someone's), which takes precedence over the row.
	KindEKSOwned Kind = "eks-owned"
	// KindOverridden: another mapping of the same identity is the one the authenticator applies.
	KindOverridden Kind = "overridden"
	// KindBlocked: no access entry can grant what the row grants; Reason says why.
	KindBlocked Kind = "blocked"
)

// Row is one aws-auth mapping (or mapAccounts account) and what it becomes.
type Row struct {
	List     string   `json:"list"` // mapRoles, mapUsers or mapAccounts
	ARN      string   `json:"arn"`  // as written (an account id for mapAccounts)
	Username string   `json:"username,omitempty"`
	Groups   []string `json:"groups,omitempty"`
	// Ours: the stack writes this row (its node role, or its awsAuth config).
	Ours bool `json:"ours"`
	Kind Kind `json:"kind"`
	// Principal is the entry's principal: a role's ARN as IAM has it (aws-auth drops a role's
	// path; SSO roles live under aws-reserved/sso.amazonaws.com/<region>/).
	Principal string `json:"principalArn,omitempty"`
	// Entry is what the row becomes (entry, node-entry).
	Entry *stack.AccessEntryConfig `json:"entry,omitempty"`
	// NodeRole: the stack's own node role, whose entry is the program's (nodes.accessEntry).
	NodeRole bool `json:"nodeRole,omitempty"`
	// Declared: the stack's configuration already declares the entry; Live: EKS has an entry
	// for the principal.
	Declared bool   `json:"declared"`
	Live     bool   `json:"live"`
	Reason   string `json:"reason,omitempty"`
	// Applies: the authenticator applies this row (not overridden by another of its identity,
	// not a case-variant user row, not a role ARN with a path that matches no caller).
	Applies bool `json:"applies"`
}

// Plan is the migration of one cluster's aws-auth.
type Plan struct {
	Cluster   string `json:"cluster"`
	Account   string `json:"account"`
	Partition string `json:"partition"`
	Mode      string `json:"authenticationMode"`
	// AWSAuth: the ConfigMap exists.
	AWSAuth bool  `json:"awsAuth"`
	Rows    []Row `json:"rows"`
	// Calls counts the AWS calls the plan made, by API, for the figures in the README.
	Calls map[string]int `json:"calls"`
}

// Input is what the plan reads.
type Input struct {
	Kube kubernetes.Interface
	AWS  aws.Config
	// Cluster and NodeRoleARN are the stack's outputs.
	Cluster     string
	NodeRoleARN string
	// StackAWSAuth is aws-auth's data as the stack writes it (its awsAuth output), which makes
	// a row the stack's own.
	StackAWSAuth map[string]string
	// Declared are the stack configuration's accessEntries; NodeEntry its nodes.accessEntry
	// (or API mode).
	Declared  []stack.AccessEntryConfig
	NodeEntry bool
}

// Read makes the plan: aws-auth from the cluster, the mode and entries from EKS
// (DescribeCluster, ListAccessEntries), each role's ARN from IAM (GetRole by name, once per
// name, awsaccess.Concurrency at a time).
func Read(ctx context.Context, in Input) (*Plan, error) {
	var mu sync.Mutex
	calls := map[string]int{}
	count := func(api string) { mu.Lock(); calls[api]++; mu.Unlock() }

	c := eks.NewFromConfig(in.AWS)
	count("eks:DescribeCluster")
	cl, err := c.DescribeCluster(ctx, &eks.DescribeClusterInput{Name: aws.String(in.Cluster)})
	if err != nil {
		return nil, fmt.Errorf("migrate: describe cluster %s: %w", in.Cluster, err)
	}
	p := &Plan{Cluster: in.Cluster, Mode: string(ekstypes.AuthenticationModeConfigMap), Calls: calls}
	if ac := cl.Cluster.AccessConfig; ac != nil && ac.AuthenticationMode != "" {
		p.Mode = string(ac.AuthenticationMode)
	}
	// arn:<partition>:eks:<region>:<account>:cluster/<name>
	if parts := strings.SplitN(aws.ToString(cl.Cluster.Arn), ":", 6); len(parts) == 6 {
		p.Partition, p.Account = parts[1], parts[4]
	}
	live := map[string]bool{} // principal ARN, lower case
	if p.Mode != string(ekstypes.AuthenticationModeConfigMap) {
		pages := eks.NewListAccessEntriesPaginator(c, &eks.ListAccessEntriesInput{ClusterName: aws.String(in.Cluster)})
		for pages.HasMorePages() {
			count("eks:ListAccessEntries")
			page, err := pages.NextPage(ctx)
			if err != nil {
				return nil, fmt.Errorf("migrate: list access entries of cluster %s: %w", in.Cluster, err)
			}
			for _, arn := range page.AccessEntries {
				live[strings.ToLower(arn)] = true
			}
		}
	}

	cm, err := in.Kube.CoreV1().ConfigMaps(k8s.KubeSystemNamespace).Get(ctx, k8s.AWSAuthName, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return p, nil
	}
	if err != nil {
		return nil, fmt.Errorf("migrate: get %s/%s: %w", k8s.KubeSystemNamespace, k8s.AWSAuthName, err)
	}
	p.AWSAuth = true
	mappings, accounts, parseErr := drift.AWSAuthMappings(cm.Data)
	ours := map[string]bool{}
	if in.StackAWSAuth != nil {
		own, _, _ := drift.AWSAuthMappings(in.StackAWSAuth)
		for _, m := range own {
			ours[k8s.MappingKey(m.ARN)] = true
		}
	}

	// Each role's real ARN, once per name.
	names := map[string]string{} // lower-case name -> real ARN ("" when IAM has none)
	var order []string
	for _, m := range mappings {
		if name, ok := ourRoleName(m, p.Account); ok {
			if _, seen := names[strings.ToLower(name)]; !seen {
				names[strings.ToLower(name)] = ""
				order = append(order, name)
			}
		}
	}
	resolved := make([]string, len(order))
	errs := make([]error, len(order))
	iamClient := iam.NewFromConfig(in.AWS)
	awsaccess.Parallel(len(order), func(i int) {
		count("iam:GetRole")
		got, err := iamClient.GetRole(ctx, &iam.GetRoleInput{RoleName: aws.String(order[i])})
		var missing *iamtypes.NoSuchEntityException
		switch {
		case errors.As(err, &missing):
		case err != nil:
			errs[i] = fmt.Errorf("migrate: IAM GetRole %s: %w", order[i], err)
		default:
			resolved[i] = aws.ToString(got.Role.Arn)
		}
	})
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	for i, name := range order {
		names[strings.ToLower(name)] = resolved[i]
	}

	declared := map[string]bool{}
	for _, e := range in.Declared {
		declared[strings.ToLower(e.PrincipalARN)] = true
	}
	if parseErr != nil {
		p.Rows = append(p.Rows, Row{List: k8s.AWSAuthName, Kind: KindBlocked,
			Reason: fmt.Sprintf("aws-iam-authenticator refuses part of aws-auth and applies the rest, which is planned below: %v; fix or remove that part first (kubectl -n kube-system edit configmap aws-auth)", parseErr)})
	}
	for _, m := range mappings {
		r := Row{List: m.List, ARN: m.ARN, Username: m.Username, Groups: m.Groups, Ours: ours[k8s.MappingKey(m.ARN)]}
		r.classify(m, p, names, in, live, declared)
		p.Rows = append(p.Rows, r)
	}
	for _, a := range accounts {
		p.Rows = append(p.Rows, Row{List: k8s.MapAccountsKey, ARN: a, Kind: KindBlocked,
			Reason: fmt.Sprintf("%s admits every IAM identity of account %s that no mapping names, as its own ARN; an access entry names one principal, so there is no entry for an account: declare one per principal that needs access", k8s.MapAccountsKey, a)})
	}
	return p, nil
}

// ourRoleName is the name of a role mapping's role when it is in the cluster's account, the
// one IAM here can read.
func ourRoleName(m drift.Mapping, account string) (string, bool) {
	parts := strings.SplitN(m.ARN, ":", 6)
	if m.List != k8s.MapRolesKey || len(parts) != 6 || parts[4] != account || !strings.HasPrefix(parts[5], "role/") {
		return "", false
	}
	return parts[5][strings.LastIndex(parts[5], "/")+1:], true
}

// serviceLinkedPath is where IAM keeps service-linked roles (IAM User Guide, "Using
// service-linked roles": /aws-service-role/<service>/), which only their service can assume.
const serviceLinkedPath = "role/aws-service-role/"

func (r *Row) classify(m drift.Mapping, p *Plan, names map[string]string, in Input, live, declared map[string]bool) {
	block := func(format string, args ...any) { r.Kind, r.Reason = KindBlocked, fmt.Sprintf(format, args...) }
	r.Applies = m.Applied && !m.Either && m.Unmatchable == ""
	switch {
	case !m.Applied:
		r.Kind, r.Reason = KindOverridden, m.Duplicate
		return
	case m.Either:
		block("%s; keep one with kubectl -n kube-system edit configmap aws-auth", m.Duplicate)
		return
	case m.Unmatchable != "":
		block("%s; an entry would grant it access it does not have today", m.Unmatchable)
		return
	}
	r.Principal = m.ARN
	if name, ok := ourRoleName(m, p.Account); ok {
		real := names[strings.ToLower(name)]
		if real == "" {
			block("IAM has no role %s in account %s: the row maps nobody, and EKS refuses an entry for a principal that does not exist", name, p.Account)
			return
		}
		r.Principal = real
		if strings.Contains(real, ":"+serviceLinkedPath) {
			block("a service-linked role (%s): only its AWS service can assume it, which makes the access it needs itself", real)
			return
		}
	}
	entry, why := stack.EntryForMapping(r.Principal, m.Username, m.Groups)
	if why != "" {
		block("%s", why)
		return
	}
	r.Entry = &entry
	r.Kind = KindEntry
	r.Live = live[strings.ToLower(r.Principal)]
	if entry.EntryType() == stack.EntryEC2Linux {
		r.Kind = KindNodeEntry
		r.NodeRole = strings.EqualFold(r.Principal, in.NodeRoleARN)
		if !r.NodeRole && !strings.Contains(r.Principal, "::"+p.Account+":") {
			block("a node role of another account: EKS takes node entries for roles of the cluster's account %s only", p.Account)
			r.Entry = nil
			return
		}
	}
	r.Declared = declared[strings.ToLower(r.Principal)] || (r.NodeRole && in.NodeEntry)
	if r.Live && !r.Declared {
		r.Kind, r.Entry = KindEKSOwned, nil
		r.Reason = "has an access entry the stack does not declare (EKS's for the cluster creator, a managed node group or a Fargate profile, or someone's), which already takes precedence over this row"
	}
}

// Blocked are the rows no entry can replace, each needing the user's decision before
// aws-auth goes.
func (p *Plan) Blocked() []Row {
	return slices.DeleteFunc(slices.Clone(p.Rows), func(r Row) bool { return r.Kind != KindBlocked })
}

// ToDeclare are the entries the stack's accessEntries must gain: every migrated row not
// declared yet, except the stack's node role (nodes.accessEntry). A cluster admin's (a row in
// system:masters) carries the admin bridge: EKS creates the entry, which takes precedence over
// the row at once, before it associates the policy, and the bridge's group is cluster-admin in
// between; the migration's bridge phase takes it off once the policy is proven.
func (p *Plan) ToDeclare() []stack.AccessEntryConfig {
	var out []stack.AccessEntryConfig
	for _, r := range p.Rows {
		if (r.Kind == KindEntry || r.Kind == KindNodeEntry) && !r.NodeRole && !r.Declared {
			e := *r.Entry
			e.AdminBridge = e.ClusterAdmin()
			out = append(out, e)
		}
	}
	return out
}

// Foreign are the rows written by someone else that the authenticator applies, as the stack's
// awsAuth config takes them: the migration declares them, so that no update of the stack (a
// killed update's recovery refreshes aws-auth, and the next update writes it as declared)
// drops a row before the migration's aws-auth phase, where each goes with its entry made or
// its loss decided.
func (p *Plan) Foreign() (roles, users []stack.AWSAuthMapping) {
	for _, r := range p.Rows {
		if r.Ours || !r.Applies {
			continue
		}
		m := stack.AWSAuthMapping{ARN: r.ARN, Username: r.Username, Groups: r.Groups}
		switch r.List {
		case k8s.MapRolesKey:
			roles = append(roles, m)
		case k8s.MapUsersKey:
			users = append(users, m)
		}
	}
	return roles, users
}

// Line is a row's line of the plan's text.
func (r Row) Line(partition string) string {
	subject := r.ARN
	if r.List != k8s.MapAccountsKey && r.List != k8s.AWSAuthName {
		subject = fmt.Sprintf("%s %s as %s in [%s]", r.List, r.ARN, r.Username, strings.Join(r.Groups, ","))
	}
	owner := "foreign"
	if r.Ours {
		owner = "ours"
	}
	switch r.Kind {
	case KindEntry, KindNodeEntry:
		state := "to declare"
		switch {
		case r.Declared && r.Live:
			state = "declared, live"
		case r.Declared:
			state = "declared, not live yet"
		}
		target := describeEntry(*r.Entry, partition)
		if r.NodeRole {
			target = "the stack's node entry (nodes.accessEntry): " + target
		}
		if r.Principal != r.ARN {
			target += " (principal " + r.Principal + ", as IAM has it)"
		}
		return fmt.Sprintf("%-10s %s (%s) -> %s [%s]", r.Kind, subject, owner, target, state)
	case KindBlocked:
		return fmt.Sprintf("%-10s %s (%s): %s", r.Kind, subject, owner, r.Reason)
	default:
		return fmt.Sprintf("%-10s %s (%s): %s", r.Kind, subject, owner, r.Reason)
	}
}

// describeEntry is an entry as a plan line shows it, policies as ARNs in the partition.
func describeEntry(e stack.AccessEntryConfig, partition string) string {
	s := e.EntryType()
	if e.Username != "" {
		s += " username " + e.Username
	}
	if len(e.KubernetesGroups) > 0 {
		s += " groups [" + strings.Join(e.KubernetesGroups, ",") + "]"
	}
	for _, pol := range e.Policies {
		scope := "cluster scope"
		if len(pol.Namespaces) > 0 {
			scope = "namespaces " + strings.Join(pol.Namespaces, ",")
		}
		s += fmt.Sprintf(" + %s at %s", stack.AccessPolicyARN(partition, pol.Name), scope)
	}
	return s
}
