"""ML-KEM (FIPS 203) key pairs: key generation from a seed, encapsulation and decapsulation.

Material is the PKCS#8 DER private key in the seed form of RFC 9935 (the 64-byte seed d || z
that FIPS 203's ML-KEM.KeyGen_internal expands), the form ``cryptography`` reads and writes.

``cryptography`` does ML-KEM-768 and ML-KEM-1024 on OpenSSL. It has no ML-KEM-512, and it takes
an encapsulation's randomness only from the operating system; kyber-py, a pure-Python FIPS 203
implementation, covers both: every ML-KEM-512 operation, and encapsulation with randomness from
a seeded source, so that a seeded server answers Encapsulate byte for byte the same.
"""

from __future__ import annotations

from functools import lru_cache

from ..seeding import RandomSource

SEED_BYTES = 64
SHARED_SECRET_BYTES = 32

# KeySpec -> (last arc of the NIST OID 2.16.840.1.101.3.4.4.x, ciphertext bytes)
_PARAMETERS = {"ML_KEM_512": (1, 768), "ML_KEM_768": (2, 1088), "ML_KEM_1024": (3, 1568)}
_SPEC_OF_ARC = {arc: spec for spec, (arc, _) in _PARAMETERS.items()}
_OID_HEAD = bytes.fromhex("06096086480165030404")  # OBJECT IDENTIFIER 2.16.840.1.101.3.4.4, less .x


def _der(tag: int, body: bytes) -> bytes:
    """One DER element: tag, definite length, body."""
    n = len(body)
    if n < 0x80:
        return bytes([tag, n]) + body
    length = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([tag, 0x80 | len(length)]) + length + body


def _algorithm(key_spec: str) -> bytes:
    """AlgorithmIdentifier: the spec's OID, no parameters."""
    return _der(0x30, _OID_HEAD + bytes([_PARAMETERS[key_spec][0]]))


def is_ml_kem(key_spec: str) -> bool:
    return key_spec in _PARAMETERS


def ciphertext_bytes(key_spec: str) -> int:
    return _PARAMETERS[key_spec][1]


def private_der(key_spec: str, seed: bytes) -> bytes:
    """OneAsymmetricKey v0 with the seed as privateKey: ``[0] IMPLICIT OCTET STRING`` inside an
    OCTET STRING."""
    inner = _der(0x04, _der(0x80, seed))
    return _der(0x30, _der(0x02, b"\x00") + _algorithm(key_spec) + inner)


def spec_and_seed(material: bytes) -> tuple[str, bytes] | None:
    """(KeySpec, seed) of seed-form ML-KEM material, or None if ``material`` is not that."""
    if len(material) != 86 or material[7:17] != _OID_HEAD:
        return None
    spec = _SPEC_OF_ARC.get(material[17])
    if spec is None or material != private_der(spec, material[-SEED_BYTES:]):
        return None
    return spec, material[-SEED_BYTES:]


def generate(key_spec: str, rng: RandomSource) -> bytes:
    """FIPS 203's deterministic key generation from 64 bytes of ``rng``: a seeded source makes
    the same key pair every run."""
    return private_der(key_spec, rng.token_bytes(SEED_BYTES))


@lru_cache(maxsize=256)
def _expanded(key_spec: str, seed: bytes) -> tuple[bytes, bytes]:
    """(encapsulation key, decapsulation key) bytes; cached, as expansion costs milliseconds."""
    if key_spec == "ML_KEM_512":
        return _kyber(key_spec).key_derive(seed)
    private = _cryptography_key(key_spec, seed)
    return private.public_key().public_bytes_raw(), b""


def _kyber(key_spec: str):
    from kyber_py import ml_kem

    return getattr(ml_kem, key_spec)


@lru_cache(maxsize=256)
def _cryptography_key(key_spec: str, seed: bytes):
    from cryptography.hazmat.primitives.asymmetric import mlkem

    return getattr(mlkem, f"MLKEM{key_spec[7:]}PrivateKey").from_seed_bytes(seed)


def _parts(material: bytes) -> tuple[str, bytes]:
    found = spec_and_seed(material)
    if found is None:
        raise ValueError("not ML-KEM key material")
    return found


def public_der(material: bytes) -> bytes:
    """DER SubjectPublicKeyInfo: the spec's OID and the encapsulation key as a BIT STRING."""
    key_spec, seed = _parts(material)
    ek = _expanded(key_spec, seed)[0]
    return _der(0x30, _algorithm(key_spec) + _der(0x03, b"\x00" + ek))


def encapsulate(material: bytes, rng: RandomSource) -> tuple[bytes, bytes]:
    """(shared secret, ciphertext) for the key's encapsulation key."""
    key_spec, seed = _parts(material)
    if key_spec != "ML_KEM_512" and not rng.deterministic:
        return _cryptography_key(key_spec, seed).public_key().encapsulate()
    ek = _expanded(key_spec, seed)[0]
    # FIPS 203 ML-KEM.Encaps_internal: the 32 random bytes m drawn from the (seeded) source.
    return _kyber(key_spec)._encaps_internal(ek, rng.token_bytes(32))


def decapsulate(material: bytes, ciphertext: bytes) -> bytes | None:
    """The shared secret; None only for a ciphertext of the wrong length. Any other ciphertext
    gets FIPS 203's implicit rejection: a pseudo-random secret, no error."""
    key_spec, seed = _parts(material)
    if len(ciphertext) != ciphertext_bytes(key_spec):
        return None
    if key_spec == "ML_KEM_512":
        return _kyber(key_spec).decaps(_expanded(key_spec, seed)[1], ciphertext)
    return _cryptography_key(key_spec, seed).decapsulate(ciphertext)


def material_from_private_key(key_spec: str, data: bytes) -> bytes:
    """Seed-form material from a PEM or DER PKCS#8 ML-KEM private key of ``key_spec``.

    Only the seed form can be taken: the expanded forms do not hold the seed, and the seed is
    what the material is. Raises ValueError saying what is wrong.
    """
    if data.lstrip().startswith(b"-----BEGIN"):
        import base64

        lines = [line for line in data.decode("ascii", "replace").splitlines() if line and "-----" not in line]
        try:
            data = base64.b64decode("".join(lines), validate=True)
        except ValueError:
            raise ValueError("not a PEM private key") from None
    found = spec_and_seed(data)
    if found is None:
        raise ValueError("not a PKCS#8 ML-KEM private key in the seed form (RFC 9935)")
    if found[0] != key_spec:
        raise ValueError(f"the private key is {found[0]}, not {key_spec}")
    return data
