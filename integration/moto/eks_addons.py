# EKS add-ons, which moto 5.2.1 lacks, added to moto's own EKS backend (imported by
# sitecustomize.py) as eks_access_entries.py adds access entries: botocore's EKS model has the
# operations, so only the methods and the routes are added. Only the add-on Pod Identity
# needs is served (issue 20: the eks-pod-identity-agent add-on). Each rule cites the Amazon
# EKS API Reference page (https://docs.aws.amazon.com/eks/latest/APIReference/API_<Action>.html)
# or the output of EKS it copies.
import uuid
from typing import Any

from moto.core.responses import ActionResult
from moto.core.utils import utcnow
from moto.eks import models as _models
from moto.eks import responses as _responses
from moto.eks import urls as _urls
from moto.eks.exceptions import ResourceInUseException

from eks_access_entries import _cluster, _invalid, _not_found, _page

# The add-ons served and the version EKS installs when CreateAddon names none
# (API_CreateAddon, addonVersion: "The version must match one of the versions returned by
# DescribeAddonVersions"; without it EKS takes the default one). The version is what
# `aws eks create-addon --addon-name eks-pod-identity-agent` answered in the EKS Workshop's
# "Using EKS Pod Identity" page, with status CREATING, health {"issues": []} and the ARN
# arn:aws:eks:<region>:<account>:addon/<cluster>/<addon>/<uuid>.
DEFAULT_VERSIONS = {"eks-pod-identity-agent": "v1.1.0-eksbuild.1"}


def _addons(cluster: Any) -> dict:
    """The cluster's add-ons {addonName: addon}, kept on moto's Cluster (they go with it) and
    the updates of each {addonName: {updateId: update}}."""
    if not hasattr(cluster, "eksirsa_addons"):
        cluster.eksirsa_addons = {}
        cluster.eksirsa_addon_updates = {}
    return cluster.eksirsa_addons


def _addon(cluster: Any, name: str) -> dict:
    try:
        return _addons(cluster)[name]
    except KeyError:
        # API_DescribeAddon (Update, Delete): ResourceNotFoundException.
        raise _not_found(f"No addon: {name} found in cluster: {cluster.name}")


def _settle(addon: dict) -> None:
    # API_Addon, status: CREATING or UPDATING until EKS has applied it; here one describe later,
    # so a client that waits on ACTIVE (the CLI's addon-active waiter, terraform-provider-aws
    # waitAddonCreated) waits once.
    if addon["status"] in ("CREATING", "UPDATING"):
        if addon.pop("_seen", False):
            addon["status"] = "ACTIVE"
        else:
            addon["_seen"] = True


def _public(addon: dict) -> dict:
    return {k: v for k, v in addon.items() if not k.startswith("_")}


class _Actions:
    def create_addon(self) -> ActionResult:
        backend = self.eks_backend
        name = self._get_param("name")
        cluster = _cluster(backend, name)
        addon_name = self._get_param("addonName")
        if addon_name not in DEFAULT_VERSIONS:
            # API_CreateAddon, addonName: "The name must match one of the names returned by
            # DescribeAddonVersions"; the wording is this file's.
            raise _invalid(f"Addon {addon_name} specified is not supported; this emulator serves {sorted(DEFAULT_VERSIONS)}.")
        addons = _addons(cluster)
        if addon_name in addons:
            # API_CreateAddon: ResourceInUseException.
            raise ResourceInUseException(clusterName=name, nodegroupName=None, addonName=addon_name, message="Addon already exists.")
        now = utcnow()
        addon = {
            "addonName": addon_name,
            "clusterName": name,
            "status": "CREATING",
            "addonVersion": self._get_param("addonVersion") or DEFAULT_VERSIONS[addon_name],
            "health": {"issues": []},
            "addonArn": f"arn:{backend.partition}:eks:{backend.region_name}:{backend.account_id}:addon/{name}/{addon_name}/{uuid.uuid4()}",
            "createdAt": now,
            "modifiedAt": now,
            "tags": dict(self._get_param("tags") or {}),
        }
        for key in ("serviceAccountRoleArn", "configurationValues"):
            if self._get_param(key):
                addon[key] = self._get_param(key)
        addons[addon_name] = addon
        return ActionResult({"addon": _public(addon)})

    def describe_addon(self) -> ActionResult:
        cluster = _cluster(self.eks_backend, self._get_param("name"))
        addon = _addon(cluster, self._get_param("addonName"))
        _settle(addon)
        return ActionResult({"addon": _public(addon)})

    def list_addons(self) -> ActionResult:
        cluster = _cluster(self.eks_backend, self._get_param("name"))
        page, token = _page(list(_addons(cluster)), self._get_int_param("maxResults", 100), self._get_param("nextToken"))
        return ActionResult({"addons": page, "nextToken": token})

    def update_addon(self) -> ActionResult:
        cluster = _cluster(self.eks_backend, self._get_param("name"))
        addon = _addon(cluster, self._get_param("addonName"))
        # API_UpdateAddon: the version, role and configuration given replace the add-on's; the
        # answer is an Update of type AddonUpdate whose params name what changed (API_Update,
        # API_UpdateParam), found again with DescribeUpdate and the addonName.
        params = []
        for key, param in (("addonVersion", "AddonVersion"), ("serviceAccountRoleArn", "ServiceAccountRoleArn"),
                           ("configurationValues", "ConfigurationValues"), ("resolveConflicts", "ResolveConflicts")):
            value = self._get_param(key)
            if value is not None:
                params.append({"type": param, "value": value})
                if key != "resolveConflicts":
                    addon[key] = value
        addon.update(status="UPDATING", modifiedAt=utcnow())
        addon.pop("_seen", None)
        update = {"id": str(uuid.uuid4()), "status": "Successful", "type": "AddonUpdate", "params": params, "createdAt": utcnow(), "errors": []}
        cluster.eksirsa_addon_updates.setdefault(addon["addonName"], {})[update["id"]] = update
        return ActionResult({"update": update})

    def delete_addon(self) -> ActionResult:
        cluster = _cluster(self.eks_backend, self._get_param("name"))
        addon = _addon(cluster, self._get_param("addonName"))
        # API_DeleteAddon: the answer is the add-on, DELETING; then DescribeAddon finds none
        # (the CLI's addon-deleted waiter waits for ResourceNotFoundException).
        del _addons(cluster)[addon["addonName"]]
        return ActionResult({"addon": dict(_public(addon), status="DELETING")})


for _name, _fn in vars(_Actions).items():
    if not _name.startswith("_"):
        setattr(_responses.EKSResponse, _name, _fn)

# DescribeUpdate with addonName finds the add-on's updates (API_DescribeUpdate, addonName:
# "The name of the add-on. The name must match one of the names returned by ListAddons. This
# parameter is required if the update is an add-on update"); cluster updates stay eks_updates.py's.
_describe_update = _responses.EKSResponse.describe_update


def _describe_addon_update(self: Any) -> ActionResult:
    addon_name = self._get_param("addonName")
    if not addon_name:
        return _describe_update(self)
    cluster = _cluster(self.eks_backend, self._get_param("name"))
    _addons(cluster)
    update_id = self._get_param("updateId")
    update = cluster.eksirsa_addon_updates.get(addon_name, {}).get(update_id)
    if update is None:
        raise _not_found(f"No update found for ID: {update_id}")
    return ActionResult({"update": update})


_responses.EKSResponse.describe_update = _describe_addon_update

# Tags by the add-on's ARN (API_TagResource: "the Amazon Resource Name (ARN) of the resource";
# terraform-provider-aws tags an add-on by its arn); moto tags clusters only.
def _addon_by_arn(backend: Any, arn: str) -> dict | None:
    for cluster in backend.clusters.values():
        for addon in _addons(cluster).values():
            if addon["addonArn"] == arn:
                return addon
    return None


_tag, _untag, _list_tags = _models.EKSBackend.tag_resource, _models.EKSBackend.untag_resource, _models.EKSBackend.list_tags_for_resource


def _tag_resource(self: Any, resource_arn: str, tags: dict) -> None:
    addon = _addon_by_arn(self, resource_arn)
    if addon is None:
        return _tag(self, resource_arn, tags)
    addon["tags"].update(tags)


def _untag_resource(self: Any, resource_arn: str, tag_keys: list) -> None:
    addon = _addon_by_arn(self, resource_arn)
    if addon is None:
        return _untag(self, resource_arn, tag_keys)
    for key in tag_keys if isinstance(tag_keys, list) else [tag_keys]:
        addon["tags"].pop(key, None)


def _list_tags_for_resource(self: Any, resource_arn: str) -> dict:
    addon = _addon_by_arn(self, resource_arn)
    return _list_tags(self, resource_arn) if addon is None else dict(addon["tags"])


_models.EKSBackend.tag_resource = _tag_resource
_models.EKSBackend.untag_resource = _untag_resource
_models.EKSBackend.list_tags_for_resource = _list_tags_for_resource

# The routes, from each action's request syntax in the API reference.
_urls.url_paths.update({
    "{0}/clusters/(?P<name>[^/]+)/addons$": _urls.response.dispatch,
    "{0}/clusters/(?P<name>[^/]+)/addons/(?P<addonName>[^/]+)$": _urls.response.dispatch,
    "{0}/clusters/(?P<name>[^/]+)/addons/(?P<addonName>[^/]+)/update$": _urls.response.dispatch,
})
