"""Key policies: stored with the key, GetKeyPolicy, PutKeyPolicy, ListKeyPolicies.

Policies are kept and returned as given, after AWS's checks (JSON, statements, principals, and
the lockout safety check unless BypassPolicyLockoutSafetyCheck is set), whether or not policies
are enforced; enforcing them is the authorize step's business.
"""

from __future__ import annotations

import json
import re

from .. import errors
from .. import policy as policy_language
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


_SERVICE_PRINCIPAL = re.compile(r"[a-z0-9-]+(\.[a-z0-9-]+)*\.amazonaws\.com(\.cn)?")
# A key policy's size quota (the developer guide's "Key policy document size": 32 KB).
MAX_POLICY_BYTES = 32768
_INVALID_PRINCIPALS = "Policy contains a statement with one or more invalid principals."
_LOCKOUT = "The new key policy will not allow you to update the key policy in the future."


def validate_policy(policy: str, ctx: RequestContext | None = None, *, bypass_lockout: bool = True,
                    key_arn: str = "*") -> None:
    """AWS's checks of a new key policy; with ``ctx`` and without ``bypass_lockout``, also the
    lockout safety check: the caller must still be allowed to call PutKeyPolicy on the key."""
    if len(policy.encode()) > MAX_POLICY_BYTES:
        raise errors.MalformedPolicyDocumentException(
            f"The new key policy is {len(policy.encode())} bytes; a key policy may have at most "
            f"{MAX_POLICY_BYTES} bytes (32 KB).")
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
    try:
        statements = policy_language.parse(document)["Statement"]
    except policy_language.PolicyError as exc:
        raise errors.MalformedPolicyDocumentException(f"The new key policy is not valid: {exc}.") from None
    for index, statement in enumerate(statements):
        element = statement.get("Principal", statement.get("NotPrincipal"))
        if element is None:
            raise errors.MalformedPolicyDocumentException(
                _INVALID_PRINCIPALS, detail=f"Statement[{index}] names no Principal")
        if not _valid_principals(element):
            raise errors.MalformedPolicyDocumentException(
                _INVALID_PRINCIPALS, detail=f"Statement[{index}] Principal {json.dumps(element)}")
    if ctx is not None and not bypass_lockout and not _still_allows_put(ctx, document, key_arn):
        raise errors.MalformedPolicyDocumentException(
            _LOCKOUT, detail=f"{ctx.caller.arn} could not call PutKeyPolicy under the new policy")


def _valid_principals(element) -> bool:
    if element == "*":
        return True
    if not isinstance(element, dict) or not element or set(element) - {"AWS", "Service", "Federated"}:
        return False
    aws = element.get("AWS", [])
    services = element.get("Service", [])
    aws = aws if isinstance(aws, list) else [aws]
    services = services if isinstance(services, list) else [services]
    return (all(isinstance(p, str) and (p == "*" or policy_language.PRINCIPAL.fullmatch(p)) for p in aws)
            and all(isinstance(s, str) and _SERVICE_PRINCIPAL.fullmatch(s) for s in services))


def _still_allows_put(ctx: RequestContext, document: dict, key_arn: str) -> bool:
    """The lockout safety check: the new policy allows the caller kms:PutKeyPolicy (naming it,
    or its account when the caller is the account's root or its IAM policies allow it)."""
    from .. import condition_keys

    caller = ctx.caller
    principal = policy_language.Principal(caller.arn, caller.account, role=caller.session_issuer)
    question = policy_language.Request("kms:PutKeyPolicy", key_arn, principal,
                                       condition_keys.for_request(ctx, None, "kms:PutKeyPolicy"))
    verdict = policy_language.evaluate(document, question, resource_policy=True)
    if verdict.denies or not verdict.allows:
        return False
    if any(not m.by_account for m in verdict.allows) or caller.type == "Root":
        return True
    return any(policy_language.evaluate(p, question, resource_policy=False).effect == "Allow"
               for p in caller.policies)


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
    validate_policy(req["Policy"], ctx, bypass_lockout=bool(req.get("BypassPolicyLockoutSafetyCheck")),
                    key_arn=key.arn)
    key.policy = req["Policy"]
    ctx.tx.update_key(key)


@operation("ListKeyPolicies")
def list_key_policies(ctx: RequestContext, req: dict) -> dict:
    find_key(ctx, req["KeyId"])
    return {"PolicyNames": [POLICY_NAME], "Truncated": False}
