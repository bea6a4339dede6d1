# What EKS Auth (eks_auth.py) and STS's AssumeRoleWithWebIdentity (sts_web_identity.py) both
# decide, written once: a Kubernetes service account token verified against its issuer's keys,
# and a role's trust policy evaluated for one principal, its actions and the request context.
import base64
import functools
import json
import re
import ssl
import urllib.parse
import urllib.request
from typing import Any, Callable

from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet


def listed(value: Any) -> list:
    if value is None:
        return []
    return list(value) if isinstance(value, list) else [value]


def action_allows(actions: list, wanted: str) -> bool:
    # IAM policy grammar: an action matches itself, its service's wildcard, or "*".
    service = wanted.split(":")[0]
    return any(a.lower() in (wanted.lower(), f"{service}:*", "*") for a in actions)


class IssuerUnreachable(Exception):
    """The issuer's discovery document or keys could not be read."""


class TokenRejected(Exception):
    """The token is not a JWT signed by one of the issuer's keys."""


def unverified_claims(token: str) -> dict:
    """The payload of a JWT, read before its signature is checked (to learn its issuer)."""
    try:
        payload = token.split(".")[1]
        return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except (IndexError, ValueError) as e:
        raise TokenRejected(f"the token is not a JSON Web Token: {e}")


@functools.lru_cache(maxsize=64)
def _tls_context(ca_data: str | None) -> ssl.SSLContext:
    """One TLS context per CA, shared by every fetch: ssl.create_default_context loads the
    system's CA bundle (35 ms of CPU each time, profiled 2026-12-07), and the credential
    pollers have tokens verified every second."""
    ctx = ssl.create_default_context()
    if ca_data:
        ctx.load_verify_locations(cadata=base64.b64decode(ca_data).decode())
    return ctx


def issuer_keys(issuer: str, ca_data: str | None) -> KeySet:
    """The issuer's signing keys: its discovery document's jwks_uri (OpenID Connect Discovery),
    fetched over TLS verified with ca_data (base64 PEM) when given: the emulated tier's issuers
    are its clusters' API servers, whose CA moto's EKS holds."""
    ctx = _tls_context(ca_data)
    try:
        with urllib.request.urlopen(issuer.rstrip("/") + "/.well-known/openid-configuration", timeout=10, context=ctx) as r:
            jwks_uri = json.load(r)["jwks_uri"]
        with urllib.request.urlopen(jwks_uri, timeout=10, context=ctx) as r:
            return KeySet.import_key_set(json.load(r))
    except (OSError, ValueError, KeyError) as e:
        raise IssuerUnreachable(f"could not read the signing keys of issuer {issuer}: {e}")


def verified_claims(token: str, keys: KeySet) -> dict:
    try:
        return jwt.decode(token, keys, algorithms=["RS256", "ES256"]).claims
    except JoseError as e:
        raise TokenRejected(f"the token's signature is not the issuer's: {e}")


def condition_holds(op: str, key: str, want: Any, context: dict) -> bool | None:
    """One trust condition against the request context: True, False, or None when the emulator
    does not evaluate it. IAM: condition keys are case-insensitive, StringEquals compares exactly,
    StringLike with * and ? (IAM User Guide, reference_policies_elements_condition_operators)."""
    value = context.get(key.lower())
    if op not in ("StringEquals", "StringLike") or key.lower() not in context:
        return None
    if value is None:
        return False
    for w in listed(want):
        if op == "StringEquals" and w == value:
            return True
        if op == "StringLike" and re.fullmatch(re.escape(w).replace(r"\*", ".*").replace(r"\?", "."), value):
            return True
    return False


def trust_admits(document: str, kind: str, principal: str, actions: list, context: dict) -> tuple[bool, str]:
    """Whether an Allow statement of the role's trust admits principal (of kind Service or
    Federated) for every one of actions with this context (IAM policy evaluation: an Allow whose
    principal, actions and every condition match; an explicit Deny naming the principal is not
    evaluated here and refuses; a condition the emulator cannot evaluate refuses)."""
    try:
        policy = json.loads(document)
    except ValueError:
        policy = json.loads(urllib.parse.unquote(document))
    reasons = []
    for st in listed(policy.get("Statement")):
        named = st.get("Principal") or {}
        if principal not in (listed(named.get(kind)) if isinstance(named, dict) else []):
            continue
        if st.get("Effect") != "Allow":
            return False, f"a Deny statement names {principal}; the emulator does not evaluate it"
        granted = listed(st.get("Action"))
        if not all(action_allows(granted, a) for a in actions):
            reasons.append(f"actions {granted} lack one of {actions}")
            continue
        failed = None
        for op, keys in (st.get("Condition") or {}).items():
            for key, want in keys.items():
                holds = condition_holds(op, key, want, context)
                if holds is None:
                    failed = failed or f"the emulator does not evaluate {op} on {key}"
                elif not holds:
                    failed = failed or f"{op} requires {key} to be {want}, the request has {context.get(key.lower())}"
        if failed is None:
            return True, ""
        reasons.append(failed)
    return False, "; ".join(reasons) or f"no statement names {principal}"
