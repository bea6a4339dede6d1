package stack

import "github.com/eks-irsa/eks-irsa/infra"

// validateAMIRelease checks nodes.amiReleaseVersion: an EKS AMI release as managed node
// groups and the amazon-eks-ami release notes name it ("1.33.5-20251120"), built for the
// cluster's Kubernetes minor. infra.ParseAMIRelease owns the format, since the same release
// names the SSM parameter the AMI is read from.
func (c *Config) validateAMIRelease(v *validator) {
	release := c.Nodes.AMIReleaseVersion
	if release == "" {
		return
	}
	minor, _, err := infra.ParseAMIRelease(release)
	switch {
	case err != nil:
		v.add("nodes.amiReleaseVersion", release, "want an EKS AMI release version <Kubernetes version>-<build date> such as %s.5-20251120, or empty for the recommended AMI at create", c.Cluster.Version)
	case minor != c.Cluster.Version:
		v.add("nodes.amiReleaseVersion", release, "built for Kubernetes %s, but cluster.version is %s: pick a %s release", minor, c.Cluster.Version, c.Cluster.Version)
	}
}
