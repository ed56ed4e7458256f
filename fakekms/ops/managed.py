"""AWS managed keys: the keys behind ``alias/aws/<service>``, made on first use.

AWS makes such a key the first time a service uses it; here the first call that names the alias
makes it. What customers may do with one is what its key policy allows: use through the service,
and Describe*, Get* and List*. Everything else (disabling, deleting, changing its policy or
rotation) is denied with AccessDeniedException, as AWS's policy evaluation denies it. The policy's
conditions (kms:ViaService, kms:CallerAccount) are not evaluated: a test calls KMS directly.
"""

from __future__ import annotations

import fnmatch
import json

from .. import errors
from ..context import RequestContext
from ..state import AliasRecord, KeyRecord
from . import materials

PREFIX = "alias/aws/"
ROTATION_PERIOD = 365  # AWS managed keys rotate yearly, always


def managed_policy(ctx: RequestContext, service: str) -> str:
    """The key policy AWS gives an AWS managed key."""
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Id": f"auto-{service}-1",
            "Statement": [
                {
                    "Sid": f"Allow access through {service} for all principals in the account that "
                           f"are authorized to use {service}",
                    "Effect": "Allow",
                    "Principal": {"AWS": "*"},
                    "Action": ["kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*",
                               "kms:CreateGrant", "kms:DescribeKey"],
                    "Resource": "*",
                    "Condition": {
                        "StringEquals": {
                            "kms:CallerAccount": ctx.account,
                            "kms:ViaService": f"{service}.{ctx.region}.amazonaws.com",
                        }
                    },
                },
                {
                    "Sid": "Allow direct access to key metadata to the account",
                    "Effect": "Allow",
                    "Principal": {"AWS": ctx.root_arn()},
                    "Action": ["kms:Describe*", "kms:Get*", "kms:List*", "kms:RevokeGrant"],
                    "Resource": "*",
                },
            ],
        },
        indent=2,
    )


def create(ctx: RequestContext, alias_name: str) -> KeyRecord:
    """The AWS managed key for ``alias/aws/<service>``, made now with its alias."""
    service = alias_name[len(PREFIX):]
    key = materials.new_key(
        ctx,
        key_spec="SYMMETRIC_DEFAULT",
        key_usage="ENCRYPT_DECRYPT",
        key_state="Enabled",
        key_manager="AWS",
        description=f"Default key that protects my {service} data when no other key is defined",
        policy=managed_policy(ctx, service),
        rotation_enabled=True,
        rotation_period_days=ROTATION_PERIOD,
        next_rotation_date=ctx.now + ROTATION_PERIOD * materials.DAY,
    )
    ctx.tx.insert_alias(AliasRecord(ctx.account, ctx.region, alias_name, key.key_id, ctx.now, ctx.now))
    return key


def _allowed_actions(policy: str) -> list[str]:
    actions = []
    for statement in json.loads(policy).get("Statement", []):
        if statement.get("Effect") == "Allow":
            action = statement.get("Action", [])
            actions += [action] if isinstance(action, str) else action
    return actions


def authorize(ctx: RequestContext, key: KeyRecord) -> None:
    """AccessDeniedException unless the AWS managed key's policy allows the operation."""
    if key.key_manager != "AWS":
        return
    action = f"kms:{ctx.operation}".lower()
    if any(fnmatch.fnmatchcase(action, pattern.lower()) for pattern in _allowed_actions(key.policy)):
        return
    raise errors.AccessDeniedException(
        f"User: {ctx.root_arn()} is not authorized to perform: kms:{ctx.operation} on resource: "
        f"{key.arn} because no resource-based policy allows the kms:{ctx.operation} action",
        detail=f"{key.arn} is an AWS managed key; its key policy does not allow kms:{ctx.operation}",
    )
