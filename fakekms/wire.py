"""The AWS JSON 1.1 wire protocol: the target header, the body, the caller's credential scope,
and the bytes of a response. Knows nothing of keys."""

from __future__ import annotations

import json
import re

from . import errors, model

CONTENT_TYPE = "application/x-amz-json-1.1"
MAX_BODY_BYTES = 1 << 20

# A UTF-16 surrogate, escaped (\\udc00) or encoded (which json.loads lets through): only a
# body with one is walked for a lone surrogate, which no text can hold.
_SURROGATE = re.compile(rb"\\u[dD][89a-fA-F]|\xed[\xa0-\xbf]")
_CREDENTIAL = re.compile(r"Credential=([^/,\s]+)/\d{8}/([^/,\s]+)/[^/,\s]+/aws4_request")


def operation_from_target(target: str | None) -> str:
    """'TrentService.CreateKey' -> 'CreateKey', or UnknownOperationException."""
    prefix = model.target_prefix() + "."
    if target and target.startswith(prefix):
        name = target[len(prefix):]
        if name in model.operations():
            return name
    raise errors.UnknownOperationException(
        f"Unknown operation {target!r}" if target else "Missing X-Amz-Target header"
    )


def decode_body(raw: bytes) -> dict:
    """The request's JSON object; an empty body is an empty request."""
    if not raw.strip():
        return {}
    try:
        body = json.loads(raw)
    except (ValueError, RecursionError) as exc:
        raise errors.SerializationException(f"Request body is not valid JSON: {exc}") from None
    if not isinstance(body, dict):
        raise errors.SerializationException("Request body must be a JSON object")
    if _SURROGATE.search(raw) and _lone_surrogate(body):
        raise errors.SerializationException("Request body is not valid JSON: a string holds a lone UTF-16 surrogate")
    return body


def _lone_surrogate(value) -> bool:
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return True
        return False
    if isinstance(value, dict):
        return any(_lone_surrogate(k) or _lone_surrogate(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_lone_surrogate(v) for v in value)
    return False


def credential_scope(authorization: str | None) -> tuple[str, str] | None:
    """(access key id, Region) from a SigV4 Authorization header, or None if unsigned."""
    if not authorization:
        return None
    match = _CREDENTIAL.search(authorization)
    return (match.group(1), match.group(2)) if match else None


def encode(payload: dict | None) -> bytes:
    if payload is None:
        return b""
    return json.dumps(payload, separators=(",", ":")).encode()


def error_body(error: errors.KMSError) -> bytes:
    return encode(error.body())
