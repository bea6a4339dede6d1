package testcluster

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/eks-irsa/eks-irsa/eksauth"
)

// PodIdentityAgent stands in for the EKS Pod Identity agent (github.com/aws/eks-pod-identity-agent,
// pkg/handlers/eks_credential_handler.go), which a node runs on 169.254.170.23 and which
// nothing here can listen on: on 127.0.0.1 it serves the container-credentials protocol at
// /v1/credentials. A GET carries the pod's token (the file AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE
// names) in its Authorization header; the agent calls EKS Auth's AssumeRoleForPodIdentity for
// its cluster with it (eksauth, the client verify --identities uses), signed with SigV4 as the
// agent signs with the node role's credentials, and answers the credentials as
// pkg/credentials.EksCredentialsResponse does (AccessKeyId,
// SecretAccessKey, Token, AccountId, Expiration in RFC 3339). An empty token is a 400
// (internal/validation/request.go); EKS Auth's refusals keep their HTTP status and read
// "(code): message" (pkg/errors.HandleCredentialFetchingError); no answer from EKS Auth is a 500.
// Unlike the agent it caches nothing, so every request reaches EKS Auth.
type PodIdentityAgent struct {
	// URL is what AWS_CONTAINER_CREDENTIALS_FULL_URI names.
	URL string

	eksAuth *eksauth.Client
	cluster string
}

// StartPodIdentityAgent serves the agent for cluster until the test ends, calling EKS Auth at
// endpoint (moto's URL) in region as credentials' principal.
func StartPodIdentityAgent(t testing.TB, endpoint, cluster, region string, credentials aws.CredentialsProvider) *PodIdentityAgent {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	a := &PodIdentityAgent{URL: fmt.Sprintf("http://%s/v1/credentials", l.Addr()), cluster: cluster,
		eksAuth: &eksauth.Client{Endpoint: endpoint, Region: region, Credentials: credentials, HTTP: &http.Client{Timeout: 30 * time.Second}}}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/credentials", a.serve)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() {
		if err := srv.Serve(l); err != nil && !errors.Is(err, http.ErrServerClosed) {
			t.Logf("testcluster: pod identity agent: %v", err)
		}
	}()
	t.Cleanup(func() { _ = srv.Close() })
	return a
}

// agentCredentials is pkg/credentials.EksCredentialsResponse.
type agentCredentials struct {
	AccessKeyID     string `json:"AccessKeyId"`
	SecretAccessKey string `json:"SecretAccessKey"`
	Token           string `json:"Token"`
	AccountID       string `json:"AccountId,omitempty"`
	Expiration      string `json:"Expiration"`
}

func (a *PodIdentityAgent) serve(w http.ResponseWriter, r *http.Request) {
	token := r.Header.Get("Authorization")
	if token == "" {
		http.Error(w, "Service account token cannot be empty", http.StatusBadRequest)
		return
	}
	creds, status, err := a.assume(r.Context(), token)
	if err != nil {
		http.Error(w, err.Error(), status)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(creds)
}

// assume calls AssumeRoleForPodIdentity through eksirsa's own EKS Auth client (eksauth: the
// request and SigV4 as the API reference and the model give them) and returns the credentials,
// or the HTTP status and message to answer.
func (a *PodIdentityAgent) assume(ctx context.Context, token string) (*agentCredentials, int, error) {
	out, err := a.eksAuth.AssumeRoleForPodIdentity(ctx, a.cluster, token)
	var apiErr *eksauth.APIError
	if errors.As(err, &apiErr) {
		return nil, apiErr.StatusCode, fmt.Errorf("(%s): %s", apiErr.Code, apiErr.Message)
	}
	if err != nil {
		return nil, http.StatusInternalServerError, err
	}
	c := out.Credentials
	account := ""
	if parts := strings.Split(out.AssumedRoleUser.ARN, ":"); len(parts) > 4 {
		account = parts[4]
	}
	return &agentCredentials{AccessKeyID: c.AccessKeyID, SecretAccessKey: c.SecretAccessKey, Token: c.SessionToken, AccountID: account,
		Expiration: time.Unix(int64(c.Expiration), 0).UTC().Format(time.RFC3339Nano)}, http.StatusOK, nil
}
