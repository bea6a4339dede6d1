package drift

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eks"
	ekstypes "github.com/aws/aws-sdk-go-v2/service/eks/types"

	"github.com/eks-irsa/eks-irsa/podidentity"
)

// podIdentity compares, on a stack with Pod Identity accounts, every association of the
// cluster with the stack's (each present with its role and session tags; none foreign) and
// the agent add-on (installed and ACTIVE). A stack without them reads neither.
func (d *Detector) podIdentity(ctx context.Context, c *eks.Client, decl Declared, repair string) ([]Line, error) {
	if len(decl.PodIdentity) == 0 {
		return nil, nil
	}
	var lines []Line
	agent, err := podidentity.Agent(ctx, c, "drift", decl.ClusterName)
	if err != nil {
		return nil, err
	}
	subject := "cluster " + decl.ClusterName
	if problem := podidentity.AgentProblem(agent); problem != "" {
		fix := repair
		if agent != nil {
			fix = fmt.Sprintf("aws eks describe-addon --cluster-name %s --addon-name %s names its health issues; %s re-applies it", decl.ClusterName, podidentity.AgentAddon, repair)
		}
		lines = append(lines, found(CheckPodIdentityAgent, subject, fix, "%s", problem))
	} else {
		lines = append(lines, matched(CheckPodIdentityAgent, subject, "%s %s ACTIVE", podidentity.AgentAddon, aws.ToString(agent.AddonVersion)))
	}

	live, err := podidentity.List(ctx, c, "drift", decl.ClusterName, "", "")
	if err != nil {
		return nil, err
	}
	byAccount := map[string]ekstypes.PodIdentityAssociation{}
	for _, a := range live {
		byAccount[aws.ToString(a.Namespace)+"/"+aws.ToString(a.ServiceAccount)] = a
	}
	declared := map[string]bool{}
	for _, want := range decl.PodIdentity {
		declared[want.Account()] = true
		got, ok := byAccount[want.Account()]
		switch {
		case !ok:
			lines = append(lines, found(CheckPodIdentityAssociation, want.Account(), repair,
				"the stack's association with %s is gone: new pods of the account get no Pod Identity credentials", want.RoleARN))
		case want.Differs(got) != "":
			fix := repair
			if want.ID != "" && aws.ToString(got.AssociationId) != want.ID {
				// The stack's own is gone: an update would fail to make it again beside this one
				// (EKS: one association per account).
				fix = fmt.Sprintf("aws eks delete-pod-identity-association --cluster-name %s --association-id %s, then %s", decl.ClusterName, aws.ToString(got.AssociationId), repair)
			}
			lines = append(lines, found(CheckPodIdentityAssociation, want.Account(), fix, "the association differs from the stack's: %s", want.Differs(got)))
		default:
			lines = append(lines, matched(CheckPodIdentityAssociation, want.Account(), "as the stack declares it: %s", podidentity.Describe(got)))
		}
	}
	for _, a := range live {
		account := aws.ToString(a.Namespace) + "/" + aws.ToString(a.ServiceAccount)
		if declared[account] {
			continue
		}
		fix := fmt.Sprintf("aws eks delete-pod-identity-association --cluster-name %s --association-id %s; or, to keep it, declare %s in serviceAccountRoles with identity podIdentity: an association the stack does not declare is reported by every drift",
			decl.ClusterName, aws.ToString(a.AssociationId), account)
		if owner := aws.ToString(a.OwnerArn); owner != "" {
			fix = fmt.Sprintf("it belongs to %s: change it through that add-on (aws eks update-addon --pod-identity-associations)", owner)
		}
		lines = append(lines, found(CheckPodIdentityAssociation, account, fix,
			"an association the stack does not declare: %s; pods of %s get that role's credentials", podidentity.Describe(a), account))
	}
	return lines, nil
}
