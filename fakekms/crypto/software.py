"""Software crypto backend on ``cryptography``: key material for every KeySpec.

Key material is kept as bytes: raw secret bytes for symmetric and HMAC keys, PKCS#8 DER for every
asymmetric private key. Each spec generates only its own material, and the heavy asymmetric
modules are imported only when such a key is made.
"""

from __future__ import annotations

from ..seeding import RandomSource

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


def _generate_private_key(key_spec: str):
    if key_spec.startswith("RSA_"):
        from cryptography.hazmat.primitives.asymmetric import rsa

        return rsa.generate_private_key(public_exponent=65537, key_size=int(key_spec[4:]))
    if key_spec == "ECC_NIST_EDWARDS25519":
        from cryptography.hazmat.primitives.asymmetric import ed25519

        return ed25519.Ed25519PrivateKey.generate()
    if key_spec.startswith("ML_DSA_"):
        from cryptography.hazmat.primitives.asymmetric import mldsa

        return getattr(mldsa, f"MLDSA{key_spec[7:]}PrivateKey").generate()
    from cryptography.hazmat.primitives.asymmetric import ec

    curves = {
        "ECC_NIST_P256": ec.SECP256R1,
        "ECC_NIST_P384": ec.SECP384R1,
        "ECC_NIST_P521": ec.SECP521R1,
        "ECC_SECG_P256K1": ec.SECP256K1,
    }
    if key_spec not in curves:
        raise ValueError(f"no key generation for KeySpec {key_spec}")
    return ec.generate_private_key(curves[key_spec]())


def generate_key_material(key_spec: str, rng: RandomSource) -> bytes:
    """New key material for ``key_spec``: secret bytes, or a PKCS#8 DER private key."""
    if key_spec in _SECRET_BYTES:
        return rng.token_bytes(_SECRET_BYTES[key_spec])
    return _private_der(_generate_private_key(key_spec))


def load_private_key(material: bytes):
    from cryptography.hazmat.primitives import serialization

    return serialization.load_der_private_key(material, password=None)


def public_key_der(material: bytes) -> bytes:
    """DER SubjectPublicKeyInfo of an asymmetric key's material."""
    from cryptography.hazmat.primitives import serialization

    return load_private_key(material).public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
