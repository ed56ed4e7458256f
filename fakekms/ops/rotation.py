"""Rotation: EnableKeyRotation, DisableKeyRotation, GetKeyRotationStatus, RotateKeyOnDemand and
ListKeyRotations.

Only symmetric encryption keys rotate. Automatic rotation is set on a multi-Region primary for
its whole set and never on imported key material; on-demand rotation of imported material
promotes the material imported for it (PENDING_ROTATION). Timed rotations run in ``lifecycle``.
"""

from __future__ import annotations

import re
from functools import cache

from .. import errors, keyspecs, keystates, model
from ..context import RequestContext
from ..state import KeyRecord
from . import materials, operation, paging
from .lookup import find_key

DEFAULT_ROTATION_PERIOD = 365
_CUSTOM_KEY_STORE_ORIGINS = ("AWS_CLOUDHSM", "EXTERNAL_KEY_STORE")


@cache
def on_demand_limit() -> int:
    """How many on-demand rotations a key may have, as the model's documentation states it."""
    found = re.search(r"maximum of (\d+) times", model.operation_doc("RotateKeyOnDemand"))
    return int(found.group(1)) if found else 25


def _require_rotatable(ctx: RequestContext, key: KeyRecord, *, imported_ok: bool = False) -> None:
    """UnsupportedOperationException for the keys that have no rotation: asymmetric and HMAC keys,
    keys in a custom key store and (for automatic rotation) imported key material."""
    if not keyspecs.is_symmetric_encryption(key.key_spec):
        raise errors.UnsupportedOperationException(
            f"{key.arn} key spec is {key.key_spec}; {ctx.operation} supports only symmetric "
            "encryption KMS keys (SYMMETRIC_DEFAULT)."
        )
    if key.origin in _CUSTOM_KEY_STORE_ORIGINS or (key.origin == "EXTERNAL" and not imported_ok):
        raise errors.UnsupportedOperationException(
            f"{key.arn} origin is {key.origin} which is not valid for this operation."
        )


def _rotating_key(ctx: RequestContext, req: dict, *, imported_ok: bool = False) -> KeyRecord:
    """The key a rotation call names, refused first for being of a kind that cannot rotate (a
    key pending import answers that it is imported, not that it is pending import), then by
    its key state."""
    key = find_key(ctx, req["KeyId"], check_state=False)
    _require_rotatable(ctx, key, imported_ok=imported_ok)
    keystates.check(ctx.operation, key.key_state, key.arn)
    return key


@operation("EnableKeyRotation")
def enable_key_rotation(ctx: RequestContext, req: dict) -> None:
    key = _rotating_key(ctx, req)
    materials.require_not_replica(ctx, key)
    period = req.get("RotationPeriodInDays", DEFAULT_ROTATION_PERIOD)
    if key.rotation_enabled and key.next_rotation_date is not None:
        # A new period counts from the same start: the last rotation, or the day it was enabled.
        start = key.next_rotation_date - key.rotation_period_days * materials.DAY
        key.next_rotation_date = max(start + period * materials.DAY, ctx.now)
    else:
        key.next_rotation_date = ctx.now + period * materials.DAY
    key.rotation_enabled = True
    key.rotation_period_days = period
    materials.share_rotation_settings(ctx, key)


@operation("DisableKeyRotation")
def disable_key_rotation(ctx: RequestContext, req: dict) -> None:
    key = _rotating_key(ctx, req)
    materials.require_not_replica(ctx, key)
    key.rotation_enabled = False
    key.rotation_period_days = None
    key.next_rotation_date = None
    materials.share_rotation_settings(ctx, key)


@operation("GetKeyRotationStatus")
def get_key_rotation_status(ctx: RequestContext, req: dict) -> dict:
    key = _rotating_key(ctx, req)
    # A key pending deletion does not rotate; cancelling the deletion restores its status.
    enabled = key.rotation_enabled and not key.pending_deletion
    result = {"KeyRotationEnabled": enabled, "KeyId": key.arn}
    if enabled:
        result["RotationPeriodInDays"] = key.rotation_period_days
        result["NextRotationDate"] = key.next_rotation_date
    return result


@operation("RotateKeyOnDemand")
def rotate_key_on_demand(ctx: RequestContext, req: dict) -> dict:
    # Unlike the other rotation calls, AWS checks the key state before the key spec here.
    key = find_key(ctx, req["KeyId"])
    _require_rotatable(ctx, key, imported_ok=True)
    materials.require_not_replica(ctx, key)
    if key.on_demand_rotations >= on_demand_limit():
        raise errors.LimitExceededException(
            f"{key.arn} has had the maximum of {on_demand_limit()} on-demand rotations."
        )
    if key.origin == "EXTERNAL":
        _require_pending_material(ctx, key)
    materials.rotate(ctx, key, ctx.now, "ON_DEMAND")
    key.on_demand_rotations += 1
    materials.share_rotation_settings(ctx, key)
    return {"KeyId": key.arn}


def _require_pending_material(ctx: RequestContext, key: KeyRecord) -> None:
    """Rotating imported material needs new material imported for it, in every Region's copy."""
    pending = ctx.tx.pending_key_material(key)
    if pending is None:
        raise errors.KMSInvalidStateException(
            f"{key.arn} has no key material pending rotation; import new key material "
            "(ImportType NEW_KEY_MATERIAL) before rotating on demand."
        )
    if pending.state == "PENDING_MULTI_REGION_IMPORT_AND_ROTATION":
        raise errors.KMSInvalidStateException(
            f"The key material pending rotation of {key.arn} is not yet imported into every "
            "replica key."
        )


def rotation_entry(key: KeyRecord, record) -> dict:
    entry = {
        "KeyId": key.key_id,
        "KeyMaterialId": record.material_id,
        "KeyMaterialState": record.state,
        "RotationDate": record.rotation_date,
        "RotationType": record.rotation_type,
    }
    if key.origin == "EXTERNAL":
        entry.update({
            "KeyMaterialDescription": record.description,
            "ImportState": record.import_state,
            "ExpirationModel": record.expiration_model,
            "ValidTo": record.valid_to,
        })
    return entry


@operation("ListKeyRotations")
def list_key_rotations(ctx: RequestContext, req: dict) -> dict:
    key = _rotating_key(ctx, req, imported_ok=True)
    everything = req.get("IncludeKeyMaterial", "ROTATIONS_ONLY") == "ALL_KEY_MATERIAL"
    records = [m for m in ctx.tx.key_materials(key) if everything or m.rotation_date is not None]
    limit = req.get("Limit", 100)
    after = paging.int_position("rotations", req.get("Marker"))
    page = [m for m in records if m.version > after][: limit + 1]
    more = len(page) > limit
    page = page[:limit]
    result = {"Rotations": [rotation_entry(key, m) for m in page], "Truncated": more}
    if more:
        result["NextMarker"] = paging.make_marker("rotations", str(page[-1].version))
    return result
