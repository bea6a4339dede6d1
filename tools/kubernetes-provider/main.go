// Command pulumi-resource-kubernetes serves the Pulumi Kubernetes provider.
//
// Upstream's cmd/pulumi-resource-kubernetes embeds files that its go:generate step writes,
// so it cannot be built from the module cache as it is. This main is the same three lines
// with the module's own schema.json and terraform-mapping.json, which tools/build copies
// beside it before building (they are not committed: 7.5 MB of generated data).
package main

import (
	_ "embed"

	"github.com/pulumi/pulumi-kubernetes/provider/v4/pkg/provider"
	"github.com/pulumi/pulumi-kubernetes/provider/v4/pkg/version"
)

//go:embed schema.json
var schema []byte

//go:embed terraform-mapping.json
var terraformMapping []byte

func main() {
	provider.Serve("kubernetes", version.Version, schema, terraformMapping)
}
