"""Checks every cryptographic operation shares: key usage, algorithm, material, DryRun, Recipient.

The order is AWS's: find the key, check its state, its usage and the algorithm, validate the
message; only then does DryRun answer, so a dry run fails exactly where the real call would.
"""

from __future__ import annotations

from .. import errors, keyspecs
from ..context import RequestContext
from ..state import KeyRecord, MaterialRecord


def require_supported_spec(ctx: RequestContext, member: str, key_spec: str) -> None:
    """A KeySpec or KeyPairSpec fakekms can make here: not one newer than fakekms, ML-KEM outside
    the China Regions, and SM2 only in them, where fakekms still cannot make it."""
    if key_spec not in keyspecs.KEY_SPECS:  # a spec newer botocore models know and fakekms not yet
        raise errors.UnsupportedOperationException(f"{member} {key_spec} is not supported by fakekms yet.")
    if key_spec.startswith("ML_KEM_") and ctx.region in keyspecs.CHINA_REGIONS:
        raise errors.ValidationException(f"{member} {key_spec} is not available in the China Regions.")
    if key_spec == "SM2":
        if ctx.region not in keyspecs.CHINA_REGIONS:
            raise errors.ValidationException(
                f"{member} SM2 is supported only in the China Regions (cn-north-1, cn-northwest-1)."
            )
        raise errors.UnsupportedOperationException(
            f"{member} SM2 is not supported by fakekms: no maintained Python library implements SM2."
        )


def require_usage(ctx: RequestContext, key: KeyRecord, usage: str) -> None:
    if key.key_usage != usage:
        raise errors.InvalidKeyUsageException(
            f"{key.arn} key usage is {key.key_usage} which is not valid for {ctx.operation}."
        )


def require_algorithm(key: KeyRecord, field: str, algorithm: str) -> None:
    """``algorithm`` must be one of the key's ``field`` (EncryptionAlgorithms, SigningAlgorithms...)."""
    offered = keyspecs.algorithms(key.key_spec, key.key_usage).get(field, [])
    if algorithm not in offered:
        raise errors.InvalidKeyUsageException(
            f"Algorithm {algorithm} is incompatible with key spec {key.key_spec}."
        )


def require_symmetric(ctx: RequestContext, key: KeyRecord) -> None:
    """Data keys and symmetric ciphertexts need a SYMMETRIC_DEFAULT ENCRYPT_DECRYPT key."""
    require_usage(ctx, key, "ENCRYPT_DECRYPT")
    if not keyspecs.is_symmetric_encryption(key.key_spec):
        raise errors.InvalidKeyUsageException(
            f"{key.arn} key spec is {key.key_spec} which is not valid for {ctx.operation}; "
            "use a symmetric encryption KMS key (SYMMETRIC_DEFAULT)."
        )


def material(ctx: RequestContext, key: KeyRecord, version: int | None = None) -> MaterialRecord:
    """The key's CURRENT material, or the version a ciphertext names."""
    found = ctx.tx.key_material(key, version)
    if found is None or found.ref is None:
        if version is not None:  # the blob names material this key does not have
            raise errors.InvalidCiphertextException(detail=f"{key.arn} has no key material version {version}")
        raise errors.KMSInvalidStateException(f"{key.arn} has no key material.")
    return found


def dry_run(req: dict) -> None:
    """Answer DryRunOperationException if the request asked for a dry run; call after all checks."""
    if req.get("DryRun"):
        raise errors.DryRunOperationException(
            "The request would have succeeded, but the DryRun option is set."
        )


def ignores_ciphertext(req: dict) -> bool:
    return bool(req.get("DryRun")) and "IGNORE_CIPHERTEXT" in req.get("DryRunModifiers", [])


def reject_recipient(req: dict) -> None:
    """Recipient needs a Nitro Enclaves attestation document signed by AWS, which no local
    enclave can produce; fakekms says so rather than pretending to check one."""
    if req.get("Recipient") is not None:
        raise errors.UnsupportedOperationException(
            "Recipient (Nitro Enclaves attestation) is not supported by fakekms."
        )
