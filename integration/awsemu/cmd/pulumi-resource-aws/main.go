// Command pulumi-resource-aws is the test-only AWS provider plugin: it serves the program's
// AWS resources from an emulator on loopback (EKSIRSA_EMU_AWS_ENDPOINT). Put it on PATH for the
// engine to load in place of pulumi-aws; see package awsemu.
package main

import (
	"fmt"
	"os"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi/provider"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"

	"github.com/eks-irsa/eks-irsa/integration/awsemu"
)

func main() {
	if err := provider.Main("aws", func(*provider.HostClient) (pulumirpc.ResourceProviderServer, error) {
		return awsemu.NewServer()
	}); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
