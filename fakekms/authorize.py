"""The authorize step: every key a call touches, and every alias it names, passes through here
before the operation may use it.

Keys reach an operation only through ``ops.lookup`` (a key id, ARN or alias in the request, or a
key named inside a ciphertext) and the other Regions' copies of a multi-Region key through
``admit`` too, so one ``Authorizer`` sees every (caller, action, resource) a call involves. The
default one applies the rules fakekms has so far: an AWS managed key allows only what its key
policy's Allow statements name. Key policies, IAM policies and grants come next, in this step.
"""

from __future__ import annotations

import fnmatch
import json
from dataclasses import dataclass
from functools import lru_cache

from . import errors
from .context import Caller, RequestContext
from .state import KeyRecord


@dataclass(slots=True)
class AccessRequest:
    """One thing a call needs: ``caller`` performing ``action`` (``kms:Encrypt``) on
    ``resource`` (a key or alias ARN, or ``*`` for the account), with the key if it exists."""

    caller: Caller
    action: str
    resource: str
    key: KeyRecord | None
    operation: str
    region: str


class Authorizer:
    """Allows everything; subclasses refuse by raising ``AccessDeniedException``."""

    def authorize(self, request: AccessRequest) -> None:
        pass


class DefaultAuthorizer(Authorizer):
    """AWS managed keys allow only what their key policy's Allow statements name (use through
    their service, Describe*, Get*, List*); the policy's conditions (kms:ViaService,
    kms:CallerAccount) are not evaluated, since a test calls KMS directly."""

    def authorize(self, request: AccessRequest) -> None:
        key = request.key
        if key is None or key.key_manager != "AWS":
            return
        action = request.action.lower()
        if any(fnmatch.fnmatchcase(action, pattern.lower()) for pattern in _allowed_actions(key.policy)):
            return
        raise denied(request, f"{key.arn} is an AWS managed key; its key policy does not allow {request.action}")


def denied(request: AccessRequest, reason: str) -> errors.KMSError:
    """AWS's refusal when no policy allows the action; ``reason`` goes to the log and audit."""
    return errors.AccessDeniedException(
        f"User: {request.caller.arn} is not authorized to perform: {request.action} on resource: "
        f"{request.resource} because no resource-based policy allows the {request.action} action",
        detail=reason,
    )


@lru_cache(maxsize=256)
def _allowed_actions(policy: str) -> tuple[str, ...]:
    actions: list[str] = []
    for statement in json.loads(policy).get("Statement", []):
        if statement.get("Effect") == "Allow":
            action = statement.get("Action", [])
            actions += [action] if isinstance(action, str) else action
    return tuple(actions)


def _ask(ctx: RequestContext, resource: str, key: KeyRecord | None, action: str | None) -> None:
    ctx.authorizer.authorize(AccessRequest(
        caller=ctx.caller, action=action or f"kms:{ctx.operation}", resource=resource, key=key,
        operation=ctx.operation, region=ctx.region,
    ))


def admit(ctx: RequestContext, key: KeyRecord, action: str | None = None) -> KeyRecord:
    """The call may use ``key`` (for ``action``, by default the operation's own): noted as a
    resource of the call, then authorized."""
    ctx.touch(key)
    _ask(ctx, key.arn, key, action)
    return key


def admit_alias(ctx: RequestContext, alias_arn: str) -> None:
    """The call may act on the alias itself (CreateAlias, UpdateAlias, DeleteAlias)."""
    _ask(ctx, alias_arn, None, None)


def admit_new(ctx: RequestContext, key_arn: str, action: str) -> None:
    """The call may make a key at ``key_arn`` (a replica: kms:CreateKey in its Region)."""
    _ask(ctx, key_arn, None, action)


def admit_account(ctx: RequestContext) -> None:
    """For calls on no key (CreateKey, ListKeys, ListAliases, GenerateRandom): the action on
    the account's ``*``."""
    _ask(ctx, "*", None, None)
