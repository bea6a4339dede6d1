package testcluster

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	authenticationv1 "k8s.io/api/authentication/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	iamarn "sigs.k8s.io/aws-iam-authenticator/pkg/arn"
)

// The token format of `aws eks get-token` and aws-iam-authenticator, as
// sigs.k8s.io/aws-iam-authenticator@v0.7.2 pkg/token (Verifier.Verify) checks it.
const (
	eksTokenPrefix     = "k8s-aws-v1."
	eksClusterIDHeader = "x-k8s-aws-id"
	// A presigned GetCallerIdentity URL is valid for 15 minutes after X-Amz-Date, whatever
	// X-Amz-Expires says (pkg/token's presignedURLExpiration); more than 900 is refused.
	eksTokenLifetime   = 15 * time.Minute
	eksTokenMaxExpires = 900
)

// AWSIAMAuth stands in for EKS's authenticator of `aws eks get-token` tokens, which the
// program's kubeconfig runs. A token is the prefix k8s-aws-v1. and the base64url of a
// presigned STS GetCallerIdentity URL whose signature covers the header x-k8s-aws-id = the
// cluster's name; the name itself is not in the URL. EKS's authenticator proves it by sending
// the URL to STS with that header, and STS recomputes the SigV4 signature. Here the stand-in
// recomputes it itself with the keys it was given (the dummy keys the test hands the aws CLI),
// so a token for another cluster, signed with other keys, expired, or for another action is
// refused. Without EKS, an accepted token maps to Username in system:masters, as EKS's access entry for the
// cluster creator (bootstrapClusterCreatorAdminPermissions) maps the creator to cluster admin.
type AWSIAMAuth struct {
	ClusterName     string
	Region          string
	AccessKeyID     string
	SecretAccessKey string
	// Username is who an accepted token authenticates as.
	Username string

	// STSEndpoint, when set, is the STS the tokens are presigned for: moto, which hands out
	// the sessions of a stack reached through aws:assumeRole (the kubeconfig's `aws eks
	// get-token --role-arn` assumes the role there), whose secrets this stand-in cannot know.
	// A token is then checked as EKS's authenticator checks it: sent to that STS with the
	// cluster header, the identity STS answers canonicalized to its role
	// (aws-iam-authenticator v0.7.2 pkg/token Verify, pkg/arn Canonicalize), and admitted
	// only if it is AdminARN. AccessKeyID and SecretAccessKey are then unused. moto's STS
	// checks no signature, so in this mode a token signed for another cluster is not refused
	// (the key mode refuses it).
	STSEndpoint string
	// AdminARN is, with STSEndpoint, the principal EKS made the cluster's admin: its creator,
	// the role the stack's AWS provider assumes.
	AdminARN string

	// EKS, when set, maps each accepted token as EKS does, from the cluster's access entries
	// and aws-auth (see EKSAccess); Username and AdminARN then play no part in the mapping.
	EKS *EKSAccess
}

// verify checks token as described on AWSIAMAuth and returns why it is refused; with
// STSEndpoint, the identity STS names.
func (a *AWSIAMAuth) verify(token string, now time.Time) (string, error) {
	u, err := a.presignedURL(token, now)
	if err != nil {
		return "", err
	}
	if a.STSEndpoint != "" {
		return a.askSTS(u)
	}
	if a.EKS != nil && !strings.HasPrefix(u.Query().Get("X-Amz-Credential"), a.AccessKeyID+"/") {
		// Another principal's token (a role session's, a user's): mapped as EKS maps it, so it is
		// checked as EKS checks it, by the STS it is presigned for (moto, which checks no
		// signature: the creator's own tokens keep the stand-in's signature check).
		return a.askSTS(u)
	}
	return "", a.verifySignature(u)
}

// verifySignature re-signs a key-mode token's URL with the stand-in's keys.
func (a *AWSIAMAuth) verifySignature(u *url.URL) error {
	q := u.Query()
	credential := strings.Split(q.Get("X-Amz-Credential"), "/")
	if len(credential) != 5 || credential[0] != a.AccessKeyID || credential[2] != a.Region || credential[3] != "sts" {
		return fmt.Errorf("credential %q is not %s's in %s for sts", q.Get("X-Amz-Credential"), a.AccessKeyID, a.Region)
	}
	signed, err := time.Parse("20060102T150405Z", q.Get("X-Amz-Date"))
	if err != nil {
		return fmt.Errorf("X-Amz-Date: %w", err)
	}

	// What STS does with the header EKS adds: sign the same request again and compare.
	got := q.Get("X-Amz-Signature")
	unsigned := *u
	query := u.Query()
	for _, k := range []string{"X-Amz-Algorithm", "X-Amz-Credential", "X-Amz-Date", "X-Amz-SignedHeaders", "X-Amz-Signature", "X-Amz-Security-Token"} {
		query.Del(k)
	}
	unsigned.RawQuery = query.Encode()
	req, err := http.NewRequest(http.MethodGet, unsigned.String(), nil)
	if err != nil {
		return err
	}
	req.Header.Set(eksClusterIDHeader, a.ClusterName)
	creds := aws.Credentials{AccessKeyID: a.AccessKeyID, SecretAccessKey: a.SecretAccessKey}
	// The payload hash is that of an empty body, not UNSIGNED-PAYLOAD: measured on the
	// tokens of aws-cli 1.45.11 (botocore 1.43.11), the CLI this machine kind ships.
	empty := sha256.Sum256(nil)
	presigned, _, err := v4.NewSigner().PresignHTTP(context.Background(), creds, req, hex.EncodeToString(empty[:]), "sts", a.Region, signed)
	if err != nil {
		return fmt.Errorf("re-sign: %w", err)
	}
	want, err := url.Parse(presigned)
	if err != nil {
		return err
	}
	if want.Query().Get("X-Amz-Signature") != got {
		return fmt.Errorf("signature does not match a token for cluster %q signed by %s", a.ClusterName, a.AccessKeyID)
	}
	return nil
}

// askSTS sends the presigned GetCallerIdentity to STS with the cluster header, as EKS's
// authenticator does, and returns the identity STS answers; without EKS it admits only
// AdminARN's.
func (a *AWSIAMAuth) askSTS(u *url.URL) (string, error) {
	req, err := http.NewRequest(http.MethodGet, u.String(), nil)
	if err != nil {
		return "", err
	}
	req.Header.Set(eksClusterIDHeader, a.ClusterName)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", fmt.Errorf("STS GetCallerIdentity: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return "", fmt.Errorf("STS GetCallerIdentity: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("STS GetCallerIdentity: %d %s", resp.StatusCode, body)
	}
	// moto answers in the query protocol's XML even when asked for JSON.
	var id struct {
		Arn string `xml:"GetCallerIdentityResult>Arn"`
	}
	if err := xml.Unmarshal(body, &id); err != nil {
		return "", fmt.Errorf("STS GetCallerIdentity: %w: %s", err, body)
	}
	_, canonical, err := iamarn.Canonicalize(id.Arn)
	if err != nil {
		return "", fmt.Errorf("STS says the token is %s: %w", id.Arn, err)
	}
	if a.EKS == nil && canonical != a.AdminARN {
		return "", fmt.Errorf("STS says the token is %s (%s), which is not the cluster's admin %s", id.Arn, canonical, a.AdminARN)
	}
	return id.Arn, nil
}

// stsEndpoint is the STS tokens may be presigned for besides AWS's: STSEndpoint, or with EKS
// the AWS (moto) that holds the cluster, whose STS the aws CLI uses when AWS_ENDPOINT_URL_STS
// points there.
func (a *AWSIAMAuth) stsEndpoint() string {
	if a.STSEndpoint != "" {
		return a.STSEndpoint
	}
	if a.EKS != nil {
		return a.EKS.Endpoint
	}
	return ""
}

// presignedURL is the token's presigned GetCallerIdentity URL once the checks every token
// passes have: prefix, STS host, action, signed cluster header, expiry.
func (a *AWSIAMAuth) presignedURL(token string, now time.Time) (*url.URL, error) {
	raw, ok := strings.CutPrefix(token, eksTokenPrefix)
	if !ok {
		return nil, fmt.Errorf("token is missing the %q prefix", eksTokenPrefix)
	}
	decoded, err := base64.RawURLEncoding.DecodeString(raw)
	if err != nil {
		return nil, fmt.Errorf("token is not base64url: %w", err)
	}
	u, err := url.Parse(string(decoded))
	if err != nil {
		return nil, fmt.Errorf("token is not a URL: %w", err)
	}
	if sts := a.stsEndpoint(); sts != "" && !(a.STSEndpoint == "" && u.Scheme == "https" && u.Host == "sts."+a.Region+".amazonaws.com" && u.Path == "/") {
		if want, err := url.Parse(sts); err != nil || u.Scheme != want.Scheme || u.Host != want.Host || u.Path != "/" {
			return nil, fmt.Errorf("presigned URL %s://%s%s is not the STS %s", u.Scheme, u.Host, u.Path, sts)
		}
	} else if u.Scheme != "https" || u.Host != "sts."+a.Region+".amazonaws.com" || u.Path != "/" {
		return nil, fmt.Errorf("presigned URL %s://%s%s is not STS in %s", u.Scheme, u.Host, u.Path, a.Region)
	}
	q := u.Query()
	if got := q.Get("Action"); got != "GetCallerIdentity" {
		return nil, fmt.Errorf("presigned action %q, want GetCallerIdentity", got)
	}
	if !slices.Contains(strings.Split(q.Get("X-Amz-SignedHeaders"), ";"), eksClusterIDHeader) {
		return nil, fmt.Errorf("the %s header is not signed", eksClusterIDHeader)
	}
	expires, err := strconv.Atoi(q.Get("X-Amz-Expires"))
	if err != nil || expires < 0 || expires > eksTokenMaxExpires {
		return nil, fmt.Errorf("X-Amz-Expires %q out of [0, %d]", q.Get("X-Amz-Expires"), eksTokenMaxExpires)
	}
	signed, err := time.Parse("20060102T150405Z", q.Get("X-Amz-Date"))
	if err != nil {
		return nil, fmt.Errorf("X-Amz-Date: %w", err)
	}
	if now.After(signed.Add(eksTokenLifetime)) {
		return nil, fmt.Errorf("token signed at %s has expired", signed.Format(time.RFC3339))
	}
	return u, nil
}

// authenticate verifies token and maps it: as EKS does with EKS set, else to Username in
// system:masters, as EKS's access entry for the cluster creator
// (bootstrapClusterCreatorAdminPermissions) maps the creator to cluster admin.
func (a *AWSIAMAuth) authenticate(ctx context.Context, token string) (authenticationv1.UserInfo, error) {
	arn, err := a.verify(token, time.Now())
	if err != nil {
		return authenticationv1.UserInfo{}, err
	}
	if a.EKS == nil {
		return authenticationv1.UserInfo{Username: a.Username, Groups: []string{mastersGroup}}, nil
	}
	if arn == "" {
		if arn, err = a.keyPrincipal(ctx); err != nil {
			return authenticationv1.UserInfo{}, err
		}
	}
	p, err := newPrincipal(arn)
	if err != nil {
		return authenticationv1.UserInfo{}, err
	}
	return a.mapPrincipal(ctx, p)
}

// serveTokenReview answers the apiserver's TokenReview webhook calls.
func (a *AWSIAMAuth) serveTokenReview(t testing.TB) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var review authenticationv1.TokenReview
		if err := json.NewDecoder(r.Body).Decode(&review); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		review.Status = authenticationv1.TokenReviewStatus{}
		if user, err := a.authenticate(r.Context(), review.Spec.Token); err != nil {
			t.Logf("testcluster: aws-iam authenticator refused a token: %v", err)
			review.Status.Error = err.Error()
		} else {
			review.Status.Authenticated = true
			review.Status.User = user
		}
		review.TypeMeta = metav1.TypeMeta{APIVersion: "authentication.k8s.io/v1", Kind: "TokenReview"}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(&review)
	}
}

// startTokenWebhook serves the authenticator on a loopback port with a certificate of the
// cluster's CA and writes the kubeconfig kube-apiserver's
// --authentication-token-webhook-config-file reads. The server stops in t.Cleanup.
func (a *AWSIAMAuth) startTokenWebhook(t testing.TB, dir string, ca *authority) (configPath string, err error) {
	if a.ClusterName == "" || a.Region == "" || a.Username == "" {
		return "", errors.New("AWSIAMAuth needs ClusterName, Region and Username")
	}
	if (a.STSEndpoint == "") == (a.AccessKeyID == "" || a.SecretAccessKey == "") || (a.STSEndpoint != "") != (a.AdminARN != "") {
		return "", errors.New("AWSIAMAuth needs either AccessKeyID and SecretAccessKey, or STSEndpoint and AdminARN")
	}
	certPEM, keyPEM, err := ca.serving("aws-iam-authenticator")
	if err != nil {
		return "", err
	}
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return "", err
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	srv := &http.Server{
		Handler:           a.serveTokenReview(t),
		TLSConfig:         &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12},
		ReadHeaderTimeout: 10 * time.Second,
	}
	go func() { _ = srv.ServeTLS(l, "", "") }()
	t.Cleanup(func() { _ = srv.Close() })

	configPath = filepath.Join(dir, "aws-iam-authenticator.kubeconfig")
	data := kubeconfig("https://"+l.Addr().String()+"/authenticate", ca.pem, "kube-apiserver", "")
	return configPath, os.WriteFile(configPath, data, 0o600)
}

// WithoutAWSEnv drops every AWS_ variable from env, so that a test's aws CLI and SDK clients
// use only the credentials and endpoints the test gives them, never the host's profile. (An
// empty AWS_PROFILE is not the same: the CLI then looks for a profile named "".)
func WithoutAWSEnv(env []string) []string {
	return slices.DeleteFunc(slices.Clone(env), func(kv string) bool { return strings.HasPrefix(kv, "AWS_") })
}
