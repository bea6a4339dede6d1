# STS AssumeRoleWithWebIdentity decided as STS decides it (moto 5.2.1 hands any role to any
# token: a pod left on AWS_ROLE_ARN after the OIDC statement left its role's trust would still
# get credentials). Imported by sitecustomize.py. Sources: the STS API Reference,
# API_AssumeRoleWithWebIdentity.html (request, errors) and the STS model in botocore (each
# error's code and HTTP status); the IAM User Guide, id_roles_providers_oidc.html ("Create an
# OpenID Connect (OIDC) identity provider in IAM": the provider's URL is the token's iss, its
# client IDs the audiences it accepts) and reference_policies_iam-condition-keys.html ("Available
# keys for OIDC federation": <provider url>:sub and <provider url>:aud, aud being the token's
# azp when it has one).
#
# In order, as STS reports them:
# - the token's iss must be the URL of an IAM OIDC provider in the role's account, else
#   InvalidIdentityToken "No OpenIDConnect provider found in your account for <iss>" (the
#   message users see: kubernetes-sigs/aws-load-balancer-controller#2315,
#   aws-actions/configure-aws-credentials#721);
# - its signature must be one of the issuer's JWKS keys (InvalidIdentityToken); keys that
#   cannot be read are IDPCommunicationError;
# - its exp must not have passed (ExpiredTokenException);
# - its aud must be one of the provider's client IDs, else InvalidIdentityToken "Incorrect
#   token audience" (awslabs/amazon-eks-irsa-cfn#18);
# - the role's trust must allow sts:AssumeRoleWithWebIdentity to Federated <provider ARN>
#   with its StringEquals/StringLike conditions on <provider url>:sub and :aud, else
#   AccessDenied "Not authorized to perform sts:AssumeRoleWithWebIdentity", HTTP 403
#   (crossplane/crossplane#5578).
# The issuer's TLS is verified with the CA of the moto EKS cluster whose issuer it is (the
# emulated tier's issuers are loopback API servers), else with the system's trusted roots as STS
# uses its library of trusted root CAs; the provider's thumbprints are not compared (Python 3.11's
# ssl does not hand out the peer's chain).
import time
from typing import Any

from moto.core.responses import ActionResult
from moto.eks.models import eks_backends
from moto.iam.models import iam_backends
from moto.sts import responses as _responses
from moto.sts.exceptions import STSClientError

from oidc_trust import IssuerUnreachable, TokenRejected, issuer_keys, listed, trust_admits, unverified_claims, verified_claims

ACTION = "sts:AssumeRoleWithWebIdentity"


class _Refused(STSClientError):
    def __init__(self, code: str, message: str, status: int = 400) -> None:
        super().__init__(code, message)
        self.status = status


def _issuer_ca(issuer: str) -> str | None:
    for accounts in list(eks_backends.values()):
        for backend in list(accounts.values()):
            for cluster in list(backend.clusters.values()):
                if (cluster.identity or {}).get("oidc", {}).get("issuer") == issuer:
                    return (getattr(cluster, "certificate_authority", None) or {}).get("data")
    return None


def _check(role_arn: str, token: str) -> None:
    parts = (role_arn or "").split(":")
    if len(parts) < 6 or not parts[5].startswith("role/"):
        raise _Refused("ValidationError", f"{role_arn} is not a role ARN")
    partition, account = parts[1], parts[4]
    try:
        issuer = str(unverified_claims(token or "").get("iss", ""))
    except TokenRejected as e:
        raise _Refused("InvalidIdentityToken", str(e))
    iam = iam_backends[account][partition]
    url = issuer.removeprefix("https://")
    provider = next((p for p in list(iam.open_id_providers.values()) if p.url == url), None)
    if provider is None:
        raise _Refused("InvalidIdentityToken", f"No OpenIDConnect provider found in your account for {issuer}")
    try:
        claims = verified_claims(token, issuer_keys(issuer, _issuer_ca(issuer)))
    except IssuerUnreachable as e:
        raise _Refused("IDPCommunicationError", f"Couldn't retrieve verification key from your identity provider: {e}")
    except TokenRejected as e:
        raise _Refused("InvalidIdentityToken", str(e))
    if int(claims.get("exp", 0)) <= time.time():
        raise _Refused("ExpiredTokenException", "Token expired: current date/time must be before the expiration date/time")
    audience = claims.get("azp") or next((a for a in listed(claims.get("aud")) if a in provider.client_id_list), None)
    if audience not in provider.client_id_list:
        raise _Refused("InvalidIdentityToken", "Incorrect token audience")
    try:
        role = iam.get_role_by_arn(role_arn)
    except Exception:
        raise _Refused("AccessDenied", f"Not authorized to perform {ACTION} (no role {role_arn})", 403)
    context = {f"{url}:sub".lower(): claims.get("sub"), f"{url}:aud".lower(): audience}
    admitted, why = trust_admits(role.assume_role_policy_document, "Federated", provider.arn, [ACTION], context)
    if not admitted:
        raise _Refused("AccessDenied", f"Not authorized to perform {ACTION} ({why})", 403)


_orig = _responses.TokenResponse.assume_role_with_web_identity


def assume_role_with_web_identity(self: Any) -> Any:
    try:
        _check(self._get_param("RoleArn"), self._get_param("WebIdentityToken"))
    except _Refused as e:
        _, headers, body = self.serialized(ActionResult(e))
        headers["status"] = e.status  # the model has no AccessDenied shape: its 403 is set here
        return body, headers
    return _orig(self)


_responses.TokenResponse.assume_role_with_web_identity = assume_role_with_web_identity
