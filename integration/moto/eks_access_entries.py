# EKS access entries and access policies, which moto 5.2.1 lacks entirely, added to moto's own
# EKS backend (imported by sitecustomize.py, so moto_server serves them from its start and the
# aws CLI, the AWS SDKs and the awsemu plugin see one service). Each rule cites the page of the
# Amazon EKS API Reference (https://docs.aws.amazon.com/eks/latest/APIReference/API_<Action>.html)
# or the EKS User Guide it is written from.
#
# moto's generic machinery does the rest: the action is found by matching the request's method
# and path against botocore's EKS model (which has these operations), the parameters are parsed
# from that model, and ActionResult is serialised with its output shapes. Only the URL routes
# and the methods are missing, so they are added here.
import re
from typing import Any
from urllib.parse import urlsplit

from moto.core.responses import ActionResult, EmptyResult
from moto.core.utils import utcnow
from moto.eks import models as _models
from moto.eks import responses as _responses
from moto.eks import urls as _urls
from moto.eks.exceptions import (
    InvalidParameterException,
    InvalidRequestException,
    ResourceInUseException,
    ResourceNotFoundException,
)

# API_CreateAccessEntry, "type": the valid values. HYPERPOD_LINUX is listed by newer models;
# the brief of this emulator is the set below (and STANDARD is the default).
STANDARD = "STANDARD"
NODE_TYPES = ("EC2_LINUX", "EC2_WINDOWS", "FARGATE_LINUX", "HYBRID_LINUX", "EC2")
TYPES = (STANDARD,) + NODE_TYPES

# EKS User Guide, "Set a custom username for EKS access entries": a username "can't start
# with system:, eks:, aws:, amazon:, or iam:"; "Create access entries": a group name can't
# start with system:.
RESERVED_USERNAME_PREFIXES = ("system:", "eks:", "aws:", "amazon:", "iam:")
RESERVED_GROUP_PREFIXES = ("system:",)

# API_AccessConfigResponse / API_CreateAccessConfigRequest: the modes, and "If you create a
# cluster by using the EKS API, AWS SDKs, or AWS CloudFormation, the default is CONFIG_MAP";
# bootstrapClusterCreatorAdminPermissions "The default value is true".
ACCESS_ENTRY_MODES = ("API", "API_AND_CONFIG_MAP")
DEFAULT_AUTH_MODE = "CONFIG_MAP"

# EKS User Guide, "Review access policy permissions" (access-policy-permissions.html): the
# policies ListAccessPolicies returns, arn:<partition>:eks::aws:cluster-access-policy/<name>.
ACCESS_POLICIES = (
    "AmazonEKSAdminPolicy",
    "AmazonEKSClusterAdminPolicy",
    "AmazonEKSAdminViewPolicy",
    "AmazonEKSEditPolicy",
    "AmazonEKSViewPolicy",
    "AmazonEKSAutoNodePolicy",
    "AmazonEKSBlockStoragePolicy",
    "AmazonEKSComputePolicy",
    "AmazonEKSLoadBalancingPolicy",
    "AmazonEKSNetworkingPolicy",
    "AmazonEKSHybridPolicy",
    "AmazonEKSClusterInsightsPolicy",
)
CLUSTER_ADMIN_POLICY = "AmazonEKSClusterAdminPolicy"

_IAM_ARN = re.compile(r"^arn:(?P<partition>aws[a-z-]*):iam::(?P<account>\d{12}):(?P<kind>role|user)/(?P<path>(?:[^/]+/)*)(?P<name>[^/]+)$")


def _policy_arn(partition: str, name: str) -> str:
    return f"arn:{partition}:eks::aws:cluster-access-policy/{name}"


def _not_found(message: str) -> ResourceNotFoundException:
    return ResourceNotFoundException(clusterName=None, nodegroupName=None, fargateProfileName=None, addonName=None, message=message)


def _invalid(message: str) -> InvalidParameterException:
    return InvalidParameterException(clusterName=None, nodegroupName=None, fargateProfileName=None, addonName=None, message=message)


def _state(cluster: Any) -> tuple[dict, dict]:
    """The cluster's access entries {principalArn: entry} and associations
    {principalArn: {policyArn: association}}, kept on moto's Cluster."""
    if not hasattr(cluster, "eksirsa_access_entries"):
        cluster.eksirsa_access_entries = {}
        cluster.eksirsa_associations = {}
    return cluster.eksirsa_access_entries, cluster.eksirsa_associations


def _cluster(backend: Any, name: str) -> Any:
    # Every action's errors: ResourceNotFoundException "The specified resource could not be
    # found" for an unknown cluster (moto's own message for clusters).
    try:
        return backend.clusters[name]
    except KeyError:
        raise _not_found(_models.CLUSTER_NOT_FOUND_MSG.format(clusterName=name))


def _check_mode(cluster: Any) -> None:
    # API_CreateAccessEntry, InvalidRequestException: "The request is invalid given the state
    # of the cluster"; EKS User Guide, "Change authentication mode to use access entries": access
    # entries need the API or API_AND_CONFIG_MAP mode.
    mode = getattr(cluster, "access_config", {}).get("authenticationMode", DEFAULT_AUTH_MODE)
    if mode not in ACCESS_ENTRY_MODES:
        raise InvalidRequestException(
            message=f"The cluster's authentication mode must be set to one of {list(ACCESS_ENTRY_MODES)} to perform this operation."
        )


def _entry(cluster: Any, principal_arn: str) -> dict:
    entries, _ = _state(cluster)
    try:
        return entries[principal_arn]
    except KeyError:
        # API_DescribeAccessEntry (and Update, Delete, Associate...): ResourceNotFoundException.
        raise _not_found(f"The specified access entry resource is not found for principal {principal_arn} in cluster {cluster.name}.")


def _check_identity(entry_type: str, username: str | None, groups: list | None) -> None:
    if entry_type in NODE_TYPES:
        # API_CreateAccessEntry, "type": "If you set the value to EC2_LINUX or EC2_WINDOWS, you
        # can't specify values for kubernetesGroups"; EKS sets the node identity itself.
        if groups:
            raise _invalid(f"kubernetesGroups can't be specified for an access entry of type {entry_type}.")
        if username:
            raise _invalid(f"username can't be specified for an access entry of type {entry_type}.")
        return
    if username is not None:
        if username.startswith(RESERVED_USERNAME_PREFIXES):
            raise _invalid(f"username {username} can't start with any of {list(RESERVED_USERNAME_PREFIXES)}.")
    for g in groups or []:
        if g.startswith(RESERVED_GROUP_PREFIXES):
            raise _invalid(f"kubernetesGroups {g} can't start with {RESERVED_GROUP_PREFIXES[0]}")


def _default_username(entry_type: str, m: re.Match) -> str:
    # EKS User Guide, "Set a custom username for EKS access entries": a user gets its ARN; a
    # role the STS ARN of its session, path removed, with {{SessionName}}. Node entries get the
    # node identity EKS grants them (API_CreateAccessEntry, "type": "Amazon EKS grants the
    # necessary permissions to the node for you").
    if entry_type == "FARGATE_LINUX":
        return "system:node:{{SessionName}}"
    if entry_type in NODE_TYPES:
        return "system:node:{{EC2PrivateDNSName}}"
    if m.group("kind") == "user":
        return m.group(0)
    return f"arn:{m.group('partition')}:sts::{m.group('account')}:assumed-role/{m.group('name')}/{{{{SessionName}}}}"


def create_access_entry(backend: Any, cluster_name: str, principal_arn: str, entry_type: str | None,
                        username: str | None, groups: list | None, tags: dict | None, created_at: Any = None) -> dict:
    cluster = _cluster(backend, cluster_name)
    _check_mode(cluster)
    entry_type = entry_type or STANDARD  # API_CreateAccessEntry: "If you don't specify a value, Amazon EKS sets the value to STANDARD"
    if entry_type not in TYPES:
        raise _invalid(f"type {entry_type} is not valid; valid values are {list(TYPES)}.")
    # API_CreateAccessEntry, "principalArn": every IAM principal for STANDARD, only IAM roles for
    # node types, never an STS session ("You can't use the STS session principal type").
    m = _IAM_ARN.match(principal_arn or "")
    if not m:
        raise _invalid(f"principalArn {principal_arn} is not an IAM user or role ARN; STS session ARNs can't be used.")
    if entry_type in NODE_TYPES:
        if m.group("kind") != "role":
            raise _invalid(f"principalArn of an access entry of type {entry_type} must be an IAM role.")
        # User Guide, "Create access entries": a type other than STANDARD needs an ARN "in the
        # same AWS account that your cluster is in".
        if m.group("account") != backend.account_id:
            raise _invalid(f"principalArn of an access entry of type {entry_type} must be in the cluster's account {backend.account_id}.")
    _check_identity(entry_type, username, groups)
    entries, associations = _state(cluster)
    if principal_arn in entries:
        # API_CreateAccessEntry, principalArn: "You can't specify the same ARN in more than one
        # access entry"; ResourceInUseException: "The specified resource is in use".
        raise ResourceInUseException(clusterName=cluster_name, nodegroupName=None, addonName=None,
                                     message="The specified access entry resource is already in use on this cluster.")
    now = created_at or utcnow()
    entry = {
        "clusterName": cluster_name,
        "principalArn": principal_arn,
        "kubernetesGroups": list(groups or []),
        "accessEntryArn": f"arn:{backend.partition}:eks:{backend.region_name}:{backend.account_id}:access-entry/{cluster_name}/{m.group('kind')}/{m.group('account')}/{m.group('name')}/{_models.random.get_random_string(length=20).lower()}",
        "createdAt": now,
        "modifiedAt": now,
        "tags": dict(tags or {}),
        "username": username or _default_username(entry_type, m),
        "type": entry_type,
    }
    entries[principal_arn] = entry
    associations[principal_arn] = {}
    return entry


def associate_access_policy(backend: Any, cluster_name: str, principal_arn: str, policy_arn: str, scope: dict | None, at: Any = None) -> dict:
    cluster = _cluster(backend, cluster_name)
    entry = _entry(cluster, principal_arn)
    # API_CreateAccessEntry, "type": node entries can't "associate an AccessPolicy".
    if entry["type"] in NODE_TYPES:
        raise _invalid(f"An access policy can't be associated to an access entry of type {entry['type']}.")
    if policy_arn not in [_policy_arn(backend.partition, n) for n in ACCESS_POLICIES]:
        # API_AssociateAccessPolicy, "policyArn": "For a list of ARNs, use ListAccessPolicies".
        raise _not_found(f"The specified access policy {policy_arn} is not found.")
    # API_AccessScope: type cluster or namespace; namespaces "A value is required if you
    # specified namespace for Type".
    scope = dict(scope or {})
    if scope.get("type") not in ("cluster", "namespace"):
        raise _invalid(f"accessScope type {scope.get('type')} is not valid; valid values are ['cluster', 'namespace'].")
    if scope["type"] == "namespace" and not scope.get("namespaces"):
        raise _invalid("accessScope namespaces are required for the namespace type.")
    if scope["type"] == "cluster" and scope.get("namespaces"):
        raise _invalid("accessScope namespaces can't be specified for the cluster type.")
    _, associations = _state(cluster)
    now = at or utcnow()
    previous = associations[principal_arn].get(policy_arn)
    association = {
        "policyArn": policy_arn,
        "accessScope": {"type": scope["type"], "namespaces": list(scope.get("namespaces") or [])},
        "associatedAt": previous["associatedAt"] if previous else now,
        "modifiedAt": now,
    }
    associations[principal_arn][policy_arn] = association
    return association


def _page(items: list, max_results: int, next_token: str) -> tuple[list, str | None]:
    start = int(next_token) if next_token else 0
    end = start + max_results
    return items[start:end], (str(end) if end < len(items) else None)


class _Actions:
    """The methods added to moto's EKSResponse, one per action."""

    def create_access_entry(self) -> ActionResult:
        entry = create_access_entry(
            self.eks_backend, self._get_param("name"), self._get_param("principalArn"), self._get_param("type"),
            self._get_param("username"), self._get_param("kubernetesGroups"), self._get_param("tags"),
        )
        return ActionResult({"accessEntry": entry})

    def describe_access_entry(self) -> ActionResult:
        cluster = _cluster(self.eks_backend, self._get_param("name"))
        return ActionResult({"accessEntry": _entry(cluster, self._get_param("principalArn"))})

    def list_access_entries(self) -> ActionResult:
        cluster = _cluster(self.eks_backend, self._get_param("name"))
        _check_mode(cluster)  # API_ListAccessEntries: InvalidRequestException
        entries, associations = _state(cluster)
        # API_ListAccessEntries, "associatedPolicyArn": "only the access entries associated to
        # that access policy are returned".
        policy = self._get_param("associatedPolicyArn")
        arns = [a for a in entries if not policy or policy in associations.get(a, {})]
        page, token = _page(arns, self._get_int_param("maxResults", 100), self._get_param("nextToken"))
        return ActionResult({"accessEntries": page, "nextToken": token})

    def update_access_entry(self) -> ActionResult:
        cluster = _cluster(self.eks_backend, self._get_param("name"))
        entry = _entry(cluster, self._get_param("principalArn"))
        username, groups = self._get_param("username"), self._get_param("kubernetesGroups")
        _check_identity(entry["type"], username, groups)
        # API_UpdateAccessEntry: kubernetesGroups given replace the entry's; username likewise.
        if groups is not None:
            entry["kubernetesGroups"] = list(groups)
        if username is not None:
            entry["username"] = username
        entry["modifiedAt"] = utcnow()
        return ActionResult({"accessEntry": entry})

    def delete_access_entry(self) -> ActionResult:
        cluster = _cluster(self.eks_backend, self._get_param("name"))
        principal = self._get_param("principalArn")
        _entry(cluster, principal)
        entries, associations = _state(cluster)
        # API_DeleteAccessEntry: "Deleting an access entry of a type other than Standard can
        # cause your cluster to function improperly"; its access policies go with it.
        del entries[principal]
        associations.pop(principal, None)
        return EmptyResult()

    def associate_access_policy(self) -> ActionResult:
        name, principal = self._get_param("name"), self._get_param("principalArn")
        association = associate_access_policy(self.eks_backend, name, principal, self._get_param("policyArn"), self._get_param("accessScope"))
        return ActionResult({"clusterName": name, "principalArn": principal, "associatedAccessPolicy": association})

    def disassociate_access_policy(self) -> ActionResult:
        cluster = _cluster(self.eks_backend, self._get_param("name"))
        principal, policy = self._get_param("principalArn"), self._get_param("policyArn")
        _entry(cluster, principal)
        _, associations = _state(cluster)
        # API_DisassociateAccessPolicy: ResourceNotFoundException for a policy not associated.
        if policy not in associations.get(principal, {}):
            raise _not_found(f"The specified access policy {policy} is not associated to access entry {principal}.")
        del associations[principal][policy]
        return EmptyResult()

    def list_associated_access_policies(self) -> ActionResult:
        name, principal = self._get_param("name"), self._get_param("principalArn")
        cluster = _cluster(self.eks_backend, name)
        _entry(cluster, principal)
        _, associations = _state(cluster)
        page, token = _page(list(associations[principal].values()), self._get_int_param("maxResults", 100), self._get_param("nextToken"))
        return ActionResult({"clusterName": name, "principalArn": principal, "associatedAccessPolicies": page, "nextToken": token})

    def list_access_policies(self) -> ActionResult:
        partition = self.eks_backend.partition
        policies = [{"name": n, "arn": _policy_arn(partition, n)} for n in ACCESS_POLICIES]
        page, token = _page(policies, self._get_int_param("maxResults", 100), self._get_param("nextToken"))
        return ActionResult({"accessPolicies": page, "nextToken": token})


for _name, _fn in vars(_Actions).items():
    if not _name.startswith("_"):
        setattr(_responses.EKSResponse, _name, _fn)

# The region is the endpoint's (eks.<region>.amazonaws.com): moto 5.2.1's
# BaseResponse.get_region_from_url searches the whole URL for ".<region>.amazonaws.com", so a
# principal ARN in the path with an SSO role's path (role/aws-reserved/sso.amazonaws.com/<region>/,
# EKS User Guide "Create access entries") was taken for the region and the request failed with a
# 500 (measured: DescribeAccessEntry of an SSO role). Only the host is searched.
_get_region_from_url = _responses.EKSResponse.get_region_from_url


def _region_from_host(self: Any, request: Any, full_url: str) -> str:
    parts = urlsplit(full_url)
    return _get_region_from_url(self, request, f"{parts.scheme}://{parts.netloc}/")


_responses.EKSResponse.get_region_from_url = _region_from_host

# The routes (API Reference request syntax of each action). A principal ARN arrives with its
# slashes percent-encoded; the server's routing decodes them, so it is matched with ".+".
_urls.url_paths.update({
    "{0}/clusters/(?P<name>[^/]+)/access-entries$": _urls.response.dispatch,
    "{0}/clusters/(?P<name>[^/]+)/access-entries/(?P<principalArn>.+)/access-policies/(?P<policyArn>.+)$": _urls.response.dispatch,
    "{0}/clusters/(?P<name>[^/]+)/access-entries/(?P<principalArn>.+)/access-policies$": _urls.response.dispatch,
    "{0}/clusters/(?P<name>[^/]+)/access-entries/(?P<principalArn>.+)$": _urls.response.dispatch,
    "{0}/access-policies$": _urls.response.dispatch,
})

# The creator's access entry: with API or API_AND_CONFIG_MAP and
# bootstrapClusterCreatorAdminPermissions (default true), EKS makes the creator's entry with
# AmazonEKSClusterAdminPolicy at cluster scope (API_CreateAccessConfigRequest: "the cluster
# creator IAM principal was set as a cluster admin access entry during cluster creation time"),
# here at the cluster's createdAt. eks_cluster.py (imported first by sitecustomize.py) keeps
# CreateCluster's accessConfig on the cluster; this reads it.
_create_cluster = _responses.EKSResponse.create_cluster


def _creator_arn(response: Any) -> str:
    """The IAM principal that signed CreateCluster: STS's answer for its access key, an
    assumed role's session turned back into its role (EKS stores the IAM principal, not the
    session: API_CreateAccessEntry, principalArn)."""
    from moto.sts.models import sts_backends

    backend = response.eks_backend
    _, arn, account = sts_backends[backend.account_id][backend.partition].get_caller_identity(response.get_access_key(), response.region)
    m = re.match(r"^arn:([^:]+):sts::(\d{12}):(assumed-role|user)/([^/]+)", arn)
    if m and m.group(3) == "assumed-role":
        return f"arn:{m.group(1)}:iam::{m.group(2)}:role/{m.group(4)}"
    if m:  # moto's default identity, arn:aws:sts::<account>:user/moto
        return f"arn:{m.group(1)}:iam::{m.group(2)}:user/{m.group(4)}"
    return arn


def create_cluster(self: Any) -> ActionResult:
    result = _create_cluster(self)
    cluster = self.eks_backend.clusters[self._get_param("name")]
    access = getattr(cluster, "access_config", None) or {}
    if access.get("authenticationMode", DEFAULT_AUTH_MODE) in ACCESS_ENTRY_MODES and access.get("bootstrapClusterCreatorAdminPermissions", True):
        creator = _creator_arn(self)
        create_access_entry(self.eks_backend, cluster.name, creator, STANDARD, None, None, None, created_at=cluster.created_at)
        associate_access_policy(self.eks_backend, cluster.name, creator, _policy_arn(self.eks_backend.partition, CLUSTER_ADMIN_POLICY),
                                {"type": "cluster"}, at=cluster.created_at)
    return result


_responses.EKSResponse.create_cluster = create_cluster
