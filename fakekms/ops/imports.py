"""Imported key material (Origin EXTERNAL): GetParametersForImport, ImportKeyMaterial and
DeleteImportedKeyMaterial.

An import token is a random handle on a stored row (key, wrapping key, algorithm, expiry), so
a token is checked exactly: for this key, not expired, and unwrapping with its own key. Imported
material is identified by a KeyMaterialId derived from the key id and the material: importing it
again is recognised as the same material, anything else as different material.
"""

from __future__ import annotations

import dataclasses
import json

from .. import errors, keyspecs
from ..context import RequestContext
from ..crypto import software, wrapping
from ..state import KeyRecord, MaterialRecord
from . import materials, operation
from .lookup import find_key
from .usage import require_supported_spec

DAY = materials.DAY
PARAMETERS_LIFETIME = DAY  # a public key and import token are valid for 24 hours
MAX_VALID_TO = 365 * DAY  # ValidTo is at most 365 days after the import
_TOKEN_PREFIX = b"fakekms-import-token\x00"
# Imported HMAC key material may be longer than the digest (bytes: least, most).
_HMAC_MATERIAL = {"HMAC_224": (28, 64), "HMAC_256": (32, 64), "HMAC_384": (48, 128), "HMAC_512": (64, 128)}
_SYMMETRIC_ONLY = ("ImportType", "KeyMaterialDescription", "KeyMaterialId")


def _require_external(key: KeyRecord) -> None:
    if key.origin != "EXTERNAL":
        raise errors.UnsupportedOperationException(
            f"{key.arn} origin is {key.origin} which is not valid for this operation."
        )


def _check_wrapping(ctx: RequestContext, algorithm: str, spec: str) -> None:
    if algorithm == "RSAES_PKCS1_V1_5":
        raise errors.ValidationException(
            "WrappingAlgorithm RSAES_PKCS1_V1_5 is no longer supported; use RSAES_OAEP_SHA_256 or "
            "RSA_AES_KEY_WRAP_SHA_256."
        )
    if "SM2" in (algorithm, spec) or algorithm == "SM2PKE":
        require_supported_spec(ctx, "WrappingKeySpec", "SM2")
    if (algorithm == "SM2PKE") != (spec == "SM2"):
        raise errors.ValidationException(
            f"WrappingAlgorithm {algorithm} cannot be used with WrappingKeySpec {spec}."
        )


@operation("GetParametersForImport")
def get_parameters_for_import(ctx: RequestContext, req: dict) -> dict:
    key = find_key(ctx, req["KeyId"])
    _require_external(key)
    algorithm, spec = req["WrappingAlgorithm"], req["WrappingKeySpec"]
    _check_wrapping(ctx, algorithm, spec)
    private_der = wrapping.wrapping_key(spec)
    token = _TOKEN_PREFIX + ctx.rng.token_bytes(32)
    valid_to = ctx.now + PARAMETERS_LIFETIME
    ctx.tx.drop_import_tokens(before=ctx.now - PARAMETERS_LIFETIME)
    ctx.tx.add_import_token(token.hex(), key, valid_to, private_der,
                            json.dumps({"WrappingAlgorithm": algorithm, "WrappingKeySpec": spec}))
    return {
        "KeyId": key.arn,
        "ImportToken": token,
        "PublicKey": software.public_key_der(private_der),
        "ParametersValidTo": valid_to,
    }


def _unwrap(ctx: RequestContext, key: KeyRecord, req: dict) -> bytes:
    """The plaintext key material, after the import token is checked."""
    row = ctx.tx.import_token(req["ImportToken"].hex())
    if row is None or row[:3] != (key.account, key.region, key.key_id):
        raise errors.InvalidImportTokenException(
            "The import token is invalid or is not for this KMS key.",
            detail="the token was not issued by GetParametersForImport for this key"
            if row is None else f"the token was issued for key {row[2]} in {row[1]}",
        )
    _, _, _, valid_to, private_der, doc = row
    if ctx.now >= valid_to:
        raise errors.ExpiredImportTokenException(
            "The import token has expired. Use GetParametersForImport to get a new one."
        )
    algorithm = json.loads(doc)["WrappingAlgorithm"]
    material = wrapping.unwrap(private_der, algorithm, req["EncryptedKeyMaterial"])
    if material is None:
        raise errors.InvalidCiphertextException(
            "The EncryptedKeyMaterial could not be unwrapped with the wrapping key and algorithm "
            "of this import token.",
            detail=f"unwrapping with {algorithm} failed",
        )
    return material


def _check_material(key: KeyRecord, material: bytes) -> bytes:
    """The material as stored (PKCS#8 DER for private keys), or IncorrectKeyMaterialException."""
    if keyspecs.is_symmetric_encryption(key.key_spec):
        if len(material) != software.secret_length(key.key_spec):
            raise _invalid_material(key, f"symmetric key material must be 32 bytes, not {len(material)}")
        return material
    if keyspecs.is_hmac(key.key_spec):
        least, most = _HMAC_MATERIAL[key.key_spec]
        if not least <= len(material) <= most:
            raise _invalid_material(
                key, f"{key.key_spec} key material must be {least} to {most} bytes, not {len(material)}"
            )
        return material
    try:
        return software.private_key_material(key.key_spec, material)
    except ValueError as exc:
        raise _invalid_material(key, str(exc)) from None


def _invalid_material(key: KeyRecord, reason: str) -> errors.KMSError:
    return errors.IncorrectKeyMaterialException(
        f"The key material is not valid for {key.arn} ({key.key_spec}).", detail=reason
    )


def _not_same_material(key: KeyRecord) -> errors.KMSError:
    return errors.IncorrectKeyMaterialException(
        f"The key material is not the same key material that was previously imported into {key.arn}."
    )


def _expiry(ctx: RequestContext, req: dict) -> tuple[str, float | None]:
    model_ = req.get("ExpirationModel", "KEY_MATERIAL_EXPIRES")
    valid_to = req.get("ValidTo")
    if model_ == "KEY_MATERIAL_EXPIRES":
        if valid_to is None:
            raise errors.ValidationException(
                "ValidTo is required when ExpirationModel is KEY_MATERIAL_EXPIRES."
            )
        if valid_to <= ctx.now:
            raise errors.ValidationException("ValidTo must be a future date and time.")
        if valid_to > ctx.now + MAX_VALID_TO:
            raise errors.ValidationException("ValidTo must be at most 365 days from now.")
    elif valid_to is not None:
        raise errors.ValidationException(
            "ValidTo is not valid when ExpirationModel is KEY_MATERIAL_DOES_NOT_EXPIRE."
        )
    return model_, valid_to


@operation("ImportKeyMaterial")
def import_key_material(ctx: RequestContext, req: dict) -> dict:
    key = find_key(ctx, req["KeyId"])
    _require_external(key)
    symmetric = keyspecs.is_symmetric_encryption(key.key_spec)
    if not symmetric:
        for member in _SYMMETRIC_ONLY:
            if req.get(member) is not None:
                raise errors.ValidationException(
                    f"{member} is valid only for symmetric encryption KMS keys; {key.arn} is {key.key_spec}."
                )
    expiration_model, valid_to = _expiry(ctx, req)
    material = _check_material(key, _unwrap(ctx, key, req))
    material_id = materials.imported_material_id(key.key_id, material)
    existing = ctx.tx.key_materials(key)
    import_type = req.get("ImportType") or ("EXISTING_KEY_MATERIAL" if existing else "NEW_KEY_MATERIAL")
    if import_type == "NEW_KEY_MATERIAL":
        record = _new_material(ctx, key, req, existing, material_id)
    else:
        record = next((m for m in existing if m.material_id == material_id), None)
        if record is None or req.get("KeyMaterialId", material_id) != material_id:
            raise _not_same_material(key)
    record.material = material
    record.expiration_model, record.valid_to = expiration_model, valid_to
    if req.get("KeyMaterialDescription") is not None:
        record.description = req["KeyMaterialDescription"]
    if record.version in {m.version for m in existing}:
        ctx.tx.update_key_material(key, record)
    else:
        materials.add_material(ctx, key, record)
    if record.state == "PENDING_MULTI_REGION_IMPORT_AND_ROTATION":
        _pending_everywhere_yet(ctx, key, record)
    if key.key_state == "PendingImport" and materials.imported_in_full(ctx, key):
        key.key_state = "Enabled"
    materials.refresh_expiry(ctx, key)
    ctx.tx.update_key(key)
    return {"KeyId": key.arn, "KeyMaterialId": material_id}


def _new_material(ctx: RequestContext, key: KeyRecord, req: dict, existing: list[MaterialRecord],
                  material_id: str) -> MaterialRecord:
    """A new version for material never imported into this key: the first material (CURRENT), or
    material for the next on-demand rotation. Other Regions' copies learn of it without its bytes."""
    if req.get("KeyMaterialId") is not None:
        raise errors.ValidationException("KeyMaterialId cannot be specified with ImportType NEW_KEY_MATERIAL.")
    if key.is_replica:
        raise errors.UnsupportedOperationException(
            f"{key.arn} is a multi-Region replica key; import new key material into its primary key, "
            "then the same material here with ImportType EXISTING_KEY_MATERIAL."
        )
    if any(m.material_id == material_id for m in existing):
        raise errors.IncorrectKeyMaterialException(
            f"This key material is already associated with {key.arn}; import it with ImportType "
            "EXISTING_KEY_MATERIAL."
        )
    if existing and not keyspecs.is_symmetric_encryption(key.key_spec):
        raise _not_same_material(key)
    if any(m.pending for m in existing):
        raise errors.KMSInvalidStateException(
            f"{key.arn} already has key material pending rotation; rotate it (RotateKeyOnDemand) or "
            "delete it (DeleteImportedKeyMaterial) first."
        )
    others = materials.copies(ctx, key)[1:]
    state = "CURRENT"
    if existing:
        state = "PENDING_MULTI_REGION_IMPORT_AND_ROTATION" if others else "PENDING_ROTATION"
    version = max((m.version for m in existing), default=0) + 1
    record = MaterialRecord(version=version, material_id=material_id, material=None, created=ctx.now,
                            state=state, imported=True)
    for copy in others:
        materials.add_material(ctx, copy, dataclasses.replace(record))
        ctx.tx.update_key(copy)
    return record


def _pending_everywhere_yet(ctx: RequestContext, key: KeyRecord, record: MaterialRecord) -> None:
    """Material imported for rotation into a multi-Region key is PENDING_ROTATION once every
    Region's copy has it."""
    group = materials.copies(ctx, key)
    held = [ctx.tx.key_material(copy, record.version) for copy in group[1:]]
    if all(m is not None and m.material is not None for m in held):
        record.state = "PENDING_ROTATION"
        ctx.tx.update_key_material(key, record)
        for copy, other in zip(group[1:], held):
            other.state = "PENDING_ROTATION"
            ctx.tx.update_key_material(copy, other)


@operation("DeleteImportedKeyMaterial")
def delete_imported_key_material(ctx: RequestContext, req: dict) -> dict:
    key = find_key(ctx, req["KeyId"])
    _require_external(key)
    wanted = req.get("KeyMaterialId")
    if wanted is not None and not keyspecs.is_symmetric_encryption(key.key_spec):
        raise errors.ValidationException(
            f"KeyMaterialId is valid only for symmetric encryption KMS keys; {key.arn} is {key.key_spec}."
        )
    records = ctx.tx.key_materials(key)
    if wanted is None:
        record = next((m for m in records if m.state == "CURRENT"), None)
    else:
        record = next((m for m in records if m.material_id == wanted), None)
        if record is None:
            raise errors.NotFoundException(f"Key material {wanted} is not associated with {key.arn}.")
    if record is None:  # nothing was ever imported
        return {"KeyId": key.arn}
    if record.pending:
        # Not yet part of the key: it goes entirely (from a primary, from its replicas too).
        group = materials.copies(ctx, key) if not key.is_replica else [key]
        for copy in group:
            ctx.tx.delete_key_material(copy, record.version)
        materials.refresh_expiry(ctx, key)
        ctx.tx.update_key(key)
    else:
        materials.remove_imported(ctx, key, [record])
    return {"KeyId": key.arn, "KeyMaterialId": record.material_id}
