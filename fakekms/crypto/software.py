"""The software key backend, on ``cryptography``: key material for every KeySpec, kept in the
store.

A reference is the material itself: raw secret bytes for symmetric and HMAC keys, PKCS#8 DER for
every asymmetric private key. Each spec generates only its own material, and the heavy asymmetric
modules are imported only when such a key is made.
"""

from __future__ import annotations

import hmac
from functools import lru_cache

from ..seeding import RandomSource
from . import mlkem
from .backend import ImportedMaterial, KeyBackend, MaterialError, UnwrapError, imported_material_id

GCM_IV_BYTES = 12
GCM_TAG_BYTES = 16

# Secret length in bytes for the symmetric specs (AES-256-GCM; HMAC keys as long as the digest).
_SECRET_BYTES = {
    "SYMMETRIC_DEFAULT": 32,
    "HMAC_224": 28,
    "HMAC_256": 32,
    "HMAC_384": 48,
    "HMAC_512": 64,
}


def _private_der(private_key) -> bytes:
    from cryptography.hazmat.primitives import serialization

    return private_key.private_bytes(
        serialization.Encoding.DER,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


_CURVES = {
    "ECC_NIST_P256": "SECP256R1",
    "ECC_NIST_P384": "SECP384R1",
    "ECC_NIST_P521": "SECP521R1",
    "ECC_SECG_P256K1": "SECP256K1",
}


def _generate_private_key(key_spec: str, rng: RandomSource):
    """A private key drawn from ``rng``, so that a seeded source reproduces it exactly."""
    if key_spec.startswith("RSA_"):
        return _generate_rsa(int(key_spec[4:]), rng)
    if key_spec == "ECC_NIST_EDWARDS25519":
        from cryptography.hazmat.primitives.asymmetric import ed25519

        return ed25519.Ed25519PrivateKey.from_private_bytes(rng.token_bytes(32))
    if key_spec.startswith("ML_DSA_"):
        from cryptography.hazmat.primitives.asymmetric import mldsa

        return getattr(mldsa, f"MLDSA{key_spec[7:]}PrivateKey").from_seed_bytes(rng.token_bytes(32))
    if key_spec not in _CURVES:
        raise ValueError(f"no key generation for KeySpec {key_spec}")
    from cryptography.hazmat.primitives.asymmetric import ec

    curve = getattr(ec, _CURVES[key_spec])()
    size = (curve.key_size + 7) // 8
    excess_bits = size * 8 - curve.key_size
    while True:  # rejection sampling: a scalar outside [1, n-1] is drawn again
        scalar = int.from_bytes(rng.token_bytes(size), "big") >> excess_bits
        try:
            return ec.derive_private_key(scalar, curve)
        except ValueError:
            continue


def _generate_rsa(bits: int, rng: RandomSource):
    if not rng.deterministic:
        from cryptography.hazmat.primitives.asymmetric import rsa

        return rsa.generate_private_key(public_exponent=65537, key_size=bits)
    # cryptography (OpenSSL) cannot take its randomness from a caller; PyCryptodome's prime
    # search can, which makes seeded RSA keys reproducible (about 1-2 s a key).
    from Crypto.PublicKey import RSA

    der = RSA.generate(bits, randfunc=rng.token_bytes, e=65537).export_key(format="DER", pkcs=8)
    return load_private_key(der)


def generate_key_material(key_spec: str, rng: RandomSource) -> bytes:
    """New key material for ``key_spec``: secret bytes, or a PKCS#8 DER private key."""
    if key_spec in _SECRET_BYTES:
        return rng.token_bytes(_SECRET_BYTES[key_spec])
    if mlkem.is_ml_kem(key_spec):
        return mlkem.generate(key_spec, rng)
    return _private_der(_generate_private_key(key_spec, rng))


@lru_cache(maxsize=512)
def load_private_key(material: bytes):
    """The private key object for PKCS#8 DER material; cached, as parsing RSA keys is slow."""
    from cryptography.hazmat.primitives import serialization

    return serialization.load_der_private_key(material, password=None)


def public_key_der(material: bytes) -> bytes:
    """DER SubjectPublicKeyInfo of an asymmetric key's material."""
    if mlkem.spec_and_seed(material) is not None:
        return mlkem.public_der(material)
    from cryptography.hazmat.primitives import serialization

    return load_private_key(material).public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def secret_length(key_spec: str) -> int | None:
    """Bytes of secret material a symmetric or HMAC KeySpec takes; None for asymmetric specs."""
    return _SECRET_BYTES.get(key_spec)


@lru_cache(maxsize=256)
def private_key_material(key_spec: str, data: bytes) -> bytes:
    """PKCS#8 DER material from a PEM or DER private key, which must be of ``key_spec``.

    Raises ValueError saying what the key is instead.
    """
    if mlkem.is_ml_kem(key_spec):
        return mlkem.material_from_private_key(key_spec, data)
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

    try:
        if data.lstrip().startswith(b"-----BEGIN"):
            private_key = serialization.load_pem_private_key(data, password=None)
        else:
            private_key = serialization.load_der_private_key(data, password=None)
    except (ValueError, TypeError) as exc:
        raise ValueError(f"not an unencrypted PEM or DER private key ({exc})") from None
    if isinstance(private_key, rsa.RSAPrivateKey):
        actual = f"RSA_{private_key.key_size}"
    elif isinstance(private_key, ec.EllipticCurvePrivateKey):
        names = {curve: spec for spec, curve in _CURVES.items()}
        actual = names.get(private_key.curve.name.upper(), f"an EC key on {private_key.curve.name}")
    elif isinstance(private_key, ed25519.Ed25519PrivateKey):
        actual = "ECC_NIST_EDWARDS25519"
    else:
        kind = type(private_key).__name__
        if kind.startswith(("MLDSA", "MLKEM")):  # MLDSA44PrivateKey, MLKEM768PrivateKey
            actual = f"ML_{kind[2:5]}_{kind[5:-len('PrivateKey')]}"
        else:
            actual = f"a {kind}"
    if actual != key_spec:
        raise ValueError(f"the private key is {actual}, not {key_spec}")
    return _private_der(private_key)


# Imported HMAC key material may be longer than the digest (bytes: least, most).
_HMAC_IMPORT_BYTES = {"HMAC_224": (28, 64), "HMAC_256": (32, 64), "HMAC_384": (48, 128),
                      "HMAC_512": (64, 128)}
_MAC_DIGESTS = {"HMAC_SHA_224": "sha224", "HMAC_SHA_256": "sha256", "HMAC_SHA_384": "sha384",
                "HMAC_SHA_512": "sha512"}


def _imported(key_spec: str, material: bytes) -> bytes:
    """Imported material as stored, or MaterialError: 32 bytes for a symmetric key, 28-128 bytes
    (by digest) for an HMAC key, a private key of the spec for an asymmetric one."""
    if key_spec == "SYMMETRIC_DEFAULT":
        if len(material) != 32:
            raise MaterialError(f"symmetric key material must be 32 bytes, not {len(material)}")
        return material
    if key_spec in _HMAC_IMPORT_BYTES:
        least, most = _HMAC_IMPORT_BYTES[key_spec]
        if not least <= len(material) <= most:
            raise MaterialError(f"{key_spec} key material must be {least} to {most} bytes, not {len(material)}")
        return material
    try:
        return private_key_material(key_spec, material)
    except ValueError as exc:
        raise MaterialError(str(exc)) from None


class SoftwareBackend(KeyBackend):
    name = "software"

    def generate(self, key_spec: str, rng: RandomSource | None = None) -> bytes:
        return generate_key_material(key_spec, rng or self.rng)

    def load(self, key_spec: str, material: bytes) -> bytes:
        if key_spec in _SECRET_BYTES:
            return material
        try:
            return private_key_material(key_spec, material)
        except ValueError as exc:
            raise MaterialError(str(exc)) from None

    def import_wrapped(self, wrapping_key: bytes, algorithm: str, encrypted: bytes, key_spec: str,
                       key_id: str) -> ImportedMaterial:
        from . import wrapping

        material = wrapping.unwrap(wrapping_key, algorithm, encrypted)
        if material is None:
            raise UnwrapError(f"unwrapping with {algorithm} failed")
        stored = _imported(key_spec, material)
        return ImportedMaterial(stored, imported_material_id(key_id, stored))

    def wrapping_key(self, wrapping_key_spec: str) -> bytes:
        from . import wrapping

        return wrapping.wrapping_key(wrapping_key_spec)

    def destroy(self, ref: bytes) -> None:
        """Nothing to do: the material lived only in the store's row, now gone."""

    def public_key(self, ref: bytes) -> bytes:
        return public_key_der(ref)

    def encrypt(self, ref: bytes, algorithm: str, plaintext: bytes, aad: bytes = b"") -> bytes:
        if algorithm == "SYMMETRIC_DEFAULT":
            from cryptography.hazmat.primitives.ciphers.aead import AESGCM

            iv = self.rng.token_bytes(GCM_IV_BYTES)
            return iv + AESGCM(ref).encrypt(iv, plaintext, aad)
        from . import asymmetric

        return asymmetric.rsa_encrypt(ref, algorithm, plaintext)

    def decrypt(self, ref: bytes, algorithm: str, ciphertext: bytes, aad: bytes = b"") -> bytes | None:
        if algorithm == "SYMMETRIC_DEFAULT":
            from cryptography.exceptions import InvalidTag
            from cryptography.hazmat.primitives.ciphers.aead import AESGCM

            if len(ciphertext) < GCM_IV_BYTES + GCM_TAG_BYTES:
                return None
            try:
                return AESGCM(ref).decrypt(ciphertext[:GCM_IV_BYTES], ciphertext[GCM_IV_BYTES:], aad)
            except InvalidTag:
                return None
        from . import asymmetric

        return asymmetric.rsa_decrypt(ref, algorithm, ciphertext)

    def sign(self, ref: bytes, algorithm: str, message: bytes, message_type: str) -> bytes:
        from . import asymmetric

        return asymmetric.sign(ref, algorithm, message, message_type, deterministic=self.rng.deterministic)

    def verify(self, ref: bytes, algorithm: str, message: bytes, message_type: str,
               signature: bytes) -> bool:
        from . import asymmetric

        return asymmetric.verify(ref, algorithm, message, message_type, signature)

    def generate_mac(self, ref: bytes, algorithm: str, message: bytes) -> bytes:
        return hmac.digest(ref, message, _MAC_DIGESTS[algorithm])

    def verify_mac(self, ref: bytes, algorithm: str, message: bytes, mac: bytes) -> bool:
        return hmac.compare_digest(self.generate_mac(ref, algorithm, message), mac)

    def derive_shared_secret(self, ref: bytes, peer_public_key: bytes) -> bytes | None:
        from . import asymmetric

        return asymmetric.derive_shared_secret(ref, peer_public_key)

    def encapsulate(self, ref: bytes) -> tuple[bytes, bytes]:
        return mlkem.encapsulate(ref, self.rng)

    def decapsulate(self, ref: bytes, ciphertext: bytes) -> bytes | None:
        return mlkem.decapsulate(ref, ciphertext)

    def random(self, count: int) -> bytes:
        return self.rng.token_bytes(count)

    def data_key_pair(self, key_pair_spec: str) -> tuple[bytes, bytes]:
        private_der = generate_key_material(key_pair_spec, self.rng)
        return private_der, public_key_der(private_der)
