// Command pulumi-resource-tls is the test-only TLS provider plugin of the emulated tier
// (package tlsemu): put its directory on PATH and the engine loads it in place of the real
// pulumi-tls provider.
package main

import (
	"fmt"
	"os"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource/plugin"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi/provider"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"

	"github.com/eks-irsa/eks-irsa/integration/tlsemu"
)

func main() {
	err := provider.Main(tlsemu.Name, func(*provider.HostClient) (pulumirpc.ResourceProviderServer, error) {
		return plugin.NewProviderServer(&tlsemu.Provider{}), nil
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
