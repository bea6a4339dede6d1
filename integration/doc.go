// Package integration holds the second test tier: the real Pulumi engine (the CLI built by
// tools/build, driven through the Automation API with inline programs) and the real
// Kubernetes provider apply the k8s layer to a loopback kube-apiserver with a
// kube-controller-manager, seeded with what EKS creates; the verify checks run against the
// same apiserver. Run with EKSIRSA_TOOLS_BIN=$(tools/build) go test ./integration/...
// Without EKSIRSA_TOOLS_BIN the tests skip, except under CI where they fail.
package integration
