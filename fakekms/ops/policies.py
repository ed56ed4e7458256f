"""Key policies: stored with the key, GetKeyPolicy, PutKeyPolicy, ListKeyPolicies.

Policies are kept and returned as given; enforcing them is a separate step of the request path.
"""

from __future__ import annotations

import json

from .. import errors
from ..context import RequestContext
from . import operation
from .lookup import find_key

POLICY_NAME = "default"


def default_policy(ctx: RequestContext) -> str:
    """The default key policy AWS gives a key created without one."""
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Id": "key-default-1",
            "Statement": [
                {
                    "Sid": "Enable IAM User Permissions",
                    "Effect": "Allow",
                    "Principal": {"AWS": ctx.root_arn()},
                    "Action": "kms:*",
                    "Resource": "*",
                }
            ],
        },
        indent=2,
    )


def validate_policy(policy: str) -> None:
    try:
        document = json.loads(policy)
    except ValueError as exc:
        raise errors.MalformedPolicyDocumentException(
            f"The new key policy is not valid JSON: {exc}"
        ) from None
    if not isinstance(document, dict) or not isinstance(document.get("Statement"), (list, dict)):
        raise errors.MalformedPolicyDocumentException(
            "The new key policy must be a JSON object with a Statement."
        )


def _check_name(req: dict) -> None:
    name = req.get("PolicyName", POLICY_NAME)
    if name != POLICY_NAME:
        raise errors.NotFoundException("No such policy exists", detail=f"policy name {name!r}; only 'default' exists")


@operation("GetKeyPolicy")
def get_key_policy(ctx: RequestContext, req: dict) -> dict:
    key = find_key(ctx, req["KeyId"])
    _check_name(req)
    return {"Policy": key.policy, "PolicyName": POLICY_NAME}


@operation("PutKeyPolicy")
def put_key_policy(ctx: RequestContext, req: dict) -> None:
    key = find_key(ctx, req["KeyId"])
    _check_name(req)
    validate_policy(req["Policy"])
    key.policy = req["Policy"]
    ctx.tx.update_key(key)


@operation("ListKeyPolicies")
def list_key_policies(ctx: RequestContext, req: dict) -> dict:
    find_key(ctx, req["KeyId"])
    return {"PolicyNames": [POLICY_NAME], "Truncated": False}
