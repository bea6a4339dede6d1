// Package graph is a program's resource graph as the offline plan and the deploy-time model
// read it: what each resource is, what it is under, and what it waits for. The recorder
// adapts its registrations into it.
package graph

import "github.com/pulumi/pulumi/sdk/v3/go/common/resource"

// Resource is one registered resource.
type Resource struct {
	URN    string
	Type   string
	Name   string
	Parent string // URN; the root stack for top-level resources
	Custom bool
	Inputs resource.PropertyMap
	// DependsOn are the URNs the resource waits for: explicit DependsOn, the sources of its
	// inputs and its provider.
	DependsOn []string
}
