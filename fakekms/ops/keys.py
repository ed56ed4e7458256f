"""Keys: CreateKey, DescribeKey, ListKeys, EnableKey, DisableKey, UpdateKeyDescription,
ScheduleKeyDeletion, CancelKeyDeletion and GetKeyLastUsage."""

from __future__ import annotations

from dataclasses import dataclass

from .. import errors, keyspecs
from ..authorize import admit_account
from ..context import RequestContext
from ..state import KeyRecord
from . import factory, materials, operation, paging
from .lookup import find_key
from .policies import validate_policy
from .tags import validate_new_tags
from .usage import require_supported_spec

DAY = materials.DAY
DEFAULT_PENDING_WINDOW = 30


def key_metadata(ctx: RequestContext, key: KeyRecord) -> dict:
    """KeyMetadata with every field AWS returns for a key of this spec and state."""
    meta = {
        "AWSAccountId": key.account,
        "KeyId": key.key_id,
        "Arn": key.arn,
        "CreationDate": key.creation_date,
        "Enabled": key.enabled,
        "Description": key.description,
        "KeyUsage": key.key_usage,
        "KeyState": key.key_state,
        "Origin": key.origin,
        "KeyManager": key.key_manager,
        "CustomerMasterKeySpec": key.key_spec,
        "KeySpec": key.key_spec,
        "MultiRegion": key.multi_region,
        "CustomKeyStoreId": key.custom_key_store_id,
        "CurrentKeyMaterialId": key.current_key_material_id,
    }
    meta.update(keyspecs.algorithms(key.key_spec, key.key_usage))
    if key.key_state == "PendingDeletion":
        meta["DeletionDate"] = key.deletion_date
        meta["PendingDeletionWindowInDays"] = key.pending_deletion_window_days
    if key.key_state == "PendingReplicaDeletion":
        meta["PendingDeletionWindowInDays"] = key.pending_deletion_window_days
    if key.origin == "EXTERNAL" and key.expiration_model:
        meta["ExpirationModel"] = key.expiration_model
        meta["ValidTo"] = key.valid_to
    if key.multi_region:
        meta["MultiRegionConfiguration"] = multi_region_configuration(ctx, key)
    return meta


def multi_region_configuration(ctx: RequestContext, key: KeyRecord) -> dict:
    """The key's place in its multi-Region set, read from every Region's copy."""
    group = materials.copies(ctx, key)
    primary = next((k for k in group if k.multi_region_type == "PRIMARY"), None)
    return {
        "MultiRegionKeyType": key.multi_region_type,
        "PrimaryKey": {"Arn": primary.arn, "Region": primary.region} if primary else None,
        "ReplicaKeys": [{"Arn": k.arn, "Region": k.region} for k in sorted(group, key=lambda k: k.region)
                        if k.is_replica],
    }


def key_spec_and_usage(ctx: RequestContext, req: dict) -> tuple[str, str]:
    if req.get("KeySpec") and req.get("CustomerMasterKeySpec"):
        raise errors.ValidationException(
            "You cannot specify KeySpec and CustomerMasterKeySpec in the same request. "
            "CustomerMasterKeySpec parameter is deprecated. Use KeySpec parameter instead."
        )
    key_spec = req.get("KeySpec") or req.get("CustomerMasterKeySpec") or "SYMMETRIC_DEFAULT"
    require_supported_spec(ctx, "KeySpec", key_spec)
    allowed = keyspecs.usages(key_spec)
    key_usage = req.get("KeyUsage")
    if key_usage is None:
        if not keyspecs.is_symmetric_encryption(key_spec):
            raise errors.ValidationException(
                "You must specify a KeyUsage value for all KMS keys except for symmetric "
                "encryption keys.",
                detail=f"KeyUsage values for {key_spec}: {', '.join(allowed)}",
            )
        key_usage = "ENCRYPT_DECRYPT"
    if key_usage not in allowed:
        raise errors.ValidationException(
            f"KeyUsage {key_usage} is not compatible with KeySpec {key_spec}. "
            f"Valid KeyUsage values for {key_spec}: {', '.join(allowed)}."
        )
    return key_spec, key_usage


def _check_origin(req: dict, key_spec: str) -> str:
    origin = req.get("Origin", "AWS_KMS")
    store_id = req.get("CustomKeyStoreId")
    if origin in ("AWS_CLOUDHSM", "EXTERNAL_KEY_STORE"):
        if req.get("MultiRegion"):
            raise errors.UnsupportedOperationException(
                "You cannot create a multi-Region key in a custom key store."
            )
        if key_spec != "SYMMETRIC_DEFAULT":
            raise errors.UnsupportedOperationException(
                f"KeySpec {key_spec} is not supported in a custom key store; use SYMMETRIC_DEFAULT."
            )
        if store_id is None:
            raise errors.ValidationException(f"CustomKeyStoreId is required when Origin is {origin}.")
    if origin == "EXTERNAL_KEY_STORE" and not req.get("XksKeyId"):
        raise errors.ValidationException("XksKeyId is required when Origin is EXTERNAL_KEY_STORE.")
    if req.get("XksKeyId") and origin != "EXTERNAL_KEY_STORE":
        raise errors.ValidationException("XksKeyId is valid only when Origin is EXTERNAL_KEY_STORE.")
    if store_id is not None:
        if origin not in ("AWS_CLOUDHSM", "EXTERNAL_KEY_STORE"):
            raise errors.ValidationException(
                "CustomKeyStoreId requires Origin AWS_CLOUDHSM or EXTERNAL_KEY_STORE."
            )
        raise errors.CustomKeyStoreNotFoundException(
            f"Custom key store {store_id} does not exist in this account and Region."
        )
    return origin


@dataclass(frozen=True)
class _NewKey:
    key_spec: str
    key_usage: str
    origin: str
    policy: str | None
    tags: list
    material: bytes | None


def _prepare_create_key(ctx: RequestContext, req: dict) -> _NewKey:
    """Every check CreateKey makes without state, then the material: generating an RSA_4096 key
    takes up to seconds, which no other call should wait for."""
    key_spec, key_usage = key_spec_and_usage(ctx, req)
    origin = _check_origin(req, key_spec)
    policy = req.get("Policy")
    if policy is not None:
        validate_policy(policy, ctx, bypass_lockout=bool(req.get("BypassPolicyLockoutSafetyCheck")))
    tags = req.get("Tags", [])
    validate_new_tags(tags, existing=[])
    material = ctx.generate(key_spec) if origin == "AWS_KMS" else None
    return _NewKey(key_spec, key_usage, origin, policy, tags, material)


@operation("CreateKey", prepare=_prepare_create_key)
def create_key(ctx: RequestContext, req: dict) -> dict:
    new: _NewKey = ctx.prepared
    admit_account(ctx)
    if new.tags:  # CreateKey with Tags also needs kms:TagResource, as the permissions reference says
        admit_account(ctx, "kms:TagResource")
    key = factory.create(
        ctx,
        key_spec=new.key_spec,
        key_usage=new.key_usage,
        origin=new.origin,
        description=req.get("Description", ""),
        policy=new.policy,
        multi_region=bool(req.get("MultiRegion", False)),
        tags=[(tag["TagKey"], tag["TagValue"]) for tag in new.tags],
        material=new.material,
    )
    return {"KeyMetadata": key_metadata(ctx, key)}


@operation("DescribeKey")
def describe_key(ctx: RequestContext, req: dict) -> dict:
    return {"KeyMetadata": key_metadata(ctx, find_key(ctx, req["KeyId"]))}


# ListKeys markers name the ResourceOwners they were issued for: the model's documentation
# says a marker from one ResourceOwners value fails with another (InvalidMarkerException).
_LIST_KEYS_MARKER = {
    frozenset({"SELF"}): "keys",
    frozenset({"OTHER_ACCOUNTS_VIA_RAM"}): "keys-shared",
    frozenset({"SELF", "OTHER_ACCOUNTS_VIA_RAM"}): "keys-own-and-shared",
}


@operation("ListKeys")
def list_keys(ctx: RequestContext, req: dict) -> dict:
    """The account's own keys, and none shared through Resource Access Manager, which fakekms
    does not have: ``OTHER_ACCOUNTS_VIA_RAM`` adds no key."""
    admit_account(ctx)
    owners = frozenset(req.get("ResourceOwners") or ["SELF"])
    kind = _LIST_KEYS_MARKER[owners]
    limit = req.get("Limit", 100)
    after = paging.int_position(kind, req.get("Marker"))
    if "SELF" not in owners:
        return {"Keys": [], "Truncated": False}
    rows = ctx.tx.list_keys(ctx.account, ctx.region, after, limit + 1)
    return paging.positioned_page(rows, limit, kind, "Keys", lambda key: {"KeyId": key.key_id, "KeyArn": key.arn})


@operation("EnableKey")
def enable_key(ctx: RequestContext, req: dict) -> None:
    key = find_key(ctx, req["KeyId"])
    key.key_state = "Enabled"
    due = key.rotation_due_at()
    if due is not None and due <= ctx.now:
        # Disabled past its rotation date: the key rotates at once, then every period from now.
        materials.rotate(ctx, key, ctx.now, "AUTOMATIC")
        key.next_rotation_date = ctx.now + key.rotation_period_days * DAY
        materials.share_rotation_settings(ctx, key)
    ctx.tx.update_key(key)


@operation("DisableKey")
def disable_key(ctx: RequestContext, req: dict) -> None:
    key = find_key(ctx, req["KeyId"])
    key.key_state = "Disabled"
    ctx.tx.update_key(key)


@operation("UpdateKeyDescription")
def update_key_description(ctx: RequestContext, req: dict) -> None:
    key = find_key(ctx, req["KeyId"])
    key.description = req["Description"]
    ctx.tx.update_key(key)


@operation("ScheduleKeyDeletion")
def schedule_key_deletion(ctx: RequestContext, req: dict) -> dict:
    days = req.get("PendingWindowInDays", DEFAULT_PENDING_WINDOW)  # 7-30, checked by the model
    key = find_key(ctx, req["KeyId"])
    key.pending_deletion_window_days = days
    if key.multi_region_type == "PRIMARY" and len(materials.copies(ctx, key)) > 1:
        # A primary outlives its replicas: its waiting period starts when the last one is gone.
        key.key_state = "PendingReplicaDeletion"
        key.deletion_date = None
    else:
        key.key_state = "PendingDeletion"
        key.deletion_date = ctx.now + days * DAY
    ctx.tx.update_key(key)
    return {
        "KeyId": key.arn,
        "DeletionDate": key.deletion_date,
        "KeyState": key.key_state,
        "PendingWindowInDays": days,
    }


@operation("CancelKeyDeletion")
def cancel_key_deletion(ctx: RequestContext, req: dict) -> dict:
    key = find_key(ctx, req["KeyId"])
    has_material = ctx.tx.key_material(key) is not None and materials.imported_in_full(ctx, key)
    key.key_state = "Disabled" if has_material else "PendingImport"
    key.deletion_date = None
    key.pending_deletion_window_days = None
    ctx.tx.update_key(key)
    return {"KeyId": key.arn}


@operation("GetKeyLastUsage")
def get_key_last_usage(ctx: RequestContext, req: dict) -> dict:
    """The key's last successful cryptographic use, from the audit event that recorded it.
    fakekms tracks every key from its creation, so TrackingStartDate is the CreationDate."""
    key = find_key(ctx, req["KeyId"])
    result = {
        "KeyId": key.key_id,
        "TrackingStartDate": key.creation_date,
        "KeyCreationDate": key.creation_date,
    }
    last = ctx.tx.key_last_use(key)
    if last is not None:
        result["KeyLastUsage"] = {
            "Operation": last.operation,
            "Timestamp": last.time,
            "CloudTrailEventId": last.event_id,
            "KmsRequestId": last.request_id,
        }
    return result
