"""Grants: CreateGrant, ListGrants, ListRetirableGrants, RetireGrant and RevokeGrant, and the
grant tokens every operation that takes GrantTokens checks.

A grant belongs to one key in one Region (a replica has grants of its own) and dies with it. A
grant token is opaque to callers but names its grant, so a token of a grant that is gone, or
one fakekms never issued, is ``InvalidGrantTokenException`` wherever it is given. Grants are
recorded here; what they allow is decided by the authorize step (the next layer).
"""

from __future__ import annotations

import base64
import binascii
import re

from .. import errors, keyspecs
from ..authorize import admit_account, may_retire
from ..context import RequestContext
from ..policy import PRINCIPAL
from ..state import GrantRecord, KeyRecord
from . import operation, paging
from .lookup import find_key
from .usage import dry_run

GRANT_ID = re.compile(r"[0-9a-f]{64}")
_TOKEN_PREFIX = b"fakekms-grant-token\x00"
_TOKEN_NONCE_BYTES = 16

# The grant operations each kind of key offers (the developer guide's "Grant operations").
_ALWAYS = ("CreateGrant", "RetireGrant", "DescribeKey")
_BY_USAGE = {
    "ENCRYPT_DECRYPT": ("Decrypt", "Encrypt", "ReEncryptFrom", "ReEncryptTo", "GetPublicKey"),
    "SIGN_VERIFY": ("Sign", "Verify", "GetPublicKey"),
    "GENERATE_VERIFY_MAC": ("GenerateMac", "VerifyMac"),
    "KEY_AGREEMENT": ("DeriveSharedSecret", "GetPublicKey"),
    "ENCAPSULATE_DECAPSULATE": ("Encapsulate", "Decapsulate", "GetPublicKey"),
}
_SYMMETRIC = ("Decrypt", "Encrypt", "ReEncryptFrom", "ReEncryptTo", "GenerateDataKey",
              "GenerateDataKeyWithoutPlaintext", "GenerateDataKeyPair", "GenerateDataKeyPairWithoutPlaintext")



def grant_operations(key: KeyRecord) -> tuple[str, ...]:
    if keyspecs.is_symmetric_encryption(key.key_spec):
        return _SYMMETRIC + _ALWAYS
    return _BY_USAGE.get(key.key_usage, ()) + _ALWAYS


# --- grant tokens -------------------------------------------------------------------------------

def _token_for(ctx: RequestContext, grant_id: str) -> str:
    raw = _TOKEN_PREFIX + bytes.fromhex(grant_id) + ctx.rng.token_bytes(_TOKEN_NONCE_BYTES)
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _grant_id_of(token: str) -> str | None:
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
    except (binascii.Error, ValueError):
        return None
    if not raw.startswith(_TOKEN_PREFIX) or len(raw) != len(_TOKEN_PREFIX) + 32 + _TOKEN_NONCE_BYTES:
        return None
    return raw[len(_TOKEN_PREFIX):len(_TOKEN_PREFIX) + 32].hex()


def _invalid_token(reason: str) -> errors.KMSError:
    return errors.InvalidGrantTokenException("The grant token is not valid.", detail=reason)


def grant_of_token(ctx: RequestContext, token: str) -> GrantRecord:
    grant_id = _grant_id_of(token)
    if grant_id is None:
        raise _invalid_token("not a grant token fakekms issued")
    grant = ctx.tx.grant(grant_id)
    if grant is None:
        raise _invalid_token(f"grant {grant_id} no longer exists")
    return grant


def check_grant_tokens(ctx: RequestContext, request: dict) -> None:
    """Every token in GrantTokens must name a grant that exists."""
    for token in request.get("GrantTokens") or ():
        grant_of_token(ctx, token)


# --- checks ----------------------------------------------------------------------------------------

def _require_grant_id(grant_id: str) -> None:
    if not GRANT_ID.fullmatch(grant_id):
        raise errors.InvalidGrantIdException(f"Invalid grant ID {grant_id}.")


def _require_principal(member: str, value: str | None) -> None:
    if value is not None and not PRINCIPAL.fullmatch(value):
        raise errors.InvalidArnException(f"ARN does not refer to a valid principal: {value}",
                                         detail=f"{member} is not an account, IAM user, role or assumed role")


def _check_principals(req: dict) -> None:
    grantee, service = req.get("GranteePrincipal"), req.get("GranteeServicePrincipal")
    if (grantee is None) == (service is None):
        raise errors.ValidationException("You must specify either GranteePrincipal or GranteeServicePrincipal, "
                                         "but not both.")
    _require_principal("GranteePrincipal", grantee)
    _require_principal("RetiringPrincipal", req.get("RetiringPrincipal"))
    if service is not None:
        if not (req.get("Constraints") or {}).get("SourceArn"):
            raise errors.ValidationException("A grant for a service principal requires a SourceArn constraint.")
        if req.get("RetiringPrincipal") is None and req.get("RetiringServicePrincipal") is None:
            raise errors.ValidationException("A grant for a service principal requires a RetiringPrincipal "
                                             "or a RetiringServicePrincipal.")


def _check_operations(key: KeyRecord, operations: list[str]) -> None:
    offered = grant_operations(key)
    refused = [op for op in operations if op not in offered]
    if refused:
        raise errors.ValidationException(
            f"Grant operations {', '.join(refused)} are not valid for {key.arn}, a {key.key_spec} "
            f"KMS key with KeyUsage {key.key_usage}."
        )


_MAX_CONTEXT_PAIRS = 8
_MAX_CONTEXT_VALUE = 384


def _check_constraints(key: KeyRecord, constraints: dict | None) -> None:
    if not constraints:
        return
    contexts = [(name, constraints[name]) for name in ("EncryptionContextEquals", "EncryptionContextSubset")
                if constraints.get(name) is not None]
    if len(contexts) > 1:
        raise errors.ValidationException(
            "A grant constraint may be EncryptionContextEquals or EncryptionContextSubset, not both.")
    if contexts and not keyspecs.is_symmetric_encryption(key.key_spec):
        raise errors.ValidationException(
            f"Encryption context grant constraints are valid only for symmetric encryption KMS keys; "
            f"{key.arn} is {key.key_spec}.")
    for name, context in contexts:
        if len(context) > _MAX_CONTEXT_PAIRS or any(len(v) > _MAX_CONTEXT_VALUE for v in context.values()):
            raise errors.ValidationException(
                f"{name} takes at most {_MAX_CONTEXT_PAIRS} pairs, each value at most "
                f"{_MAX_CONTEXT_VALUE} characters.")


def check_grant(key, req: dict, operations: list[str]) -> None:
    """What CreateGrant checks of a grant on ``key`` (anything with arn, key_spec, key_usage)."""
    _check_principals(req)
    _check_operations(key, operations)
    _check_constraints(key, req.get("Constraints"))


def _same_request(grant: GrantRecord, req: dict, operations: list[str]) -> bool:
    return (grant.grantee_principal == req.get("GranteePrincipal")
            and grant.grantee_service_principal == req.get("GranteeServicePrincipal")
            and grant.retiring_principal == req.get("RetiringPrincipal")
            and grant.retiring_service_principal == req.get("RetiringServicePrincipal")
            and sorted(grant.operations) == sorted(operations)
            and grant.constraints == (req.get("Constraints") or None))


# --- operations ----------------------------------------------------------------------------------

@operation("CreateGrant")
def create_grant(ctx: RequestContext, req: dict) -> dict:
    key = find_key(ctx, req["KeyId"])
    operations = list(dict.fromkeys(req["Operations"]))
    check_grant(key, req, operations)
    dry_run(req)
    name = req.get("Name")
    if name is not None:
        # The same request with the same name on the same key is the same grant: a new token,
        # the same GrantId (the developer guide's "eventual consistency" advice relies on it).
        for _, grant in ctx.tx.grants(key.account, key.region, key_id=key.key_id):
            if grant.name == name and _same_request(grant, req, operations):
                return {"GrantToken": _token_for(ctx, grant.grant_id), "GrantId": grant.grant_id}
    grant = GrantRecord(
        account=key.account, region=key.region, key_id=key.key_id,
        grant_id=ctx.rng.token_bytes(32).hex(), creation_date=ctx.now, operations=operations,
        issuing_account=ctx.root_arn(), name=name,
        grantee_principal=req.get("GranteePrincipal"), retiring_principal=req.get("RetiringPrincipal"),
        grantee_service_principal=req.get("GranteeServicePrincipal"),
        retiring_service_principal=req.get("RetiringServicePrincipal"),
        constraints=req.get("Constraints") or None,
    )
    ctx.tx.insert_grant(grant)
    return {"GrantToken": _token_for(ctx, grant.grant_id), "GrantId": grant.grant_id}


def list_entry(ctx: RequestContext, grant: GrantRecord) -> dict:
    entry = {
        "KeyId": ctx.key_arn(grant.key_id) if grant.region == ctx.region else grant.key_id,
        "GrantId": grant.grant_id,
        "Name": grant.name,
        "CreationDate": grant.creation_date,
        "GranteePrincipal": grant.grantee_principal,
        "RetiringPrincipal": grant.retiring_principal,
        "IssuingAccount": grant.issuing_account,
        "Operations": grant.operations,
        "Constraints": grant.constraints,
        "GranteeServicePrincipal": grant.grantee_service_principal,
        "RetiringServicePrincipal": grant.retiring_service_principal,
    }
    return {name: value for name, value in entry.items() if value is not None}


@operation("ListGrants")
def list_grants(ctx: RequestContext, req: dict) -> dict:
    key = find_key(ctx, req["KeyId"])
    if req.get("GrantId") is not None:
        _require_grant_id(req["GrantId"])
    limit = req.get("Limit", 50)
    after = paging.int_position("grants", req.get("Marker"))
    wanted = {"grant_id": req.get("GrantId"), "grantee_principal": req.get("GranteePrincipal"),
              "grantee_service_principal": req.get("GranteeServicePrincipal")}
    rows = [(seq, grant) for seq, grant in ctx.tx.grants(key.account, key.region, key_id=key.key_id, after=after)
            if all(value is None or getattr(grant, field) == value for field, value in wanted.items())]
    return paging.positioned_page(rows[:limit + 1], limit, "grants", "Grants", lambda g: list_entry(ctx, g))


@operation("ListRetirableGrants")
def list_retirable_grants(ctx: RequestContext, req: dict) -> dict:
    admit_account(ctx)
    retiring = req.get("RetiringPrincipal") or req.get("RetiringServicePrincipal")
    if retiring is None:
        raise errors.ValidationException("Specify a RetiringPrincipal or a RetiringServicePrincipal.")
    _require_principal("RetiringPrincipal", req.get("RetiringPrincipal"))
    limit = req.get("Limit", 50)
    after = paging.int_position("retirable-grants", req.get("Marker"))
    rows = ctx.tx.grants(ctx.account, ctx.region, retiring=retiring, after=after, limit=limit + 1)
    return paging.positioned_page(rows, limit, "retirable-grants", "Grants", lambda g: list_entry(ctx, g))


@operation("RetireGrant")
def retire_grant(ctx: RequestContext, req: dict) -> None:
    token, key_id, grant_id = req.get("GrantToken"), req.get("KeyId"), req.get("GrantId")
    if token is not None:
        grant = ctx.grant = grant_of_token(ctx, token)
        if grant_id is not None and grant_id != grant.grant_id:
            raise errors.ValidationException("The GrantId does not match the grant of the GrantToken.")
        if (grant.account, grant.region) == (ctx.account, ctx.region):
            key = find_key(ctx, grant.key_id, check_state=False)
        else:  # a retiring principal of another account: the token is its authority
            key = ctx.tx.get_key(grant.account, grant.region, grant.key_id)
            ctx.touch(key)
    else:
        if key_id is None or grant_id is None:
            raise errors.ValidationException("Specify a GrantToken, or a KeyId and a GrantId.")
        _require_grant_id(grant_id)
        ctx.grant = ctx.tx.grant(grant_id)
        key = find_key(ctx, key_id, check_state=False)
        grant = _grant_on(ctx, key, grant_id)
    if ctx.caller is not None and not may_retire(ctx.caller, grant):
        raise errors.AccessDeniedException(
            f"User: {ctx.caller.arn} is not authorized to perform: kms:RetireGrant on resource: {key.arn}",
            detail="only the retiring principal, a grantee with RetireGrant, or the issuing account may retire",
        )
    dry_run(req)
    ctx.tx.delete_grant(grant.grant_id)


def _grant_on(ctx: RequestContext, key: KeyRecord, grant_id: str) -> GrantRecord:
    grant = ctx.tx.grant(grant_id)
    if grant is None or (grant.account, grant.region, grant.key_id) != (key.account, key.region, key.key_id):
        raise errors.NotFoundException(f"Grant ID {grant_id} not found", detail=f"no such grant on {key.arn}")
    return grant


@operation("RevokeGrant")
def revoke_grant(ctx: RequestContext, req: dict) -> None:
    key = find_key(ctx, req["KeyId"])
    _require_grant_id(req["GrantId"])
    grant = _grant_on(ctx, key, req["GrantId"])
    dry_run(req)
    ctx.tx.delete_grant(grant.grant_id)
