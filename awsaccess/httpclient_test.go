package awsaccess

import (
	"bytes"
	"io"
	"net/http"
	"net/url"
	"testing"

	smithyhttp "github.com/aws/smithy-go/transport/http"
)

type doFunc func(*http.Request) (*http.Response, error)

func (f doFunc) Do(r *http.Request) (*http.Response, error) { return f(r) }

// A request body smithy-go built and closed (as its client does once the answer is back)
// reads to a plain end through the client HTTPClient gives the SDK: net/http's check that no
// data follows ContentLength, run after the answer, must not fail and close the connection
// under the answer (see HTTPClient; break: the body passed on as smithy built it -> EOF).
func TestClosedRequestBodyEndsCleanly(t *testing.T) {
	req := smithyhttp.NewStackRequest().(*smithyhttp.Request)
	req.URL = &url.URL{Scheme: "http", Host: "127.0.0.1", Path: "/"}
	req.Method = http.MethodPost
	req, err := req.SetStream(bytes.NewReader([]byte("Action=CreateRole&RoleName=r")))
	if err != nil {
		t.Fatal(err)
	}
	built := req.Build(t.Context())
	var sent io.Reader
	inner := doFunc(func(r *http.Request) (*http.Response, error) {
		sent = r.Body
		return &http.Response{StatusCode: http.StatusOK, Body: http.NoBody}, nil
	})
	if _, err := (plainBodies{inner}).Do(built); err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(io.Discard, io.LimitReader(sent, built.ContentLength)); err != nil {
		t.Fatal(err)
	}
	if err := built.Body.Close(); err != nil { // smithy-go's client, once Do returns
		t.Fatal(err)
	}
	if n, err := io.Copy(io.Discard, sent); err != nil || n != 0 {
		t.Errorf("after the close, the extra-data check read %d bytes, error %v; want 0, nil", n, err)
	}
}
