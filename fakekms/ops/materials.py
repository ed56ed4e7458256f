"""Key material versions: making, rotating and finding them, for every copy of a key.

A multi-Region key's copies share their key material and rotation settings: whatever changes
them here changes every copy in the same transaction, so the copies never disagree.
"""

from __future__ import annotations

import hashlib
import hmac

from .. import errors, keyspecs
from ..context import RequestContext
from ..crypto import software
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
    return all(m.material is not None for m in ctx.tx.key_materials(key) if not m.pending)


def primary_of(ctx: RequestContext, key: KeyRecord) -> KeyRecord:
    """The primary key of ``key``'s multi-Region set (``key`` itself if it is not a replica)."""
    if not key.is_replica:
        return key
    for other in ctx.tx.key_copies(key.account, key.key_id):
        if other.multi_region_type == "PRIMARY":
            return other
    return key  # its primary was deleted: the replica stands alone


def imported_material_id(key_id: str, material: bytes) -> str:
    """The KeyMaterialId of imported material: derived from the key id and the material, as AWS
    does, so the same material imported again (or into a replica, which shares the key id) has
    the same id, and different material a different one."""
    return hmac.new(key_id.encode(), material, hashlib.sha256).hexdigest()


def new_key(ctx: RequestContext, *, multi_region: bool = False, **attributes) -> KeyRecord:
    """A new key in the caller's account and Region, stored with its first key material (none
    for imported keys): an unused id, its ARN and the creation date, plus ``attributes``."""
    key_id = ctx.rng.key_id(multi_region)
    while ctx.tx.get_key(ctx.account, ctx.region, key_id) is not None:
        # Only a seeded generator restarted over a persistent store repeats an id; draw again.
        key_id = ctx.rng.key_id(multi_region)
    key = KeyRecord(account=ctx.account, region=ctx.region, key_id=key_id, arn=ctx.key_arn(key_id),
                    creation_date=ctx.now, multi_region=multi_region,
                    multi_region_type="PRIMARY" if multi_region else None, **attributes)
    if key.origin == "AWS_KMS":
        add_material(ctx, key, first_material(ctx, key))
    ctx.tx.insert_key(key)
    ctx.touch(key)
    return key


def first_material(ctx: RequestContext, key: KeyRecord) -> MaterialRecord:
    """The key material a new AWS_KMS key starts with."""
    return MaterialRecord(
        version=1,
        material_id=ctx.rng.token_bytes(32).hex(),
        material=software.generate_key_material(key.key_spec, ctx.rng),
        created=ctx.now,
    )


def add_material(ctx: RequestContext, key: KeyRecord, record: MaterialRecord) -> None:
    ctx.tx.add_key_material(key, record)
    if record.state == "CURRENT" and keyspecs.is_symmetric_encryption(key.key_spec):
        key.current_key_material_id = record.material_id


def rotate(ctx: RequestContext, key: KeyRecord, at: float, rotation_type: str) -> None:
    """One rotation of ``key`` and its copies, dated ``at``: the CURRENT material becomes
    NON_CURRENT, and new material (or, for imported keys, the material PENDING_ROTATION) becomes
    CURRENT. Callers update and store ``key``; the other copies are stored here."""
    group = copies(ctx, key)
    promoted = ctx.tx.pending_key_material(key)
    material_id = promoted.material_id if promoted else ctx.rng.token_bytes(32).hex()
    secret = None if promoted else software.generate_key_material(key.key_spec, ctx.rng)
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
                material=secret, created=at, rotation_date=at, rotation_type=rotation_type,
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
        record.material = None
        ctx.tx.update_key_material(key, record)
    if not key.pending_deletion:
        key.key_state = "PendingImport"
    refresh_expiry(ctx, key)
    ctx.tx.update_key(key)


def refresh_expiry(ctx: RequestContext, key: KeyRecord) -> None:
    """Mirrors the key's imported material on the key: ExpirationModel and the earliest ValidTo
    of the material now imported (KeyMetadata's ValidTo, and the key's next expiry)."""
    if key.origin != "EXTERNAL":
        return
    present = [m for m in ctx.tx.key_materials(key)
               if m.material is not None and not m.pending]
    expiring = [m.valid_to for m in present if m.valid_to is not None]
    key.valid_to = min(expiring) if expiring else None
    models = [m.expiration_model for m in present if m.expiration_model]
    if expiring:
        key.expiration_model = "KEY_MATERIAL_EXPIRES"
    elif models:
        key.expiration_model = models[-1]
