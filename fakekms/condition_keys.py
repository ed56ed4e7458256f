"""The condition keys of one authorization question, filled from the request as AWS fills them:
the global ``aws:`` keys about the caller and the call, and the ``kms:`` keys the developer
guide lists for each operation. A key the request does not give is absent (so ``Null`` and the
``...IfExists`` forms work as at AWS)."""

from __future__ import annotations

import datetime

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
    caller = ctx.caller
    params = ctx.params or {}
    now = datetime.datetime.fromtimestamp(ctx.now, datetime.timezone.utc)
    out: dict = {
        "aws:PrincipalAccount": caller.account,
        "aws:PrincipalType": _PRINCIPAL_TYPES.get(caller.type, caller.type),
        "aws:PrincipalArn": caller.session_issuer or caller.arn,
        "aws:userid": caller.principal_id or caller.account,
        "aws:CurrentTime": now.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "aws:EpochTime": int(ctx.now),
        "aws:SecureTransport": False,
        "aws:ViaAWSService": caller.via_service is not None,
        "kms:CallerAccount": caller.account,
    }
    if caller.type == "IAMUser":
        out["aws:username"] = caller.user_name
    for tag, value in caller.tags:
        out[f"aws:PrincipalTag/{tag}"] = value
    if ctx.source_ip:
        out["aws:SourceIp"] = ctx.source_ip
    if caller.via_service:
        out["kms:ViaService"] = caller.via_service
        out["aws:CalledVia"] = [caller.invoked_by]
        out["kms:GrantIsForAWSResource"] = True
    if caller.source_arn:
        out["aws:SourceArn"] = caller.source_arn
        account = caller.source_arn.split(":", 5)[4]
        if account:
            out["aws:SourceAccount"] = account
    for member, name in _MEMBER_KEYS.items():
        if member in params:
            out[name] = params[member]
    if "ValidTo" in params:
        out["kms:ValidTo"] = int(params["ValidTo"])
    context = _encryption_context(params, action)
    if context is not None:
        out["kms:EncryptionContextKeys"] = sorted(context)
        for name, value in context.items():
            out[f"kms:EncryptionContext:{name}"] = value
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
    if ctx.operation == "ReEncrypt" and "SourceKeyId" in params:
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
    return out


def resolver(ctx: RequestContext, key: KeyRecord | None):
    """The keys that cost a store read, read only when a policy names them: the key's tags
    (aws:ResourceTag/<tag>) and aliases (kms:ResourceAliases)."""
    def resolve(name: str):
        if key is None or ctx.tx is None:
            return None
        if name.startswith("aws:resourcetag/"):
            wanted = name[len("aws:resourcetag/"):]
            return next((value for tag, value in ctx.tx.tags(key) if tag.lower() == wanted), None)
        if name == "kms:resourcealiases":
            aliases = [a.alias_name for a in ctx.tx.list_aliases(key.account, key.region, "", 100, key.key_id)]
            return aliases or None
        return None
    return resolve


def _encryption_context(params: dict, action: str) -> dict | None:
    """The encryption context the action is about: ReEncrypt's source context for
    kms:ReEncryptFrom, its destination context for kms:ReEncryptTo."""
    if action == "kms:ReEncryptFrom":
        return params.get("SourceEncryptionContext")
    if action == "kms:ReEncryptTo":
        return params.get("DestinationEncryptionContext")
    return params.get("EncryptionContext")

