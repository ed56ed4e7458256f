"""Multi-Region keys: ReplicateKey and UpdatePrimaryRegion.

Every copy is a key of its own Region (own policy, tags, aliases, description and key state)
sharing the key id, key spec and usage, origin, key material and rotation settings with the
others. DescribeKey's MultiRegionConfiguration is read from the copies themselves, so it is never
out of step.
"""

from __future__ import annotations

import dataclasses

from .. import errors
from ..authorize import admit_new
from ..context import RequestContext
from ..state import KeyRecord
from . import factory, materials, operation
from .keys import key_metadata
from .lookup import find_by_id, find_key
from .policies import validate_policy
from .tags import validate_new_tags


def _require_primary(key: KeyRecord, ctx: RequestContext) -> None:
    if not key.multi_region:
        raise errors.UnsupportedOperationException(f"{key.arn} is not a multi-Region key.")
    materials.require_not_replica(ctx, key)


def _in_region(ctx: RequestContext, region: str) -> RequestContext:
    """The same call, as seen from ``region``: its keys are still the call's keys."""
    return dataclasses.replace(ctx, region=region)


@operation("ReplicateKey")
def replicate_key(ctx: RequestContext, req: dict) -> dict:
    key = find_key(ctx, req["KeyId"])
    _require_primary(key, ctx)
    region = req["ReplicaRegion"]
    there = _in_region(ctx, region)
    if region == ctx.region:
        raise errors.ValidationException(
            f"The replica must be in a Region other than its primary key's ({ctx.region})."
        )
    if there.partition != ctx.partition:
        raise errors.ValidationException(
            f"{region} is in partition {there.partition}; a replica must be in the primary key's "
            f"partition ({ctx.partition})."
        )
    if find_by_id(ctx, region, key.key_id) is not None:
        raise errors.AlreadyExistsException(f"Replica key {there.key_arn(key.key_id)} already exists.")
    policy = req.get("Policy")
    if policy is not None:
        validate_policy(policy, there, bypass_lockout=bool(req.get("BypassPolicyLockoutSafetyCheck")),
                        key_arn=there.key_arn(key.key_id))
    tags = req.get("Tags", [])
    validate_new_tags(tags, existing=[])
    # Replicating is CreateKey in the replica's Region as much as ReplicateKey on the primary.
    admit_new(ctx, there.key_arn(key.key_id), "kms:CreateKey")

    replica = factory.replicate(there, key, description=req.get("Description", ""), policy=policy,
                                tags=[(t["TagKey"], t["TagValue"]) for t in tags])
    metadata = key_metadata(there, replica)
    # AWS answers while the replica is still being made; it is usable by the next call.
    metadata.update(KeyState="Creating", Enabled=False)
    metadata.pop("CurrentKeyMaterialId", None)  # not in AWS's ReplicaKeyMetadata
    result = {"ReplicaKeyMetadata": metadata, "ReplicaPolicy": replica.policy}
    if tags:  # AWS leaves ReplicaTags out rather than answer an empty list
        result["ReplicaTags"] = [{"TagKey": t["TagKey"], "TagValue": t["TagValue"]} for t in tags]
    return result


@operation("UpdatePrimaryRegion")
def update_primary_region(ctx: RequestContext, req: dict) -> None:
    key = find_key(ctx, req["KeyId"])
    _require_primary(key, ctx)
    region = req["PrimaryRegion"]
    if region == ctx.region:
        raise errors.ValidationException(f"{key.arn} is already the primary key; its Region is {region}.")
    replica = find_by_id(ctx, region, key.key_id)
    if replica is None:
        raise errors.NotFoundException(
            f"Key '{_in_region(ctx, region).key_arn(key.key_id)}' does not exist",
            detail=f"no replica of {key.key_id} in {region}",
        )
    if replica.pending_deletion:
        raise errors.KMSInvalidStateException(f"{replica.arn} is pending deletion.")
    key.multi_region_type, replica.multi_region_type = "REPLICA", "PRIMARY"
    ctx.tx.update_key(key)
    ctx.tx.update_key(replica)
