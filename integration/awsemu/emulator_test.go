package awsemu

import (
	"testing"

	"github.com/eks-irsa/eks-irsa/integration/moto"
)

// startMoto is the shared harness's moto_server (with the AWS managed policies loaded, which
// the IAM attachments need), for the tests that predate it.
func startMoto(t *testing.T) *moto.Server {
	t.Helper()
	return moto.Start(t)
}
