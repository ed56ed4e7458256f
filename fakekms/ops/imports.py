"""Imported key material (Origin EXTERNAL): GetParametersForImport, ImportKeyMaterial and
DeleteImportedKeyMaterial.

An import token is a random handle on a stored row (key, wrapping key, algorithm, expiry), so
a token is checked exactly: for this key, not expired, and unwrapping with its own key. Imported
material is identified by a KeyMaterialId derived from the key id and the material: importing it
again is recognised as the same material, anything else as different material.
"""

from __future__ import annotations

import dataclasses

from .. import errors, keyspecs
from ..context import RequestContext
from ..crypto.backend import MaterialError, UnwrapError
from ..state import ImportTokenRecord, KeyRecord, MaterialRecord
from . import materials, operation
from .lookup import find_key
from .usage import require_supported_spec

DAY = materials.DAY
PARAMETERS_LIFETIME = DAY  # a public key and import token are valid for 24 hours
MAX_VALID_TO = 365 * DAY  # ValidTo is at most 365 days after the import
_TOKEN_PREFIX = b"fakekms-import-token\x00"
WRAPPING_KEY_SPECS = ("RSA_2048", "RSA_3072", "RSA_4096")
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


def _prepare_parameters(ctx: RequestContext, req: dict) -> bytes | None:
    """The wrapping key pair, made before the transaction: the first of each spec takes up to
    a second (RSA_4096). Nothing is checked here; the handler answers every error in AWS's
    order."""
    if req.get("WrappingKeySpec") in WRAPPING_KEY_SPECS:
        return ctx.backend.wrapping_key(req["WrappingKeySpec"])
    return None


@operation("GetParametersForImport", prepare=_prepare_parameters)
def get_parameters_for_import(ctx: RequestContext, req: dict) -> dict:
    key = find_key(ctx, req["KeyId"])
    _require_external(key)
    algorithm, spec = req["WrappingAlgorithm"], req["WrappingKeySpec"]
    _check_wrapping(ctx, algorithm, spec)
    backend = ctx.backend_for(key)
    wrapping_key = ctx.prepared
    token = _TOKEN_PREFIX + ctx.rng.token_bytes(32)
    valid_to = ctx.now + PARAMETERS_LIFETIME
    ctx.tx.drop_import_tokens(before=ctx.now - PARAMETERS_LIFETIME)
    ctx.tx.add_import_token(ImportTokenRecord(token.hex(), key.account, key.region, key.key_id,
                                              valid_to, wrapping_key, algorithm, spec))
    return {
        "KeyId": key.arn,
        "ImportToken": token,
        "PublicKey": backend.public_key(wrapping_key),
        "ParametersValidTo": valid_to,
    }


def _unwrap(ctx: RequestContext, key: KeyRecord, req: dict):
    """The imported material (its reference and KeyMaterialId), after the import token is
    checked."""
    token = ctx.tx.import_token(req["ImportToken"].hex())
    if token is None or (token.account, token.region, token.key_id) != (key.account, key.region, key.key_id):
        raise errors.InvalidImportTokenException(
            "The import token is invalid or is not for this KMS key.",
            detail="the token was not issued by GetParametersForImport for this key"
            if token is None else f"the token was issued for key {token.key_id} in {token.region}",
        )
    if ctx.now >= token.valid_to:
        raise errors.ExpiredImportTokenException(
            "The import token has expired. Use GetParametersForImport to get a new one."
        )
    try:
        return ctx.backend_for(key).import_wrapped(token.wrapping_key, token.wrapping_algorithm,
                                                   req["EncryptedKeyMaterial"], key.key_spec, key.key_id)
    except UnwrapError as exc:
        raise errors.InvalidCiphertextException(detail=f"EncryptedKeyMaterial: {exc}") from None
    except MaterialError as exc:
        raise errors.IncorrectKeyMaterialException(
            f"The key material is not valid for {key.arn} ({key.key_spec}).", detail=str(exc)
        ) from None


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
                "A validTo date must be set if the ExpirationModel is KEY_MATERIAL_EXPIRES"
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
    imported = _unwrap(ctx, key, req)
    ctx.generated.append(imported.ref)
    material_id = imported.material_id
    existing = ctx.tx.key_materials(key)
    import_type = req.get("ImportType") or ("EXISTING_KEY_MATERIAL" if existing else "NEW_KEY_MATERIAL")
    if import_type == "NEW_KEY_MATERIAL":
        record = _new_material(ctx, key, req, existing, material_id)
    else:
        record = next((m for m in existing if m.material_id == material_id), None)
        if record is None or req.get("KeyMaterialId", material_id) != material_id:
            raise _not_same_material(key)
    if record.ref is not None and record.ref != imported.ref:
        ctx.retired.append(record.ref)
    record.ref = imported.ref
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
    record = MaterialRecord(version=version, material_id=material_id, ref=None, created=ctx.now,
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
    if all(m is not None and m.ref is not None for m in held):
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
            held = ctx.tx.key_material(copy, record.version)
            if held is not None and held.ref is not None:
                ctx.retired.append(held.ref)
            ctx.tx.delete_key_material(copy, record.version)
        materials.refresh_expiry(ctx, key)
        ctx.tx.update_key(key)
    else:
        materials.remove_imported(ctx, key, [record])
    return {"KeyId": key.arn, "KeyMaterialId": record.material_id}
