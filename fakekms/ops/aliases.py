"""Aliases: CreateAlias, UpdateAlias, DeleteAlias, ListAliases."""

from __future__ import annotations

from .. import errors, keyspecs
from ..authorize import admit_account, admit_alias
from ..context import RequestContext
from ..state import AliasRecord, KeyRecord
from . import managed, operation, paging
from .lookup import ALIAS_NAME, find_by_id, find_key

RESERVED_PREFIX = managed.PREFIX


def check_alias_name(alias_name: str) -> None:
    if not alias_name.startswith("alias/"):
        raise errors.ValidationException(
            'Alias must start with the prefix "alias/". Please see '
            "https://docs.aws.amazon.com/kms/latest/developerguide/kms-alias.html"
        )
    if alias_name.startswith(RESERVED_PREFIX):
        raise errors.NotAuthorizedException(
            f"The alias prefix {RESERVED_PREFIX} is reserved for AWS managed keys: {alias_name}"
        )
    if not ALIAS_NAME.fullmatch(alias_name):
        raise errors.ValidationException(f"{alias_name} contains invalid characters for an alias")


def _target(ctx: RequestContext, target_key_id: str) -> KeyRecord:
    if target_key_id.startswith("alias/") or (
        target_key_id.startswith("arn:") and ":alias/" in target_key_id
    ):
        raise errors.ValidationException("Aliases must refer to keys. Not aliases")
    # An AWS managed key's policy does not allow CreateAlias or UpdateAlias: find_key refuses it.
    return find_key(ctx, target_key_id, "TargetKeyId")


def _key_type(key: KeyRecord) -> str:
    if keyspecs.is_symmetric_encryption(key.key_spec):
        return "symmetric encryption"
    return "HMAC" if keyspecs.is_hmac(key.key_spec) else "asymmetric"


@operation("CreateAlias")
def create_alias(ctx: RequestContext, req: dict) -> None:
    alias_name = req["AliasName"]
    check_alias_name(alias_name)
    admit_alias(ctx, ctx.alias_arn(alias_name))
    key = _target(ctx, req["TargetKeyId"])
    if ctx.tx.get_alias(ctx.account, ctx.region, alias_name) is not None:
        raise errors.AlreadyExistsException(
            f"An alias with the name {ctx.alias_arn(alias_name)} already exists"
        )
    ctx.tx.insert_alias(AliasRecord(ctx.account, ctx.region, alias_name, key.key_id, ctx.now, ctx.now))


@operation("UpdateAlias")
def update_alias(ctx: RequestContext, req: dict) -> None:
    alias_name = req["AliasName"]
    check_alias_name(alias_name)
    alias = ctx.tx.get_alias(ctx.account, ctx.region, alias_name)
    if alias is None:
        raise errors.NotFoundException(f"Alias {ctx.alias_arn(alias_name)} is not found.")
    admit_alias(ctx, ctx.alias_arn(alias_name))
    key = _target(ctx, req["TargetKeyId"])
    current = find_by_id(ctx, ctx.region, alias.key_id)  # the key it points to now
    if current is not None and (
        _key_type(current) != _key_type(key) or current.key_usage != key.key_usage
    ):
        raise errors.ValidationException(
            f"{alias_name} points to a {_key_type(current)} key with KeyUsage {current.key_usage}; "
            f"the new target must be of the same type and KeyUsage, not a {_key_type(key)} key "
            f"with KeyUsage {key.key_usage}."
        )
    alias.key_id = key.key_id
    alias.last_updated_date = ctx.now
    ctx.tx.update_alias(alias)


@operation("DeleteAlias")
def delete_alias(ctx: RequestContext, req: dict) -> None:
    alias_name = req["AliasName"]
    check_alias_name(alias_name)
    alias = ctx.tx.get_alias(ctx.account, ctx.region, alias_name)
    if alias is None:
        raise errors.NotFoundException(f"Alias {ctx.alias_arn(alias_name)} is not found.")
    admit_alias(ctx, ctx.alias_arn(alias_name))
    find_by_id(ctx, ctx.region, alias.key_id)  # DeleteAlias needs the key's permission too
    ctx.tx.delete_alias(ctx.account, ctx.region, alias_name)


@operation("ListAliases")
def list_aliases(ctx: RequestContext, req: dict) -> dict:
    key_id = None
    if req.get("KeyId") is not None:
        key_id = find_key(ctx, req["KeyId"]).key_id
    else:
        admit_account(ctx)
    limit = req.get("Limit", 50)
    after = paging.read_marker("aliases", req.get("Marker"), "")
    stored = ctx.tx.list_aliases(ctx.account, ctx.region, after, limit + 1, key_id)
    entries = [_entry(ctx, a) for a in stored]
    if key_id is None:
        # Stored rows are the first limit + 1 names after the marker, so any predefined alias
        # that sorts within this page and has a key already is among them.
        used = {a.alias_name for a in stored}
        entries += [{"AliasName": name, "AliasArn": ctx.alias_arn(name)}
                    for name in managed.PREDEFINED if name > after and name not in used]
        entries.sort(key=lambda e: e["AliasName"])
    page, more = entries[:limit], len(entries) > limit
    result = {"Aliases": page, "Truncated": more}
    if more:
        result["NextMarker"] = paging.make_marker("aliases", page[-1]["AliasName"])
    return result


def _entry(ctx: RequestContext, alias: AliasRecord) -> dict:
    return {
        "AliasName": alias.alias_name,
        "AliasArn": ctx.alias_arn(alias.alias_name),
        "TargetKeyId": alias.key_id,
        "CreationDate": alias.creation_date,
        "LastUpdatedDate": alias.last_updated_date,
    }
