package identity

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/eks"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/eks-irsa/eks-irsa/eksauth"
)

// PodIdentityAccount is an account the stack gives a role through an EKS Pod Identity
// association (identity podIdentity, both or bothUnannotated).
type PodIdentityAccount struct {
	Namespace, Name string
	RoleARN         string
	// AssociationID is the association the last up recorded; "" when unknown.
	AssociationID string
}

func (a PodIdentityAccount) account() Account {
	return Account{Namespace: a.Namespace, Name: a.Name, RoleARN: a.RoleARN}
}

// SessionTags are the session tags EKS Pod Identity sets for a token of account in the cluster
// (pod-id-abac, "List of session tags added by EKS Pod Identity"): the cluster's ARN and name,
// the namespace and account; the pod's name and UID only for a token bound to a pod (the claim
// kubernetes.io.pod that EKS reads them from), which verify's TokenRequest is not.
func SessionTags(clusterARN, clusterName string, a Account) map[string]string {
	return map[string]string{
		"eks-cluster-arn":            clusterARN,
		"eks-cluster-name":           clusterName,
		"kubernetes-namespace":       a.Namespace,
		"kubernetes-service-account": a.Name,
	}
}

// formatTags is tags as k=v, in SessionTagKeys' order.
func formatTags(tags map[string]string) string {
	var parts []string
	for _, k := range SessionTagKeys {
		if v, ok := tags[k]; ok {
			parts = append(parts, k+"="+v)
		}
	}
	return strings.Join(parts, ", ")
}

// checkPodIdentityAnswer says how EKS Auth's answer for a's own token differs from what the
// association declares: the subject and audience of the token, the association's id (when the
// stack recorded one) and a session of the declared role. It returns the session's ARN.
func checkPodIdentityAnswer(a PodIdentityAccount, out *eksauth.Output) (string, error) {
	var errs []error
	if s := out.Subject; s.Namespace != a.Namespace || s.ServiceAccount != a.Name {
		errs = append(errs, fmt.Errorf("subject %s/%s, want %s/%s", s.Namespace, s.ServiceAccount, a.Namespace, a.Name))
	}
	if out.Audience != eksauth.Audience {
		errs = append(errs, fmt.Errorf("audience %q, want %q", out.Audience, eksauth.Audience))
	}
	if got := out.PodIdentityAssociation.AssociationID; a.AssociationID != "" && got != a.AssociationID {
		errs = append(errs, fmt.Errorf("association %s, the stack's is %s (made again outside the stack)", got, a.AssociationID))
	}
	prefix, err := AssumedRoleARN(a.RoleARN, "")
	if err != nil {
		return "", err
	}
	session := out.AssumedRoleUser.ARN
	if !strings.HasPrefix(session, prefix) || len(session) == len(prefix) {
		errs = append(errs, fmt.Errorf("credentials for %s, not a session of the association's role %s: the association names another role", session, a.RoleARN))
	}
	if c := out.Credentials; c.AccessKeyID == "" || c.SecretAccessKey == "" || c.SessionToken == "" {
		errs = append(errs, errors.New("no credentials in the answer"))
	}
	return session, errors.Join(errs...)
}

// foreignPodIdentityVerdict decides another account's token sent to EKS Auth for the cluster
// (eksErr nil: it answered out) against a's role, whose trust read offline with the foreign
// account's session tags gave d. Any credentials for the foreign token are a failure: the
// foreign account is chosen among those the stack gives no association, so EKS Auth should
// find none for it, and with a's role the trust admits another account. A refusal passes,
// naming who refused: EKS Auth's error code, and the trust policy where it decides offline.
func foreignPodIdentityVerdict(a PodIdentityAccount, foreign Account, d Decision, out *eksauth.Output, eksErr error, trustless string) (string, error) {
	if eksErr == nil {
		role := "of role " + out.AssumedRoleUser.ARN
		prefix, _ := AssumedRoleARN(a.RoleARN, "")
		if prefix != "" && strings.HasPrefix(out.AssumedRoleUser.ARN, prefix) {
			return "", fmt.Errorf("EKS Auth gave %s's token a session of %s (%s, association %s): any pod of that account can take the role (offline the trust policy reads %s: %s)",
				foreign, a.RoleARN, out.AssumedRoleUser.ARN, out.PodIdentityAssociation.AssociationID, d.Verdict, d.Reason)
		}
		return "", fmt.Errorf("EKS Auth gave %s's token a session %s (association %s), though the stack gives that account no association", foreign, role, out.PodIdentityAssociation.AssociationID)
	}
	refused, ok := eksauth.Refused(eksErr)
	if !ok {
		return "", fmt.Errorf("EKS Auth AssumeRoleForPodIdentity with %s's token: %w", foreign, eksErr)
	}
	if d.Verdict == Admitted {
		return "", fmt.Errorf("the trust policy of %s admits the session tags of %s (%s): an association of that account naming the role would take it", a.RoleARN, foreign, d.Reason)
	}
	by := fmt.Sprintf("EKS Auth (%s)", refused.Code)
	switch {
	case trustless != "" && d.Verdict == Refused:
		return fmt.Sprintf("refused by the trust policy (%s) and by %s; EKS Auth's half is not proven: %s", d.Reason, by, trustless), nil
	case trustless != "":
		return "", fmt.Errorf("whether the trust policy of %s admits %s's session tags cannot be decided offline (%s), and %s, so nothing proves it refuses them", a.RoleARN, foreign, d.Reason, trustless)
	case d.Verdict == Refused:
		return "refused by the trust policy and by " + by, nil
	default:
		return fmt.Sprintf("refused by %s; the trust policy alone cannot be decided offline (%s)", by, d.Reason), nil
	}
}

// podIdentityForeign is the account whose token is tried against a Pod Identity account's
// association: one the stack gives no association (the IRSA-only accounts, in turn), else a
// default account as foreignAccount picks it.
func podIdentityForeign(irsaAccounts []Account, associated map[string]bool, i int, a Account) Account {
	var candidates []Account
	for _, c := range irsaAccounts {
		if !associated[c.String()] {
			candidates = append(candidates, c)
		}
	}
	if len(candidates) > 0 {
		return candidates[i%len(candidates)]
	}
	return foreignAccount([]Account{a}, 0)
}

// podIdentityRun proves each Pod Identity account of t: its token for pods.eks.amazonaws.com
// (claims and signature as for IRSA), the role's trust admitting the session tags EKS sets for
// it, EKS Auth's AssumeRoleForPodIdentity giving a session of the association's role that
// GetCallerIdentity names, and another account's token refused.
func (c *Checker) podIdentityRun(ctx context.Context, t Target, check tokenCheck, policies []*TrustPolicy, policyErrs []error, report func(Result)) {
	if len(t.PodIdentity) == 0 {
		return
	}
	clusterARN, clusterErr := "", error(nil)
	if d, err := eks.NewFromConfig(c.AWS).DescribeCluster(ctx, &eks.DescribeClusterInput{Name: aws.String(t.Cluster)}); err != nil {
		clusterErr = fmt.Errorf("EKS DescribeCluster %s (its ARN is a session tag): %w", t.Cluster, err)
	} else {
		clusterARN = aws.ToString(d.Cluster.Arn)
	}
	associated := map[string]bool{}
	for _, a := range t.PodIdentity {
		associated[a.account().String()] = true
	}
	for i, pa := range t.PodIdentity {
		a := pa.account()
		r := Result{Account: a.String(), Identity: IdentityPodIdentity, RoleARN: a.RoleARN}
		step, err := func() (string, error) {
			tok, _, step, err := check.verified(ctx, a, eksauth.Audience, &r)
			if err != nil {
				return step, err
			}
			if clusterErr != nil {
				return StepTrust, clusterErr
			}
			policy, err := policies[i], policyErrs[i]
			if err != nil {
				return StepTrust, err
			}
			r.SessionTags = SessionTags(clusterARN, t.Cluster, a)
			own := policy.AdmitsPodIdentity(r.SessionTags)
			switch {
			case own.Verdict == Refused:
				return StepTrust, fmt.Errorf("the trust policy of %s does not admit EKS Pod Identity's session for %s with the session tags EKS sets (%s): %s", a.RoleARN, a, formatTags(r.SessionTags), own.Reason)
			case own.Verdict == Undecided && c.TrustlessEKSAuth != "":
				return StepTrust, fmt.Errorf("whether the trust policy of %s admits EKS Pod Identity's session for %s cannot be decided offline (%s), and %s, so nothing proves it does", a.RoleARN, a, own.Reason, c.TrustlessEKSAuth)
			case own.Verdict == Undecided:
				r.TrustUndecided = own.Reason
			}
			out, err := c.EKSAuth.AssumeRoleForPodIdentity(ctx, t.Cluster, tok)
			if err != nil {
				return StepEKSAuth, fmt.Errorf("EKS Auth AssumeRoleForPodIdentity for %s in cluster %s: %w", a, t.Cluster, err)
			}
			session, err := checkPodIdentityAnswer(pa, out)
			r.AssociationID = out.PodIdentityAssociation.AssociationID
			if err != nil {
				return StepEKSAuth, fmt.Errorf("EKS Auth AssumeRoleForPodIdentity for %s: %w", a, err)
			}
			cr := out.Credentials
			as := sts.NewFromConfig(c.AWS, func(o *sts.Options) {
				o.Credentials = credentials.NewStaticCredentialsProvider(cr.AccessKeyID, cr.SecretAccessKey, cr.SessionToken)
			})
			who, err := as.GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
			if err != nil {
				return StepEKSAuth, fmt.Errorf("STS GetCallerIdentity with the credentials EKS Auth gave for %s: %w", a.RoleARN, err)
			}
			if got := aws.ToString(who.Arn); got != session {
				return StepEKSAuth, fmt.Errorf("GetCallerIdentity says %s, want EKS Auth's session %s", got, session)
			}
			r.AssumedRoleARN = session

			foreign := podIdentityForeign(t.Accounts, associated, i, a)
			r.Foreign = foreign.String()
			ftok, err := check.token(foreign, eksauth.Audience)
			if err != nil {
				return StepForeign, err
			}
			d := policy.AdmitsPodIdentity(SessionTags(clusterARN, t.Cluster, foreign))
			fout, ferr := c.EKSAuth.AssumeRoleForPodIdentity(ctx, t.Cluster, ftok)
			if r.ForeignRefused, err = foreignPodIdentityVerdict(pa, foreign, d, fout, ferr, c.TrustlessEKSAuth); err != nil {
				return StepForeign, err
			}
			return "", nil
		}()
		if err != nil {
			r.Step, r.Failure = step, err.Error()
		} else {
			r.Passed = true
		}
		report(r)
	}
}

// podIdentityRoles are the roles of t's Pod Identity accounts, for TrustPolicies.
func podIdentityRoles(t Target) []string {
	arns := make([]string, len(t.PodIdentity))
	for i, a := range t.PodIdentity {
		arns[i] = a.RoleARN
	}
	return arns
}

// TagsLine is r's session tags as k=v, in the documented order.
func (r Result) TagsLine() string {
	return formatTags(r.SessionTags)
}
