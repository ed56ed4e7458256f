"""The one key factory: every key is made here, whether CreateKey asked for it, a first use of
``alias/aws/<service>`` needs it, ReplicateKey copies it into another Region, or a seed file
declares it. One place sets the ARN, the creation date, the default key policy, the deletion and
rotation dates and the CURRENT material id, so keys made any of these ways cannot differ.
"""

from __future__ import annotations

from ..context import RequestContext
from ..state import KeyRecord, MaterialRecord
from . import materials
from .policies import default_policy

DAY = materials.DAY


def _unused_key_id(ctx: RequestContext, multi_region: bool) -> str:
    key_id = ctx.rng.key_id(multi_region)
    while ctx.tx.get_key(ctx.account, ctx.region, key_id) is not None:
        # Only a seeded generator restarted over a persistent store repeats an id; draw again.
        key_id = ctx.rng.key_id(multi_region)
    return key_id


def _record(ctx: RequestContext, key_id: str, *, policy: str | None, rotation_period_days: int | None,
            next_rotation_date: float | None = None, pending_window_days: int | None = None,
            **attributes) -> KeyRecord:
    """A key of ``ctx``'s account and Region, made now: the attributes every kind of new key
    gets the same way."""
    key = KeyRecord(account=ctx.account, region=ctx.region, key_id=key_id, arn=ctx.key_arn(key_id),
                    creation_date=ctx.now, policy=policy if policy is not None else default_policy(ctx),
                    **attributes)
    if rotation_period_days is not None:
        key.rotation_enabled = True
        key.rotation_period_days = rotation_period_days
        key.next_rotation_date = (next_rotation_date if next_rotation_date is not None
                                  else ctx.now + rotation_period_days * DAY)
    if pending_window_days is not None and key.key_state == "PendingDeletion":
        key.pending_deletion_window_days = pending_window_days
        key.deletion_date = ctx.now + pending_window_days * DAY
    return key


def _store(ctx: RequestContext, key: KeyRecord, records: list[MaterialRecord],
           tags: list[tuple[str, str]]) -> KeyRecord:
    """Writes the key with its material and tags in the open transaction."""
    for record in records:
        materials.add_material(ctx, key, record)
    materials.mirror_expiry(key, records)
    ctx.tx.insert_key(key)
    for tag_key, tag_value in tags:
        ctx.tx.put_tag(key, tag_key, tag_value)
    ctx.touch(key)
    return key


def create(ctx: RequestContext, *, key_spec: str, key_usage: str, origin: str = "AWS_KMS",
           key_manager: str = "CUSTOMER", description: str = "", policy: str | None = None,
           multi_region: bool = False, rotation_period_days: int | None = None,
           tags: list[tuple[str, str]] = (), material: bytes | None = None) -> KeyRecord:
    """A new key under a fresh id (CreateKey, AWS managed keys), with ``material`` (a backend
    reference made before the transaction) as its first material; an imported key (Origin
    EXTERNAL) starts without and waits in PendingImport."""
    key_id = _unused_key_id(ctx, multi_region)
    records = [] if material is None else [
        MaterialRecord(version=1, material_id=materials.new_material_id(ctx), ref=material, created=ctx.now)
    ]
    key = _record(
        ctx, key_id, policy=policy, rotation_period_days=rotation_period_days,
        key_spec=key_spec, key_usage=key_usage, origin=origin, key_manager=key_manager,
        key_state="PendingImport" if origin == "EXTERNAL" else "Enabled", description=description,
        multi_region=multi_region, multi_region_type="PRIMARY" if multi_region else None,
    )
    return _store(ctx, key, records, list(tags))


def replicate(there: RequestContext, primary: KeyRecord, *, description: str, policy: str | None,
              tags: list[tuple[str, str]]) -> KeyRecord:
    """The replica of multi-Region ``primary`` in ``there``'s Region: the same key id, spec,
    usage, origin, material and rotation settings; its own policy, description and tags. A
    replica of imported material waits in PendingImport for its own import."""
    records = there.tx.key_materials(primary)
    if primary.origin == "EXTERNAL":
        records = [materials.without_material(record) for record in records]
    key = _record(
        there, primary.key_id, policy=policy,
        rotation_period_days=primary.rotation_period_days if primary.rotation_enabled else None,
        next_rotation_date=primary.next_rotation_date,
        key_spec=primary.key_spec, key_usage=primary.key_usage, origin=primary.origin,
        key_manager=primary.key_manager, description=description, multi_region=True,
        multi_region_type="REPLICA", on_demand_rotations=primary.on_demand_rotations,
        custom_key_store_id=primary.custom_key_store_id,
        key_state="Enabled" if primary.origin == "AWS_KMS" else "PendingImport",
    )
    return _store(there, key, records, tags)


def seeded(ctx: RequestContext, key_id: str, *, records: list[MaterialRecord], key_spec: str,
           key_usage: str, origin: str, key_state: str, description: str, policy: str | None,
           multi_region: bool, multi_region_type: str | None, pending_window_days: int | None,
           rotation_period_days: int | None, tags: list[tuple[str, str]]) -> KeyRecord:
    """A seed file's key (or one Region's copy of it) under the id the file fixes, with the
    material the file gives or derives."""
    key = _record(
        ctx, key_id, policy=policy, rotation_period_days=rotation_period_days,
        pending_window_days=pending_window_days, key_spec=key_spec, key_usage=key_usage,
        origin=origin, key_state=key_state, description=description, multi_region=multi_region,
        multi_region_type=multi_region_type,
    )
    return _store(ctx, key, records, tags)
