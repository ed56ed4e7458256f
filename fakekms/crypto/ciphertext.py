"""The symmetric ciphertext blob: a self-describing header, then the key backend's sealed body
(AES-256-GCM), with the header and the encryption context bound as associated data.

Layout (all lengths big-endian)::

    01 02 02 00 78          prefix; real KMS blobs start with these bytes ("AQICAHh" in base64)
    u8  len | account       the key's account
    u8  len | key id        any length, so mrk- ids and future forms fit
    u32 material version    which key material sealed it, so Decrypt survives rotation
    12  IV                  } the body, as the key backend seals it
    ..  AES-GCM ciphertext and 16-byte tag

The whole header is authenticated along with the encryption context, so changing any byte of the
blob, or the context, fails the GCM tag: ``InvalidCiphertextException``.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from .. import errors

PREFIX = b"\x01\x02\x02\x00\x78"
# The shortest body: a 12-byte IV and a 16-byte tag around an empty ciphertext.
MIN_BODY_BYTES = 28


@dataclass(frozen=True)
class SealedBlob:
    account: str
    key_id: str
    version: int
    header: bytes
    body: bytes

    def aad(self, context: dict[str, str] | None) -> bytes:
        return associated_data(self.header, context)


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


def header(account: str, key_id: str, version: int) -> bytes:
    """The header of a blob sealed by ``version`` of the key's material."""
    acct, kid = account.encode(), key_id.encode()
    return PREFIX + bytes([len(acct)]) + acct + bytes([len(kid)]) + kid + struct.pack(">I", version)


def associated_data(blob_header: bytes, context: dict[str, str] | None) -> bytes:
    """What the body's tag authenticates: the header and the encryption context."""
    return blob_header + encode_context(context)


def invalid(detail: str) -> errors.KMSError:
    # AWS sends InvalidCiphertextException without a message; the reason goes to the log.
    return errors.InvalidCiphertextException(detail=detail)


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
        raise invalid("not a fakekms symmetric ciphertext blob") from None
    if len(blob) < pos + MIN_BODY_BYTES or not key_id:
        raise invalid("ciphertext blob is truncated")
    return SealedBlob(account, key_id, version, blob[:pos], blob[pos:])
