# EKS Auth's AssumeRoleForPodIdentity, which moto 5.2.1 lacks, added beside moto's EKS (imported
# by sitecustomize.py). Each rule cites the Amazon EKS API Reference page
# API_auth_AssumeRoleForPodIdentity.html (request, response, errors), the EKS Auth smithy model
# (eks-auth-2023-11-26: each error's HTTP status), or the EKS User Guide (pod-id-how-it-works,
# pod-id-abac).
#
# What it does, as EKS Auth does for the Pod Identity agent: verify the service account token
# against the cluster's issuer and its keys (signature, iss, aud pods.eks.amazonaws.com, exp),
# find the cluster's association for the token's namespace and account, hold the association's
# role's trust policy to the session tags EKS sets (the trust's StringEquals/StringLike on
# aws:RequestTag/..., aws:SourceAccount, aws:SourceArn; a condition it cannot evaluate refuses),
# and return credentials from moto's STS for that role. The tags are kept on the assumed role
# (eksirsa_session_tags): moto's STS has no place for them, and no AWS API returns them.
import json
import re
import time
import urllib.parse
import uuid
from typing import Any

from moto.core.exceptions import JsonRESTError
from moto.eks import responses as _responses
from moto.eks import urls as _urls
from moto.moto_server import werkzeug_app as _app
from moto.sts.models import sts_backends
from moto.utilities.utils import get_partition

from eks_pod_identity import ASSUME_ROLE, PODS_PRINCIPAL, TAG_SESSION, _associations
from oidc_trust import IssuerUnreachable, TokenRejected, issuer_keys, listed, trust_admits, verified_claims

# The audience of the token the agent sends (pod-id-how-it-works: the projected token's
# audience is pods.eks.amazonaws.com); the response's "audience" echoes it.
AUDIENCE = "pods.eks.amazonaws.com"
# moto's STS default lifetime for AssumeRole credentials; EKS documents none for this API.
DURATION = 3600

# The CLI and SDKs sign EKS Auth as "eks-auth" (the model's signingName); moto_server picks an
# app by the signing name, so EKS Auth is served by EKS's app, which holds the clusters and the
# associations.
_app.SIGNING_ALIASES["eks-auth"] = "eks"


class _AuthError(JsonRESTError):
    def __init__(self, message: str) -> None:
        super().__init__(type(self).__name__, message)


# Errors of AssumeRoleForPodIdentity (API reference, Errors) with the model's HTTP statuses.
class AccessDeniedException(_AuthError):
    code = 400


class ExpiredTokenException(_AuthError):
    code = 400


class InvalidTokenException(_AuthError):
    code = 400


class InvalidParameterException(_AuthError):
    code = 400


class ResourceNotFoundException(_AuthError):
    code = 404


class InternalServerException(_AuthError):
    code = 500


# API reference, Request Body: token "Pattern: [A-Za-z0-9-_=]+\.[A-Za-z0-9-_=]+\.[A-Za-z0-9-_=]+".
_TOKEN = re.compile(r"^[A-Za-z0-9\-_=]+\.[A-Za-z0-9\-_=]+\.[A-Za-z0-9\-_=]+$")
_SUBJECT = re.compile(r"^system:serviceaccount:([^:]+):([^:]+)$")


def _verify(cluster: Any, token: str) -> dict:
    if not token or not _TOKEN.match(token):
        raise InvalidParameterException("token: want a JSON Web Token (header.payload.signature)")
    issuer = cluster.identity["oidc"]["issuer"]
    try:
        keys = issuer_keys(issuer, (getattr(cluster, "certificate_authority", None) or {}).get("data"))
    except IssuerUnreachable as e:
        # Not an EKS behaviour: the emulator cannot reach the issuer to verify anything.
        raise InternalServerException(f"the emulator {e}")
    try:
        claims = verified_claims(token, keys)
    except TokenRejected as e:
        # "The specified Kubernetes service account token is invalid."
        raise InvalidTokenException(f"the token is not signed by the cluster's issuer {issuer}: {e}")
    if claims.get("iss") != issuer:
        raise InvalidTokenException(f"the token's issuer is {claims.get('iss')}, not the cluster's {issuer}")
    if AUDIENCE not in listed(claims.get("aud")):
        raise InvalidTokenException(f"the token's audience is {claims.get('aud')}, want {AUDIENCE}")
    if int(claims.get("exp", 0)) <= time.time():
        # "The specified Kubernetes service account token is expired."
        raise ExpiredTokenException("the service account token is expired")
    if not _SUBJECT.match(str(claims.get("sub", ""))):
        raise InvalidTokenException(f"the token's subject {claims.get('sub')} is not a service account")
    return claims


def _assume_role_for_pod_identity(request: Any, full_url: str, headers: Any) -> tuple[int, dict, str]:
    resp = _responses.EKSResponse()
    resp.setup_class(request, full_url, headers)
    name = urllib.parse.unquote(urllib.parse.urlparse(full_url).path.split("/")[2])
    try:
        token = json.loads(resp.body or "{}").get("token")
    except ValueError:
        raise InvalidParameterException("the request body is not JSON")
    try:
        cluster = resp.eks_backend.clusters[name]
    except KeyError:
        raise ResourceNotFoundException(f"No cluster found for name: {name}.")
    claims = _verify(cluster, token)
    namespace, account = _SUBJECT.match(claims["sub"]).groups()
    found = [a for a in _associations(cluster).values() if a["namespace"] == namespace and a["serviceAccount"] == account]
    if not found:
        # "The specified resource could not be found": no association for the account.
        raise ResourceNotFoundException(f"No Pod Identity association found for service account {namespace}/{account} in cluster {name}.")
    association = found[0]
    pod = (claims.get("kubernetes.io") or {}).get("pod") or {}
    # pod-id-abac, "List of session tags added by EKS Pod Identity"; disableSessionTags turns
    # them off (API_CreatePodIdentityAssociation).
    tags = {}
    if not association.get("disableSessionTags"):
        tags = {"eks-cluster-arn": cluster.arn, "eks-cluster-name": name, "kubernetes-namespace": namespace,
                "kubernetes-service-account": account}
        if pod:
            tags.update({"kubernetes-pod-name": pod.get("name", ""), "kubernetes-pod-uid": pod.get("uid", "")})
    account_id, region = resp.current_account, resp.region
    context = {"aws:requesttag/" + k.lower(): v for k, v in tags.items()}
    context.update({"aws:sourceaccount": account_id, "aws:sourcearn": cluster.arn})
    from moto.iam.models import iam_backends

    role = iam_backends[account_id][get_partition(region)].get_role_by_arn(association["roleArn"])
    # The role's trust must admit pods.eks.amazonaws.com's sts:AssumeRole and sts:TagSession
    # with these tags (IAM policy evaluation, oidc_trust.trust_admits).
    admitted, why = trust_admits(role.assume_role_policy_document, "Service", PODS_PRINCIPAL, [ASSUME_ROLE, TAG_SESSION], context)
    if not admitted:
        raise AccessDeniedException(f"pods.eks.amazonaws.com is not authorized to perform: {ASSUME_ROLE} on resource: {association['roleArn']} ({why})")
    session = f"eks-{name}-{pod.get('name') or account}-{uuid.uuid4().hex[:8]}"[:64]
    assumed = sts_backends[account_id][get_partition(region)].assume_role(
        region_name=region, role_session_name=session, role_arn=association["roleArn"], policy=None, duration=DURATION, external_id=None)
    assumed.eksirsa_session_tags = tags
    body = {
        "subject": {"namespace": namespace, "serviceAccount": account},
        "audience": AUDIENCE,
        "podIdentityAssociation": {"associationArn": association["associationArn"], "associationId": association["associationId"]},
        "assumedRoleUser": {"arn": assumed.arn, "assumeRoleId": assumed.user_id},
        "credentials": {"sessionToken": assumed.session_token, "secretAccessKey": assumed.secret_access_key,
                        "accessKeyId": assumed.access_key_id, "expiration": int(assumed.expiration.timestamp())},
    }
    return 200, {"Content-Type": "application/json"}, json.dumps(body)


# The route, from the request syntax: POST /clusters/{clusterName}/assume-role-for-pod-identity.
_urls.url_paths.update({
    "{0}/clusters/(?P<name>[^/]+)/assume-role-for-pod-identity$": _assume_role_for_pod_identity,
})
