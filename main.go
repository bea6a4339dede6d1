// Command eks-irsa is the Pulumi program that `pulumi up` runs; it lives in package stack.
package main

import (
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/eks-irsa/eks-irsa/stack"
)

func main() {
	pulumi.Run(stack.Program)
}
