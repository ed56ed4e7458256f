"""Assertions shared by the boto3-level tests."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from fakekms.crypto import ciphertext


def kms_error(code: str, call, **kwargs) -> str:
    """Runs ``call(**kwargs)``, asserts it fails with the AWS error ``code`` and HTTP 400, and
    returns the error message."""
    with pytest.raises(ClientError) as info:
        call(**kwargs)
    error = info.value.response["Error"]
    assert error["Code"] == code, f"expected {code}, got {error['Code']}: {error.get('Message')}"
    assert info.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    return error.get("Message", "")


def opens_with(blob: bytes, material: bytes, context=None) -> bytes:
    """Opens a fakekms ciphertext with plain AES-GCM and ``material``: proof it sealed with it.
    The body is the software backend's: a 12-byte IV, then the ciphertext and tag."""
    sealed = ciphertext.parse(blob)
    iv, body = sealed.body[:12], sealed.body[12:]
    return AESGCM(material).decrypt(iv, body, sealed.aad(context))


def own_aliases(client, **kwargs) -> list[dict]:
    """ListAliases less AWS's predefined aliases, which have no TargetKeyId until their AWS
    managed key exists."""
    return [a for a in client.list_aliases(**kwargs)["Aliases"] if "TargetKeyId" in a]
