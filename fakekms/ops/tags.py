"""Tags: TagResource, UntagResource, ListResourceTags.

Lengths (key 1-128, value 0-256) are the model's constraints and fail as ValidationException
before a handler runs, as at AWS; the rules below are KMS's own and fail as TagException.
"""

from __future__ import annotations

from .. import errors
from ..context import RequestContext
from . import operation, paging
from .lookup import find_key

MAX_TAGS_PER_KEY = 50


def _reserved(tag_key: str) -> bool:
    return tag_key.lower().startswith("aws:")


def validate_new_tags(tags: list[dict], existing: list[str]) -> None:
    """TagException for a reserved or repeated key, or for more than 50 tags on the key."""
    seen: set[str] = set()
    for tag in tags:
        tag_key = tag["TagKey"]
        if _reserved(tag_key):
            raise errors.TagException(f"Tag keys beginning with 'aws:' are reserved: {tag_key}")
        if tag_key in seen:
            raise errors.TagException(f"Duplicate tag key in the request: {tag_key}")
        seen.add(tag_key)
    total = len(seen | set(existing))
    if total > MAX_TAGS_PER_KEY:
        raise errors.TagException(
            f"A KMS key can have at most {MAX_TAGS_PER_KEY} tags; this request would give it {total}."
        )


@operation("TagResource")
def tag_resource(ctx: RequestContext, req: dict) -> None:
    key = find_key(ctx, req["KeyId"])
    existing = [k for k, _ in ctx.tx.tags(key)]
    validate_new_tags(req["Tags"], existing)
    for tag in req["Tags"]:
        ctx.tx.put_tag(key, tag["TagKey"], tag["TagValue"])


@operation("UntagResource")
def untag_resource(ctx: RequestContext, req: dict) -> None:
    key = find_key(ctx, req["KeyId"])
    for tag_key in req["TagKeys"]:
        if _reserved(tag_key):
            raise errors.TagException(f"Tag keys beginning with 'aws:' are reserved: {tag_key}")
    for tag_key in req["TagKeys"]:
        ctx.tx.delete_tag(key, tag_key)


@operation("ListResourceTags")
def list_resource_tags(ctx: RequestContext, req: dict) -> dict:
    key = find_key(ctx, req["KeyId"])
    limit = req.get("Limit", 50)
    start = paging.int_position("tags", req.get("Marker"))
    tags = ctx.tx.tags(key)
    page = tags[start:start + limit]
    result = {"Tags": [{"TagKey": k, "TagValue": v} for k, v in page]}
    more = start + limit < len(tags)
    result["Truncated"] = more
    if more:
        result["NextMarker"] = paging.make_marker("tags", str(start + limit))
    return result
