"""Wrapping keys for imported key material: the RSA key pair GetParametersForImport hands out and
the unwrapping ImportKeyMaterial does, for every WrappingAlgorithm AWS accepts.

RSAES_OAEP_* wrap the material directly with RSA-OAEP. RSA_AES_KEY_WRAP_* wrap a fresh AES key
with RSA-OAEP and the material with that AES key (AES key wrap with padding, RFC 5649); the
two parts are sent concatenated, RSA part first, as ``openssl pkeyutl`` + ``openssl enc
-id-aes256-wrap-pad`` produce them.
"""

from __future__ import annotations

import threading

from cryptography.hazmat.primitives import hashes, keywrap, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from .software import load_private_key

_pairs: dict[str, bytes] = {}
_lock = threading.Lock()


def wrapping_key(spec: str) -> bytes:
    """A PKCS#8 DER RSA private key of ``spec``. One per spec and process: generating RSA keys
    takes up to seconds, and each import token records the key it was issued with."""
    with _lock:
        if spec not in _pairs:
            private = rsa.generate_private_key(public_exponent=65537, key_size=int(spec[4:]))
            _pairs[spec] = private.private_bytes(
                serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
        return _pairs[spec]


def _oaep(algorithm: str) -> padding.OAEP:
    digest = hashes.SHA256() if algorithm.endswith("SHA_256") else hashes.SHA1()
    return padding.OAEP(mgf=padding.MGF1(algorithm=digest), algorithm=digest, label=None)


def unwrap(private_der: bytes, algorithm: str, wrapped: bytes) -> bytes | None:
    """The key material inside ``wrapped``, or None if it was not wrapped for this key and
    algorithm."""
    private = load_private_key(private_der)
    rsa_bytes = private.key_size // 8
    try:
        if algorithm.startswith("RSAES_OAEP_"):
            return private.decrypt(wrapped, _oaep(algorithm))
        if len(wrapped) <= rsa_bytes:
            return None
        aes_key = private.decrypt(wrapped[:rsa_bytes], _oaep(algorithm))
        if len(aes_key) not in (16, 24, 32):
            return None
        return keywrap.aes_key_unwrap_with_padding(aes_key, wrapped[rsa_bytes:])
    except (ValueError, keywrap.InvalidUnwrap):
        return None
