package verify

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eks"
	"k8s.io/client-go/kubernetes"

	"github.com/eks-irsa/eks-irsa/accessentry"
)

// Check names of a stack in API mode, where the cluster admits principals by their access
// entries, not by aws-auth.
const (
	// CheckNodeAccessEntry is the node role's EC2_LINUX entry, by which the nodes join.
	CheckNodeAccessEntry = "node-access-entry"
	// CheckAccessEntry prefixes one line per declared entry: "access-entry <principal>".
	CheckAccessEntry = "access-entry"
)

// Access is what verify checks of a stack in API mode: the node role's entry and each
// declared one, read from EKS.
type Access struct {
	ClusterName string
	NodeRoleARN string
	// Entries are the entries the stack owns, the nodes' among them (the accessEntries output).
	Entries []accessentry.Entry
	EKS     *eks.Client
}

// Validate reports every problem with a at once.
func (a *Access) Validate() error {
	var errs []error
	if a.ClusterName == "" {
		errs = append(errs, errors.New("access entries: empty cluster name"))
	}
	if err := roleARN(a.NodeRoleARN); err != nil {
		errs = append(errs, fmt.Errorf("node role ARN: %w", err))
	}
	if a.EKS == nil {
		errs = append(errs, errors.New("access entries: no EKS client"))
	}
	return errors.Join(errs...)
}

// accessChecks are the API-mode checks: the node entry, then one per declared entry other
// than the nodes', in the order the stack declares them; none outside API mode.
func accessChecks(a *Access) []Check {
	if a == nil {
		return nil
	}
	checks := []Check{{Name: CheckNodeAccessEntry, Eval: nodeAccessEntry}}
	for _, e := range a.Entries {
		if e.PrincipalARN == a.NodeRoleARN && e.Type == accessentry.TypeEC2Linux {
			continue
		}
		checks = append(checks, Check{Name: CheckAccessEntry + " " + e.PrincipalARN, Eval: declaredEntry(e)})
	}
	return checks
}

// nodeAccessEntry passes when the node role has an EC2_LINUX entry with EKS's node username
// and nothing else: no groups (EKS grants system:nodes itself), no access policy
// (API_CreateAccessEntry, "type": node types take no username, groups or policies). Without
// it no node can join a cluster in API mode, which ignores aws-auth.
func nodeAccessEntry(ctx context.Context, _ kubernetes.Interface, want Expectations) (string, error) {
	a := want.Access
	live, err := accessentry.Read(ctx, a.EKS, "verify", a.ClusterName, a.NodeRoleARN)
	if err != nil {
		return "", err
	}
	if live == nil {
		return "", fmt.Errorf("the node role %s has no access entry in cluster %s, want type %s: in API mode EKS ignores aws-auth and no node can join", a.NodeRoleARN, a.ClusterName, accessentry.TypeEC2Linux)
	}
	declared := accessentry.Entry{PrincipalARN: a.NodeRoleARN, Type: accessentry.TypeEC2Linux, Username: accessentry.EC2LinuxUsername}
	if i := slices.IndexFunc(a.Entries, func(e accessentry.Entry) bool { return e.PrincipalARN == a.NodeRoleARN }); i >= 0 {
		declared.Groups, declared.Policies = a.Entries[i].Groups, a.Entries[i].Policies
	}
	if diff := declared.Differs(*live); diff != "" {
		return "", fmt.Errorf("the node role %s's access entry differs: %s (live: %s)", a.NodeRoleARN, diff, live)
	}
	return fmt.Sprintf("%s: %s, as EKS makes a node entry", a.NodeRoleARN, live), nil
}

// declaredEntry checks one declared entry: present with its type, username, groups, policies
// and scopes as declared. It is structural: what EKS holds, read through its API, not a token
// of the principal mapped by the authenticator.
func declaredEntry(want accessentry.Entry) func(context.Context, kubernetes.Interface, Expectations) (string, error) {
	return func(ctx context.Context, _ kubernetes.Interface, exp Expectations) (string, error) {
		a := exp.Access
		live, err := accessentry.Read(ctx, a.EKS, "verify", a.ClusterName, want.PrincipalARN)
		if err != nil {
			return "", err
		}
		if live == nil {
			return "", fmt.Errorf("no access entry for %s in cluster %s, want the stack's %s entry: the principal cannot authenticate", want.PrincipalARN, a.ClusterName, want.Type)
		}
		if diff := want.Differs(*live); diff != "" {
			return "", fmt.Errorf("the access entry differs from the stack's: %s (live: %s)", diff, live)
		}
		return fmt.Sprintf("%s; as declared (structural: read from EKS, no token of %s proven)", live, aws.ToString(live.PrincipalArn)), nil
	}
}
