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

# - accessConfig (API_CreateCluster.html accessConfig, API_AccessConfigResponse.html,
#   API_UpdateClusterConfig.html accessConfig): CreateCluster keeps the authentication mode
#   ("CONFIG_MAP" when not given, API_CreateAccessConfigRequest.html) and
#   bootstrapClusterCreatorAdminPermissions (default true); DescribeCluster returns them;
#   UpdateClusterConfig changes the authentication mode. moto dropped the whole block.
from moto.eks import responses as _eks_responses  # noqa: E402

_orig_create_response = _eks_responses.EKSResponse.create_cluster


def _create_cluster(self):
    requested = self._get_param("accessConfig") or {}
    result = _orig_create_response(self)
    cluster = self.eks_backend.clusters.get(self._get_param("name"))
    if cluster is not None:
        admin = requested.get("bootstrapClusterCreatorAdminPermissions")
        cluster.access_config = {
            "authenticationMode": requested.get("authenticationMode") or "CONFIG_MAP",
            "bootstrapClusterCreatorAdminPermissions": True if admin is None else admin,
        }
    return result


_eks_responses.EKSResponse.create_cluster = _create_cluster

_orig_update_response = _eks_responses.EKSResponse.update_cluster_config


def _update_cluster_config_response(self):
    requested = self._get_param("accessConfig") or {}
    cluster = self.eks_backend.clusters.get(self._get_param("name"))
    if cluster is not None and requested.get("authenticationMode"):
        access = dict(getattr(cluster, "access_config", None) or {})
        access["authenticationMode"] = requested["authenticationMode"]
        cluster.access_config = access
    return _orig_update_response(self)


_eks_responses.EKSResponse.update_cluster_config = _update_cluster_config_response
