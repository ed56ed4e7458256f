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

# How many wrapping key pairs of each spec are kept made ahead of need.
_DEPTH = {"RSA_2048": 4, "RSA_3072": 2, "RSA_4096": 1}
_ready: dict[str, list[bytes]] = {}
_filling: set[str] = set()
_lock = threading.Lock()


def _generate(spec: str) -> bytes:
    private = rsa.generate_private_key(public_exponent=65537, key_size=int(spec[4:]))
    der = private.private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    load_private_key(der)  # parsing checks the RSA key, which is slow: done here, ahead, and cached
    return der


def wrapping_key(spec: str) -> bytes:
    """A PKCS#8 DER RSA private key of ``spec``, new for every call: AWS gives each
    GetParametersForImport its own wrapping key pair, and material wrapped for one import token
    does not import with another. RSA keys take up to seconds to make, so a few of each spec
    asked for are made ahead in a background thread; one is made here only when none is ready."""
    with _lock:
        ready = _ready.setdefault(spec, [])
        made = ready.pop() if ready else None
    _refill(spec)
    return made if made is not None else _generate(spec)


def _refill(spec: str) -> None:
    with _lock:
        if spec in _filling or len(_ready[spec]) >= _DEPTH.get(spec, 1):
            return
        _filling.add(spec)
    threading.Thread(target=_fill, args=(spec,), name=f"fakekms-wrapping-{spec}", daemon=True).start()


def _fill(spec: str) -> None:
    try:
        while True:
            with _lock:
                if len(_ready[spec]) >= _DEPTH.get(spec, 1):
                    return
            made = _generate(spec)
            with _lock:
                _ready[spec].append(made)
    finally:
        with _lock:
            _filling.discard(spec)


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
