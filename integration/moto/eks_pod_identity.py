# EKS Pod Identity associations, which moto 5.2.1 lacks, added to moto's own EKS backend
# (imported by sitecustomize.py) the way eks_access_entries.py adds access entries: botocore's
# EKS model already has the operations, so only the methods and the URL routes are added. Each
# rule cites the Amazon EKS API Reference page it follows
# (https://docs.aws.amazon.com/eks/latest/APIReference/API_<Action>.html), the EKS User Guide,
# or the EKS answer a user saw, quoted where the reference is silent.
import json
import urllib.parse
from typing import Any

from moto.core.responses import ActionResult
from moto.core.utils import utcnow
from moto.eks import models as _models
from moto.eks import responses as _responses
from moto.eks import urls as _urls
from moto.eks.exceptions import ResourceInUseException

from eks_access_entries import _cluster, _invalid, _not_found, _page
from oidc_trust import action_allows as _action_allows
from oidc_trust import listed as _listed

# EKS User Guide, "Create the IAM role" for Pod Identity (pod-id-role.html): the role's trust
# policy names the service principal pods.eks.amazonaws.com with the actions sts:AssumeRole and
# sts:TagSession ("EKS Pod Identity uses the TagSession action to include transitive tags in
# requests to STS"). EKS refuses a role whose trust lacks it at CreatePodIdentityAssociation
# with InvalidParameterException "Trust policy of the role provided is invalid. Follow the
# official documentation to resolve the issue." (seen for a role trusting only an OIDC provider:
# hashicorp/terraform-provider-aws#41483; aws/aws-cdk#31522). sts:TagSession is required only
# while session tags are on: with disableSessionTags EKS tags nothing (API_CreatePodIdentityAssociation,
# disableSessionTags).
PODS_PRINCIPAL = "pods.eks.amazonaws.com"
ASSUME_ROLE = "sts:AssumeRole"
TAG_SESSION = "sts:TagSession"
TRUST_INVALID = "Trust policy of the role provided is invalid. Follow the official documentation to resolve the issue."
# hashicorp/terraform-provider-aws#34717 retries this refusal while IAM is eventually consistent:
# "InvalidParameterException: Role provided in the request does not exist".
ROLE_MISSING = "Role provided in the request does not exist"


def _trust_allows_pods(document: str, session_tags: bool) -> bool:
    try:
        policy = json.loads(document)
    except ValueError:
        policy = json.loads(urllib.parse.unquote(document))
    allowed: list = []
    for st in _listed(policy.get("Statement")):
        if st.get("Effect") != "Allow":
            continue
        principal = st.get("Principal") or {}
        services = _listed(principal.get("Service")) if isinstance(principal, dict) else []
        if PODS_PRINCIPAL in services:
            allowed += _listed(st.get("Action"))
    if not _action_allows(allowed, ASSUME_ROLE):
        return False
    return not session_tags or _action_allows(allowed, TAG_SESSION)


def _check_role(backend: Any, role_arn: str, disable_session_tags: bool) -> None:
    from moto.iam.models import iam_backends

    try:
        role = iam_backends[backend.account_id][backend.partition].get_role_by_arn(role_arn)
    except Exception:
        raise _invalid(ROLE_MISSING)
    if not _trust_allows_pods(role.assume_role_policy_document, not disable_session_tags):
        raise _invalid(TRUST_INVALID)


def _associations(cluster: Any) -> dict:
    """The cluster's associations {associationId: association}, kept on moto's Cluster, so
    they go with it when it is deleted."""
    if not hasattr(cluster, "eksirsa_pod_identity"):
        cluster.eksirsa_pod_identity = {}
    return cluster.eksirsa_pod_identity


def _association(cluster: Any, association_id: str) -> dict:
    try:
        return _associations(cluster)[association_id]
    except KeyError:
        # API_DescribePodIdentityAssociation (Update, Delete): ResourceNotFoundException.
        raise _not_found(f"Association {association_id} not found in cluster {cluster.name}.")


def _summary(a: dict) -> dict:
    # API_PodIdentityAssociationSummary: what ListPodIdentityAssociations returns per item.
    return {k: a[k] for k in ("clusterName", "namespace", "serviceAccount", "associationArn", "associationId")}


class _Actions:
    def create_pod_identity_association(self) -> ActionResult:
        backend = self.eks_backend
        name = self._get_param("name")
        cluster = _cluster(backend, name)
        namespace, account, role_arn = self._get_param("namespace"), self._get_param("serviceAccount"), self._get_param("roleArn")
        for key, value in (("namespace", namespace), ("serviceAccount", account), ("roleArn", role_arn)):
            if not value:  # API_CreatePodIdentityAssociation: each is "Required: Yes"
                raise _invalid(f"{key} is required.")
        disable = bool(self._get_param("disableSessionTags"))
        _check_role(backend, role_arn, disable)
        associations = _associations(cluster)
        for existing in associations.values():
            # One association per service account (API_CreatePodIdentityAssociation,
            # ResourceInUseException); EKS names the existing one: "ResourceInUseException:
            # Association already exists: <id>" (eksctl-io/eksctl#7753).
            if existing["namespace"] == namespace and existing["serviceAccount"] == account:
                raise ResourceInUseException(clusterName=name, nodegroupName=None, addonName=None,
                                             message=f"Association already exists: {existing['associationId']}")
        # associationId: "a-" and 17 lowercase characters, as EKS returns them
        # (a-a1b2c3d4e5f6g7h8i in ansible-collections/community.aws#2367); API_PodIdentityAssociation,
        # associationArn:
        # arn:<partition>:eks:<region>:<account>:podidentityassociation/<cluster>/<id>.
        association_id = "a-" + _models.random.get_random_string(length=17).lower()
        now = utcnow()
        association = {
            "clusterName": name,
            "namespace": namespace,
            "serviceAccount": account,
            "roleArn": role_arn,
            "associationArn": f"arn:{backend.partition}:eks:{backend.region_name}:{backend.account_id}:podidentityassociation/{name}/{association_id}",
            "associationId": association_id,
            "tags": dict(self._get_param("tags") or {}),
            "createdAt": now,
            "modifiedAt": now,
            "disableSessionTags": disable,
        }
        associations[association_id] = association
        return ActionResult({"association": association})

    def describe_pod_identity_association(self) -> ActionResult:
        cluster = _cluster(self.eks_backend, self._get_param("name"))
        return ActionResult({"association": _association(cluster, self._get_param("associationId"))})

    def list_pod_identity_associations(self) -> ActionResult:
        cluster = _cluster(self.eks_backend, self._get_param("name"))
        # API_ListPodIdentityAssociations: namespace and serviceAccount filter the list.
        namespace, account = self._get_param("namespace"), self._get_param("serviceAccount")
        items = [_summary(a) for a in _associations(cluster).values()
                 if (not namespace or a["namespace"] == namespace) and (not account or a["serviceAccount"] == account)]
        page, token = _page(items, self._get_int_param("maxResults", 100), self._get_param("nextToken"))
        return ActionResult({"associations": page, "nextToken": token})

    def update_pod_identity_association(self) -> ActionResult:
        cluster = _cluster(self.eks_backend, self._get_param("name"))
        association = _association(cluster, self._get_param("associationId"))
        # API_UpdatePodIdentityAssociation's request carries the role and session-tag
        # settings only: cluster, namespace and service account stay. The new role is held to
        # the same trust as at create.
        role_arn = self._get_param("roleArn") or association["roleArn"]
        disable = self._get_param("disableSessionTags")
        disable = association["disableSessionTags"] if disable is None else bool(disable)
        _check_role(self.eks_backend, role_arn, disable)
        association.update(roleArn=role_arn, disableSessionTags=disable, modifiedAt=utcnow())
        return ActionResult({"association": association})

    def delete_pod_identity_association(self) -> ActionResult:
        cluster = _cluster(self.eks_backend, self._get_param("name"))
        association = _association(cluster, self._get_param("associationId"))
        # API_DeletePodIdentityAssociation: the response carries the deleted association.
        del _associations(cluster)[association["associationId"]]
        return ActionResult({"association": association})


for _name, _fn in vars(_Actions).items():
    if not _name.startswith("_"):
        setattr(_responses.EKSResponse, _name, _fn)

# Tags: API_TagResource and API_UntagResource take "the Amazon Resource Name (ARN) of the
# resource", and API_PodIdentityAssociation's tags are the association's; moto tags clusters
# only, so an association's ARN is looked up here first (terraform-provider-aws tags an
# association by its association_arn).
def _find_by_arn(backend: Any, arn: str) -> dict | None:
    for cluster in backend.clusters.values():
        for association in _associations(cluster).values():
            if association["associationArn"] == arn:
                return association
    return None


_tag, _untag, _list_tags = _models.EKSBackend.tag_resource, _models.EKSBackend.untag_resource, _models.EKSBackend.list_tags_for_resource


def _tag_resource(self: Any, resource_arn: str, tags: dict) -> None:
    association = _find_by_arn(self, resource_arn)
    if association is None:
        return _tag(self, resource_arn, tags)
    association["tags"].update(tags)


def _untag_resource(self: Any, resource_arn: str, tag_keys: list) -> None:
    association = _find_by_arn(self, resource_arn)
    if association is None:
        return _untag(self, resource_arn, tag_keys)
    for key in tag_keys if isinstance(tag_keys, list) else [tag_keys]:
        association["tags"].pop(key, None)


def _list_tags_for_resource(self: Any, resource_arn: str) -> dict:
    association = _find_by_arn(self, resource_arn)
    return _list_tags(self, resource_arn) if association is None else dict(association["tags"])


_models.EKSBackend.tag_resource = _tag_resource
_models.EKSBackend.untag_resource = _untag_resource
_models.EKSBackend.list_tags_for_resource = _list_tags_for_resource

# The routes, from each action's request syntax in the API reference.
_urls.url_paths.update({
    "{0}/clusters/(?P<name>[^/]+)/pod-identity-associations$": _urls.response.dispatch,
    "{0}/clusters/(?P<name>[^/]+)/pod-identity-associations/(?P<associationId>[^/]+)$": _urls.response.dispatch,
})
