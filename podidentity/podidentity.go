// Package podidentity owns what the stack's EKS Pod Identity is, as declared and as live: its
// associations and the eks-pod-identity-agent add-on, read from EKS, and how an association
// differs from the declaration. drift (every association of the cluster) and verify (the
// stack's own) both judge them by this one rule.
package podidentity

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eks"
	ekstypes "github.com/aws/aws-sdk-go-v2/service/eks/types"

	"github.com/eks-irsa/eks-irsa/accessentry"
	"github.com/eks-irsa/eks-irsa/awsaccess"
	"github.com/eks-irsa/eks-irsa/infra"
)

// AgentAddon is the add-on that serves Pod Identity credentials on each node.
const AgentAddon = infra.PodIdentityAgentAddon

// What the EKS pod identity webhook sets in each container of a pod whose account has an
// association (EKS User Guide, pod-id-how-it-works): the agent's credentials endpoint and the
// projected token (audience pods.eks.amazonaws.com) the SDK sends it.
const (
	EnvCredentialsFullURI     = "AWS_CONTAINER_CREDENTIALS_FULL_URI"
	EnvAuthorizationTokenFile = "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE"
)

// Association is one association as the stack declares it (the podIdentityAssociations output).
type Association struct {
	Namespace, ServiceAccount string
	RoleARN                   string
	// ID is the association id the last update recorded.
	ID string
}

// Account is the association's "namespace/name".
func (a Association) Account() string { return a.Namespace + "/" + a.ServiceAccount }

// Differs says how live, the association of the same account, differs from a; "" when alike.
func (a Association) Differs(live ekstypes.PodIdentityAssociation) string {
	var diffs []string
	if got := aws.ToString(live.RoleArn); got != a.RoleARN {
		diffs = append(diffs, fmt.Sprintf("role %s, the stack's is %s", got, a.RoleARN))
	}
	if aws.ToBool(live.DisableSessionTags) {
		// The role's trust admits only sessions tagged with this cluster, namespace and account
		// (infra.RoleTrust): without the tags STS refuses every pod of the account.
		diffs = append(diffs, "session tags disabled, and the role's trust admits only sessions tagged with the cluster, namespace and account")
	}
	if a.ID != "" && aws.ToString(live.AssociationId) != a.ID {
		diffs = append(diffs, fmt.Sprintf("id %s, the stack's is %s (made again outside the stack)", aws.ToString(live.AssociationId), a.ID))
	}
	return strings.Join(diffs, "; ")
}

// Describe is one live association in a line.
func Describe(live ekstypes.PodIdentityAssociation) string {
	s := fmt.Sprintf("%s/%s → %s (%s)", aws.ToString(live.Namespace), aws.ToString(live.ServiceAccount), aws.ToString(live.RoleArn), aws.ToString(live.AssociationId))
	if owner := aws.ToString(live.OwnerArn); owner != "" {
		s += ", owned by " + owner
	}
	return s
}

// List reads every association of the cluster with its role: ListPodIdentityAssociations
// names the account, DescribePodIdentityAssociation the role (API_PodIdentityAssociationSummary
// has no roleArn), awsaccess.Concurrency at a time. An association deleted between the two is
// left out. With namespace and serviceAccount set, only that account's (the list's own filters).
func List(ctx context.Context, c *eks.Client, caller, cluster, namespace, serviceAccount string) ([]ekstypes.PodIdentityAssociation, error) {
	in := &eks.ListPodIdentityAssociationsInput{ClusterName: aws.String(cluster)}
	if namespace != "" {
		in.Namespace, in.ServiceAccount = aws.String(namespace), aws.String(serviceAccount)
	}
	var ids []*string
	p := eks.NewListPodIdentityAssociationsPaginator(c, in)
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("%s: list pod identity associations of cluster %s: %w", caller, cluster, err)
		}
		for _, s := range page.Associations {
			ids = append(ids, s.AssociationId)
		}
	}
	got := make([]*ekstypes.PodIdentityAssociation, len(ids))
	errs := make([]error, len(ids))
	awsaccess.Parallel(len(ids), func(i int) {
		d, err := c.DescribePodIdentityAssociation(ctx, &eks.DescribePodIdentityAssociationInput{ClusterName: aws.String(cluster), AssociationId: ids[i]})
		switch {
		case accessentry.NotFound(err):
		case err != nil:
			errs[i] = fmt.Errorf("%s: describe pod identity association %s of cluster %s: %w", caller, aws.ToString(ids[i]), cluster, err)
		default:
			got[i] = d.Association
		}
	})
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	var out []ekstypes.PodIdentityAssociation
	for _, a := range got {
		if a != nil {
			out = append(out, *a)
		}
	}
	return out, nil
}

// Agent reads the agent add-on; nil when the cluster has none.
func Agent(ctx context.Context, c *eks.Client, caller, cluster string) (*ekstypes.Addon, error) {
	got, err := c.DescribeAddon(ctx, &eks.DescribeAddonInput{ClusterName: aws.String(cluster), AddonName: aws.String(AgentAddon)})
	if accessentry.NotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("%s: describe add-on %s of cluster %s: %w", caller, AgentAddon, cluster, err)
	}
	return got.Addon, nil
}

// AgentProblem says what is wrong with the agent add-on, "" when it is ACTIVE: missing, or its
// status and health issues (API_Addon: ACTIVE once EKS has applied it; DEGRADED,
// CREATE_FAILED, ... with health.issues saying why).
func AgentProblem(a *ekstypes.Addon) string {
	if a == nil {
		return "the " + AgentAddon + " add-on is not installed: no node serves Pod Identity credentials, so no pod of an associated account gets any"
	}
	if a.Status == ekstypes.AddonStatusActive {
		return ""
	}
	s := fmt.Sprintf("the %s add-on is %s, not ACTIVE", AgentAddon, a.Status)
	if a.Health != nil {
		for _, i := range a.Health.Issues {
			s += fmt.Sprintf("; %s: %s", i.Code, aws.ToString(i.Message))
		}
	}
	return s
}
