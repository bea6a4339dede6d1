// Package eksauth is eksirsa's client of EKS Auth's one operation, AssumeRoleForPodIdentity,
// which the EKS Pod Identity agent calls with a pod's token (Amazon EKS API Reference,
// API_auth_AssumeRoleForPodIdentity). aws-sdk-go-v2's service/eksauth is not among the
// project's modules, so the request is made and signed here: a REST-JSON POST signed with
// SigV4 under the signing name "eks-auth" (the service model eks-auth-2023-11-26's metadata:
// signingName eks-auth, protocol rest-json).
package eksauth

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/service/eks"
	"github.com/aws/smithy-go"
)

// SigningName is EKS Auth's SigV4 service name (the model's signingName, also its endpoint
// prefix).
const SigningName = "eks-auth"

// Audience is the audience of the token EKS Auth takes: the projected token the EKS pod
// identity webhook mounts for the agent asks for it (EKS User Guide, pod-id-how-it-works), and
// AssumeRoleForPodIdentity's response echoes it.
const Audience = "pods.eks.amazonaws.com"

// DefaultEndpoint is EKS Auth's endpoint in region, as the service's endpoint rule set
// (botocore data/eks-auth/2023-11-26/endpoint-rule-set-1.json) builds it: https://eks-auth.
// {Region}.{the partition's dualStackDnsSuffix}, e.g. https://eks-auth.us-west-2.api.aws
// (measured with boto3 1.43's eks-auth client). The partition's suffix comes from the SDK's own
// rules, through EKS's dual-stack endpoint, which has the same shape.
func DefaultEndpoint(ctx context.Context, region string) (string, error) {
	e, err := eks.NewDefaultEndpointResolverV2().ResolveEndpoint(ctx, eks.EndpointParameters{
		Region: aws.String(region), UseDualStack: aws.Bool(true), UseFIPS: aws.Bool(false),
	})
	if err != nil {
		return "", fmt.Errorf("EKS Auth endpoint for region %q: %w", region, err)
	}
	host, ok := strings.CutPrefix(e.URI.Host, "eks.")
	if !ok {
		return "", fmt.Errorf("EKS Auth endpoint for region %q: EKS's dual-stack endpoint %s is not eks.<region>.<suffix>", region, e.URI.String())
	}
	return "https://" + SigningName + "." + host, nil
}

// Client calls EKS Auth at Endpoint, signing as Credentials in Region.
type Client struct {
	Endpoint    string
	Region      string
	Credentials aws.CredentialsProvider
	// HTTP sends the request; nil is http.DefaultClient.
	HTTP *http.Client
}

// New is a client of EKS Auth at endpoint with cfg's region, credentials and HTTP client.
func New(cfg aws.Config, endpoint string) *Client {
	c := &Client{Endpoint: endpoint, Region: cfg.Region, Credentials: cfg.Credentials}
	if h, ok := cfg.HTTPClient.(*http.Client); ok {
		c.HTTP = h
	}
	return c
}

// Output is AssumeRoleForPodIdentity's response (API reference, Response Syntax).
type Output struct {
	Subject struct {
		Namespace      string `json:"namespace"`
		ServiceAccount string `json:"serviceAccount"`
	} `json:"subject"`
	Audience               string `json:"audience"`
	PodIdentityAssociation struct {
		AssociationARN string `json:"associationArn"`
		AssociationID  string `json:"associationId"`
	} `json:"podIdentityAssociation"`
	AssumedRoleUser struct {
		ARN          string `json:"arn"`
		AssumeRoleID string `json:"assumeRoleId"`
	} `json:"assumedRoleUser"`
	Credentials struct {
		AccessKeyID     string `json:"accessKeyId"`
		SecretAccessKey string `json:"secretAccessKey"`
		SessionToken    string `json:"sessionToken"`
		// Expiration is in epoch seconds (the model's timestamp in rest-json).
		Expiration float64 `json:"expiration"`
	} `json:"credentials"`
}

// APIError is EKS Auth's refusal: the error code (AccessDeniedException,
// ResourceNotFoundException, InvalidTokenException, ExpiredTokenException, ...: API reference,
// Errors), its message and the HTTP status. It is a smithy.APIError, as the SDK's are.
type APIError struct {
	Code, Message string
	StatusCode    int
}

func (e *APIError) Error() string {
	return fmt.Sprintf("EKS Auth %s (HTTP %d): %s", e.Code, e.StatusCode, e.Message)
}
func (e *APIError) ErrorCode() string    { return e.Code }
func (e *APIError) ErrorMessage() string { return e.Message }
func (e *APIError) ErrorFault() smithy.ErrorFault {
	if e.StatusCode >= 500 {
		return smithy.FaultServer
	}
	return smithy.FaultClient
}

// Request is the signed AssumeRoleForPodIdentity request for cluster with token: POST
// /clusters/{clusterName}/assume-role-for-pod-identity, Content-Type application/json, body
// {"token": ...} (API reference, Request Syntax).
func (c *Client) Request(ctx context.Context, cluster, token string) (*http.Request, error) {
	body, err := json.Marshal(map[string]string{"token": token})
	if err != nil {
		return nil, err
	}
	u := strings.TrimSuffix(c.Endpoint, "/") + "/clusters/" + url.PathEscape(cluster) + "/assume-role-for-pod-identity"
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("EKS Auth AssumeRoleForPodIdentity for cluster %s: %w", cluster, err)
	}
	req.Header.Set("Content-Type", "application/json")
	if c.Credentials == nil {
		return nil, fmt.Errorf("EKS Auth AssumeRoleForPodIdentity for cluster %s: no credentials to sign with", cluster)
	}
	creds, err := c.Credentials.Retrieve(ctx)
	if err != nil {
		return nil, fmt.Errorf("EKS Auth AssumeRoleForPodIdentity for cluster %s: credentials: %w", cluster, err)
	}
	sum := sha256.Sum256(body)
	if err := v4.NewSigner().SignHTTP(ctx, creds, req, hex.EncodeToString(sum[:]), SigningName, c.Region, time.Now()); err != nil {
		return nil, fmt.Errorf("EKS Auth AssumeRoleForPodIdentity for cluster %s: sign: %w", cluster, err)
	}
	return req, nil
}

// AssumeRoleForPodIdentity exchanges a service account token of cluster for the credentials of
// its association's role. A refusal is an *APIError.
func (c *Client) AssumeRoleForPodIdentity(ctx context.Context, cluster, token string) (*Output, error) {
	req, err := c.Request(ctx, cluster, token)
	if err != nil {
		return nil, err
	}
	h := c.HTTP
	if h == nil {
		h = http.DefaultClient
	}
	resp, err := h.Do(req)
	if err != nil {
		return nil, fmt.Errorf("EKS Auth AssumeRoleForPodIdentity for cluster %s: %w", cluster, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return nil, fmt.Errorf("EKS Auth AssumeRoleForPodIdentity for cluster %s: %w", cluster, err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, decodeError(resp, raw)
	}
	var out Output
	if err := json.Unmarshal(raw, &out); err != nil {
		return nil, fmt.Errorf("EKS Auth AssumeRoleForPodIdentity for cluster %s answered %q: %w", cluster, raw, err)
	}
	return &out, nil
}

// decodeError reads a rest-json error: the code from X-Amzn-ErrorType or the body's __type
// (either may carry a ":<namespace>" suffix or a "<namespace>#" prefix), the message from
// "message" or "Message".
func decodeError(resp *http.Response, raw []byte) *APIError {
	var body struct {
		Type     string `json:"__type"`
		Code     string `json:"code"`
		Message  string `json:"message"`
		MessageU string `json:"Message"`
	}
	_ = json.Unmarshal(raw, &body)
	code := resp.Header.Get("X-Amzn-ErrorType")
	for _, c := range []string{body.Type, body.Code} {
		if code == "" {
			code = c
		}
	}
	code, _, _ = strings.Cut(code, ":")
	if i := strings.LastIndex(code, "#"); i >= 0 {
		code = code[i+1:]
	}
	msg := body.Message
	if msg == "" {
		msg = body.MessageU
	}
	if code == "" {
		code = http.StatusText(resp.StatusCode)
		if msg == "" {
			msg = strings.TrimSpace(string(raw))
		}
	}
	return &APIError{Code: code, Message: msg, StatusCode: resp.StatusCode}
}

// Refused says whether err is EKS Auth refusing the token (a client fault it answered), as
// opposed to not reaching it or a server fault.
func Refused(err error) (*APIError, bool) {
	var e *APIError
	if errors.As(err, &e) && e.ErrorFault() == smithy.FaultClient {
		return e, true
	}
	return nil, false
}
