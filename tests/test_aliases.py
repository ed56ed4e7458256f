"""Aliases through boto3: create, resolve, update, delete, list, and every refusal."""

from __future__ import annotations

import datetime as dt
import threading

import pytest
from botocore.exceptions import ClientError
from helpers import kms_error, own_aliases

from fakekms.ops.managed import PREDEFINED


@pytest.fixture
def key_id(kms):
    return kms.create_key()["KeyMetadata"]["KeyId"]


def test_alias_lifecycle(kms, key_id):
    kms.create_alias(AliasName="alias/app/orders", TargetKeyId=key_id)
    [alias] = own_aliases(kms)
    assert alias["AliasName"] == "alias/app/orders"
    assert alias["AliasArn"] == "arn:aws:kms:us-west-2:111122223333:alias/app/orders"
    assert alias["TargetKeyId"] == key_id
    assert alias["CreationDate"] == alias["LastUpdatedDate"]
    assert abs(alias["CreationDate"] - dt.datetime.now(dt.timezone.utc)) < dt.timedelta(seconds=5)
    assert kms.describe_key(KeyId="alias/app/orders")["KeyMetadata"]["KeyId"] == key_id

    other = kms.create_key()["KeyMetadata"]["KeyId"]
    kms.update_alias(AliasName="alias/app/orders", TargetKeyId=other)
    [alias] = own_aliases(kms)
    assert alias["TargetKeyId"] == other
    assert alias["LastUpdatedDate"] >= alias["CreationDate"]
    assert kms.describe_key(KeyId="alias/app/orders")["KeyMetadata"]["KeyId"] == other

    kms.delete_alias(AliasName="alias/app/orders")
    assert own_aliases(kms) == []
    kms_error("NotFoundException", kms.describe_key, KeyId="alias/app/orders")


def test_list_aliases_by_key_and_pages(kms, key_id):
    other = kms.create_key()["KeyMetadata"]["KeyId"]
    names = [f"alias/k{i}" for i in range(5)]
    for name in names:
        kms.create_alias(AliasName=name, TargetKeyId=key_id)
    kms.create_alias(AliasName="alias/other", TargetKeyId=other)
    assert [a["AliasName"] for a in kms.list_aliases(KeyId=key_id)["Aliases"]] == names
    arn = kms.describe_key(KeyId=other)["KeyMetadata"]["Arn"]
    assert [a["AliasName"] for a in kms.list_aliases(KeyId=arn)["Aliases"]] == ["alias/other"]

    seen, marker = [], None
    while True:
        page = kms.list_aliases(Limit=2, **({"Marker": marker} if marker else {}))
        seen += [a["AliasName"] for a in page["Aliases"]]
        if not page["Truncated"]:
            break
        marker = page["NextMarker"]
    assert seen == sorted(names + ["alias/other", *PREDEFINED])
    kms_error("InvalidMarkerException", kms.list_aliases, Marker="bogus")
    kms_error("NotFoundException", kms.list_aliases, KeyId="1234abcd-12ab-34cd-56ef-1234567890ab")
    kms_error("ValidationException", kms.list_aliases, Limit=101)


@pytest.mark.parametrize(
    "name,code,message",
    [
        ("orders", "ValidationException", 'Alias must start with the prefix "alias/".'),
        ("alias/aws/s3", "NotAuthorizedException", "alias/aws/"),
        ("alias/a:b", "ValidationException", "contains invalid characters"),
        ("alias/", "ValidationException", "contains invalid characters"),
        ("alias/has space", "ValidationException", "Member must satisfy regular expression pattern"),
        ("alias/" + "a" * 251, "ValidationException", "Member must have length less than or equal to 256"),
    ],
)
def test_bad_alias_names(kms, key_id, name, code, message):
    assert message in kms_error(code, kms.create_alias, AliasName=name, TargetKeyId=key_id)
    assert own_aliases(kms) == []


def test_alias_conflicts_and_missing_targets(kms, key_id):
    kms.create_alias(AliasName="alias/taken", TargetKeyId=key_id)
    assert kms_error("AlreadyExistsException", kms.create_alias, AliasName="alias/taken", TargetKeyId=key_id) == (
        "An alias with the name arn:aws:kms:us-west-2:111122223333:alias/taken already exists")
    missing = "1234abcd-12ab-34cd-56ef-1234567890ab"
    kms_error("NotFoundException", kms.create_alias, AliasName="alias/new", TargetKeyId=missing)
    assert kms_error("ValidationException", kms.create_alias, AliasName="alias/new",
                     TargetKeyId="alias/taken") == "Aliases must refer to keys. Not aliases"
    kms_error("NotFoundException", kms.update_alias, AliasName="alias/absent", TargetKeyId=key_id)
    kms_error("NotFoundException", kms.delete_alias, AliasName="alias/absent")
    kms_error("ValidationException", kms.delete_alias, AliasName="absent")
    kms_error("NotAuthorizedException", kms.delete_alias, AliasName="alias/aws/s3")


def test_update_alias_needs_same_type_and_usage(kms, key_id):
    kms.create_alias(AliasName="alias/sym", TargetKeyId=key_id)
    signing = kms.create_key(KeySpec="ECC_NIST_P256", KeyUsage="SIGN_VERIFY")["KeyMetadata"]["KeyId"]
    rsa_encrypt = kms.create_key(KeySpec="RSA_2048", KeyUsage="ENCRYPT_DECRYPT")["KeyMetadata"]["KeyId"]
    hmac = kms.create_key(KeySpec="HMAC_256", KeyUsage="GENERATE_VERIFY_MAC")["KeyMetadata"]["KeyId"]
    for target in (signing, rsa_encrypt, hmac):
        kms_error("ValidationException", kms.update_alias, AliasName="alias/sym", TargetKeyId=target)
    assert own_aliases(kms)[0]["TargetKeyId"] == key_id
    kms.create_alias(AliasName="alias/sig", TargetKeyId=signing)
    other_signing = kms.create_key(KeySpec="RSA_3072", KeyUsage="SIGN_VERIFY")["KeyMetadata"]["KeyId"]
    kms.update_alias(AliasName="alias/sig", TargetKeyId=other_signing)
    assert kms.describe_key(KeyId="alias/sig")["KeyMetadata"]["KeyId"] == other_signing


def test_racing_create_alias_has_one_winner(kms, backend, key_id):
    outcomes: list[str] = []
    barrier = threading.Barrier(12)

    def race():
        client = backend.client()
        barrier.wait()
        try:
            client.create_alias(AliasName="alias/race", TargetKeyId=key_id)
            outcomes.append("ok")
        except ClientError as exc:
            outcomes.append(exc.response["Error"]["Code"])

    threads = [threading.Thread(target=race) for _ in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert outcomes.count("ok") == 1
    assert outcomes.count("AlreadyExistsException") == 11
    assert len(own_aliases(kms)) == 1
