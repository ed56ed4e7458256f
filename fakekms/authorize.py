"""The authorize step: every key a call touches, and every alias it names, passes through here
before the operation may use it.

Keys reach an operation only through ``ops.lookup`` (a key id, ARN or alias in the request, or a
key named inside a ciphertext) and the other Regions' copies of a multi-Region key through
``admit`` too, so one ``Authorizer`` sees every (caller, action, resource) a call involves. The
default one (enforcement off) lets everything through but what an AWS managed key's policy does
not name; ``PolicyAuthorizer`` (``--enforce-policies``) decides as AWS KMS does, from the key
policy, the caller's IAM policies and the key's grants (``policy`` evaluates each document).
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
    # The call, for what a decision reads beyond these: condition keys, the key's grants.
    ctx: RequestContext | None = None


class Authorizer:
    """Allows everything; subclasses refuse by raising ``AccessDeniedException``."""

    # Whether another account's key, named by its ARN, is looked up at all: only where policies
    # can allow it.
    cross_account = False

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


# AWS's endings of an AccessDeniedException message, by what decided it.
_WHY = {
    "no-resource-allow": "because no resource-based policy allows the {action} action",
    "no-identity-allow": "because no identity-based policy allows the {action} action",
    "resource-deny": "with an explicit deny in a resource-based policy",
    "identity-deny": "with an explicit deny in an identity-based policy",
}


def denied(request: AccessRequest, reason: str, why: str = "no-resource-allow") -> errors.KMSError:
    """AWS's refusal for the case ``why``; ``reason`` (fakekms's) goes to the log and audit."""
    return errors.AccessDeniedException(
        f"User: {request.caller.arn} is not authorized to perform: {request.action} on resource: "
        f"{request.resource} " + _WHY[why].format(action=request.action),
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
        operation=ctx.operation, region=ctx.region, ctx=ctx,
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


def admit_account(ctx: RequestContext, action: str | None = None) -> None:
    """For calls on no key (CreateKey, ListKeys, ListAliases, GenerateRandom): the action (by
    default the operation's) on the account's ``*``."""
    _ask(ctx, "*", None, action)


class PolicyAuthorizer(Authorizer):
    """Authorization as AWS KMS decides it (``--enforce-policies``): an explicit Deny in the key
    policy or the caller's IAM policies wins; a key policy statement naming the caller allows; one
    naming only the caller's account delegates to IAM (the account's root is allowed whatever
    IAM says); a grant whose grantee is the caller allows its operations when its constraints
    hold. Calls on no key, or on an alias, are decided by IAM policies alone. Another account's
    key needs both: its key policy must allow the caller or the caller's account, and the
    caller's IAM policies must allow the call (or a grant must)."""

    cross_account = True

    def authorize(self, request: AccessRequest) -> None:
        from . import condition_keys, policy

        caller, key, ctx = request.caller, request.key, request.ctx
        context, resolve = condition_keys.question(ctx, key, request.action) if ctx else ({}, None)
        question = policy.Request(request.action, request.resource, _principal(caller), context, resolve,
                                  lowered=True)
        identity = [policy.evaluate(p, question, resource_policy=False) for p in caller.policies]
        identity_denies = [m for v in identity for m in v.denies]
        identity_allows = caller.type == "Root" or any(v.allows for v in identity)
        if key is None:
            if identity_denies:
                raise denied(request, f"the caller's IAM {policy.describe(identity_denies[0])}", "identity-deny")
            if not identity_allows:
                raise denied(request, "no IAM policy of the caller allows it", "no-identity-allow")
            return
        verdict = policy.evaluate(key.policy, question, resource_policy=True)
        if verdict.denies:
            raise denied(request, f"the key policy's {policy.describe(verdict.denies[0])}", "resource-deny")
        if identity_denies:
            raise denied(request, f"the caller's IAM {policy.describe(identity_denies[0])}", "identity-deny")
        if (request.action == "kms:RetireGrant" and ctx is not None and ctx.grant is not None
                and ctx.grant.key_id == key.key_id and may_retire(caller, ctx.grant)):
            return  # the grant itself lets this caller retire it
        external = key.account != caller.account
        if not external and any(not m.by_account for m in verdict.allows):
            return
        if verdict.allows and identity_allows:
            return
        if ctx is not None and _granted(ctx, key, request.action):
            return
        if verdict.allows:
            raise denied(request, "the key policy allows the caller's account, and no IAM policy of the "
                                  "caller nor a grant allows it", "no-identity-allow")
        near = "; ".join(policy.describe(m) for m in verdict.near[:3]) or "no statement names this action"
        raise denied(request, f"no statement of the key policy allows it, and no grant ({near})")


@lru_cache(maxsize=1024)
def _principal(caller: Caller):
    from . import policy

    return policy.Principal(caller.arn, caller.account, role=caller.session_issuer)


def _granted(ctx: RequestContext, key: KeyRecord, action: str) -> bool:
    """A grant on ``key`` for the caller that includes ``action`` and whose constraints hold; a
    service principal's grant serves that service's calls for its SourceArn only."""
    from .condition_keys import encryption_context

    caller = ctx.caller
    operation = action.split(":", 1)[1]
    context = encryption_context(ctx.params or {}, action) or {}
    for _, grant in ctx.tx.grants(key.account, key.region, key_id=key.key_id):
        named = _names(caller, grant.grantee_principal)
        if grant.grantee_service_principal is not None:
            named = (grant.grantee_service_principal == caller.invoked_by
                     and (grant.constraints or {}).get("SourceArn") == caller.source_arn)
        if not named or operation not in grant.operations:
            continue
        if _constraints_hold(grant.constraints or {}, context):
            return True
    return False


def _constraints_hold(constraints: dict, context: dict) -> bool:
    """Grant constraints: context keys compared without case, values with (as the developer
    guide says)."""
    lowered = {k.lower(): v for k, v in context.items()}
    if "EncryptionContextEquals" in constraints:
        wanted = {k.lower(): v for k, v in constraints["EncryptionContextEquals"].items()}
        return lowered == wanted
    if "EncryptionContextSubset" in constraints:
        return all(lowered.get(k.lower()) == v for k, v in constraints["EncryptionContextSubset"].items())
    return True


def may_retire(caller: Caller, grant) -> bool:
    """Who may retire a grant whatever the policies say (the developer guide's "Retiring and
    revoking grants"): its retiring principal (a grant to a role covers the role's sessions), a
    grantee whose grant includes RetireGrant, and the account that created it."""
    if caller.arn == grant.issuing_account or _names(caller, grant.retiring_principal):
        return True
    return _names(caller, grant.grantee_principal) and "RetireGrant" in grant.operations


def _names(caller: Caller, principal: str | None) -> bool:
    if principal is None:
        return False
    if principal in (caller.arn, caller.session_issuer):
        return True
    return caller.type == "Root" and principal == caller.account

