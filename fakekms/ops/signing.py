"""Asymmetric keys outside encryption: Sign, Verify, GetPublicKey and DeriveSharedSecret; and
HMAC keys: GenerateMac and VerifyMac."""

from __future__ import annotations

from .. import errors, keyspecs
from ..context import RequestContext
from ..state import KeyRecord
from . import operation
from .lookup import find_key
from .usage import dry_run, material, reject_recipient, require_algorithm, require_usage

def _signing_request(ctx: RequestContext, req: dict) -> tuple[KeyRecord, str, str]:
    """The key, SigningAlgorithm and MessageType of a Sign or Verify request, all checked."""
    key = find_key(ctx, req["KeyId"])
    require_usage(ctx, key, "SIGN_VERIFY")
    algorithm = req["SigningAlgorithm"]
    require_algorithm(key, "SigningAlgorithms", algorithm)
    message_type = req.get("MessageType", "RAW")
    if message_type not in keyspecs.message_types(algorithm):
        raise errors.ValidationException(
            f"Message type {message_type} is incompatible with algorithm {algorithm}."
        )
    if message_type != "RAW" and len(req["Message"]) != keyspecs.digest_bytes(algorithm):
        raise errors.ValidationException(f"Digest is invalid length for algorithm {algorithm}.")
    return key, algorithm, message_type


@operation("Sign")
def sign(ctx: RequestContext, req: dict) -> dict:
    key, algorithm, message_type = _signing_request(ctx, req)
    dry_run(req)
    signature = ctx.backend_for(key).sign(material(ctx, key).ref, algorithm, req["Message"], message_type)
    return {"KeyId": key.arn, "Signature": signature, "SigningAlgorithm": algorithm}


@operation("Verify")
def verify(ctx: RequestContext, req: dict) -> dict:
    key, algorithm, message_type = _signing_request(ctx, req)
    dry_run(req)
    ref = material(ctx, key).ref
    if not ctx.backend_for(key).verify(ref, algorithm, req["Message"], message_type, req["Signature"]):
        # AWS answers an invalid signature with this error, never with SignatureValid: false.
        # AWS sends this error without a message.
        raise errors.KMSInvalidSignatureException(
            detail=f"the signature does not verify under {key.arn} with {algorithm}"
        )
    return {"KeyId": key.arn, "SignatureValid": True, "SigningAlgorithm": algorithm}


@operation("GetPublicKey")
def get_public_key(ctx: RequestContext, req: dict) -> dict:
    key = find_key(ctx, req["KeyId"])
    if not keyspecs.is_asymmetric(key.key_spec):
        raise errors.UnsupportedOperationException(
            f"{key.arn} is a {key.key_spec} KMS key; only asymmetric KMS keys have a public key."
        )
    result = {
        "KeyId": key.arn,
        "PublicKey": ctx.backend_for(key).public_key(material(ctx, key).ref),
        "CustomerMasterKeySpec": key.key_spec,
        "KeySpec": key.key_spec,
        "KeyUsage": key.key_usage,
    }
    result.update(keyspecs.algorithms(key.key_spec, key.key_usage))
    return result


@operation("DeriveSharedSecret")
def derive_shared_secret(ctx: RequestContext, req: dict) -> dict:
    reject_recipient(req)
    key = find_key(ctx, req["KeyId"])
    require_usage(ctx, key, "KEY_AGREEMENT")
    algorithm = req["KeyAgreementAlgorithm"]
    require_algorithm(key, "KeyAgreementAlgorithms", algorithm)
    secret = ctx.backend_for(key).derive_shared_secret(material(ctx, key).ref, req["PublicKey"])
    if secret is None:
        raise errors.ValidationException(
            f"PublicKey must be a DER-encoded SubjectPublicKeyInfo of a public key on the same "
            f"curve as the KMS key ({key.key_spec})."
        )
    dry_run(req)
    return {
        "KeyId": key.arn,
        "SharedSecret": secret,
        "KeyAgreementAlgorithm": algorithm,
        "KeyOrigin": key.origin,
    }


def _mac_request(ctx: RequestContext, req: dict) -> tuple[KeyRecord, str, bytes]:
    """The key, MacAlgorithm and material reference for a GenerateMac or VerifyMac request."""
    key = find_key(ctx, req["KeyId"])
    require_usage(ctx, key, "GENERATE_VERIFY_MAC")
    algorithm = req["MacAlgorithm"]
    require_algorithm(key, "MacAlgorithms", algorithm)
    dry_run(req)
    return key, algorithm, material(ctx, key).ref


@operation("GenerateMac")
def generate_mac(ctx: RequestContext, req: dict) -> dict:
    key, algorithm, ref = _mac_request(ctx, req)
    mac = ctx.backend_for(key).generate_mac(ref, algorithm, req["Message"])
    return {"Mac": mac, "MacAlgorithm": algorithm, "KeyId": key.arn}


@operation("VerifyMac")
def verify_mac(ctx: RequestContext, req: dict) -> dict:
    key, algorithm, ref = _mac_request(ctx, req)
    if not ctx.backend_for(key).verify_mac(ref, algorithm, req["Message"], req["Mac"]):
        # AWS sends this error without a message.
        raise errors.KMSInvalidMacException(detail=f"the MAC does not match under {key.arn} with {algorithm}")
    return {"KeyId": key.arn, "MacValid": True, "MacAlgorithm": algorithm}
