package awsaccess

import (
	"io"
	"net/http"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
)

// PlainBodies is c (the SDK's default client when nil) with one fault of smithy-go v1.28.9
// taken out, for every aws.Config eksirsa and its tests build: Read applies it to the config
// LoadDefaultConfig made (which must hold the SDK's own client to add a custom CA bundle).
//
// The fault: smithy-go's client closes the request body as soon as the HTTP client returns
// the response (transport/http/client.go), and the body it built (internal/io/safe.go,
// safeWriteToReadCloser) answers a WriteTo after that close with io.EOF as an error.
// net/http's writeLoop, once it has sent ContentLength bytes, reads the body on to check that
// nothing is left (transfer.go writeBody: doBodyCopy(io.Discard, body), which uses WriteTo);
// when the answer came first, that read fails, the writeLoop closes the connection under the
// response being read ("use of closed network connection"), and the SDK, which retries
// net.ErrClosed (aws-sdk-go-v2 #2949, #2737), sends the request again though AWS served it: a
// create comes back "already exists". Seen on this machine's loaded test runs (CreateRole
// answered 200 by moto, then 409 EntityAlreadyExists; 3-4 of 30 fixture runs of 200 creates
// with every core busy, 2026-12-07). The body the HTTP client sees here has no WriteTo, so the
// check reads it with Read, which after the close is a plain end of data.
func PlainBodies(c aws.HTTPClient) aws.HTTPClient {
	if c == nil {
		c = awshttp.NewBuildableClient()
	}
	return plainBodies{c}
}

type plainBodies struct{ aws.HTTPClient }

func (c plainBodies) Do(r *http.Request) (*http.Response, error) {
	if r.Body != nil && r.Body != http.NoBody {
		r.Body = readCloser{r.Body}
	}
	return c.HTTPClient.Do(r)
}

// readCloser is an io.ReadCloser and nothing else (no WriteTo).
type readCloser struct{ io.ReadCloser }
