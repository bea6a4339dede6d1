// Package identity proves that each identity of a stack works, as a pod would use it. IRSA:
// a token the cluster issues for the account (TokenRequest, audience sts.amazonaws.com)
// carries the stack's issuer, the account's subject and the STS audience, verifies against
// the issuer's published keys, is admitted by the role's trust policy as IAM holds it, and
// is exchanged by STS for the role's credentials; and another account's token is refused.
// EKS Pod Identity (podidentity.go): the same token for pods.eks.amazonaws.com, the trust
// admitting the session tags EKS sets, EKS Auth's AssumeRoleForPodIdentity giving a session of
// the association's role, and another account's token refused.
package identity

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go"
	"github.com/coreos/go-oidc/v3/oidc"
	authenticationv1 "k8s.io/api/authentication/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	iamarn "sigs.k8s.io/aws-iam-authenticator/pkg/arn"

	"github.com/eks-irsa/eks-irsa/awsaccess"
	"github.com/eks-irsa/eks-irsa/eksauth"
	"github.com/eks-irsa/eks-irsa/irsa"
)

// Account is one bound service account and the role it was given.
type Account struct {
	Namespace string
	Name      string
	RoleARN   string
}

func (a Account) String() string { return a.Namespace + "/" + a.Name }

// Target is what the stack's outputs say: the cluster's issuer, its IAM OIDC provider and
// the bound accounts.
type Target struct {
	Issuer      string
	ProviderARN string
	Accounts    []Account
	// Cluster and PodIdentity are the cluster's name and the accounts with an association,
	// proven through EKS Auth.
	Cluster     string
	PodIdentity []PodIdentityAccount
}

// Result is the proof, or the failure, for one account.
type Result struct {
	Account string `json:"account"`
	// Identity is the path proven: IdentityIRSA (web identity and STS) or IdentityPodIdentity
	// (EKS Auth); an account on both has a result of each.
	Identity string `json:"identity"`
	RoleARN  string `json:"roleArn"`
	Passed   bool   `json:"passed"`
	// Token holds the claims of the token the cluster issued for the account.
	Token *Claims `json:"token,omitempty"`
	// AssumedRoleARN is what STS GetCallerIdentity said with the credentials STS (IRSA) or EKS
	// Auth (Pod Identity) gave for it.
	AssumedRoleARN string `json:"assumedRoleArn,omitempty"`
	// AssociationID is the association EKS Auth said it used (Pod Identity).
	AssociationID string `json:"associationId,omitempty"`
	// SessionTags are the session tags EKS Pod Identity sets for the token, which the role's
	// trust was held to (Pod Identity).
	SessionTags map[string]string `json:"sessionTags,omitempty"`
	// TrustUndecided, when set, says why the trust policy could not be decided offline for
	// the account's own token; AWS's STS then proved it by handing out the credentials.
	TrustUndecided string `json:"trustUndecided,omitempty"`
	// Foreign is the account whose token was tried against the role, and ForeignRefused
	// says who refused it: the trust policy, and STS where it evaluates trust policies.
	Foreign        string `json:"foreignAccount,omitempty"`
	ForeignRefused string `json:"foreignRefused,omitempty"`
	// Step and Failure say which check failed and what it saw.
	Step    string `json:"step,omitempty"`
	Failure string `json:"failure,omitempty"`
}

// Steps, in order.
const (
	StepToken     = "token"     // TokenRequest
	StepClaims    = "claims"    // iss, sub, aud
	StepSignature = "signature" // against the issuer's discovery document and keys
	StepTrust     = "trust"     // the role's trust policy admits the token
	StepAssume    = "assume"    // STS AssumeRoleWithWebIdentity and GetCallerIdentity
	StepForeign   = "foreign"   // another account's token is refused
	StepEKSAuth   = "eks-auth"  // EKS Auth AssumeRoleForPodIdentity and GetCallerIdentity
)

// The paths an identity is proven on (Result.Identity).
const (
	IdentityIRSA        = "irsa"
	IdentityPodIdentity = "podIdentity"
)

// TokenTTL is how long the tokens asked for live: long enough for the checks, and the
// shortest the TokenRequest API grants.
const TokenTTL = 600

// Checker runs the checks with a cluster client and an AWS configuration (region,
// credentials for IAM, endpoints); STS's web-identity call itself is unsigned, as a pod's is.
type Checker struct {
	Kube kubernetes.Interface
	AWS  aws.Config
	// HTTP fetches the issuer's discovery document and keys; nil is http.DefaultClient.
	HTTP *http.Client
	// TrustlessSTS, when set, says why the STS in use is known not to evaluate trust
	// policies (an emulator): its answers then prove nothing about a trust policy, and
	// verdicts rest on the policy alone. Empty means AWS's STS, whose credentials prove that
	// the trust policy admits the token and whose AccessDenied proves it does not.
	TrustlessSTS string
	// EKSAuth is EKS Auth, for the Pod Identity accounts; TrustlessEKSAuth, like TrustlessSTS,
	// says why its answers prove nothing about a trust policy (an emulator), "" for AWS's.
	EKSAuth          *eksauth.Client
	TrustlessEKSAuth string
}

func (c *Checker) httpClient() *http.Client {
	if c.HTTP == nil {
		return http.DefaultClient
	}
	return c.HTTP
}

// foreignVerdict decides another account's token, which the trust policy read offline does
// not admit (d is Refused or Undecided), from what STS answered (stsErr nil: it handed out
// credentials). It returns who refused the token, or the failure. It never turns an STS
// success into a pass: on AWS, credentials prove the policy admits the other account.
func foreignVerdict(roleARN string, foreign Account, d Decision, stsErr error, trustless string) (string, error) {
	var apiErr smithy.APIError
	denied := errors.As(stsErr, &apiErr) && apiErr.ErrorCode() == "AccessDenied"
	if stsErr != nil && !denied {
		return "", fmt.Errorf("STS AssumeRoleWithWebIdentity %s with %s's token: %w", roleARN, foreign, stsErr)
	}
	if trustless != "" {
		if d.Verdict == Refused {
			return fmt.Sprintf("refused by the trust policy (%s); the STS half is not proven: %s", d.Reason, trustless), nil
		}
		return "", fmt.Errorf("whether the trust policy of %s admits %s's token cannot be decided offline (%s), and %s, so nothing proves it refuses it", roleARN, foreign, d.Reason, trustless)
	}
	switch {
	case !denied:
		return "", fmt.Errorf("STS gave credentials for %s to %s's token: AWS's STS evaluated the trust policy and admits that account, so any pod of it can take the role (offline the policy reads %s: %s)", roleARN, foreign, d.Verdict, d.Reason)
	case d.Verdict == Refused:
		return "refused by the trust policy and by STS (AccessDenied)", nil
	default:
		return fmt.Sprintf("refused by STS (AccessDenied); the trust policy alone cannot be decided offline (%s)", d.Reason), nil
	}
}

// Error lists the accounts whose checks failed.
type Error struct {
	Failed []Result
	Total  int
}

func (e *Error) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d of %d identities failed:", len(e.Failed), e.Total)
	for _, r := range e.Failed {
		fmt.Fprintf(&b, "\n  %s (%s): %s: %s", r.Account, r.RoleARN, r.Step, r.Failure)
	}
	return b.String()
}

// Run checks every account of t, calling report with each result as it is known, and
// returns every result; the error is an *Error when some failed.
func (c *Checker) Run(ctx context.Context, t Target, report func(Result)) ([]Result, error) {
	if len(t.Accounts)+len(t.PodIdentity) == 0 {
		return nil, errors.New("no bound accounts to check")
	}
	if len(t.PodIdentity) > 0 && c.EKSAuth == nil {
		return nil, errors.New("Pod Identity accounts to prove and no EKS Auth client")
	}
	httpClient := c.httpClient()
	// The discovery document names the issuer and its keys; NewProvider refuses one whose
	// issuer is not exactly t.Issuer.
	provider, providerErr := oidc.NewProvider(oidc.ClientContext(ctx, httpClient), t.Issuer)
	stsClient := sts.NewFromConfig(c.AWS, func(o *sts.Options) { o.Credentials = aws.AnonymousCredentials{} })
	iamClient := iam.NewFromConfig(c.AWS)

	// The trust policies are read a few at a time up front: a hundred roles cost a hundred
	// GetRole calls, the slowest part of the check after the tokens.
	arns := make([]string, len(t.Accounts))
	for i, a := range t.Accounts {
		arns[i] = a.RoleARN
	}
	allPolicies, allErrs := TrustPolicies(ctx, iamClient, append(arns, podIdentityRoles(t)...))
	policies, policyErrs := allPolicies[:len(arns)], allErrs[:len(arns)]

	tokens := map[string]string{}
	tokenFor := func(a Account, audience string) (string, error) {
		key := a.String() + " " + audience
		if tok, ok := tokens[key]; ok {
			return tok, nil
		}
		tok, err := c.requestTokenFor(ctx, a, audience)
		if err == nil {
			tokens[key] = tok
		}
		return tok, err
	}
	token := func(a Account) (string, error) { return tokenFor(a, irsa.Audience) }
	check := tokenCheck{issuer: t.Issuer, provider: provider, providerErr: providerErr, httpClient: httpClient, token: tokenFor}

	var results []Result
	var failed []Result
	for i, a := range t.Accounts {
		r := Result{Account: a.String(), Identity: IdentityIRSA, RoleARN: a.RoleARN}
		step, err := func() (string, error) {
			tok, claims, step, err := check.verified(ctx, a, irsa.Audience, &r)
			if err != nil {
				return step, err
			}
			policy, err := policies[i], policyErrs[i]
			if err != nil {
				return StepTrust, err
			}
			own := policy.Admits(t.ProviderARN, claims)
			switch {
			case own.Verdict == Refused:
				return StepTrust, fmt.Errorf("the trust policy of %s does not admit %s's token: %s", a.RoleARN, a, own.Reason)
			case own.Verdict == Undecided && c.TrustlessSTS != "":
				return StepTrust, fmt.Errorf("whether the trust policy of %s admits %s's token cannot be decided offline (%s), and %s, so nothing proves it does", a.RoleARN, a, own.Reason, c.TrustlessSTS)
			case own.Verdict == Undecided:
				// AWS's STS evaluates the policy: its credentials below are the proof.
				r.TrustUndecided = own.Reason
			}
			if r.AssumedRoleARN, err = assume(ctx, stsClient, c.AWS, a, tok); err != nil {
				return StepAssume, err
			}

			foreign := foreignAccount(t.Accounts, i)
			r.Foreign = foreign.String()
			ftok, err := token(foreign)
			if err != nil {
				return StepForeign, err
			}
			fclaims, err := unverifiedClaims(ftok)
			if err != nil {
				return StepForeign, err
			}
			d := policy.Admits(t.ProviderARN, fclaims)
			if d.Verdict == Admitted {
				return StepForeign, fmt.Errorf("the trust policy of %s admits %s's token (%s): any pod of that account can take the role", a.RoleARN, foreign, d.Reason)
			}
			_, stsErr := stsClient.AssumeRoleWithWebIdentity(ctx, &sts.AssumeRoleWithWebIdentityInput{
				RoleArn: aws.String(a.RoleARN), WebIdentityToken: aws.String(ftok), RoleSessionName: aws.String(sessionName(foreign)),
			})
			if r.ForeignRefused, err = foreignVerdict(a.RoleARN, foreign, d, stsErr, c.TrustlessSTS); err != nil {
				return StepForeign, err
			}
			return "", nil
		}()
		if err != nil {
			r.Step, r.Failure = step, err.Error()
			failed = append(failed, r)
		} else {
			r.Passed = true
		}
		results = append(results, r)
		if report != nil {
			report(r)
		}
	}
	c.podIdentityRun(ctx, t, check, allPolicies[len(arns):], allErrs[len(arns):], func(r Result) {
		if !r.Passed {
			failed = append(failed, r)
		}
		results = append(results, r)
		if report != nil {
			report(r)
		}
	})
	if len(failed) > 0 {
		return results, &Error{Failed: failed, Total: len(results)}
	}
	return results, nil
}

// foreignAccount is the account whose token is tried against account i's role: the next
// bound account, or, when there is no other, a default account (every namespace has one)
// of its namespace, or of kube-system when it is that default account itself.
func foreignAccount(accounts []Account, i int) Account {
	if len(accounts) > 1 {
		return accounts[(i+1)%len(accounts)]
	}
	other := Account{Namespace: accounts[i].Namespace, Name: "default"}
	if other == (Account{Namespace: accounts[i].Namespace, Name: accounts[i].Name}) {
		other.Namespace = "kube-system"
		if accounts[i].Namespace == other.Namespace {
			other.Namespace = "default"
		}
	}
	return other
}

// requestToken asks the cluster for a token of account a with the STS audience, as the EKS
// pod identity webhook's projected volume does.
func (c *Checker) requestToken(ctx context.Context, a Account) (string, error) {
	return c.requestTokenFor(ctx, a, irsa.Audience)
}

// requestTokenFor asks the cluster for a token of account a with audience.
func (c *Checker) requestTokenFor(ctx context.Context, a Account, audience string) (string, error) {
	ttl := int64(TokenTTL)
	tr, err := c.Kube.CoreV1().ServiceAccounts(a.Namespace).CreateToken(ctx, a.Name, &authenticationv1.TokenRequest{
		Spec: authenticationv1.TokenRequestSpec{Audiences: []string{audience}, ExpirationSeconds: &ttl},
	}, metav1.CreateOptions{})
	if err != nil {
		return "", fmt.Errorf("TokenRequest for %s with audience %s: %w", a, audience, err)
	}
	return tr.Status.Token, nil
}

// unverifiedClaims decodes a JWT's payload, to say which claim is wrong before asking
// whether the signature holds.
func unverifiedClaims(token string) (Claims, error) {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return Claims{}, fmt.Errorf("the token is not a JWT (%d parts)", len(parts))
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return Claims{}, fmt.Errorf("token payload: %w", err)
	}
	var raw struct {
		Issuer   string          `json:"iss"`
		Subject  string          `json:"sub"`
		Audience json.RawMessage `json:"aud"`
	}
	if err := json.Unmarshal(payload, &raw); err != nil {
		return Claims{}, fmt.Errorf("token payload: %w", err)
	}
	aud, err := stringOrList(raw.Audience)
	if err != nil {
		return Claims{}, fmt.Errorf("token aud: %w", err)
	}
	return Claims{Issuer: raw.Issuer, Subject: raw.Subject, Audience: aud}, nil
}

// checkClaims says which claim differs from what the token of a for audience needs.
func checkClaims(c Claims, issuer string, a Account, audience string) error {
	var errs []error
	if c.Issuer != issuer {
		errs = append(errs, fmt.Errorf("iss is %q, want the stack's issuer %q", c.Issuer, issuer))
	}
	if want := irsa.Subject(a.Namespace, a.Name); c.Subject != want {
		errs = append(errs, fmt.Errorf("sub is %q, want %q", c.Subject, want))
	}
	if len(c.Audience) != 1 || c.Audience[0] != audience {
		errs = append(errs, fmt.Errorf("aud is %q, want [%q]", c.Audience, audience))
	}
	return errors.Join(errs...)
}

// trustPolicy reads the role's trust policy from IAM.
// TrustPolicies reads each role's trust policy from IAM, awsaccess.Concurrency at a time;
// errs[i] says why policies[i] could not be read.
func TrustPolicies(ctx context.Context, c *iam.Client, roleARNs []string) (policies []*TrustPolicy, errs []error) {
	policies, errs = make([]*TrustPolicy, len(roleARNs)), make([]error, len(roleARNs))
	awsaccess.Parallel(len(roleARNs), func(i int) {
		policies[i], errs[i] = trustPolicy(ctx, c, roleARNs[i])
	})
	return policies, errs
}

func trustPolicy(ctx context.Context, c *iam.Client, roleARN string) (*TrustPolicy, error) {
	name, err := RoleName(roleARN)
	if err != nil {
		return nil, err
	}
	out, err := c.GetRole(ctx, &iam.GetRoleInput{RoleName: aws.String(name)})
	if err != nil {
		return nil, fmt.Errorf("IAM GetRole %s: %w", name, err)
	}
	return ParseTrustPolicy(aws.ToString(out.Role.AssumeRolePolicyDocument))
}

// assume exchanges the token for the role's credentials and asks STS who they are.
func assume(ctx context.Context, stsClient *sts.Client, cfg aws.Config, a Account, token string) (string, error) {
	session := sessionName(a)
	out, err := stsClient.AssumeRoleWithWebIdentity(ctx, &sts.AssumeRoleWithWebIdentityInput{
		RoleArn: aws.String(a.RoleARN), WebIdentityToken: aws.String(token), RoleSessionName: aws.String(session),
	})
	if err != nil {
		return "", fmt.Errorf("STS AssumeRoleWithWebIdentity %s: %w", a.RoleARN, err)
	}
	creds := out.Credentials
	as := sts.NewFromConfig(cfg, func(o *sts.Options) {
		o.Credentials = credentials.NewStaticCredentialsProvider(aws.ToString(creds.AccessKeyId), aws.ToString(creds.SecretAccessKey), aws.ToString(creds.SessionToken))
	})
	who, err := as.GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if err != nil {
		return "", fmt.Errorf("STS GetCallerIdentity with %s's credentials: %w", a.RoleARN, err)
	}
	want, err := AssumedRoleARN(a.RoleARN, session)
	if err != nil {
		return "", err
	}
	if got := aws.ToString(who.Arn); got != want {
		return got, fmt.Errorf("GetCallerIdentity says %s, want %s", got, want)
	}
	return want, nil
}

// sessionName names the STS session after the account, within STS's 64 characters.
func sessionName(a Account) string {
	s := "eksirsa-verify-" + a.Namespace + "-" + a.Name
	if len(s) > 64 {
		s = s[:64]
	}
	return s
}

// RoleName is the name in an IAM role ARN (without its path).
func RoleName(roleARN string) (string, error) {
	kind, _, err := iamarn.Canonicalize(roleARN)
	if err != nil {
		return "", fmt.Errorf("role ARN %q: %w", roleARN, err)
	}
	if kind != iamarn.ROLE {
		return "", fmt.Errorf("%q is not an IAM role ARN", roleARN)
	}
	return roleARN[strings.LastIndex(roleARN, "/")+1:], nil
}

// AssumedRoleARN is the ARN STS gives a session of the role: arn:<partition>:sts::<account>:
// assumed-role/<name>/<session>, without the role's path.
func AssumedRoleARN(roleARN, session string) (string, error) {
	name, err := RoleName(roleARN)
	if err != nil {
		return "", err
	}
	parts := strings.SplitN(roleARN, ":", 6)
	return fmt.Sprintf("arn:%s:sts::%s:assumed-role/%s/%s", parts[1], parts[4], name, session), nil
}

// tokenCheck is how an account's token is proven, for IRSA's audience and Pod Identity's alike:
// requested for the account (token), its claims checked against the issuer, the account and the
// audience, and its signature against the keys the issuer's discovery document publishes.
type tokenCheck struct {
	issuer      string
	provider    *oidc.Provider
	providerErr error
	httpClient  *http.Client
	token       func(Account, string) (string, error)
}

// verified returns a's token for audience and its claims (also set in r), or the step that
// failed and why.
func (tc tokenCheck) verified(ctx context.Context, a Account, audience string, r *Result) (string, Claims, string, error) {
	tok, err := tc.token(a, audience)
	if err != nil {
		return "", Claims{}, StepToken, err
	}
	claims, err := unverifiedClaims(tok)
	if err != nil {
		return "", Claims{}, StepClaims, err
	}
	r.Token = &claims
	if err := checkClaims(claims, tc.issuer, a, audience); err != nil {
		return "", Claims{}, StepClaims, err
	}
	if tc.providerErr != nil {
		return "", Claims{}, StepSignature, fmt.Errorf("discovery of %s: %w", tc.issuer, tc.providerErr)
	}
	if _, err := tc.provider.Verifier(&oidc.Config{ClientID: audience}).Verify(oidc.ClientContext(ctx, tc.httpClient), tok); err != nil {
		return "", Claims{}, StepSignature, fmt.Errorf("the token does not verify against %s's published keys: %w", tc.issuer, err)
	}
	return tok, claims, "", nil
}
