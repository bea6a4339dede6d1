# EKS cluster updates, which moto 5.2.1 does not keep: its UpdateClusterConfig answers
# {"cluster": ...} and it has no DescribeUpdate or ListUpdates. Added to moto's own EKS backend
# (imported by sitecustomize.py after eks_cluster.py, whose field-by-field merge this keeps), so
# the aws CLI, the AWS SDKs and the awsemu plugin all see one service. Each rule cites the page
# of the Amazon EKS API Reference (https://docs.aws.amazon.com/eks/latest/APIReference/API_<X>.html)
# or the other source it is written from.
#
# - UpdateClusterConfig (API_UpdateClusterConfig.html): "The response output includes an update
#   ID that you can use to track the status of your cluster update with DescribeUpdate";
#   "Cluster updates are asynchronous ... During an update, the cluster status moves to
#   UPDATING ... When the update is complete (either Failed or Successful), the cluster status
#   moves to Active". The answer is {"update": Update} (API_Update.html: id, status, type,
#   params, createdAt, errors), kept on the cluster.
# - DescribeUpdate (API_DescribeUpdate.html, GET /clusters/{name}/updates/{updateId}) and
#   ListUpdates (API_ListUpdates.html, GET /clusters/{name}/updates) serve them;
#   ResourceNotFoundException for an unknown cluster or update id.
import json
import time
import uuid
from typing import Any

from moto.core.responses import ActionResult
from moto.core.utils import utcnow
from moto.eks import models as _models
from moto.eks import responses as _responses
from moto.eks import urls as _urls
from moto.eks.exceptions import ResourceInUseException

from eks_access_entries import _cluster, _invalid, _not_found, _page

# How long an update stays InProgress here. AWS: updates "should finish within a few minutes"
# (API_UpdateClusterConfig.html); a fraction of a second keeps the tests short while a caller
# that does not wait on DescribeUpdate still sees InProgress, and the cluster UPDATING.
UPDATE_SECONDS = 0.5

# The authentication mode moves CONFIG_MAP -> API_AND_CONFIG_MAP -> API only. EKS User Guide,
# setting-up-access-entries.html: "you can't change the authentication mode back to a mode that
# removes the EKS API and access entries"; grant-k8s-access.html: "Once the access entry method
# is enabled, it cannot be disabled. If the ConfigMap method is not enabled during cluster
# creation, it cannot be enabled later." A step back is an InvalidParameterException (the
# error API_UpdateClusterConfig.html lists for "the specified parameter is invalid"); the
# message wording is this file's, EKS's own was not found in any source reachable here.
AUTH_MODE_ORDER = ("CONFIG_MAP", "API_AND_CONFIG_MAP", "API")

_ENDPOINT_KEYS = ("endpointPublicAccess", "endpointPrivateAccess", "publicAccessCidrs")
_VPC_KEYS = ("subnetIds", "securityGroupIds")


def _state(cluster: Any) -> tuple[dict, dict]:
    """The cluster's updates {id: Update} in the order made, and when each InProgress one ends."""
    if not hasattr(cluster, "eksirsa_updates"):
        cluster.eksirsa_updates = {}
        cluster.eksirsa_update_ends = {}
    return cluster.eksirsa_updates, cluster.eksirsa_update_ends


def _settle(cluster: Any) -> None:
    """Ends the updates whose time is up; with none left InProgress the cluster is ACTIVE again."""
    updates, ends = _state(cluster)
    now = time.monotonic()
    for update_id, end in list(ends.items()):
        if now >= end:
            updates[update_id]["status"] = "Successful"
            del ends[update_id]
    if not ends and cluster.status == "UPDATING":
        cluster.status = "ACTIVE"


def _flag(v: Any) -> str:
    # API_UpdateParam "value" is a string; the CLI's example update-cluster-config.rst shows
    # the endpoint flags as "true" / "false".
    return "true" if v in (True, "true", "True") else "false"


def _json(v: Any) -> str:
    # Structured param values are compact JSON, as the CLI's example shows ClusterLogging's.
    return json.dumps(v, separators=(",", ":"))


def _typed(cluster: Any, vpc: dict, logging: Any, access: dict, others: list) -> tuple[str, list]:
    """The one update type a request asks for, and its params, as EKS types them
    (awscli examples/eks/update-cluster-config.rst and describe-update.rst)."""
    asked = []
    if logging:
        # LoggingUpdate, one ClusterLogging param: the request's logging as JSON.
        asked.append(("LoggingUpdate", [{"type": "ClusterLogging", "value": _json(logging)}]))
    endpoint = {k: vpc[k] for k in _ENDPOINT_KEYS if vpc.get(k) is not None}
    if endpoint:
        params = [{"type": t, "value": _flag(endpoint[k])} for t, k in
                  (("EndpointPublicAccess", "endpointPublicAccess"), ("EndpointPrivateAccess", "endpointPrivateAccess")) if k in endpoint]
        if "publicAccessCidrs" in endpoint:
            params.append({"type": "PublicAccessCidrs", "value": _json(endpoint["publicAccessCidrs"])})
        asked.append(("EndpointAccessUpdate", params))
    network = {k: vpc[k] for k in _VPC_KEYS if vpc.get(k) is not None}
    if network:
        # VpcConfigUpdate (API_Update.html "type"; API_UpdateParam "type": Subnets, SecurityGroups).
        params = [{"type": t, "value": _json(network[k])} for t, k in (("Subnets", "subnetIds"), ("SecurityGroups", "securityGroupIds")) if k in network]
        asked.append(("VpcConfigUpdate", params))
    if access.get("authenticationMode"):
        asked.append(("AccessConfigUpdate", [{"type": "AuthenticationMode", "value": access["authenticationMode"]}]))
    if others:
        # Not written from the reference here (the program sends none of these): refused by
        # name rather than answered with a guessed type.
        raise _invalid(f"UpdateClusterConfig of {others} is not emulated by eksirsa's moto (integration/moto/eks_updates.py).")
    if not asked:
        raise _invalid("UpdateClusterConfig: no update requested.")
    if len(asked) > 1:
        # EKS refuses two kinds of change in one request, InvalidParameterException "Only one
        # type of update can be allowed." (seen from EKS in aws/aws-cdk#21439;
        # terraform-provider-aws cluster.go resourceClusterUpdate: "API only allows one type
        # of update at at time", so it sends each kind on its own and waits).
        raise _invalid("Only one type of update can be allowed.")
    return asked[0]


def _check_endpoint(cluster: Any, vpc: dict) -> None:
    # An endpoint update that changes nothing is refused: InvalidParameterException "Cluster is
    # already at the desired configuration with endpointPrivateAccess: ..., endpointPublicAccess:
    # ..., and Public Endpoint Restrictions: [...]" (EKS's answer, quoted in eksctl-io/eksctl#4043 and
    # cookpad/terraform-aws-eks#288).
    current = dict(cluster.resources_vpc_config or {})
    current.setdefault("publicAccessCidrs", ["0.0.0.0/0"])  # API_VpcConfigRequest: "The default is 0.0.0.0/0"
    same = True
    for k in _ENDPOINT_KEYS:
        if vpc.get(k) is None:
            continue
        if k == "publicAccessCidrs":
            same = same and sorted(vpc[k]) == sorted(current.get(k) or [])
        else:
            same = same and _flag(vpc[k]) == _flag(current.get(k))
    if same:
        raise _invalid(
            "Cluster is already at the desired configuration with endpointPrivateAccess: %s , endpointPublicAccess: %s, and Public Endpoint Restrictions: [%s]"
            % (_flag(current.get("endpointPrivateAccess")), _flag(current.get("endpointPublicAccess")), ", ".join(current["publicAccessCidrs"]))
        )


def _check_access(cluster: Any, access: dict) -> None:
    mode = access.get("authenticationMode")
    if not mode:
        return
    current = (getattr(cluster, "access_config", None) or {}).get("authenticationMode", AUTH_MODE_ORDER[0])
    if mode not in AUTH_MODE_ORDER:
        raise _invalid(f"authenticationMode {mode} is not valid; valid values are {list(AUTH_MODE_ORDER)}.")  # API_UpdateAccessConfigRequest: Valid Values
    if AUTH_MODE_ORDER.index(mode) < AUTH_MODE_ORDER.index(current):
        raise _invalid(f"Unsupported authentication mode update from {current} to {mode}")


_previous_update_cluster_config = _responses.EKSResponse.update_cluster_config  # eks_cluster.py's merge


class _Actions:
    """The methods put on moto's EKSResponse."""

    def update_cluster_config(self) -> ActionResult:
        name = self._get_param("name")
        cluster = _cluster(self.eks_backend, name)
        _settle(cluster)
        updates, ends = _state(cluster)
        if ends:
            # API_UpdateClusterConfig Errors, ResourceInUseException "The specified resource is
            # in use": one update at a time (terraform-provider-aws retries a delete on
            # ResourceInUseException "in progress" for the same reason).
            raise ResourceInUseException(clusterName=name, nodegroupName=None, addonName=None,
                                         message=f"Cluster {name} has an update in progress: {next(iter(ends))}")
        vpc = self._get_param("resourcesVpcConfig") or {}
        access = self._get_param("accessConfig") or {}
        others = [k for k in ("kubernetesNetworkConfig", "remoteNetworkConfig", "zonalShiftConfig", "upgradePolicy",
                              "computeConfig", "storageConfig", "deletionProtection") if self._get_param(k) is not None]
        update_type, params = _typed(cluster, vpc, self._get_param("logging"), access, others)
        if update_type == "EndpointAccessUpdate":
            _check_endpoint(cluster, vpc)
        _check_access(cluster, access)
        _previous_update_cluster_config(self)
        update = {"id": str(uuid.uuid4()), "status": "InProgress", "type": update_type, "params": params,
                  "createdAt": utcnow(), "errors": []}
        updates[update["id"]] = update
        ends[update["id"]] = time.monotonic() + UPDATE_SECONDS
        cluster.status = "UPDATING"
        return ActionResult({"update": update})

    def describe_update(self) -> ActionResult:
        cluster = _cluster(self.eks_backend, self._get_param("name"))
        _settle(cluster)
        updates, _ = _state(cluster)
        update_id = self._get_param("updateId")
        # Node group and add-on updates (nodegroupName, addonName) are not kept here: moto's
        # UpdateNodegroupConfig answers an update it does not store, so they are not found.
        if self._get_param("nodegroupName") or self._get_param("addonName") or update_id not in updates:
            raise _not_found(f"No update found for ID: {update_id}")
        return ActionResult({"update": updates[update_id]})

    def list_updates(self) -> ActionResult:
        cluster = _cluster(self.eks_backend, self._get_param("name"))
        _settle(cluster)
        updates, _ = _state(cluster)
        ids = [] if self._get_param("nodegroupName") or self._get_param("addonName") else list(updates)
        page, token = _page(ids, self._get_int_param("maxResults", 100), self._get_param("nextToken"))
        return ActionResult({"updateIds": page, "nextToken": token})


for _name, _fn in vars(_Actions).items():
    if not _name.startswith("_"):
        setattr(_responses.EKSResponse, _name, _fn)

# DescribeCluster reports the status the cluster's updates leave it in.
_orig_describe = _models.EKSBackend.describe_cluster


def _describe_cluster(self, name):
    cluster = _orig_describe(self, name)
    _settle(cluster)
    return cluster


_models.EKSBackend.describe_cluster = _describe_cluster

# The routes (request syntax of API_DescribeUpdate and API_ListUpdates).
_urls.url_paths.update({
    "{0}/clusters/(?P<name>[^/]+)/updates$": _urls.response.dispatch,
    "{0}/clusters/(?P<name>[^/]+)/updates/(?P<updateId>[^/]+)$": _urls.response.dispatch,
})
