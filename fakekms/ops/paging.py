"""Opaque paging markers, as AWS hands out: the position is encoded, never exposed."""

from __future__ import annotations

import base64
import binascii

from .. import errors


def make_marker(kind: str, position: str) -> str:
    return base64.urlsafe_b64encode(f"{kind}:{position}".encode()).decode().rstrip("=")


def read_marker(kind: str, marker: str | None, default: str) -> str:
    if marker is None:
        return default
    try:
        raw = base64.urlsafe_b64decode(marker + "=" * (-len(marker) % 4)).decode()
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raw = ""
    prefix = kind + ":"
    if not raw.startswith(prefix):
        raise errors.InvalidMarkerException("Invalid marker", detail=f"not a {kind} marker: {marker!r}")
    return raw[len(prefix):]


def int_position(kind: str, marker: str | None) -> int:
    position = read_marker(kind, marker, "0")
    if not position.isdigit():
        raise errors.InvalidMarkerException("Invalid marker")
    return int(position)


def positioned_page(rows: list, limit: int, kind: str, member: str, render) -> dict:
    """A page of (position, item) rows read ``limit + 1`` at a time: ``member`` lists the first
    ``limit`` items rendered, Truncated says whether more follow, NextMarker where they start."""
    page, more = rows[:limit], len(rows) > limit
    result = {member: [render(item) for _, item in page], "Truncated": more}
    if more:
        result["NextMarker"] = make_marker(kind, str(page[-1][0]))
    return result
