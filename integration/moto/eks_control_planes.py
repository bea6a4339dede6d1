# Each EKS cluster moto creates gets a control plane of its own, as on EKS, from the test's
# control-plane service (integration/testcluster ControlPlanes) once the file
# EKSIRSA_MOTO_CONTROL_PLANES names holds its URL (Server.UseControlPlanes writes it).
# Without it moto keeps its own random endpoint, CA and issuer, which nothing answers.
#
# - CreateCluster (API_CreateCluster.html, API_Cluster.html): the cluster's endpoint ("The
#   endpoint for your Kubernetes API server"), certificateAuthority.data ("The Base64-encoded
#   certificate data required to communicate with your cluster") and identity.oidc.issuer
#   belong to that cluster alone; a cluster created again under the same name after a delete
#   is a new cluster with new ones.
# - DeleteCluster (API_DeleteCluster.html): "Deletes an Amazon EKS cluster control plane";
#   its endpoint stops answering.
# A control plane that cannot be made fails CreateCluster with ServerException (HTTP 500,
# "These errors are usually caused by a server-side issue", API_CreateCluster.html Errors),
# and the cluster is not kept.
import json
import os
import urllib.error
import urllib.parse
import urllib.request

from moto.eks import exceptions as _exceptions
from moto.eks import models as _eks

_PATH = os.environ.get("EKSIRSA_MOTO_CONTROL_PLANES")


class ServerException(_exceptions.EKSError):
    TYPE = "ServerException"
    STATUS = 500


def _service():
    if not _PATH:
        return None
    try:
        with open(_PATH) as f:
            return f.read().strip() or None
    except FileNotFoundError:
        return None


def _call(method, base, name):
    req = urllib.request.Request(
        base + "/clusters/" + urllib.parse.quote(name, safe=""), method=method
    )
    with urllib.request.urlopen(req, timeout=120) as resp:
        body = resp.read()
    return json.loads(body) if body else None


_orig_create = _eks.EKSBackend.create_cluster


def _create_cluster(self, name, *args, **kwargs):
    cluster = _orig_create(self, name, *args, **kwargs)
    base = _service()
    if base is None:
        return cluster
    try:
        plane = _call("POST", base, name)
    except (urllib.error.URLError, OSError, ValueError) as e:
        self.clusters.pop(name, None)
        self.cluster_count -= 1
        raise ServerException(
            message="control plane for cluster %s: %s" % (name, e)
        ) from e
    cluster.endpoint = plane["endpoint"]
    cluster.certificate_authority = {"data": plane["certificateAuthorityData"]}
    cluster.identity = {"oidc": {"issuer": plane["issuer"]}}
    return cluster


_eks.EKSBackend.create_cluster = _create_cluster

_orig_delete = _eks.EKSBackend.delete_cluster


def _delete_cluster(self, name):
    result = _orig_delete(self, name)
    base = _service()
    if base is not None:
        try:
            _call("DELETE", base, name)
        except urllib.error.HTTPError as e:
            if e.code != 404:  # a cluster made before the service was set has none
                raise
    return result


_eks.EKSBackend.delete_cluster = _delete_cluster
