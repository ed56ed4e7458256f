"""AWS's own words and shapes, as recorded against real AWS (LocalStack's
tests/aws/services/kms/test_kms.snapshot.json) or stated in the service model's documentation.
docs/aws-messages.md lists every message with its source; these tests hold the ones a client
is most likely to compare.
"""

from __future__ import annotations

import json
import os
import urllib.request

import pytest
from helpers import kms_error

from fakekms.errors import KMSError


def raw_error(endpoint: str, operation: str, body: dict) -> dict:
    """The JSON body of an error answer, as sent on the wire."""
    request = urllib.request.Request(endpoint, data=json.dumps(body).encode(), headers={
        "X-Amz-Target": f"TrentService.{operation}", "Content-Type": "application/x-amz-json-1.1"})
    try:
        urllib.request.urlopen(request, timeout=30)
    except urllib.error.HTTPError as answer:
        return json.loads(answer.read())
    raise AssertionError(f"{operation} succeeded")


def test_errors_aws_sends_without_a_message_have_none(server):
    kms = server.client()
    key = kms.create_key()["KeyMetadata"]["KeyId"]
    blob = kms.encrypt(KeyId=key, Plaintext=b"p", EncryptionContext={"a": "b"})["CiphertextBlob"]
    import base64

    body = raw_error(server.endpoint, "Decrypt", {"CiphertextBlob": base64.b64encode(blob).decode()})
    assert body == {"__type": "InvalidCiphertextException"}
    assert kms_error("InvalidCiphertextException", kms.decrypt, CiphertextBlob=blob) == ""
    signing = kms.create_key(KeySpec="ECC_NIST_P256", KeyUsage="SIGN_VERIFY")["KeyMetadata"]["KeyId"]
    assert kms_error("KMSInvalidSignatureException", kms.verify, KeyId=signing, Message=b"m",
                     Signature=b"\x30\x06\x02\x01\x01\x02\x01\x01", SigningAlgorithm="ECDSA_SHA_256") == ""
    mac = kms.create_key(KeySpec="HMAC_256", KeyUsage="GENERATE_VERIFY_MAC")["KeyMetadata"]["KeyId"]
    assert kms_error("KMSInvalidMacException", kms.verify_mac, KeyId=mac, Message=b"m", Mac=b"x" * 32,
                     MacAlgorithm="HMAC_SHA_256") == ""


def test_a_key_error_is_a_kms_error_with_an_empty_message():
    assert KMSError(detail="why").body() == {"__type": "KMSError"}


def test_malformed_key_ids_are_quoted(kms):
    assert kms_error("NotFoundException", kms.describe_key, KeyId="fake-key-id") == "Invalid keyId 'fake-key-id'"
    assert kms_error("NotFoundException", kms.generate_mac, KeyId="key_id", Message=b"m",
                     MacAlgorithm="HMAC_SHA_256") == "Invalid keyId 'key_id'"


def test_a_key_arn_of_another_region_names_the_region(backend):
    there = backend.client(region="ap-southeast-1")
    here = backend.client(region="us-east-1")
    meta = there.create_key()["KeyMetadata"]
    assert kms_error("NotFoundException", here.describe_key, KeyId=meta["Arn"]) == "Invalid arn ap-southeast-1"
    assert kms_error("NotFoundException", here.describe_key, KeyId=meta["KeyId"]) == (
        f"Key 'arn:aws:kms:us-east-1:{meta['AWSAccountId']}:key/{meta['KeyId']}' does not exist")


def test_incorrect_key_wins_even_for_a_key_that_cannot_decrypt(kms):
    blob = kms.encrypt(KeyId=kms.create_key()["KeyMetadata"]["KeyId"], Plaintext=b"p")["CiphertextBlob"]
    expected = "The key ID in the request does not identify a CMK that can perform this operation."
    for create in ({"KeySpec": "HMAC_256", "KeyUsage": "GENERATE_VERIFY_MAC"},
                   {"KeySpec": "RSA_2048", "KeyUsage": "ENCRYPT_DECRYPT"}, {}):
        other = kms.create_key(**create)["KeyMetadata"]["KeyId"]
        assert kms_error("IncorrectKeyException", kms.decrypt, CiphertextBlob=blob, KeyId=other) == expected
        assert kms_error("IncorrectKeyException", kms.re_encrypt, CiphertextBlob=blob, SourceKeyId=other,
                         DestinationKeyId=kms.create_key()["KeyMetadata"]["KeyId"]) == expected


def test_messages_recorded_from_aws(kms):
    assert kms_error("ValidationException", kms.create_key, KeySpec="HMAC_256") == (
        "You must specify a KeyUsage value for all KMS keys except for symmetric encryption keys.")
    rsa = kms.create_key(KeySpec="RSA_2048", KeyUsage="ENCRYPT_DECRYPT")["KeyMetadata"]["KeyId"]
    assert kms_error("ValidationException", kms.encrypt, KeyId=rsa, Plaintext=os.urandom(215),
                     EncryptionAlgorithm="RSAES_OAEP_SHA_1") == (
        "Algorithm RSAES_OAEP_SHA_1 and key spec RSA_2048 cannot encrypt data larger than 214 bytes.")
    assert kms_error("ValidationException", kms.create_alias, AliasName="no-prefix",
                     TargetKeyId=rsa) == ('Alias must start with the prefix "alias/". Please see '
                                          "https://docs.aws.amazon.com/kms/latest/developerguide/kms-alias.html")
    plain = kms.create_key()["KeyMetadata"]
    assert kms_error("UnsupportedOperationException", kms.get_parameters_for_import, KeyId=plain["KeyId"],
                     WrappingAlgorithm="RSAES_OAEP_SHA_256", WrappingKeySpec="RSA_2048") == (
        f"{plain['Arn']} origin is AWS_KMS which is not valid for this operation.")


def test_import_shapes_and_words(kms):
    from test_imports import wrap

    key = kms.create_key(Origin="EXTERNAL")["KeyMetadata"]
    params = kms.get_parameters_for_import(KeyId=key["KeyId"], WrappingAlgorithm="RSAES_OAEP_SHA_256",
                                           WrappingKeySpec="RSA_2048")
    material = wrap(params["PublicKey"], "RSAES_OAEP_SHA_256", os.urandom(32))
    assert kms_error("ValidationException", kms.import_key_material, KeyId=key["KeyId"],
                     ImportToken=params["ImportToken"], EncryptedKeyMaterial=material) == (
        "A validTo date must be set if the ExpirationModel is KEY_MATERIAL_EXPIRES")
    kms.import_key_material(KeyId=key["KeyId"], ImportToken=params["ImportToken"], EncryptedKeyMaterial=material,
                            ExpirationModel="KEY_MATERIAL_DOES_NOT_EXPIRE")
    assert kms.describe_key(KeyId=key["KeyId"])["KeyMetadata"]["ExpirationModel"] == "KEY_MATERIAL_DOES_NOT_EXPIRE"
    kms.delete_imported_key_material(KeyId=key["KeyId"])
    after = kms.describe_key(KeyId=key["KeyId"])["KeyMetadata"]
    assert after["KeyState"] == "PendingImport" and "ExpirationModel" not in after and "ValidTo" not in after


def test_rotate_on_demand_checks_the_state_first_and_answers_the_arn(kms):
    key = kms.create_key()["KeyMetadata"]
    assert kms.rotate_key_on_demand(KeyId=key["KeyId"])["KeyId"] == key["Arn"]
    hmac_key = kms.create_key(KeySpec="HMAC_256", KeyUsage="GENERATE_VERIFY_MAC")["KeyMetadata"]
    kms.disable_key(KeyId=hmac_key["KeyId"])
    assert kms_error("DisabledException", kms.rotate_key_on_demand, KeyId=hmac_key["KeyId"]) == (
        f"{hmac_key['Arn']} is disabled.")
    kms.enable_key(KeyId=hmac_key["KeyId"])
    kms_error("UnsupportedOperationException", kms.rotate_key_on_demand, KeyId=hmac_key["KeyId"])


@pytest.mark.parametrize("tags", [[], [{"TagKey": "k", "TagValue": "v"}]])
def test_replicate_key_answers_aws_shape(backend, tags):
    kms = backend.client(region="us-east-1")
    key = kms.create_key(MultiRegion=True)["KeyMetadata"]["KeyId"]
    out = kms.replicate_key(KeyId=key, ReplicaRegion="ap-southeast-1", **({"Tags": tags} if tags else {}))
    assert ("ReplicaTags" in out) == bool(tags)
    if tags:
        assert out["ReplicaTags"] == tags
    meta = out["ReplicaKeyMetadata"]
    assert "CurrentKeyMaterialId" not in meta
    assert (meta["KeyState"], meta["Enabled"], meta["MultiRegionConfiguration"]["MultiRegionKeyType"]) == (
        "Creating", False, "REPLICA")
