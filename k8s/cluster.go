package k8s

import "github.com/pulumi/pulumi/sdk/v3/go/pulumi"

// ClusterInstance is the one cluster, of the ones a name and ARN can stand for over time, that
// the objects live in. An EKS cluster replaced under its name (delete first: names are unique)
// keeps its ARN, so the providers' clusterIdentifier does not change and, their inputs the
// same, the engine would keep every object in the state as applied although the new control
// plane is empty (measured in integration TestEmulatedClusterReplaced). Every object takes
// two options from it:
//
//   - ReplacementTrigger(Issuer): a new cluster has a new OIDC issuer, so each object is
//     replaced, which creates it again on the new cluster. A trigger compares two recorded
//     values, so a stack made before it records one and is not replaced.
//   - DeletedWith(Resource): an object dies with its cluster, so when the cluster is deleted
//     (a replacement, or destroy) the engine does not ask the gone cluster to delete it, which
//     fails ("connection refused": the provider was configured while the cluster still
//     answered, so deleteUnreachable does not apply).
type ClusterInstance struct {
	// Issuer is the cluster's OIDC issuer URL.
	Issuer pulumi.StringInput
	// Resource is the cluster resource (aws:eks/cluster:Cluster).
	Resource pulumi.Resource
}

// options returns the two options; none for a nil ClusterInstance.
func (c *ClusterInstance) options() []pulumi.ResourceOption {
	if c == nil {
		return nil
	}
	var o []pulumi.ResourceOption
	if c.Issuer != nil {
		o = append(o, pulumi.ReplacementTrigger(c.Issuer))
	}
	if c.Resource != nil {
		o = append(o, pulumi.DeletedWith(c.Resource))
	}
	return o
}
