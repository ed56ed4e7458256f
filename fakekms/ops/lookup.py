"""Finding the keys a call uses: the key a request names (key id, key ARN, alias name or alias
ARN), the key a ciphertext names, and the other Regions' copies of a multi-Region key. Each one
found passes the authorize step before the operation sees it.

Which forms an operation accepts comes from the model: its KeyId documentation says "alias name"
where AWS accepts aliases. GenerateMac and VerifyMac accept aliases too, as the Developer Guide's
list of operations that take aliases says, though their member text does not. Looking up never
writes: an AWS managed key named by its alias was made before the operation ran
(``managed.ensure``).
"""

from __future__ import annotations

import re
from functools import cache

from .. import errors, keystates, model
from ..authorize import admit
from ..context import RequestContext
from ..state import KeyRecord

# A key id: a UUID, or mrk- and 32 hex digits for a multi-Region key.
KEY_ID = re.compile(r"(?:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|mrk-[0-9a-f]{32})")
# An alias name as CreateAlias accepts it.
ALIAS_NAME = re.compile(r"alias/[a-zA-Z0-9/_-]+")
_ALIAS_ALSO = frozenset({"GenerateMac", "VerifyMac"})


@cache
def accepts_alias(operation: str, member: str = "KeyId") -> bool:
    return operation in _ALIAS_ALSO or "alias name" in model.member_doc(operation, member)


def _split_arn(arn: str) -> tuple[str, str, str]:
    """(region, account, resource) of a KMS ARN, or InvalidArnException."""
    parts = arn.split(":", 5)
    if len(parts) != 6 or parts[2] != "kms" or not parts[3] or not parts[4]:
        raise errors.InvalidArnException(f"Invalid arn {arn}")
    return parts[3], parts[4], parts[5]


def _not_found(ctx: RequestContext, key_id: str) -> errors.KMSError:
    return errors.NotFoundException(f"Key '{ctx.key_arn(key_id)}' does not exist")


def _alias_not_found(ctx: RequestContext, alias_name: str) -> errors.KMSError:
    return errors.NotFoundException(f"Alias {ctx.alias_arn(alias_name)} is not found.")


@cache
def cross_account(operation: str) -> bool:
    """Whether the operation takes another account's key, as its documentation says
    ("Cross-account use: Yes")."""
    return re.search(r"Cross-account use</b>:\s*Yes", model.operation_doc(operation)) is not None


def resolve_key_id(ctx: RequestContext, value: str, member: str = "KeyId") -> tuple[str, str]:
    """(account, key id) of the key ``value`` names, following an alias where the operation
    allows one. Another account's key or alias ARN names that account's key only where the
    operation allows cross-account use and policies are enforced (they decide whether it may be
    used)."""
    alias_name = None
    if value.startswith("arn:"):
        arn = value
        region, account, resource = _split_arn(arn)
        if resource.startswith("alias/"):
            if not accepts_alias(ctx.operation, member):
                raise errors.InvalidArnException("Key Aliases are not supported for this operation")
            alias_name = resource
        elif resource.startswith("key/"):
            value = resource[4:]
        else:
            raise errors.InvalidArnException(f"Invalid arn {value}")
        if region != ctx.region:
            # AWS's words for an ARN of another Region name only that Region.
            raise errors.NotFoundException(
                f"Invalid arn {region}", detail=f"the ARN names {region}; the caller is in {ctx.region}"
            )
        if account != ctx.account and _sees_other_accounts(ctx):
            if alias_name is not None:  # another account's alias ARN names that account's alias
                alias = ctx.tx.get_alias(account, ctx.region, alias_name)
                if alias is None:
                    raise errors.NotFoundException(f"Alias {arn} is not found.")
                return account, alias.key_id
            if not KEY_ID.fullmatch(value):
                raise errors.NotFoundException(f"Invalid keyId '{value}'")
            return account, value
        if account != ctx.account:
            # Without enforcement no policy can allow another account, so its keys are not
            # visible; nor through an operation that takes only the caller's own keys.
            raise errors.NotFoundException(
                f"Key '{arn}' does not exist",
                detail=f"the ARN names account {account}; the caller is {ctx.account}",
            )
    elif value.startswith("alias/"):
        if not accepts_alias(ctx.operation, member):
            raise errors.NotFoundException(f"Invalid keyId '{value}'")
        alias_name = value
    if alias_name is not None:
        alias = ctx.tx.get_alias(ctx.account, ctx.region, alias_name)
        if alias is None:
            raise _alias_not_found(ctx, alias_name)
        return ctx.account, alias.key_id
    if not KEY_ID.fullmatch(value):
        raise errors.NotFoundException(f"Invalid keyId '{value}'")
    return ctx.account, value


def _sees_other_accounts(ctx: RequestContext) -> bool:
    return getattr(ctx.authorizer, "cross_account", False) and cross_account(ctx.operation)


def named_alias(ctx: RequestContext, value: str, member: str) -> str | None:
    """The alias of the caller's account and Region that ``value`` names, if the operation
    takes an alias in ``member``; None otherwise. Never raises: the lookup says what is wrong."""
    if value.startswith("arn:"):
        parts = value.split(":", 5)
        if len(parts) != 6 or (parts[3], parts[4]) != (ctx.region, ctx.account):
            return None
        value = parts[5]
    if value.startswith("alias/") and ALIAS_NAME.fullmatch(value) and accepts_alias(ctx.operation, member):
        return value
    return None


def find_key(ctx: RequestContext, value: str, member: str = "KeyId", *, check_state: bool = True,
             action: str | None = None) -> KeyRecord:
    """The key a request names, authorized (for ``action``, by default the operation's), after
    the key-state check for the operation."""
    account, key_id = resolve_key_id(ctx, value, member)
    key = ctx.tx.get_key(account, ctx.region, key_id)
    if key is None:
        raise errors.NotFoundException(f"Key '{value}' does not exist") if account != ctx.account \
            else _not_found(ctx, key_id)
    admit(ctx, key, action)
    if check_state:
        keystates.check(ctx.operation, key.key_state, key.arn)
    return key


def find_by_id(ctx: RequestContext, region: str, key_id: str, action: str | None = None) -> KeyRecord | None:
    """The caller's key ``key_id`` in ``region`` (another Region's copy of a multi-Region key, or
    the key an alias points to), authorized; None if there is none."""
    key = ctx.tx.get_key(ctx.account, region, key_id)
    return admit(ctx, key, action) if key is not None else None


def find_sealing_key(ctx: RequestContext, account: str, key_id: str) -> KeyRecord | None:
    """The key a symmetric ciphertext names, authorized; None if it is not here."""
    visible = account == ctx.account or _sees_other_accounts(ctx)
    key = ctx.tx.get_key(account, ctx.region, key_id) if visible else None
    # ReEncrypt needs kms:ReEncryptFrom on the key that sealed the ciphertext.
    action = "kms:ReEncryptFrom" if ctx.operation == "ReEncrypt" else None
    return admit(ctx, key, action) if key is not None else None
