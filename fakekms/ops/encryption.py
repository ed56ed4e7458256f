"""Encryption: Encrypt, Decrypt, ReEncrypt, the GenerateDataKey family and GenerateRandom.

Symmetric keys seal with the self-describing blob of ``crypto.ciphertext``; RSA keys use OAEP
and return the bare RSA ciphertext, exactly as AWS does, so a ciphertext made offline with the
GetPublicKey key decrypts here and the other way round.
"""

from __future__ import annotations

from .. import errors, keyspecs, keystates, model
from ..authorize import admit_account
from ..context import RequestContext
from ..crypto import ciphertext
from ..state import KeyRecord
from . import operation
from .lookup import find_key, find_sealing_key
from .usage import (
    dry_run,
    ignores_ciphertext,
    material,
    reject_recipient,
    require_algorithm,
    require_supported_spec,
    require_symmetric,
    require_usage,
)

SYMMETRIC_DEFAULT = "SYMMETRIC_DEFAULT"
_DATA_KEY_BYTES = {"AES_128": 16, "AES_256": 32}


# --- shared by Encrypt, ReEncrypt and the data key operations -----------------------------------

def _reject_context(context: dict | None) -> None:
    if context:
        raise errors.ValidationException(
            "EncryptionContext is not supported with asymmetric KMS keys; "
            "only symmetric encryption KMS keys accept an encryption context."
        )


def _check_encrypt(
    ctx: RequestContext, key: KeyRecord, algorithm: str, plaintext: bytes, context: dict | None
) -> None:
    require_usage(ctx, key, "ENCRYPT_DECRYPT")
    require_algorithm(key, "EncryptionAlgorithms", algorithm)
    if keyspecs.is_symmetric_encryption(key.key_spec):
        return
    _reject_context(context)
    limit = keyspecs.max_plaintext_bytes(key.key_spec, algorithm)
    if len(plaintext) > limit:
        raise errors.ValidationException(
            f"Algorithm {algorithm} and key spec {key.key_spec} cannot encrypt data larger than {limit} bytes.",
            detail=f"the plaintext is {len(plaintext)} bytes",
        )


def _encrypt(
    ctx: RequestContext, key: KeyRecord, algorithm: str, plaintext: bytes, context: dict | None
) -> tuple[bytes, str | None]:
    """(ciphertext, KeyMaterialId); the id is None for RSA, whose material never rotates."""
    current = material(ctx, key)
    backend = ctx.backend_for(key)
    if keyspecs.is_symmetric_encryption(key.key_spec):
        header = ciphertext.header(key.account, key.key_id, current.version)
        body = backend.encrypt(current.ref, algorithm, plaintext, ciphertext.associated_data(header, context))
        return header + body, current.material_id
    return backend.encrypt(current.ref, algorithm, plaintext), None


def _incorrect_key() -> errors.KMSError:
    return errors.IncorrectKeyException(
        "The key ID in the request does not identify a CMK that can perform this operation."
    )


def _sealed_by_another(blob: bytes, named: KeyRecord) -> bool:
    try:
        sealed = ciphertext.parse(blob)
    except errors.InvalidCiphertextException:
        return False
    return (sealed.account, sealed.key_id) != (named.account, named.key_id)


def _decrypt(
    ctx: RequestContext, blob: bytes, named: KeyRecord | None, algorithm: str, context: dict | None
) -> tuple[KeyRecord, bytes, str | None]:
    """Open ``blob``: (key, plaintext, KeyMaterialId or None for RSA).

    ``named`` is the key the request's KeyId found, if it gave one; an RSA key must be named.
    """
    if named is not None and not keyspecs.is_symmetric_encryption(named.key_spec):
        # A symmetric blob of another key: AWS answers IncorrectKeyException before it looks at
        # what the named key can do (an HMAC key named for it is still the wrong key).
        if _sealed_by_another(blob, named):
            raise _incorrect_key()
        require_usage(ctx, named, "ENCRYPT_DECRYPT")
        require_algorithm(named, "EncryptionAlgorithms", algorithm)
        _reject_context(context)
        plaintext = ctx.backend_for(named).decrypt(material(ctx, named).ref, algorithm, blob)
        if plaintext is None:
            raise ciphertext.invalid(f"RSA-OAEP decryption failed under {named.arn} with {algorithm}")
        return named, plaintext, None

    sealed = ciphertext.parse(blob)
    key = find_sealing_key(ctx, sealed.account, sealed.key_id)
    if key is None:
        # An altered blob names no key, or a key that is gone; either way it cannot be opened.
        raise ciphertext.invalid(f"blob names key {sealed.key_id} in account {sealed.account}, which is not here")
    if named is not None and key.key_id != named.key_id:
        raise _incorrect_key()
    if named is None:
        keystates.check(ctx.operation, key.key_state, key.arn)
    require_symmetric(ctx, key)
    require_algorithm(key, "EncryptionAlgorithms", algorithm)
    sealed_with = material(ctx, key, sealed.version)
    plaintext = ctx.backend_for(key).decrypt(sealed_with.ref, algorithm, sealed.body, sealed.aad(context))
    if plaintext is None:
        raise ciphertext.invalid("GCM tag mismatch: wrong encryption context, or the blob was altered")
    return key, plaintext, sealed_with.material_id


def _data_key_bytes(req: dict) -> int:
    key_spec, count = req.get("KeySpec"), req.get("NumberOfBytes")
    if (key_spec is None) == (count is None):
        raise errors.ValidationException("Please specify either number of bytes or key spec.")
    return _DATA_KEY_BYTES[key_spec] if key_spec is not None else count


def _require_ciphertext(req: dict) -> None:
    if "CiphertextBlob" not in req:
        raise model.missing_member("CiphertextBlob")


def _require_key_id_for_ignored_ciphertext(req: dict, member: str) -> None:
    if ignores_ciphertext(req) and member not in req:
        raise errors.ValidationException(
            f"{member} is required when DryRunModifiers includes IGNORE_CIPHERTEXT."
        )


# --- operations ---------------------------------------------------------------------------------

@operation("Encrypt")
def encrypt(ctx: RequestContext, req: dict) -> dict:
    key = find_key(ctx, req["KeyId"])
    algorithm = req.get("EncryptionAlgorithm", SYMMETRIC_DEFAULT)
    _check_encrypt(ctx, key, algorithm, req["Plaintext"], req.get("EncryptionContext"))
    dry_run(req)
    blob, _ = _encrypt(ctx, key, algorithm, req["Plaintext"], req.get("EncryptionContext"))
    return {"CiphertextBlob": blob, "KeyId": key.arn, "EncryptionAlgorithm": algorithm}


@operation("Decrypt")
def decrypt(ctx: RequestContext, req: dict) -> dict:
    reject_recipient(req)
    algorithm = req.get("EncryptionAlgorithm", SYMMETRIC_DEFAULT)
    _require_key_id_for_ignored_ciphertext(req, "KeyId")
    named = find_key(ctx, req["KeyId"]) if "KeyId" in req else None
    if ignores_ciphertext(req):
        require_usage(ctx, named, "ENCRYPT_DECRYPT")
        require_algorithm(named, "EncryptionAlgorithms", algorithm)
        dry_run(req)
    _require_ciphertext(req)
    key, plaintext, material_id = _decrypt(
        ctx, req["CiphertextBlob"], named, algorithm, req.get("EncryptionContext")
    )
    dry_run(req)
    result = {"KeyId": key.arn, "Plaintext": plaintext, "EncryptionAlgorithm": algorithm,
              "KeyMaterialId": material_id}
    return result


@operation("ReEncrypt")
def re_encrypt(ctx: RequestContext, req: dict) -> dict:
    source_algorithm = req.get("SourceEncryptionAlgorithm", SYMMETRIC_DEFAULT)
    destination_algorithm = req.get("DestinationEncryptionAlgorithm", SYMMETRIC_DEFAULT)
    destination_context = req.get("DestinationEncryptionContext")
    _require_key_id_for_ignored_ciphertext(req, "SourceKeyId")
    named = (find_key(ctx, req["SourceKeyId"], "SourceKeyId", action="kms:ReEncryptFrom")
             if "SourceKeyId" in req else None)
    destination = find_key(ctx, req["DestinationKeyId"], "DestinationKeyId", action="kms:ReEncryptTo")
    require_usage(ctx, destination, "ENCRYPT_DECRYPT")
    require_algorithm(destination, "EncryptionAlgorithms", destination_algorithm)
    if ignores_ciphertext(req):
        require_usage(ctx, named, "ENCRYPT_DECRYPT")
        require_algorithm(named, "EncryptionAlgorithms", source_algorithm)
        dry_run(req)
    _require_ciphertext(req)
    source, plaintext, source_material_id = _decrypt(
        ctx, req["CiphertextBlob"], named, source_algorithm, req.get("SourceEncryptionContext")
    )
    _check_encrypt(ctx, destination, destination_algorithm, plaintext, destination_context)
    dry_run(req)
    blob, destination_material_id = _encrypt(
        ctx, destination, destination_algorithm, plaintext, destination_context
    )
    result = {
        "CiphertextBlob": blob,
        "SourceKeyId": source.arn,
        "KeyId": destination.arn,
        "SourceEncryptionAlgorithm": source_algorithm,
        "DestinationEncryptionAlgorithm": destination_algorithm,
        "SourceKeyMaterialId": source_material_id,
        "DestinationKeyMaterialId": destination_material_id,
    }
    return result


def _new_data_key(ctx: RequestContext, req: dict) -> dict:
    reject_recipient(req)
    key = find_key(ctx, req["KeyId"])
    require_symmetric(ctx, key)
    size = _data_key_bytes(req)
    dry_run(req)
    plaintext = ctx.backend_for(key).random(size)
    blob, material_id = _encrypt(ctx, key, SYMMETRIC_DEFAULT, plaintext, req.get("EncryptionContext"))
    return {
        "CiphertextBlob": blob,
        "Plaintext": plaintext,
        "KeyId": key.arn,
        "KeyMaterialId": material_id,
    }


@operation("GenerateDataKey")
@operation("GenerateDataKeyWithoutPlaintext")
def generate_data_key(ctx: RequestContext, req: dict) -> dict:
    result = _new_data_key(ctx, req)
    if ctx.operation.endswith("WithoutPlaintext"):
        del result["Plaintext"]
    return result


def _prepare_data_key_pair(ctx: RequestContext, req: dict) -> tuple[bytes, bytes] | None:
    """The key pair, made before the transaction (an RSA_4096 pair takes up to a second); none
    for a dry run or a spec the handler will refuse, which it does in AWS's order."""
    spec = req.get("KeyPairSpec")
    if req.get("DryRun") or spec not in keyspecs.KEY_SPECS or spec == "SM2":
        return None
    return ctx.backend.data_key_pair(spec)


def _new_data_key_pair(ctx: RequestContext, req: dict) -> dict:
    reject_recipient(req)
    key = find_key(ctx, req["KeyId"])
    require_symmetric(ctx, key)
    pair_spec = req["KeyPairSpec"]
    require_supported_spec(ctx, "KeyPairSpec", pair_spec)
    dry_run(req)
    private_der, public_der = ctx.prepared
    blob, material_id = _encrypt(ctx, key, SYMMETRIC_DEFAULT, private_der, req.get("EncryptionContext"))
    return {
        "PrivateKeyCiphertextBlob": blob,
        "PrivateKeyPlaintext": private_der,
        "PublicKey": public_der,
        "KeyId": key.arn,
        "KeyPairSpec": pair_spec,
        "KeyMaterialId": material_id,
    }


@operation("GenerateDataKeyPair", prepare=_prepare_data_key_pair)
@operation("GenerateDataKeyPairWithoutPlaintext", prepare=_prepare_data_key_pair)
def generate_data_key_pair(ctx: RequestContext, req: dict) -> dict:
    result = _new_data_key_pair(ctx, req)
    if ctx.operation.endswith("WithoutPlaintext"):
        del result["PrivateKeyPlaintext"]
    return result


@operation("GenerateRandom")
def generate_random(ctx: RequestContext, req: dict) -> dict:
    admit_account(ctx)
    reject_recipient(req)
    if req.get("CustomKeyStoreId") is not None:
        raise errors.CustomKeyStoreNotFoundException(
            f"Custom key store {req['CustomKeyStoreId']} does not exist in this account and Region."
        )
    if req.get("NumberOfBytes") is None:
        raise model.missing_member("NumberOfBytes")
    return {"Plaintext": ctx.backend.random(req["NumberOfBytes"])}
