package drift

import (
	"context"
	"fmt"
	"slices"
	"strings"

	ekstypes "github.com/aws/aws-sdk-go-v2/service/eks/types"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	authconfig "sigs.k8s.io/aws-iam-authenticator/pkg/config"
	"sigs.k8s.io/aws-iam-authenticator/pkg/mapper/configmap"

	"github.com/eks-irsa/eks-irsa/k8s"
)

// written is one aws-auth mapping as it stands in the ConfigMap.
type written struct {
	list     string // k8s.MapRolesKey or k8s.MapUsersKey
	arn      string // as written (a role mapping's Key() when it is an SSO matcher)
	username string
	groups   []string
}

func (w written) String() string {
	g := slices.Clone(w.groups)
	slices.Sort(g)
	return fmt.Sprintf("%s [%s]", w.username, strings.Join(g, ","))
}

// identityKey is the key of one identity: several mappings may name it.
type identityKey = string

// inForce is aws-auth as aws-iam-authenticator v0.7.2 applies it (pkg/mapper/configmap):
//   - MapStore.saveMap keys role mappings by RoleMapping.Key(), the lower-cased ARN, so of two
//     role mappings of one ARN (in any case) the last one written is the one kept;
//   - it keys user mappings by UserMapping.Key(), the ARN as written, so identical duplicates
//     keep the last, but two that differ only in case are both kept and MapStore.UserMapping
//     ranges over a Go map comparing lower-cased ARNs: which one applies changes per request;
//   - ConfigMapMapper.Map looks a caller's lower-cased canonical ARN up in the role mappings
//     first, then in the user mappings;
//   - the canonical ARN of an assumed role has no path (pkg/arn Canonicalize turns
//     assumed-role/<name>/<session> into role/<name>), so a role mapping whose ARN carries a
//     path matches no caller;
//   - server.doMapping lets an identity no mapping names authenticate, as its own ARN with no
//     groups, when its account is in mapAccounts.
type inForce struct {
	order    []identityKey             // first appearance
	mappings map[identityKey][]written // every mapping of the identity, in order
	applied  map[identityKey]written   // the one the authenticator applies
	either   map[identityKey]bool      // user mappings differing in case: either applies
	accounts []string                  // mapAccounts
	parseErr error                     // what ParseMap refused (the rest still applies)
}

// applyAWSAuth parses data as aws-iam-authenticator does (its own ParseMap) and decides which
// mapping of each identity is in force, by the rules above.
func applyAWSAuth(data map[string]string) inForce {
	users, roles, accounts, err := configmap.ParseMap(data)
	f := inForce{mappings: map[identityKey][]written{}, applied: map[identityKey]written{}, either: map[identityKey]bool{}, accounts: accounts, parseErr: err}
	add := func(w written) identityKey {
		key := k8s.MappingKey(w.arn)
		if _, seen := f.mappings[key]; !seen {
			f.order = append(f.order, key)
		}
		f.mappings[key] = append(f.mappings[key], w)
		return key
	}
	for _, r := range roles {
		arn := r.RoleARN
		if arn == "" {
			arn = r.Key() // an SSO matcher's ARN pattern
		}
		key := add(written{list: k8s.MapRolesKey, arn: arn, username: r.Username, groups: r.Groups})
		f.applied[key] = f.mappings[key][len(f.mappings[key])-1] // the last role mapping wins
	}
	// users apply only where no role mapping of the same ARN does (Map looks up roles first).
	userKeys := map[identityKey]map[string]bool{}
	for _, u := range users {
		key := add(written{list: k8s.MapUsersKey, arn: u.UserARN, username: u.Username, groups: u.Groups})
		if hasRole(f.mappings[key]) {
			continue
		}
		if userKeys[key] == nil {
			userKeys[key] = map[string]bool{}
		}
		userKeys[key][(&authconfig.UserMapping{UserARN: u.UserARN}).Key()] = true
		f.applied[key] = f.mappings[key][len(f.mappings[key])-1]
		f.either[key] = len(userKeys[key]) > 1
	}
	return f
}

func hasRole(ws []written) bool {
	return slices.ContainsFunc(ws, func(w written) bool { return w.list == k8s.MapRolesKey })
}

// unmatchable says why a role mapping's ARN can match no caller, or "".
func unmatchable(w written) string {
	resource := w.arn[strings.LastIndex(w.arn, ":")+1:]
	if strings.HasPrefix(resource, "role/") && strings.Count(resource, "/") > 1 {
		name := resource[strings.LastIndex(resource, "/")+1:]
		return fmt.Sprintf("its role ARN carries a path, and the authenticator compares mappings with the caller's canonical ARN, which has none (%s:role/%s): it matches no caller today, and would grant %s to the role if the path were dropped",
			w.arn[:strings.LastIndex(w.arn, ":")], name, w)
	}
	return ""
}

// describe says what the authenticator applies for key, and how it chose.
func (f inForce) describe(key identityKey) string {
	ms := f.mappings[key]
	if len(ms) == 1 {
		return ms[0].String()
	}
	var all []string
	for _, m := range ms {
		all = append(all, fmt.Sprintf("%s %s", m.list, m))
	}
	switch {
	case f.either[key]:
		return fmt.Sprintf("mapped %d times (%s); its user mappings differ only in case, so the authenticator keeps them all and applies whichever its map yields first, request by request", len(ms), strings.Join(all, "; "))
	case hasRole(ms) && slices.ContainsFunc(ms, func(w written) bool { return w.list == k8s.MapUsersKey }):
		return fmt.Sprintf("mapped %d times (%s); the authenticator applies the last role mapping, %s, and never the user mappings", len(ms), strings.Join(all, "; "), f.applied[key])
	}
	return fmt.Sprintf("mapped %d times (%s); the authenticator applies the last, %s", len(ms), strings.Join(all, "; "), f.applied[key])
}

// awsAuth compares what the authenticator applies from aws-auth with what it would apply from
// the stack's aws-auth: each of the stack's mappings (present, changed, mapped again),
// every other identity it admits, and mapAccounts.
func (d *Detector) awsAuth(ctx context.Context, decl Declared, repair string) ([]Line, error) {
	subject := k8s.KubeSystemNamespace + "/" + k8s.AWSAuthName
	cm, err := d.Kube.CoreV1().ConfigMaps(k8s.KubeSystemNamespace).Get(ctx, k8s.AWSAuthName, metav1.GetOptions{})
	if decl.AuthenticationMode == string(ekstypes.AuthenticationModeApi) {
		// EKS reads no aws-auth in API mode: a ConfigMap there maps nobody, and misleads whoever
		// reads it.
		switch {
		case apierrors.IsNotFound(err):
			return []Line{matched(CheckAWSAuth, subject, "no aws-auth: the cluster is in API mode, access is by entries")}, nil
		case err != nil:
			return nil, fmt.Errorf("get aws-auth: %w", err)
		}
		return []Line{found(CheckAWSAuth, subject, "kubectl -n kube-system delete configmap aws-auth",
			"aws-auth exists, but the cluster is in API mode and EKS reads none: its mappings grant nothing")}, nil
	}
	if apierrors.IsNotFound(err) && decl.NoAWSAuth {
		return []Line{matched(CheckAWSAuth, subject, "no aws-auth: the stack writes none, its nodes join by their access entry")}, nil
	}
	if apierrors.IsNotFound(err) {
		return []Line{found(CheckAWSAuth, subject, repair, "aws-auth is gone: nodes cannot join")}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("get aws-auth: %w", err)
	}
	want := applyAWSAuth(map[string]string{k8s.MapRolesKey: decl.MapRoles, k8s.MapUsersKey: decl.MapUsers})
	if want.parseErr != nil {
		return nil, fmt.Errorf("the stack's aws-auth output: %w", want.parseErr)
	}
	live := applyAWSAuth(cm.Data)
	var lines []Line
	if live.parseErr != nil {
		// The authenticator logs the error and keeps what did parse (MapStore's watch:
		// "Only saving data that was good"), so the comparison below goes on with that.
		lines = append(lines, found(CheckAWSAuth, subject, repair, "the authenticator refuses part of aws-auth and applies the rest: %v", live.parseErr))
	}
	keepRepair := fmt.Sprintf("to keep it, add it to eks-irsa:awsAuth in Pulumi.%s.yaml before the next %s, which otherwise removes it; to drop it now, run that or kubectl -n kube-system edit configmap aws-auth", decl.Stack, repair)
	for _, key := range want.order {
		w := want.applied[key]
		ms, ok := live.mappings[key]
		switch {
		case !ok:
			lines = append(lines, found(CheckAWSAuthOurs, w.arn, repair, "the stack's mapping to %s is missing from aws-auth", w))
		case len(ms) > 1:
			lines = append(lines, found(CheckAWSAuthDuplicate, w.arn, repair+" (it writes each ARN once)", "%s; the stack maps it once, to %s", live.describe(key), w))
		case live.applied[key].String() != w.String():
			lines = append(lines, found(CheckAWSAuthOurs, w.arn, repair, "mapped to %s, the stack maps it to %s", live.applied[key], w))
		default:
			lines = append(lines, matched(CheckAWSAuthOurs, w.arn, "%s", w))
		}
	}
	for _, key := range live.order {
		if _, ours := want.mappings[key]; ours {
			continue
		}
		ms := live.mappings[key]
		if len(ms) > 1 {
			lines = append(lines, found(CheckAWSAuthDuplicate, ms[0].arn, keepRepair, "%s; the stack does not map it", live.describe(key)))
			continue
		}
		detail := fmt.Sprintf("mapped to %s in aws-auth but not by the stack", ms[0])
		if why := unmatchable(ms[0]); why != "" {
			detail += "; " + why
		}
		lines = append(lines, found(CheckForeign, ms[0].arn, keepRepair, "%s", detail))
	}
	for _, account := range live.accounts {
		lines = append(lines, found(CheckAWSAuthAccounts, account,
			"the stack declares no "+k8s.MapAccountsKey+": delete the key with kubectl -n kube-system edit configmap aws-auth ("+repair+" does not remove a key another field manager wrote)",
			"%s lets every IAM identity of account %s that no mapping names authenticate, as its own ARN with no groups (server.doMapping); what RBAC grants such users or system:authenticated is then theirs", k8s.MapAccountsKey, account))
	}
	return lines, nil
}

// Mapping is one aws-auth mapping as written, and whether aws-iam-authenticator v0.7.2
// applies it (the rules on inForce): what `eksirsa migrate access-entries` moves.
type Mapping struct {
	List     string // k8s.MapRolesKey or k8s.MapUsersKey
	ARN      string // as written
	Username string
	Groups   []string
	// Applied is false for a mapping that another mapping of the same identity overrides.
	Applied bool
	// Duplicate, for an identity mapped more than once, says which mapping applies and why.
	Duplicate string
	// Either: user mappings of the identity differ only in case, and the authenticator applies
	// whichever its map yields first, request by request.
	Either bool
	// Unmatchable says why the mapping matches no caller (a role ARN with a path), or "".
	Unmatchable string
}

// AWSAuthMappings is aws-auth's data as the authenticator applies it: every mapping, grouped
// by identity in the order identities first appear; mapAccounts; and what ParseMap refused
// (the rest still applies).
func AWSAuthMappings(data map[string]string) ([]Mapping, []string, error) {
	f := applyAWSAuth(data)
	var out []Mapping
	for _, key := range f.order {
		ms := f.mappings[key]
		applied := len(ms) - 1 // the last user mapping, when there is no role mapping
		for i, w := range slices.Backward(ms) {
			if w.list == k8s.MapRolesKey { // the last role mapping wins over every user mapping
				applied = i
				break
			}
		}
		for i, w := range ms {
			m := Mapping{List: w.list, ARN: w.arn, Username: w.username, Groups: w.groups, Applied: i == applied, Either: f.either[key], Unmatchable: unmatchable(w)}
			if w.list == k8s.MapUsersKey {
				m.Unmatchable = ""
			}
			if len(ms) > 1 {
				m.Duplicate = f.describe(key)
			}
			out = append(out, m)
		}
	}
	return out, f.accounts, f.parseErr
}
