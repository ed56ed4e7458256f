"""What time does to keys by itself: deletion at the end of the waiting period, automatic
rotation, and the expiry of imported key material.

Nothing runs in the background. Before each operation, every event that fell due since the last
one runs, earliest first, each dated when it fell due: advance the clock three years and a key
rotating yearly has rotated three times, on its three rotation dates.
"""

from __future__ import annotations

import logging

from ..context import RequestContext
from ..state import KeyRecord
from . import materials

log = logging.getLogger("fakekms")

# A guard against a bug looping forever; far more events than 8,000 years of 90-day rotations.
_MAX_EVENTS = 100_000


def catch_up(ctx: RequestContext) -> int:
    """Runs, in the open transaction, every timed event due by ``ctx.now``: read from the due
    dates stored with the keys, so every process sharing the store sees the same events.
    Answers how many ran."""
    for count in range(_MAX_EVENTS):
        key = ctx.tx.next_due_key(ctx.now)
        if key is None:
            return count
        _run_next(ctx, key)
    log.error("more than %d timed events due at once; the rest wait for the next request", _MAX_EVENTS)
    return _MAX_EVENTS


def _run_next(ctx: RequestContext, key: KeyRecord) -> None:
    at = key.due_at()
    if key.key_state == "PendingDeletion" and key.deletion_date == at:
        event = "deleted"
        _delete(ctx, key, at)
    elif key.valid_to == at:
        event = "imported key material expired"
        _expire(ctx, key, at)
    else:
        event = "rotated"
        materials.rotate(ctx, key, at, "AUTOMATIC")
        key.next_rotation_date = at + key.rotation_period_days * materials.DAY
        materials.share_rotation_settings(ctx, key)
    log.info("%s %s at %s (clock time)", key.arn, event, at)


def _delete(ctx: RequestContext, key: KeyRecord, at: float) -> None:
    deleted = ctx.tx.delete_key(key.account, key.region, key.key_id)
    # CloudTrail's DeleteKey names the key ARN in responseElements (entries since December 2022).
    ctx.service_event("DeleteKey", key, at, response={"keyId": key.arn})
    if not key.multi_region or not ctx.tx.key_copies(key.account, key.key_id):
        ctx.retired += [m.ref for m in deleted if m.ref is not None]  # no copy shares it any more
    if not key.is_replica:
        return
    # The last replica gone starts the waiting period of a primary that awaits it.
    remaining = ctx.tx.key_copies(key.account, key.key_id)
    primary = next((k for k in remaining if k.multi_region_type == "PRIMARY"), None)
    if primary is not None and primary.key_state == "PendingReplicaDeletion" and len(remaining) == 1:
        primary.key_state = "PendingDeletion"
        primary.deletion_date = at + primary.pending_deletion_window_days * materials.DAY
        ctx.tx.update_key(primary)


def _expire(ctx: RequestContext, key: KeyRecord, at: float) -> None:
    """Imported material past its ValidTo is deleted; the key waits for it to be imported again."""
    expired = [m for m in ctx.tx.key_materials(key) if m.ref is not None
               and not m.pending and m.valid_to is not None and m.valid_to <= at]
    materials.remove_imported(ctx, key, expired)
    for record in expired:
        ctx.service_event("DeleteExpiredKeyMaterial", key, at,
                          {"keyId": key.key_id, "keyMaterialId": record.material_id})
