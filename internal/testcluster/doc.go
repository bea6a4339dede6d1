// Package testcluster owns the integration tier's loopback Kubernetes: it starts etcd,
// kube-apiserver and kube-controller-manager built by tools/build on free 127.0.0.1 ports,
// seeds the objects a fresh EKS cluster carries, and prepares a private Pulumi Automation API
// environment (the built CLI, the built Kubernetes provider, a file backend) for inline
// programs. Its files are not _test files so that any package's tests can import it.
//
// Tools are found through EKSIRSA_TOOLS_BIN, the directory `tools/build` prints. When it is
// unset a test is skipped, except under CI (CI non-empty), where that is a failure.
package testcluster
