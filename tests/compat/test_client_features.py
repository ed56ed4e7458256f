"""The compatibility set: what a project pinned to an older botocore uses, run by ``make test``
a second time under the oldest botocore fakekms supports (``make compat``). fakekms serves its
own carried model whatever the client's: old clients work for the operations they know, and
newer operations still answer a raw request.

Every plugin fixture, the server and the in-process mode, and a round trip with each client-side
feature: signed requests, blobs, maps and lists, paginators, error parsing, the default client
from the environment, the AWS Encryption SDK.
"""

from __future__ import annotations

import base64
import json
import urllib.request

import aws_encryption_sdk
import boto3
import botocore
import pytest
from botocore.exceptions import ClientError
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from fakekms.inprocess import mock_kms


def _raw(endpoint: str, operation: str, body: dict) -> dict:
    """A call botocore may not know yet, as plain JSON 1.1 over HTTP."""
    request = urllib.request.Request(endpoint, data=json.dumps(body).encode(), headers={
        "X-Amz-Target": f"TrentService.{operation}", "Content-Type": "application/x-amz-json-1.1"})
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())


def test_the_botocore_under_test():
    """Prints which botocore this run uses, so a report shows that the old one ran."""
    print(f"botocore {botocore.__version__}")
    assert botocore.__version__


def test_symmetric_round_trip_and_data_keys(kms_client):
    key = kms_client.create_key(Description="compat", Tags=[{"TagKey": "t", "TagValue": "v"}])["KeyMetadata"]
    blob = kms_client.encrypt(KeyId=key["KeyId"], Plaintext=b"secret", EncryptionContext={"a": "b"})["CiphertextBlob"]
    assert kms_client.decrypt(CiphertextBlob=blob, EncryptionContext={"a": "b"})["Plaintext"] == b"secret"
    data_key = kms_client.generate_data_key(KeyId=key["KeyId"], KeySpec="AES_256")
    assert kms_client.decrypt(CiphertextBlob=data_key["CiphertextBlob"])["Plaintext"] == data_key["Plaintext"]
    with pytest.raises(ClientError) as info:
        kms_client.decrypt(CiphertextBlob=blob, EncryptionContext={"a": "c"})
    assert info.value.response["Error"]["Code"] == "InvalidCiphertextException"


def test_signatures_verify_outside_fakekms(kms_client):
    key = kms_client.create_key(KeySpec="ECC_NIST_P256", KeyUsage="SIGN_VERIFY")["KeyMetadata"]["KeyId"]
    signature = kms_client.sign(KeyId=key, Message=b"m", SigningAlgorithm="ECDSA_SHA_256")["Signature"]
    public = serialization.load_der_public_key(kms_client.get_public_key(KeyId=key)["PublicKey"])
    public.verify(signature, b"m", ec.ECDSA(hashes.SHA256()))


def test_paginators_and_aliases(kms_client):
    made = [kms_client.create_key()["KeyMetadata"]["KeyId"] for _ in range(3)]
    kms_client.create_alias(AliasName="alias/compat", TargetKeyId=made[0])
    listed = list(kms_client.get_paginator("list_keys").paginate(PaginationConfig={"PageSize": 2}).search("Keys[].KeyId"))
    assert listed == made
    names = kms_client.get_paginator("list_aliases").paginate().search("Aliases[].AliasName")
    assert "alias/compat" in list(names)


def test_newer_operations_answer_a_raw_request(kms_server, kms_client):
    """Encapsulate is newer than this botocore may be; the server serves it all the same, and the
    old client reads the newer key's metadata."""
    meta = _raw(kms_server.endpoint, "CreateKey", {"KeySpec": "ML_KEM_768", "KeyUsage": "ENCAPSULATE_DECAPSULATE"})
    key_id = meta["KeyMetadata"]["KeyId"]
    out = _raw(kms_server.endpoint, "Encapsulate", {"KeyId": key_id, "EncapsulationAlgorithm": "ML_KEM"})
    back = _raw(kms_server.endpoint, "Decapsulate", {"KeyId": key_id, "EncapsulationAlgorithm": "ML_KEM",
                                                      "SharedSecretCiphertextBlob": out["SharedSecretCiphertextBlob"]})
    assert back["SharedSecret"] == out["SharedSecret"] and len(base64.b64decode(out["SharedSecret"])) == 32
    assert kms_client.describe_key(KeyId=key_id)["KeyMetadata"]["KeyUsage"] == "ENCAPSULATE_DECAPSULATE"


def test_default_client_from_kms_env(kms_env):
    client = boto3.client("kms")
    key = client.create_key()["KeyMetadata"]["KeyId"]
    assert client.describe_key(KeyId=key)["KeyMetadata"]["Enabled"] is True


def test_clock_and_audit_fixtures(kms_client, kms_clock, kms_audit):
    key = kms_client.create_key()["KeyMetadata"]["KeyId"]
    kms_client.schedule_key_deletion(KeyId=key, PendingWindowInDays=7)
    kms_clock.advance(days=8)
    with pytest.raises(ClientError) as info:
        kms_client.describe_key(KeyId=key)
    assert info.value.response["Error"]["Code"] == "NotFoundException"
    kms_audit.assert_called("ScheduleKeyDeletion", times=1)


def test_encryption_sdk_round_trip(kms_env):
    """The AWS Encryption SDK, its KMS clients sent to fakekms by AWS_ENDPOINT_URL_KMS."""
    key = boto3.client("kms").create_key()["KeyMetadata"]["Arn"]
    session = botocore.session.Session()
    client = aws_encryption_sdk.EncryptionSDKClient()
    provider = aws_encryption_sdk.StrictAwsKmsMasterKeyProvider(key_ids=[key], botocore_session=session)
    sealed, _ = client.encrypt(source=b"payload", key_provider=provider, encryption_context={"a": "b"})
    opened, header = client.decrypt(source=sealed, key_provider=provider)
    assert opened == b"payload" and header.encryption_context["a"] == "b"


def test_in_process_mode():
    with mock_kms():
        client = boto3.client("kms", region_name="us-east-1", aws_access_key_id="AKIDEXAMPLE",
                              aws_secret_access_key="x")
        key = client.create_key()["KeyMetadata"]["KeyId"]
        blob = client.encrypt(KeyId=key, Plaintext=b"p")["CiphertextBlob"]
        assert client.decrypt(CiphertextBlob=blob)["Plaintext"] == b"p"
