package verify

import (
	"context"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eks"
	"k8s.io/client-go/kubernetes"

	"github.com/eks-irsa/eks-irsa/podidentity"
)

// Check names of a stack with Pod Identity accounts.
const (
	// CheckPodIdentityAgent is the eks-pod-identity-agent add-on, ACTIVE.
	CheckPodIdentityAgent = "pod-identity-agent"
	// CheckPodIdentityAssociation prefixes one line per account: "pod-identity-association <namespace/name>".
	CheckPodIdentityAssociation = "pod-identity-association"
)

// PodIdentity is what verify checks of a stack's Pod Identity: the agent add-on and each
// account's association, read from EKS.
type PodIdentity struct {
	ClusterName string
	// Associations are the stack's (the podIdentityAssociations output).
	Associations []podidentity.Association
	EKS          *eks.Client
}

// Validate reports every problem with p at once.
func (p *PodIdentity) Validate() error {
	var errs []error
	if p.ClusterName == "" {
		errs = append(errs, errors.New("pod identity: empty cluster name"))
	}
	if p.EKS == nil {
		errs = append(errs, errors.New("pod identity: no EKS client"))
	}
	for _, a := range p.Associations {
		if a.Namespace == "" || a.ServiceAccount == "" {
			errs = append(errs, fmt.Errorf("pod identity association %q: want namespace/name", a.Account()))
		}
		if err := roleARN(a.RoleARN); err != nil {
			errs = append(errs, fmt.Errorf("pod identity association %s role ARN: %w", a.Account(), err))
		}
	}
	return errors.Join(errs...)
}

// podIdentityChecks are the agent's check, then one per association in the order given; none
// for a stack without Pod Identity.
func podIdentityChecks(p *PodIdentity) []Check {
	if p == nil || len(p.Associations) == 0 {
		return nil
	}
	checks := []Check{{Name: CheckPodIdentityAgent, Eval: podIdentityAgent}}
	for _, a := range p.Associations {
		checks = append(checks, Check{Name: CheckPodIdentityAssociation + " " + a.Account(), Eval: declaredAssociation(a)})
	}
	return checks
}

// podIdentityAgent passes when the agent add-on is ACTIVE: without it no node hands out the
// credentials an association grants (EKS User Guide, pod-id-agent-setup).
func podIdentityAgent(ctx context.Context, _ kubernetes.Interface, want Expectations) (string, error) {
	p := want.PodIdentity
	agent, err := podidentity.Agent(ctx, p.EKS, "verify", p.ClusterName)
	if err != nil {
		return "", err
	}
	if problem := podidentity.AgentProblem(agent); problem != "" {
		return "", errors.New(problem)
	}
	return fmt.Sprintf("%s %s ACTIVE in cluster %s", podidentity.AgentAddon, aws.ToString(agent.AddonVersion), p.ClusterName), nil
}

// declaredAssociation checks one account's association: present, with the declared role and
// session tags on. It is structural: what EKS holds, read through its API, not credentials a
// pod of the account obtained.
func declaredAssociation(want podidentity.Association) func(context.Context, kubernetes.Interface, Expectations) (string, error) {
	return func(ctx context.Context, _ kubernetes.Interface, exp Expectations) (string, error) {
		p := exp.PodIdentity
		live, err := podidentity.List(ctx, p.EKS, "verify", p.ClusterName, want.Namespace, want.ServiceAccount)
		if err != nil {
			return "", err
		}
		if len(live) == 0 {
			return "", fmt.Errorf("no pod identity association for %s in cluster %s, want the stack's with %s: its new pods get no credentials", want.Account(), p.ClusterName, want.RoleARN)
		}
		if diff := want.Differs(live[0]); diff != "" {
			return "", fmt.Errorf("the association differs from the stack's: %s (live: %s)", diff, podidentity.Describe(live[0]))
		}
		return fmt.Sprintf("%s; as declared (structural: read from EKS, no credentials of %s proven)", podidentity.Describe(live[0]), want.Account()), nil
	}
}
