"""The key backend interface: everything done with key material, behind a reference.

Operations never hold key material. A key's material record keeps the ``ref`` its backend gave
(bytes only that backend understands: for the software backend the material itself, for a
PKCS#11 token an object handle, for an external key store a key id) and the operation hands the
ref back to the backend to encrypt, sign, MAC or derive with it. A new backend (an HSM, an XKS
proxy) is one more subclass; no operation changes.

Generation may take seconds (RSA_4096), so callers generate before their write transaction
starts, and destroy what they generated if the transaction does not commit.
"""

from __future__ import annotations

import hashlib
import hmac
from abc import ABC, abstractmethod
from dataclasses import dataclass

from ..seeding import RandomSource


class MaterialError(ValueError):
    """Key material that cannot be a key of the KeySpec asked for; the message says why."""


class UnwrapError(ValueError):
    """Encrypted key material that does not unwrap with the wrapping key and algorithm."""


@dataclass(frozen=True)
class ImportedMaterial:
    ref: bytes
    material_id: str


def imported_material_id(key_id: str, material: bytes) -> str:
    """The KeyMaterialId of imported material: derived from the key id and the material, as AWS
    does, so the same material imported again (or into a replica, which shares the key id) has
    the same id, and different material a different one."""
    return hmac.new(key_id.encode(), material, hashlib.sha256).hexdigest()


class KeyBackend(ABC):
    """Key material and the operations on it. ``rng`` is the server's one random source, so a
    seeded server makes the same material and IVs."""

    name: str

    def __init__(self, rng: RandomSource) -> None:
        self.rng = rng

    # --- lifecycle of material -----------------------------------------------------------

    @abstractmethod
    def generate(self, key_spec: str, rng: RandomSource | None = None) -> bytes:
        """New material for ``key_spec``; ``rng`` overrides the server's source (seed files
        derive each key's material from a label of its own)."""

    @abstractmethod
    def load(self, key_spec: str, material: bytes) -> bytes:
        """Material given in plaintext (a seed file's): raw secret bytes, or a PEM or DER
        private key of ``key_spec``. MaterialError if it is not that."""

    @abstractmethod
    def import_wrapped(self, wrapping_key: bytes, algorithm: str, encrypted: bytes, key_spec: str,
                       key_id: str) -> ImportedMaterial:
        """ImportKeyMaterial's material, unwrapped with a wrapping key this backend made
        (UnwrapError if it does not unwrap) and checked against ``key_spec`` (MaterialError)."""

    @abstractmethod
    def wrapping_key(self, wrapping_key_spec: str) -> bytes:
        """A wrapping key pair for GetParametersForImport (an RSA_2048/3072/4096 spec)."""

    @abstractmethod
    def destroy(self, ref: bytes) -> None:
        """Forgets material: a deleted key's, or one generated for a call that did not commit."""

    # --- use of material -------------------------------------------------------------------

    @abstractmethod
    def public_key(self, ref: bytes) -> bytes:
        """DER SubjectPublicKeyInfo of an asymmetric key (or of a wrapping key)."""

    @abstractmethod
    def encrypt(self, ref: bytes, algorithm: str, plaintext: bytes, aad: bytes = b"") -> bytes:
        """SYMMETRIC_DEFAULT: IV, AES-256-GCM ciphertext and tag, ``aad`` authenticated.
        RSAES_OAEP_*: the bare RSA ciphertext (no ``aad``)."""

    @abstractmethod
    def decrypt(self, ref: bytes, algorithm: str, ciphertext: bytes, aad: bytes = b"") -> bytes | None:
        """The plaintext, or None if the ciphertext does not open under this key, algorithm and
        ``aad``."""

    @abstractmethod
    def sign(self, ref: bytes, algorithm: str, message: bytes, message_type: str) -> bytes: ...

    @abstractmethod
    def verify(self, ref: bytes, algorithm: str, message: bytes, message_type: str,
               signature: bytes) -> bool: ...

    @abstractmethod
    def generate_mac(self, ref: bytes, algorithm: str, message: bytes) -> bytes: ...

    @abstractmethod
    def verify_mac(self, ref: bytes, algorithm: str, message: bytes, mac: bytes) -> bool: ...

    @abstractmethod
    def derive_shared_secret(self, ref: bytes, peer_public_key: bytes) -> bytes | None:
        """ECDH with a DER SubjectPublicKeyInfo; None if it is not a key on this key's curve."""

    @abstractmethod
    def encapsulate(self, ref: bytes) -> tuple[bytes, bytes]:
        """ML-KEM: (32-byte shared secret, its ciphertext) under the key's public key."""

    @abstractmethod
    def decapsulate(self, ref: bytes, ciphertext: bytes) -> bytes | None:
        """ML-KEM: the shared secret, or None for a ciphertext of the wrong length (any other
        ciphertext gets a pseudo-random secret: FIPS 203's implicit rejection)."""

    # --- material that is not a KMS key ------------------------------------------------------

    @abstractmethod
    def random(self, count: int) -> bytes:
        """Random bytes: GenerateRandom, data keys."""

    @abstractmethod
    def data_key_pair(self, key_pair_spec: str) -> tuple[bytes, bytes]:
        """(PKCS#8 DER private key, DER public key) for GenerateDataKeyPair."""
