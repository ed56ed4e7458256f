"""ML-KEM keys: Encapsulate and Decapsulate.

The checks run in the order of every cryptographic operation (key, state, usage, algorithm, the
ciphertext's length, then DryRun). Decapsulate refuses only a ciphertext of the wrong length:
any other answers a pseudo-random secret, FIPS 203's implicit rejection, as AWS documents.
"""

from __future__ import annotations

from .. import errors, keyspecs
from ..context import RequestContext
from ..state import KeyRecord
from . import operation
from .lookup import find_key
from .usage import dry_run, material, require_algorithm, require_usage


def _kem_key(ctx: RequestContext, req: dict) -> KeyRecord:
    key = find_key(ctx, req["KeyId"])
    require_usage(ctx, key, "ENCAPSULATE_DECAPSULATE")
    require_algorithm(key, "EncapsulationAlgorithms", req["EncapsulationAlgorithm"])
    return key


@operation("Encapsulate")
def encapsulate(ctx: RequestContext, req: dict) -> dict:
    key = _kem_key(ctx, req)
    dry_run(req)
    secret, ciphertext = ctx.backend_for(key).encapsulate(material(ctx, key).ref)
    return {
        "KeyId": key.arn,
        "SharedSecret": secret,
        "SharedSecretCiphertextBlob": ciphertext,
        "EncapsulationAlgorithm": req["EncapsulationAlgorithm"],
    }


@operation("Decapsulate")
def decapsulate(ctx: RequestContext, req: dict) -> dict:
    key = _kem_key(ctx, req)
    blob = req["SharedSecretCiphertextBlob"]
    if len(blob) != keyspecs.kem_ciphertext_bytes(key.key_spec):
        # AWS's InvalidCiphertextException carries no message; the reason goes to the log.
        raise errors.InvalidCiphertextException(
            detail=f"{len(blob)} bytes is not the length of a {key.key_spec} ciphertext"
        )
    dry_run(req)
    secret = ctx.backend_for(key).decapsulate(material(ctx, key).ref, blob)
    return {"KeyId": key.arn, "SharedSecret": secret, "EncapsulationAlgorithm": req["EncapsulationAlgorithm"]}
