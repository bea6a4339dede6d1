# EKS cluster behaviour moto 5.2 gets wrong, corrected in moto itself (not in the test
# plugin), each written from the Amazon EKS API Reference:
#
# - CreateCluster (API_VpcConfigRequest.html): endpointPublicAccess "The default value for
#   this parameter is true"; endpointPrivateAccess "The default value for this parameter is
#   false". moto stores only what the request carried, so a cluster created without them
#   reported neither.
# - UpdateClusterConfig (API_UpdateClusterConfig.html, API_VpcConfigRequest.html): the
#   request's resourcesVpcConfig carries only what changes; the fields it leaves out keep their
#   values. moto replaced the whole resourcesVpcConfig, so an update of the public access
#   CIDRs dropped the cluster's subnets and security groups.
from moto.eks import models as _eks

_VPC_DEFAULTS = {"endpointPublicAccess": True, "endpointPrivateAccess": False}

_orig_init = _eks.Cluster.__init__


def _init(self, *args, **kwargs):
    _orig_init(self, *args, **kwargs)
    vpc = dict(self.resources_vpc_config or {})
    for key, value in _VPC_DEFAULTS.items():
        vpc.setdefault(key, value)
    self.resources_vpc_config = vpc


_eks.Cluster.__init__ = _init

_orig_update = _eks.EKSBackend.update_cluster_config


def _update_cluster_config(self, name, resources_vpc_config, *args, **kwargs):
    cluster = self.clusters.get(name)
    if cluster is not None and resources_vpc_config:
        merged = dict(cluster.resources_vpc_config or {})
        merged.update({k: v for k, v in resources_vpc_config.items() if v is not None})
        resources_vpc_config = merged
    return _orig_update(self, name, resources_vpc_config, *args, **kwargs)


_eks.EKSBackend.update_cluster_config = _update_cluster_config
