"""The symmetric ciphertext blob: self-describing AES-256-GCM, with the encryption context bound.

Layout (all lengths big-endian)::

    01 02 02 00 78          prefix; real KMS blobs start with these bytes ("AQICAHh" in base64)
    u8  len | account       the key's account
    u8  len | key id        any length, so mrk- ids and future forms fit
    u32 material version    which key material sealed it, so Decrypt survives rotation
    12  IV
    ..  AES-GCM ciphertext and 16-byte tag

The whole header is authenticated along with the encryption context, so changing any byte of the
blob, or the context, fails the GCM tag: ``InvalidCiphertextException``.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from .. import errors
from ..seeding import RandomSource

PREFIX = b"\x01\x02\x02\x00\x78"
IV_BYTES = 12
TAG_BYTES = 16


@dataclass(frozen=True)
class SealedBlob:
    account: str
    key_id: str
    version: int
    header: bytes
    iv: bytes
    body: bytes


def encode_context(context: dict[str, str] | None) -> bytes:
    """A canonical, unambiguous encoding of an EncryptionContext.

    Pairs sorted by key bytes, every key and value length-prefixed: {"a": "bc"} and {"ab": "c"}
    encode differently, and the order a client sends pairs in does not matter.
    """
    items = sorted(
        (k.encode("utf-8", "surrogatepass"), v.encode("utf-8", "surrogatepass"))
        for k, v in (context or {}).items()
    )
    out = [struct.pack(">I", len(items))]
    for key, value in items:
        out += [struct.pack(">I", len(key)), key, struct.pack(">I", len(value)), value]
    return b"".join(out)


def _header(account: str, key_id: str, version: int) -> bytes:
    acct, kid = account.encode(), key_id.encode()
    return PREFIX + bytes([len(acct)]) + acct + bytes([len(kid)]) + kid + struct.pack(">I", version)


def seal(
    account: str,
    key_id: str,
    version: int,
    secret: bytes,
    plaintext: bytes,
    context: dict[str, str] | None,
    rng: RandomSource,
) -> bytes:
    header = _header(account, key_id, version)
    iv = rng.token_bytes(IV_BYTES)
    body = AESGCM(secret).encrypt(iv, plaintext, header + encode_context(context))
    return header + iv + body


def _invalid(detail: str) -> errors.KMSError:
    return errors.InvalidCiphertextException(
        "The ciphertext is invalid, or was not produced with the given encryption context.",
        detail=detail,
    )


def parse(blob: bytes) -> SealedBlob:
    """The blob's header fields, or InvalidCiphertextException if it is not a fakekms blob."""
    try:
        if not blob.startswith(PREFIX):
            raise ValueError("prefix")
        pos = len(PREFIX)
        n = blob[pos]
        account = blob[pos + 1 : pos + 1 + n].decode("ascii")
        pos += 1 + n
        n = blob[pos]
        key_id = blob[pos + 1 : pos + 1 + n].decode("ascii")
        pos += 1 + n
        (version,) = struct.unpack_from(">I", blob, pos)
        pos += 4
    except (IndexError, ValueError, struct.error, UnicodeDecodeError):
        raise _invalid("not a fakekms symmetric ciphertext blob") from None
    if len(blob) < pos + IV_BYTES + TAG_BYTES or not key_id:
        raise _invalid("ciphertext blob is truncated")
    iv, body = blob[pos : pos + IV_BYTES], blob[pos + IV_BYTES :]
    return SealedBlob(account, key_id, version, blob[:pos], iv, body)


def open_blob(sealed: SealedBlob, secret: bytes, context: dict[str, str] | None) -> bytes:
    try:
        return AESGCM(secret).decrypt(sealed.iv, sealed.body, sealed.header + encode_context(context))
    except InvalidTag:
        raise _invalid("GCM tag mismatch: wrong encryption context, or the blob was altered") from None
