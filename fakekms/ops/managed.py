"""AWS managed keys: the keys behind ``alias/aws/<service>``, made on first use.

AWS makes such a key the first time a service uses it; here the first call that names the alias
makes it, before the operation runs, so that looking the alias up never writes. What customers
may do with one is what its key policy allows (the authorize step applies it): use through the
service, and Describe*, Get* and List*.
"""

from __future__ import annotations

import json

from ..context import RequestContext
from ..state import AliasRecord, KeyRecord
from . import factory
from .lookup import named_alias

PREFIX = "alias/aws/"
# The aliases AWS predefines in every account and Region before any service has used its key:
# ListAliases shows them without a TargetKeyId until the key exists.
PREDEFINED = (
    "alias/aws/acm", "alias/aws/dynamodb", "alias/aws/ebs", "alias/aws/elasticfilesystem",
    "alias/aws/es", "alias/aws/glue", "alias/aws/kinesisvideo", "alias/aws/lambda", "alias/aws/rds",
    "alias/aws/redshift", "alias/aws/s3", "alias/aws/secretsmanager", "alias/aws/ssm",
    "alias/aws/xray",
)
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


def ensure(ctx: RequestContext, request: dict) -> None:
    """Makes the AWS managed key of every ``alias/aws/<service>`` the request names (in a key id
    member that takes aliases) and that does not exist yet."""
    for member, value in request.items():
        if not (isinstance(value, str) and PREFIX in value and member.endswith("KeyId")):
            continue
        alias_name = named_alias(ctx, value, member)
        if (alias_name is not None and alias_name.startswith(PREFIX)
                and ctx.tx.get_alias(ctx.account, ctx.region, alias_name) is None):
            create(ctx, alias_name)


def create(ctx: RequestContext, alias_name: str) -> KeyRecord:
    """The AWS managed key for ``alias/aws/<service>``, made now with its alias."""
    service = alias_name[len(PREFIX):]
    key = factory.create(
        ctx,
        key_spec="SYMMETRIC_DEFAULT",
        key_usage="ENCRYPT_DECRYPT",
        key_manager="AWS",
        description=f"Default key that protects my {service} data when no other key is defined",
        policy=managed_policy(ctx, service),
        rotation_period_days=ROTATION_PERIOD,
        material=ctx.generate("SYMMETRIC_DEFAULT"),
    )
    ctx.tx.insert_alias(AliasRecord(ctx.account, ctx.region, alias_name, key.key_id, ctx.now, ctx.now))
    return key
