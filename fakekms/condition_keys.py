"""The condition keys of one authorization question, filled from the request as AWS fills them:
the global ``aws:`` keys about the caller and the call, and the ``kms:`` keys the developer
guide lists for each operation. A key the request does not give is absent (so ``Null`` and the
``...IfExists`` forms work as at AWS)."""

from __future__ import annotations

import datetime
from functools import lru_cache

from .context import RequestContext
from .state import KeyRecord

# Request members that are condition keys as they are (kms:<name>), for the operations that take them.
_MEMBER_KEYS = {
    "EncryptionAlgorithm": "kms:EncryptionAlgorithm",
    "SigningAlgorithm": "kms:SigningAlgorithm",
    "MacAlgorithm": "kms:MacAlgorithm",
    "KeyAgreementAlgorithm": "kms:KeyAgreementAlgorithm",
    "MessageType": "kms:MessageType",
    "KeyPairSpec": "kms:DataKeyPairSpec",
    "BypassPolicyLockoutSafetyCheck": "kms:BypassPolicyLockoutSafetyCheck",
    "ExpirationModel": "kms:ExpirationModel",
    "WrappingAlgorithm": "kms:WrappingAlgorithm",
    "WrappingKeySpec": "kms:WrappingKeySpec",
    "PendingWindowInDays": "kms:ScheduleKeyDeletionPendingWindowInDays",
    "RotationPeriodInDays": "kms:RotationPeriodInDays",
    "ReplicaRegion": "kms:ReplicaRegion",
    "PrimaryRegion": "kms:PrimaryRegion",
    "GranteePrincipal": "kms:GranteePrincipal",
    "RetiringPrincipal": "kms:RetiringPrincipal",
}
_PRINCIPAL_TYPES = {"Root": "Account", "IAMUser": "User", "AssumedRole": "AssumedRole"}


def for_request(ctx: RequestContext, key: KeyRecord | None, action: str) -> dict:
    """Every condition key of the request, named in lower case (as policy.Request compares them)."""
    out = dict(_of_caller(ctx.caller))
    out.update(_of_request(ctx, key, action))
    return out


def question(ctx: RequestContext, key: KeyRecord | None, action: str):
    """(context, resolve) for a policy.Request, made as lazily as the policies allow: the
    caller's keys (made once per caller, shared: never change them), and a resolver that
    makes the request's own keys the first time a policy reads one, and reads a key's tags
    (aws:ResourceTag/<tag>) and aliases (kms:ResourceAliases) from the store only if named."""
    made: list = []

    def resolve(name: str):
        if name.startswith("aws:resourcetag/") or name == "kms:resourcealiases":
            return _stored(ctx, key, name)
        if name.startswith("kms:encryptioncontext") and not made:  # the most read, made alone
            return _of_context(encryption_context(ctx.params or {}, action)).get(name)
        if not made:
            made.append(_of_request(ctx, key, action))
        return made[0].get(name)

    return _of_caller(ctx.caller), resolve


def _of_request(ctx: RequestContext, key: KeyRecord | None, action: str) -> dict:
    out = {"aws:currenttime": _iso_second(int(ctx.now)), "aws:epochtime": int(ctx.now)}
    if ctx.source_ip:
        out["aws:sourceip"] = ctx.source_ip
    out.update(_named(ctx.params or {}, action, key, ctx.operation))
    return out


@lru_cache(maxsize=1024)
def _of_caller(caller) -> dict:
    """The keys that depend on the caller alone: made once per caller (never changed: copied)."""
    out: dict = {
        "aws:PrincipalAccount": caller.account,
        "aws:PrincipalType": _PRINCIPAL_TYPES.get(caller.type, caller.type),
        "aws:PrincipalArn": caller.session_issuer or caller.arn,
        "aws:userid": caller.principal_id or caller.account,
        "aws:SecureTransport": False,
        "aws:ViaAWSService": caller.via_service is not None,
        "kms:CallerAccount": caller.account,
    }
    if caller.type == "IAMUser":
        out["aws:username"] = caller.user_name
    for tag, value in caller.tags:
        out[f"aws:PrincipalTag/{tag}"] = value
    if caller.via_service:
        out["kms:ViaService"] = caller.via_service
        out["aws:CalledVia"] = (caller.invoked_by,)
        out["kms:GrantIsForAWSResource"] = True
    if caller.source_arn:
        out["aws:SourceArn"] = caller.source_arn
        account = caller.source_arn.split(":", 5)[4]
        if account:
            out["aws:SourceAccount"] = account
    return {name.lower(): value for name, value in out.items()}


@lru_cache(maxsize=64)
def _iso_second(epoch: int) -> str:  # calls come many to the second
    return datetime.datetime.fromtimestamp(epoch, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _named(params: dict, action: str, key: KeyRecord | None, operation: str) -> dict:
    """The keys the request's members and the key's properties give, lower-cased."""
    out: dict = {}
    for member, name in _MEMBER_KEYS.items():
        if member in params:
            out[name] = params[member]
    if "ValidTo" in params:
        out["kms:ValidTo"] = int(params["ValidTo"])
    out.update(_of_context(encryption_context(params, action)))
    if "Operations" in params:
        out["kms:GrantOperations"] = list(params["Operations"])
        constraints = params.get("Constraints") or {}
        kinds = [k for k in ("EncryptionContextEquals", "EncryptionContextSubset") if k in constraints]
        if kinds:
            out["kms:GrantConstraintType"] = kinds[0]
    if "Tags" in params:
        out["aws:TagKeys"] = [t["TagKey"] for t in params["Tags"]]
        for tag in params["Tags"]:
            out[f"aws:RequestTag/{tag['TagKey']}"] = tag["TagValue"]
    if "TagKeys" in params:
        out["aws:TagKeys"] = list(params["TagKeys"])
    for member in ("KeyId", "SourceKeyId", "DestinationKeyId"):
        value = params.get(member)
        if isinstance(value, str) and ("alias/" in value):
            out["kms:RequestAlias"] = value[value.index("alias/"):]
    if operation == "ReEncrypt" and "SourceKeyId" in params:
        out["kms:ReEncryptOnSameKey"] = params["SourceKeyId"] == params["DestinationKeyId"]
    if key is not None:
        out.update({
            "kms:KeySpec": key.key_spec, "kms:CustomerMasterKeySpec": key.key_spec,
            "kms:KeyUsage": key.key_usage, "kms:CustomerMasterKeyUsage": key.key_usage,
            "kms:KeyOrigin": key.origin, "kms:KeyManager": key.key_manager,
            "kms:MultiRegion": key.multi_region,
        })
        if key.multi_region:
            out["kms:MultiRegionKeyType"] = key.multi_region_type
    return {name.lower(): value for name, value in out.items()}


def _of_context(context: dict | None) -> dict:
    """kms:EncryptionContextKeys and kms:EncryptionContext:<key> of an encryption context."""
    if context is None:
        return {}
    out = {"kms:EncryptionContextKeys": sorted(context)}
    for name, value in context.items():
        out[f"kms:EncryptionContext:{name}"] = value
    return {name.lower(): value for name, value in out.items()}


def _stored(ctx: RequestContext, key: KeyRecord | None, name: str):
    """A key's tag or aliases, from the store."""
    if key is None or ctx.tx is None:
        return None
    if name.startswith("aws:resourcetag/"):
        wanted = name[len("aws:resourcetag/"):]
        return next((value for tag, value in ctx.tx.tags(key) if tag.lower() == wanted), None)
    aliases = [a.alias_name for a in ctx.tx.list_aliases(key.account, key.region, "", 100, key.key_id)]
    return aliases or None


def encryption_context(params: dict, action: str) -> dict | None:
    """The encryption context the action is about: ReEncrypt's source context for
    kms:ReEncryptFrom, its destination context for kms:ReEncryptTo."""
    if action == "kms:ReEncryptFrom":
        return params.get("SourceEncryptionContext")
    if action == "kms:ReEncryptTo":
        return params.get("DestinationEncryptionContext")
    return params.get("EncryptionContext")

