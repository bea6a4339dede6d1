package eksauth

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/credentials"
)

// The request as the API reference writes it, signed for eks-auth in the client's region.
func TestAssumeRoleForPodIdentityRequest(t *testing.T) {
	var got struct {
		method, path, contentType, auth, token, securityToken string
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		var in map[string]string
		if err := json.Unmarshal(body, &in); err != nil || len(in) != 1 {
			t.Errorf("body %s, want {\"token\": ...} alone", body)
		}
		got.method, got.path, got.contentType = r.Method, r.URL.EscapedPath(), r.Header.Get("Content-Type")
		got.auth, got.token, got.securityToken = r.Header.Get("Authorization"), in["token"], r.Header.Get("X-Amz-Security-Token")
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"subject":{"namespace":"apps","serviceAccount":"reports"},"audience":"pods.eks.amazonaws.com",
			"podIdentityAssociation":{"associationArn":"arn:aws:eks:us-west-2:123456789012:podidentityassociation/demo/a-1","associationId":"a-1"},
			"assumedRoleUser":{"arn":"arn:aws:sts::123456789012:assumed-role/r/eks-demo-x","assumeRoleId":"AROA:eks-demo-x"},
			"credentials":{"accessKeyId":"ASIA1","secretAccessKey":"s","sessionToken":"t","expiration":1796614727}}`)
	}))
	defer srv.Close()
	c := &Client{Endpoint: srv.URL + "/", Region: "us-west-2", Credentials: credentials.NewStaticCredentialsProvider("AKIDEXAMPLE", "secret", "session")}
	out, err := c.AssumeRoleForPodIdentity(t.Context(), "demo cluster", "a.b.c")
	if err != nil {
		t.Fatal(err)
	}
	if got.method != http.MethodPost || got.path != "/clusters/demo%20cluster/assume-role-for-pod-identity" || got.contentType != "application/json" || got.token != "a.b.c" {
		t.Errorf("request %s %s (%s) token %q, want POST /clusters/demo%%20cluster/assume-role-for-pod-identity (application/json) token a.b.c", got.method, got.path, got.contentType, got.token)
	}
	if !strings.HasPrefix(got.auth, "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/") || !strings.Contains(got.auth, "/us-west-2/eks-auth/aws4_request") || got.securityToken != "session" {
		t.Errorf("Authorization %q, X-Amz-Security-Token %q: want SigV4 for eks-auth in us-west-2 with the session token", got.auth, got.securityToken)
	}
	if out.Subject.Namespace != "apps" || out.Subject.ServiceAccount != "reports" || out.PodIdentityAssociation.AssociationID != "a-1" ||
		out.AssumedRoleUser.ARN != "arn:aws:sts::123456789012:assumed-role/r/eks-demo-x" || out.Credentials.AccessKeyID != "ASIA1" || out.Credentials.Expiration != 1796614727 {
		t.Errorf("output %+v", out)
	}
}

// EKS Auth's refusals, as rest-json writes them, are APIErrors with the code alone.
func TestAssumeRoleForPodIdentityErrors(t *testing.T) {
	for _, tc := range []struct {
		name, header, body string
		status             int
		code, message      string
		refused            bool
	}{
		{"header with namespace", "AccessDeniedException:http://internal.amazon.com/coral/com.amazonaws.eksauth/", `{"message":"not authorized"}`, 400, "AccessDeniedException", "not authorized", true},
		{"body __type", "", `{"__type":"com.amazonaws.eksauth#ResourceNotFoundException","message":"No association"}`, 404, "ResourceNotFoundException", "No association", true},
		{"server fault", "InternalServerException", `{"Message":"boom"}`, 500, "InternalServerException", "boom", false},
		{"no code", "", `oops`, 503, "Service Unavailable", "oops", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
				if tc.header != "" {
					w.Header().Set("X-Amzn-ErrorType", tc.header)
				}
				w.WriteHeader(tc.status)
				_, _ = io.WriteString(w, tc.body)
			}))
			defer srv.Close()
			c := &Client{Endpoint: srv.URL, Region: "us-west-2", Credentials: credentials.NewStaticCredentialsProvider("a", "b", "")}
			_, err := c.AssumeRoleForPodIdentity(t.Context(), "demo", "a.b.c")
			e, refused := Refused(err)
			if refused != tc.refused {
				t.Fatalf("Refused(%v) = %v, want %v", err, refused, tc.refused)
			}
			var api *APIError
			if e != nil {
				api = e
			} else if !errorsAs(err, &api) {
				t.Fatalf("%v is not an *APIError", err)
			}
			if api.Code != tc.code || api.Message != tc.message || api.StatusCode != tc.status {
				t.Errorf("got %+v, want %s %q %d", api, tc.code, tc.message, tc.status)
			}
		})
	}
}

func errorsAs(err error, target **APIError) bool {
	e, ok := err.(*APIError)
	*target = e
	return ok
}

// The endpoints boto3's eks-auth client resolves (1.43, from the service's rule set).
func TestDefaultEndpoint(t *testing.T) {
	for region, want := range map[string]string{
		"us-west-2":     "https://eks-auth.us-west-2.api.aws",
		"us-gov-west-1": "https://eks-auth.us-gov-west-1.api.aws",
		"eu-central-1":  "https://eks-auth.eu-central-1.api.aws",
	} {
		got, err := DefaultEndpoint(t.Context(), region)
		if err != nil || got != want {
			t.Errorf("DefaultEndpoint(%s) = %q, %v; want %q", region, got, err, want)
		}
	}
}
