// Package k8s owns the Kubernetes side of the stack: the providers built from the cluster's
// kubeconfig, the aws-auth ConfigMap that lets worker nodes (and configured admins) join, and
// the binding of IRSA roles to service accounts, including the DaemonSet restart that makes
// running pods pick up a changed role. NewLayer is its one entry point. It takes plain Pulumi
// inputs (kubeconfig, role ARNs) and never imports the AWS layer. Why the objects are applied,
// created and replaced the way they are: docs/k8s-layer.md.
package k8s
