"""AWS managed keys: ``alias/aws/<service>`` makes its key on first use; the key works for
cryptography, is listed, rotates yearly, and refuses what its key policy does not allow."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from helpers import kms_error, own_aliases

START = dt.datetime(2030, 1, 1, tzinfo=dt.timezone.utc)


@pytest.fixture
def s3_key(kms):
    return kms.describe_key(KeyId="alias/aws/s3")["KeyMetadata"]


def test_made_on_first_use_and_the_same_key_after(kms, backend):
    backend.control.clock.set(START.isoformat(), frozen=True)
    assert kms.list_keys()["Keys"] == []
    out = kms.encrypt(KeyId="alias/aws/s3", Plaintext=b"object")
    meta = kms.describe_key(KeyId="alias/aws/s3")["KeyMetadata"]
    assert out["KeyId"] == meta["Arn"]
    assert meta["KeyManager"] == "AWS" and meta["KeyState"] == "Enabled"
    assert meta["KeySpec"] == "SYMMETRIC_DEFAULT" and meta["Description"]
    assert kms.decrypt(CiphertextBlob=out["CiphertextBlob"])["Plaintext"] == b"object"
    assert [k["KeyId"] for k in kms.list_keys()["Keys"]] == [meta["KeyId"]]
    [alias] = own_aliases(kms)
    assert alias["AliasName"] == "alias/aws/s3" and alias["TargetKeyId"] == meta["KeyId"]
    ebs = kms.generate_data_key(KeyId="alias/aws/ebs", KeySpec="AES_128")["KeyId"]
    assert ebs != meta["Arn"] and len(kms.list_keys()["Keys"]) == 2


def test_its_key_policy_is_awss_and_rotation_is_yearly(kms, backend, s3_key):
    policy = json.loads(kms.get_key_policy(KeyId=s3_key["KeyId"])["Policy"])
    via = policy["Statement"][0]["Condition"]["StringEquals"]["kms:ViaService"]
    assert via == "s3.us-west-2.amazonaws.com"
    status = kms.get_key_rotation_status(KeyId=s3_key["KeyId"])
    assert status["KeyRotationEnabled"] is True and status["RotationPeriodInDays"] == 365
    backend.control.clock.advance(days=366)
    [rotation] = kms.list_key_rotations(KeyId=s3_key["KeyId"])["Rotations"]
    assert rotation["RotationType"] == "AUTOMATIC"
    assert rotation["RotationDate"] == s3_key["CreationDate"] + dt.timedelta(days=365)


@pytest.mark.parametrize("operation, extra", [
    ("disable_key", {}),
    ("enable_key", {}),
    ("schedule_key_deletion", {}),
    ("put_key_policy", {"Policy": "{}"}),
    ("enable_key_rotation", {}),
    ("disable_key_rotation", {}),
    ("rotate_key_on_demand", {}),
    ("update_key_description", {"Description": "mine"}),
    ("tag_resource", {"Tags": [{"TagKey": "k", "TagValue": "v"}]}),
])
def test_what_customers_may_not_do(kms, s3_key, operation, extra):
    message = kms_error("AccessDeniedException", getattr(kms, operation), KeyId=s3_key["KeyId"], **extra)
    name = "".join(part.title() for part in operation.split("_"))
    assert f"kms:{name} on resource: {s3_key['Arn']}" in message
    assert kms.describe_key(KeyId=s3_key["KeyId"])["KeyMetadata"]["KeyState"] == "Enabled"


def test_its_alias_is_awss_alone(kms, s3_key):
    kms_error("NotAuthorizedException", kms.delete_alias, AliasName="alias/aws/s3")
    kms_error("NotAuthorizedException", kms.create_alias, AliasName="alias/aws/mine", TargetKeyId=s3_key["KeyId"])
    kms_error("AccessDeniedException", kms.create_alias, AliasName="alias/mine", TargetKeyId=s3_key["KeyId"])
    assert [a["AliasName"] for a in kms.list_aliases(KeyId=s3_key["KeyId"])["Aliases"]] == ["alias/aws/s3"]
    kms_error("NotFoundException", kms.describe_key, KeyId="alias/aws/not valid")


def test_list_aliases_shows_predefined_aliases_until_their_key_exists(kms):
    listed = {a["AliasName"]: a for a in kms.list_aliases()["Aliases"]}
    s3 = listed["alias/aws/s3"]
    assert set(s3) == {"AliasName", "AliasArn"} and s3["AliasArn"].endswith(":alias/aws/s3")
    assert {"alias/aws/ebs", "alias/aws/dynamodb", "alias/aws/secretsmanager"} <= set(listed)
    kms.encrypt(KeyId="alias/aws/s3", Plaintext=b"p")
    after = [a for a in kms.list_aliases()["Aliases"] if a["AliasName"] == "alias/aws/s3"]
    assert len(after) == 1 and after[0]["TargetKeyId"] == kms.describe_key(KeyId="alias/aws/s3")["KeyMetadata"]["KeyId"]
    key = kms.create_key()["KeyMetadata"]["KeyId"]
    assert kms.list_aliases(KeyId=key)["Aliases"] == []  # a key's own aliases only
