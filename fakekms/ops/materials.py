"""Key material versions: making, rotating and finding them, for every copy of a key.

A multi-Region key's copies share their key material and rotation settings: whatever changes
them here changes every copy in the same transaction, so the copies never disagree.
"""

from __future__ import annotations

import dataclasses

from .. import errors, keyspecs
from ..context import RequestContext
from ..state import KeyRecord, MaterialRecord

DAY = 86400.0


def copies(ctx: RequestContext, key: KeyRecord) -> list[KeyRecord]:
    """``key`` and, for a multi-Region key, its copies in the other Regions."""
    if not key.multi_region:
        return [key]
    others = [k for k in ctx.tx.key_copies(key.account, key.key_id) if k.region != key.region]
    return [key, *others]


def require_not_replica(ctx: RequestContext, key: KeyRecord) -> None:
    """What only a multi-Region primary may do (replicate, set or run rotation) is refused on a
    replica, naming its primary."""
    if key.is_replica:
        raise errors.UnsupportedOperationException(
            f"{key.arn} is a multi-Region replica key; call {ctx.operation} on its primary key "
            f"{primary_of(ctx, key).arn}."
        )


def imported_in_full(ctx: RequestContext, key: KeyRecord) -> bool:
    """Whether every material that is part of the key (not one pending rotation) is present."""
    return all(m.ref is not None for m in ctx.tx.key_materials(key) if not m.pending)


def primary_of(ctx: RequestContext, key: KeyRecord) -> KeyRecord:
    """The primary key of ``key``'s multi-Region set (``key`` itself if it is not a replica)."""
    if not key.is_replica:
        return key
    for other in ctx.tx.key_copies(key.account, key.key_id):
        if other.multi_region_type == "PRIMARY":
            return other
    return key  # its primary was deleted: the replica stands alone


def new_material_id(ctx: RequestContext) -> str:
    """A KeyMaterialId for material KMS made (imported material's id is derived from it)."""
    return ctx.rng.token_bytes(32).hex()


def without_material(record: MaterialRecord) -> MaterialRecord:
    """The record of imported material as a copy that has not imported it yet knows it."""
    return dataclasses.replace(record, ref=None, valid_to=None, expiration_model=None)


def add_material(ctx: RequestContext, key: KeyRecord, record: MaterialRecord) -> None:
    ctx.tx.add_key_material(key, record)
    if record.state == "CURRENT" and keyspecs.is_symmetric_encryption(key.key_spec):
        key.current_key_material_id = record.material_id


def rotate(ctx: RequestContext, key: KeyRecord, at: float, rotation_type: str) -> None:
    """One rotation of ``key`` and its copies, dated ``at``: the CURRENT material becomes
    NON_CURRENT, and new material (or, for imported keys, the material PENDING_ROTATION) becomes
    CURRENT. Callers update and store ``key``; the other copies are stored here."""
    group = copies(ctx, key)
    ctx.service_event("RotateKey", key, at, {"rotationType": rotation_type, "keyId": key.key_id})
    promoted = ctx.tx.pending_key_material(key)
    material_id = promoted.material_id if promoted else new_material_id(ctx)
    ref = None if promoted else ctx.generate(key.key_spec)
    for copy in group:
        current = ctx.tx.key_material(copy)
        if current is not None:
            current.state = "NON_CURRENT"
            ctx.tx.update_key_material(copy, current)
        existing = ctx.tx.key_material_by_id(copy, material_id) if promoted else None
        if existing is not None:
            existing.state, existing.rotation_date, existing.rotation_type = "CURRENT", at, rotation_type
            ctx.tx.update_key_material(copy, existing)
            copy.current_key_material_id = material_id
        else:
            add_material(ctx, copy, MaterialRecord(
                version=ctx.tx.last_material_version(copy) + 1, material_id=material_id,
                ref=ref, created=at, rotation_date=at, rotation_type=rotation_type,
            ))
        refresh_expiry(ctx, copy)
        if copy is not key:
            ctx.tx.update_key(copy)


def share_rotation_settings(ctx: RequestContext, key: KeyRecord) -> None:
    """Copies ``key``'s rotation settings to its other Regions' copies and stores them all."""
    for copy in copies(ctx, key)[1:]:
        copy.rotation_enabled = key.rotation_enabled
        copy.rotation_period_days = key.rotation_period_days
        copy.next_rotation_date = key.next_rotation_date
        copy.on_demand_rotations = key.on_demand_rotations
        ctx.tx.update_key(copy)
    ctx.tx.update_key(key)


def remove_imported(ctx: RequestContext, key: KeyRecord, records: list[MaterialRecord]) -> None:
    """Deletes imported material (deleted or expired): the key waits in PendingImport for the
    same material to be imported again, unless it is already on its way to deletion."""
    for record in records:
        if record.ref is not None:
            ctx.retired.append(record.ref)
        record.ref = None
        ctx.tx.update_key_material(key, record)
    if not key.pending_deletion:
        key.key_state = "PendingImport"
    refresh_expiry(ctx, key)
    ctx.tx.update_key(key)


def refresh_expiry(ctx: RequestContext, key: KeyRecord) -> None:
    """Mirrors the key's imported material on the key: ExpirationModel and the earliest ValidTo
    of the material now imported (KeyMetadata's ValidTo, and the key's next expiry)."""
    if key.origin == "EXTERNAL":
        mirror_expiry(key, ctx.tx.key_materials(key))


def mirror_expiry(key: KeyRecord, records: list[MaterialRecord]) -> None:
    """``refresh_expiry`` from the key's material records, as given."""
    if key.origin != "EXTERNAL":
        return
    present = [m for m in records if m.ref is not None and not m.pending]
    expiring = [m.valid_to for m in present if m.valid_to is not None]
    key.valid_to = min(expiring) if expiring else None
    models = [m.expiration_model for m in present if m.expiration_model]
    if expiring:
        key.expiration_model = "KEY_MATERIAL_EXPIRES"
    elif models:
        key.expiration_model = models[-1]
    else:  # no material left: DescribeKey has no ExpirationModel, as in AWS
        key.expiration_model = None
