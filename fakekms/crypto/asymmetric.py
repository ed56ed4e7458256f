"""Asymmetric operations on key material: RSA-OAEP, signatures for every SigningAlgorithm, ECDH.

Everything runs on ``cryptography`` except Ed25519ph (ED25519_PH_SHA_512), which ``cryptography``
does not offer; PyCryptodome's RFC 8032 implementation signs and verifies it.
"""

from __future__ import annotations

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, utils

from .software import load_private_key

_HASHES = {"SHA_1": hashes.SHA1, "SHA_256": hashes.SHA256, "SHA_384": hashes.SHA384, "SHA_512": hashes.SHA512}


def _hash_of(algorithm: str) -> hashes.HashAlgorithm:
    return _HASHES[algorithm[algorithm.index("SHA_"):]]()


# --- RSA encryption ----------------------------------------------------------------------------

def _oaep(algorithm: str) -> padding.OAEP:
    h = _hash_of(algorithm)
    return padding.OAEP(mgf=padding.MGF1(algorithm=h), algorithm=h, label=None)


def rsa_encrypt(material: bytes, algorithm: str, plaintext: bytes) -> bytes:
    return load_private_key(material).public_key().encrypt(plaintext, _oaep(algorithm))


def rsa_decrypt(material: bytes, algorithm: str, ciphertext: bytes) -> bytes | None:
    """The plaintext, or None if the ciphertext does not decrypt under this key and algorithm."""
    try:
        return load_private_key(material).decrypt(ciphertext, _oaep(algorithm))
    except ValueError:
        return None


# --- signatures --------------------------------------------------------------------------------

def _hash_arg(algorithm: str, message_type: str):
    h = _hash_of(algorithm)
    return utils.Prehashed(h) if message_type == "DIGEST" else h


def _pss(algorithm: str) -> padding.PSS:
    # AWS's RSASSA-PSS: MGF1 with the message digest, salt as long as the digest.
    h = _hash_of(algorithm)
    return padding.PSS(mgf=padding.MGF1(h), salt_length=h.digest_size)


def _ed25519ph(key, message: bytes):
    """PyCryptodome's RFC 8032 Ed25519ph signer or verifier, and the SHA-512 prehash of
    ``message``. AWS's ED25519_PH_SHA_512 takes a 64-byte DIGEST message and still prehashes it
    (FIPS 186-5 section 7.8.1, step 1): the signature is Ed25519ph over the Message sent."""
    from Crypto.Hash import SHA512
    from Crypto.Signature import eddsa

    return eddsa.new(key, "rfc8032"), SHA512.new(message)


def sign(material: bytes, algorithm: str, message: bytes, message_type: str, *, deterministic: bool) -> bytes:
    """A signature; ECDSA nonces follow RFC 6979 when ``deterministic``."""
    key = load_private_key(material)
    if algorithm.startswith("RSASSA_PSS_"):
        return key.sign(message, _pss(algorithm), _hash_arg(algorithm, message_type))
    if algorithm.startswith("RSASSA_PKCS1_V1_5_"):
        return key.sign(message, padding.PKCS1v15(), _hash_arg(algorithm, message_type))
    if algorithm.startswith("ECDSA_"):
        # RFC 6979 nonces in deterministic mode; random nonces otherwise, as AWS.
        scheme = ec.ECDSA(_hash_arg(algorithm, message_type), deterministic_signing=deterministic)
        return key.sign(message, scheme)
    if algorithm == "ED25519_SHA_512":
        return key.sign(message)
    if algorithm == "ED25519_PH_SHA_512":
        from Crypto.Signature import eddsa

        signer, digest = _ed25519ph(eddsa.import_private_key(_raw_private(key)), message)
        return signer.sign(digest)
    if algorithm == "ML_DSA_SHAKE_256":
        return key.sign_mu(message) if message_type == "EXTERNAL_MU" else key.sign(message)
    raise ValueError(f"no signing for {algorithm}")


def verify(material: bytes, algorithm: str, message: bytes, message_type: str, signature: bytes) -> bool:
    public = load_private_key(material).public_key()
    try:
        if algorithm.startswith("RSASSA_PSS_"):
            public.verify(signature, message, _pss(algorithm), _hash_arg(algorithm, message_type))
        elif algorithm.startswith("RSASSA_PKCS1_V1_5_"):
            public.verify(signature, message, padding.PKCS1v15(), _hash_arg(algorithm, message_type))
        elif algorithm.startswith("ECDSA_"):
            public.verify(signature, message, ec.ECDSA(_hash_arg(algorithm, message_type)))
        elif algorithm == "ED25519_SHA_512":
            public.verify(signature, message)
        elif algorithm == "ED25519_PH_SHA_512":
            from Crypto.Signature import eddsa

            raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
            verifier, digest = _ed25519ph(eddsa.import_public_key(raw), message)
            verifier.verify(digest, signature)
        elif algorithm == "ML_DSA_SHAKE_256":
            if message_type == "EXTERNAL_MU":
                public.verify_mu(signature, message)
            else:
                public.verify(signature, message)
        else:
            raise LookupError(f"no verification for {algorithm}")
    except (InvalidSignature, ValueError):
        return False
    return True


def _raw_private(key) -> bytes:
    return key.private_bytes(
        serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
    )


# --- key agreement -----------------------------------------------------------------------------

def derive_shared_secret(material: bytes, peer_public_der: bytes) -> bytes | None:
    """ECDH with the peer's SubjectPublicKeyInfo; None if it is not a key on this key's curve."""
    private = load_private_key(material)
    try:
        peer = serialization.load_der_public_key(peer_public_der)
    except (ValueError, UnsupportedAlgorithm):
        return None
    if not isinstance(peer, ec.EllipticCurvePublicKey) or peer.curve.name != private.curve.name:
        return None
    return private.exchange(ec.ECDH(), peer)
