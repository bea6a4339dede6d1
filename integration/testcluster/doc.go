// Package testcluster owns the integration tier's loopback Kubernetes and Pulumi environment.
//
//   - Start runs etcd, kube-apiserver (token auth, Node+RBAC authorization, a CA and
//     service-account keys generated in Go) and kube-controller-manager (the DaemonSet,
//     Deployment, ReplicaSet, namespace, garbage-collector and service-account controllers)
//     from the tools/build binaries on free 127.0.0.1 ports, each in its own process group with
//     its log in the test's temp dir. It waits on /readyz and /healthz, and t.Cleanup stops
//     the processes (SIGTERM, then SIGKILL) and keeps their logs when the test failed (keptlog).
//   - ServeControlPlanes is the emulated EKS's control-plane service: an HTTP endpoint that
//     gives each created cluster a control plane of its own (the test's first, then a new
//     kube-apiserver on the same etcd under another prefix) and takes it away at delete.
//   - SeedEKS writes what a fresh EKS cluster carries in kube-system (aws-node, kube-proxy,
//     coredns) under another field manager, as EKS's add-on manager does.
//   - StartKubelets and StartPodIdentityWebhook stand in for what a control plane alone lacks:
//     nodes that bind and start pods (statuses through the status subresource), and EKS's
//     pod identity webhook, which injects IRSA credentials into pods of annotated accounts.
//   - NewPulumi prepares an Automation API environment (the built CLI and Kubernetes
//     provider, a private PULUMI_HOME, a passphrase and a file backend in temp dirs), passed
//     to the CLI through workspace options, never os.Setenv.
//
// Its files are not _test files so that any package's tests can import it. Tools are found
// through EKSIRSA_TOOLS_BIN, the directory `tools/build` prints. When it is unset a test is
// skipped, except under CI (CI non-empty), where that is a failure.
package testcluster
