"""Keys through boto3 against the real server: CreateKey for every KeySpec/KeyUsage pair,
DescribeKey, ListKeys, enable/disable, descriptions, deletion scheduling and key states."""

from __future__ import annotations

import datetime as dt
import json
import re

import pytest
from helpers import kms_error, own_aliases

from fakekms import keyspecs, model

ARN = re.compile(r"arn:aws:kms:us-west-2:111122223333:key/([0-9a-f-]{36}|mrk-[0-9a-f]{32})")
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}")

VALID_PAIRS = [
    (spec, usage)
    for spec in model.enum_values("KeySpec")
    if spec != "SM2"
    for usage in keyspecs.usages(spec)
]
INVALID_PAIRS = [
    (spec, usage)
    for spec in model.enum_values("KeySpec")
    if spec != "SM2"
    for usage in model.enum_values("KeyUsageType")
    if usage not in keyspecs.usages(spec)
]


def now():
    return dt.datetime.now(dt.timezone.utc)


def test_default_key_is_symmetric_encryption(kms):
    before = now()
    meta = kms.create_key()["KeyMetadata"]
    assert UUID.fullmatch(meta["KeyId"])
    assert meta["Arn"] == f"arn:aws:kms:us-west-2:111122223333:key/{meta['KeyId']}"
    assert meta["AWSAccountId"] == "111122223333"
    assert meta["KeySpec"] == meta["CustomerMasterKeySpec"] == "SYMMETRIC_DEFAULT"
    assert meta["KeyUsage"] == "ENCRYPT_DECRYPT"
    assert meta["EncryptionAlgorithms"] == ["SYMMETRIC_DEFAULT"]
    assert meta["Enabled"] is True and meta["KeyState"] == "Enabled"
    assert meta["Origin"] == "AWS_KMS" and meta["KeyManager"] == "CUSTOMER"
    assert meta["MultiRegion"] is False
    assert meta["Description"] == ""
    assert re.fullmatch(r"[0-9a-f]{64}", meta["CurrentKeyMaterialId"])
    assert before - dt.timedelta(seconds=2) <= meta["CreationDate"] <= now() + dt.timedelta(seconds=2)
    for absent in ("DeletionDate", "SigningAlgorithms", "MacAlgorithms", "KeyAgreementAlgorithms",
                   "MultiRegionConfiguration", "PendingDeletionWindowInDays", "ValidTo"):
        assert absent not in meta


@pytest.mark.parametrize("spec,usage", VALID_PAIRS)
def test_create_key_for_every_valid_pair(kms, spec, usage):
    meta = kms.create_key(KeySpec=spec, KeyUsage=usage)["KeyMetadata"]
    described = kms.describe_key(KeyId=meta["KeyId"])["KeyMetadata"]
    assert described == meta
    assert meta["KeySpec"] == spec and meta["KeyUsage"] == usage
    expected = keyspecs.algorithms(spec, usage)
    for field in keyspecs.ALGORITHM_FIELDS:
        assert meta.get(field) == expected.get(field), field
    assert meta["KeyState"] == "Enabled"


@pytest.mark.parametrize("spec,usage", INVALID_PAIRS)
def test_invalid_pairs_are_validation_errors(kms, spec, usage):
    message = kms_error("ValidationException", kms.create_key, KeySpec=spec, KeyUsage=usage)
    assert spec in message and usage in message
    assert kms.list_keys()["Keys"] == []


@pytest.mark.parametrize("spec", [s for s in model.enum_values("KeySpec") if s not in ("SYMMETRIC_DEFAULT", "SM2")])
def test_key_usage_is_required_except_for_symmetric(kms, spec):
    kms_error("ValidationException", kms.create_key, KeySpec=spec)


def test_customer_master_key_spec_is_an_alias_of_key_spec(kms):
    meta = kms.create_key(CustomerMasterKeySpec="ECC_NIST_P384", KeyUsage="SIGN_VERIFY")["KeyMetadata"]
    assert meta["KeySpec"] == meta["CustomerMasterKeySpec"] == "ECC_NIST_P384"
    assert meta["SigningAlgorithms"] == ["ECDSA_SHA_384"]
    kms_error("ValidationException", kms.create_key, KeySpec="RSA_2048",
              CustomerMasterKeySpec="RSA_2048", KeyUsage="SIGN_VERIFY")


def test_sm2_is_china_only(kms, backend):
    kms_error("ValidationException", kms.create_key, KeySpec="SM2", KeyUsage="SIGN_VERIFY")
    china = backend.client(region="cn-north-1")
    message = kms_error("UnsupportedOperationException", china.create_key, KeySpec="SM2", KeyUsage="SIGN_VERIFY")
    assert "SM2" in message


def test_description_tags_and_policy_are_kept(kms):
    policy = json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "kms:*", "Resource": "*"}]})
    meta = kms.create_key(
        Description="orders", Policy=policy,
        Tags=[{"TagKey": "team", "TagValue": "payments"}, {"TagKey": "empty", "TagValue": ""}],
    )["KeyMetadata"]
    assert meta["Description"] == "orders"
    assert kms.get_key_policy(KeyId=meta["KeyId"])["Policy"] == policy
    assert kms.list_resource_tags(KeyId=meta["KeyId"])["Tags"] == [
        {"TagKey": "team", "TagValue": "payments"}, {"TagKey": "empty", "TagValue": ""}]


def test_default_key_policy_trusts_the_account(kms):
    key_id = kms.create_key()["KeyMetadata"]["KeyId"]
    policy = json.loads(kms.get_key_policy(KeyId=key_id, PolicyName="default")["Policy"])
    [statement] = policy["Statement"]
    assert statement["Principal"] == {"AWS": "arn:aws:iam::111122223333:root"}
    assert statement["Action"] == "kms:*" and statement["Effect"] == "Allow"
    assert kms.list_key_policies(KeyId=key_id)["PolicyNames"] == ["default"]


def test_put_key_policy(kms):
    key_id = kms.create_key()["KeyMetadata"]["KeyId"]
    new = json.dumps({"Version": "2012-10-17", "Statement": []})
    assert kms_error("MalformedPolicyDocumentException", kms.put_key_policy, KeyId=key_id, Policy=new) == (
        "The new key policy will not allow you to update the key policy in the future.")
    kms.put_key_policy(KeyId=key_id, PolicyName="default", Policy=new, BypassPolicyLockoutSafetyCheck=True)
    assert kms.get_key_policy(KeyId=key_id)["Policy"] == new
    kms_error("MalformedPolicyDocumentException", kms.put_key_policy, KeyId=key_id, Policy="{not json")
    kms_error("NotFoundException", kms.get_key_policy, KeyId=key_id, PolicyName="other")
    assert kms.get_key_policy(KeyId=key_id)["Policy"] == new


@pytest.mark.parametrize("policy", ["{not json", "[]", "{\"Version\": \"2012-10-17\"}"])
def test_malformed_policy_creates_nothing(kms, policy):
    kms_error("MalformedPolicyDocumentException", kms.create_key, Policy=policy)
    assert kms.list_keys()["Keys"] == []


ROOT_STATEMENT = {"Sid": "root", "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::111122223333:root"},
                  "Action": "kms:*", "Resource": "*"}


@pytest.mark.parametrize("principal", [{"AWS": "bob"}, {"AWS": "arn:aws:iam::111122223333:group/admins"},
                                       {"Service": "not a service"}, {"Canonical": "x"}, "everyone"])
def test_invalid_principals_are_refused_in_aws_words(kms, principal):
    policy = json.dumps({"Version": "2012-10-17", "Statement": [
        ROOT_STATEMENT, {"Effect": "Allow", "Principal": principal, "Action": "kms:Decrypt", "Resource": "*"}]})
    assert kms_error("MalformedPolicyDocumentException", kms.create_key, Policy=policy) == (
        "Policy contains a statement with one or more invalid principals.")


def test_a_key_policy_over_32_kb_is_refused(kms):
    padding = {"Sid": "x" * 33000, "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::111122223333:root"},
               "Action": "kms:Describe*", "Resource": "*"}
    policy = json.dumps({"Version": "2012-10-17", "Statement": [ROOT_STATEMENT, padding]})
    message = kms_error("MalformedPolicyDocumentException", kms.create_key, Policy=policy)
    assert "at most 32768 bytes" in message
    assert kms.list_keys()["Keys"] == []


def test_the_lockout_safety_check(kms):
    locking = [
        {"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::111122223333:user/bob"}, "Action": "kms:*",
         "Resource": "*"},
        ROOT_STATEMENT | {"Action": "kms:Describe*"},
    ]
    policy = json.dumps({"Version": "2012-10-17", "Statement": locking})
    assert kms_error("MalformedPolicyDocumentException", kms.create_key, Policy=policy) == (
        "The new key policy will not allow you to update the key policy in the future.")
    denying = json.dumps({"Version": "2012-10-17", "Statement": [
        ROOT_STATEMENT, {"Effect": "Deny", "Principal": {"AWS": "*"}, "Action": "kms:PutKeyPolicy", "Resource": "*"}]})
    kms_error("MalformedPolicyDocumentException", kms.create_key, Policy=denying)
    key = kms.create_key(Policy=policy, BypassPolicyLockoutSafetyCheck=True)["KeyMetadata"]["KeyId"]
    assert "user/bob" in kms.get_key_policy(KeyId=key)["Policy"]
    kms.create_key(Policy=json.dumps({"Version": "2012-10-17", "Statement": [ROOT_STATEMENT]}))


def test_multi_region_primary(kms):
    meta = kms.create_key(MultiRegion=True)["KeyMetadata"]
    assert re.fullmatch(r"mrk-[0-9a-f]{32}", meta["KeyId"])
    assert meta["MultiRegion"] is True
    assert meta["MultiRegionConfiguration"] == {
        "MultiRegionKeyType": "PRIMARY",
        "PrimaryKey": {"Arn": meta["Arn"], "Region": "us-west-2"},
        "ReplicaKeys": [],
    }
    assert kms.describe_key(KeyId=meta["KeyId"])["KeyMetadata"]["KeyId"] == meta["KeyId"]


@pytest.mark.parametrize("spec,usage", [("SYMMETRIC_DEFAULT", "ENCRYPT_DECRYPT"), ("HMAC_384", "GENERATE_VERIFY_MAC"),
                                        ("RSA_2048", "SIGN_VERIFY"), ("ECC_NIST_P256", "KEY_AGREEMENT")])
def test_external_origin_awaits_import(kms, spec, usage):
    meta = kms.create_key(Origin="EXTERNAL", KeySpec=spec, KeyUsage=usage)["KeyMetadata"]
    assert meta["Origin"] == "EXTERNAL"
    assert meta["KeyState"] == "PendingImport" and meta["Enabled"] is False
    assert "CurrentKeyMaterialId" not in meta
    assert "is pending import." in kms_error("KMSInvalidStateException", kms.enable_key, KeyId=meta["KeyId"])
    kms_error("KMSInvalidStateException", kms.disable_key, KeyId=meta["KeyId"])


def test_custom_key_store_origins(kms):
    kms_error("ValidationException", kms.create_key, Origin="AWS_CLOUDHSM")
    kms_error("CustomKeyStoreNotFoundException", kms.create_key, Origin="AWS_CLOUDHSM",
              CustomKeyStoreId="cks-1234567890abcdef0")
    kms_error("UnsupportedOperationException", kms.create_key, Origin="AWS_CLOUDHSM",
              CustomKeyStoreId="cks-1234567890abcdef0", MultiRegion=True)
    kms_error("ValidationException", kms.create_key, Origin="EXTERNAL_KEY_STORE",
              CustomKeyStoreId="cks-1234567890abcdef0")
    kms_error("ValidationException", kms.create_key, XksKeyId="external-key")
    assert kms.list_keys()["Keys"] == []


def test_list_keys_pages(kms):
    created = [kms.create_key()["KeyMetadata"]["KeyId"] for _ in range(5)]
    seen, marker, pages = [], None, 0
    while True:
        page = kms.list_keys(Limit=2, **({"Marker": marker} if marker else {}))
        pages += 1
        seen += [k["KeyId"] for k in page["Keys"]]
        for k in page["Keys"]:
            assert k["KeyArn"].endswith(k["KeyId"])
        if not page["Truncated"]:
            assert "NextMarker" not in page
            break
        marker = page["NextMarker"]
    assert pages == 3 and seen == created
    assert kms.list_keys(Limit=5)["Truncated"] is False
    assert len(list(kms.get_paginator("list_keys").paginate(PaginationConfig={"PageSize": 2}).search("Keys"))) == 5


def test_list_keys_resource_owners(kms):
    """SELF lists the account's keys; OTHER_ACCOUNTS_VIA_RAM none, as fakekms has no Resource
    Access Manager; both list the own keys first, in either order; a marker serves only the
    ResourceOwners it was issued for."""
    created = [kms.create_key()["KeyMetadata"]["KeyId"] for _ in range(3)]
    assert [k["KeyId"] for k in kms.list_keys(ResourceOwners=["SELF"])["Keys"]] == created
    assert kms.list_keys(ResourceOwners=["OTHER_ACCOUNTS_VIA_RAM"]) | {"ResponseMetadata": None} == {
        "Keys": [], "Truncated": False, "ResponseMetadata": None}
    for owners in (["SELF", "OTHER_ACCOUNTS_VIA_RAM"], ["OTHER_ACCOUNTS_VIA_RAM", "SELF"]):
        seen = list(kms.get_paginator("list_keys").paginate(
            ResourceOwners=owners, PaginationConfig={"PageSize": 2}).search("Keys[].KeyId"))
        assert seen == created
    own = kms.list_keys(Limit=1)["NextMarker"]
    both = kms.list_keys(Limit=1, ResourceOwners=["SELF", "OTHER_ACCOUNTS_VIA_RAM"])["NextMarker"]
    assert kms.list_keys(Limit=1, Marker=own, ResourceOwners=["SELF"])["Keys"][0]["KeyId"] == created[1]
    kms_error("InvalidMarkerException", kms.list_keys, Marker=own, ResourceOwners=["SELF", "OTHER_ACCOUNTS_VIA_RAM"])
    kms_error("InvalidMarkerException", kms.list_keys, Marker=both)
    kms_error("InvalidMarkerException", kms.list_keys, Marker=own, ResourceOwners=["OTHER_ACCOUNTS_VIA_RAM"])
    kms_error("ValidationException", kms.list_keys, ResourceOwners=["NOBODY"])
    kms_error("ValidationException", kms.list_keys, ResourceOwners=[])


def test_list_keys_rejects_bad_paging(kms):
    kms_error("InvalidMarkerException", kms.list_keys, Marker="garbage")
    assert "greater than or equal to 1" in kms_error("ValidationException", kms.list_keys, Limit=0)
    assert "less than or equal to 1000" in kms_error("ValidationException", kms.list_keys, Limit=1001)


def test_enable_disable_and_description(kms):
    key_id = kms.create_key(Description="first")["KeyMetadata"]["KeyId"]
    kms.disable_key(KeyId=key_id)
    meta = kms.describe_key(KeyId=key_id)["KeyMetadata"]
    assert (meta["Enabled"], meta["KeyState"]) == (False, "Disabled")
    kms.disable_key(KeyId=key_id)
    kms.update_key_description(KeyId=key_id, Description="second")
    kms.enable_key(KeyId=key_id)
    meta = kms.describe_key(KeyId=key_id)["KeyMetadata"]
    assert (meta["Enabled"], meta["KeyState"], meta["Description"]) == (True, "Enabled", "second")
    kms.update_key_description(KeyId=key_id, Description="")
    assert kms.describe_key(KeyId=key_id)["KeyMetadata"]["Description"] == ""


def test_schedule_and_cancel_deletion(kms):
    meta = kms.create_key()["KeyMetadata"]
    before = now()
    result = kms.schedule_key_deletion(KeyId=meta["KeyId"])
    assert result["KeyId"] == meta["Arn"]
    assert result["KeyState"] == "PendingDeletion" and result["PendingWindowInDays"] == 30
    assert abs((result["DeletionDate"] - before) - dt.timedelta(days=30)) < dt.timedelta(seconds=5)
    described = kms.describe_key(KeyId=meta["KeyId"])["KeyMetadata"]
    assert described["KeyState"] == "PendingDeletion" and described["Enabled"] is False
    assert described["DeletionDate"] == result["DeletionDate"]
    assert described["PendingDeletionWindowInDays"] == 30
    kms_error("KMSInvalidStateException", kms.schedule_key_deletion, KeyId=meta["KeyId"])

    assert kms.cancel_key_deletion(KeyId=meta["Arn"])["KeyId"] == meta["Arn"]
    described = kms.describe_key(KeyId=meta["KeyId"])["KeyMetadata"]
    assert described["KeyState"] == "Disabled"
    assert "DeletionDate" not in described and "PendingDeletionWindowInDays" not in described
    message = kms_error("KMSInvalidStateException", kms.cancel_key_deletion, KeyId=meta["KeyId"])
    assert message == f"{meta['Arn']} is not pending deletion."


@pytest.mark.parametrize("days,ok", [(7, True), (30, True), (6, False), (31, False), (0, False), (366, False)])
def test_pending_window_is_7_to_30_days(kms, days, ok):
    key_id = kms.create_key()["KeyMetadata"]["KeyId"]
    if ok:
        assert kms.schedule_key_deletion(KeyId=key_id, PendingWindowInDays=days)["PendingWindowInDays"] == days
    else:
        message = kms_error("ValidationException", kms.schedule_key_deletion, KeyId=key_id,
                            PendingWindowInDays=days)
        assert f"Value '{days}' at 'pendingWindowInDays'" in message
        assert kms.describe_key(KeyId=key_id)["KeyMetadata"]["KeyState"] == "Enabled"


def test_cancelling_deletion_of_a_key_without_material_returns_to_pending_import(kms):
    key_id = kms.create_key(Origin="EXTERNAL")["KeyMetadata"]["KeyId"]
    kms.schedule_key_deletion(KeyId=key_id, PendingWindowInDays=7)
    kms.cancel_key_deletion(KeyId=key_id)
    assert kms.describe_key(KeyId=key_id)["KeyMetadata"]["KeyState"] == "PendingImport"


def test_key_states_are_enforced(kms):
    meta = kms.create_key(Tags=[{"TagKey": "a", "TagValue": "b"}])["KeyMetadata"]
    key_id, arn = meta["KeyId"], meta["Arn"]
    kms.create_alias(AliasName="alias/pending", TargetKeyId=key_id)
    other = kms.create_key()["KeyMetadata"]["KeyId"]
    kms.create_alias(AliasName="alias/other", TargetKeyId=other)
    kms.schedule_key_deletion(KeyId=key_id, PendingWindowInDays=7)

    pending = f"{arn} is pending deletion."
    refused = [
        (kms.enable_key, {"KeyId": key_id}),
        (kms.disable_key, {"KeyId": key_id}),
        (kms.update_key_description, {"KeyId": key_id, "Description": "x"}),
        (kms.tag_resource, {"KeyId": key_id, "Tags": [{"TagKey": "c", "TagValue": "d"}]}),
        (kms.untag_resource, {"KeyId": key_id, "TagKeys": ["a"]}),
        (kms.create_alias, {"AliasName": "alias/new", "TargetKeyId": key_id}),
        (kms.update_alias, {"AliasName": "alias/other", "TargetKeyId": key_id}),
    ]
    for call, kwargs in refused:
        assert kms_error("KMSInvalidStateException", call, **kwargs) == pending, call
    # Reading and alias removal work in every state.
    assert kms.describe_key(KeyId="alias/pending")["KeyMetadata"]["KeyState"] == "PendingDeletion"
    assert kms.list_resource_tags(KeyId=key_id)["Tags"] == [{"TagKey": "a", "TagValue": "b"}]
    assert kms.get_key_policy(KeyId=key_id)["Policy"]
    assert [a["AliasName"] for a in kms.list_aliases(KeyId=key_id)["Aliases"]] == ["alias/pending"]
    kms.delete_alias(AliasName="alias/pending")


def test_disabled_keys_can_be_managed(kms):
    key_id = kms.create_key()["KeyMetadata"]["KeyId"]
    kms.disable_key(KeyId=key_id)
    kms.update_key_description(KeyId=key_id, Description="still manageable")
    kms.tag_resource(KeyId=key_id, Tags=[{"TagKey": "k", "TagValue": "v"}])
    kms.create_alias(AliasName="alias/disabled", TargetKeyId=key_id)
    kms.schedule_key_deletion(KeyId=key_id, PendingWindowInDays=7)


def test_key_id_forms(kms):
    meta = kms.create_key()["KeyMetadata"]
    kms.create_alias(AliasName="alias/forms", TargetKeyId=meta["KeyId"])
    alias_arn = "arn:aws:kms:us-west-2:111122223333:alias/forms"
    for form in (meta["KeyId"], meta["Arn"], "alias/forms", alias_arn):
        assert kms.describe_key(KeyId=form)["KeyMetadata"]["KeyId"] == meta["KeyId"]
    # Operations that take only a key id or key ARN.
    kms.enable_key(KeyId=meta["Arn"])
    assert kms_error("NotFoundException", kms.enable_key, KeyId="alias/forms") == "Invalid keyId 'alias/forms'"
    kms_error("InvalidArnException", kms.disable_key, KeyId=alias_arn)
    kms_error("NotFoundException", kms.tag_resource, KeyId="alias/forms", Tags=[])


def test_unknown_keys_and_aliases(kms):
    missing = "1234abcd-12ab-34cd-56ef-1234567890ab"
    assert kms_error("NotFoundException", kms.describe_key, KeyId=missing) == (
        f"Key 'arn:aws:kms:us-west-2:111122223333:key/{missing}' does not exist")
    assert kms_error("NotFoundException", kms.describe_key, KeyId="alias/none") == (
        "Alias arn:aws:kms:us-west-2:111122223333:alias/none is not found.")
    assert kms_error("NotFoundException", kms.describe_key, KeyId="not-a-key") == "Invalid keyId 'not-a-key'"
    kms_error("InvalidArnException", kms.describe_key, KeyId="arn:aws:s3:::bucket")
    kms_error("NotFoundException", kms.describe_key,
              KeyId=f"arn:aws:kms:us-west-2:111122223333:key/{missing}")


def test_state_is_isolated_per_account_and_region(kms, backend):
    meta = kms.create_key()["KeyMetadata"]
    kms.create_alias(AliasName="alias/mine", TargetKeyId=meta["KeyId"])
    other_region = backend.client(region="eu-west-1")
    other_account = backend.client(access_key="444455556666")
    default_account = backend.client(access_key="AKIAIOSFODNN7EXAMPLE")
    for client in (other_region, other_account, default_account):
        assert client.list_keys()["Keys"] == []
        assert own_aliases(client) == []
        kms_error("NotFoundException", client.describe_key, KeyId=meta["KeyId"])
        kms_error("NotFoundException", client.describe_key, KeyId=meta["Arn"])
    created = default_account.create_key()["KeyMetadata"]
    assert created["AWSAccountId"] == "123456789012"
    assert created["Arn"].startswith("arn:aws:kms:us-west-2:123456789012:key/")
    assert other_region.create_key()["KeyMetadata"]["Arn"].startswith("arn:aws:kms:eu-west-1:111122223333:")


def test_unsigned_requests_use_default_account_and_server_region(server):
    server.reset()
    status, body, _ = server.call("TrentService.CreateKey", {})
    assert status == 200
    assert body["KeyMetadata"]["Arn"].startswith("arn:aws:kms:us-east-1:123456789012:key/")
    assert isinstance(body["KeyMetadata"]["CreationDate"], float)


def test_keys_are_deleted_when_the_window_ends(local):
    kms = local.client()
    meta = kms.create_key(Tags=[{"TagKey": "a", "TagValue": "b"}])["KeyMetadata"]
    kms.create_alias(AliasName="alias/doomed", TargetKeyId=meta["KeyId"])
    keep = kms.create_key()["KeyMetadata"]["KeyId"]
    kms.schedule_key_deletion(KeyId=meta["KeyId"], PendingWindowInDays=7)
    local.app.clock.advance(6 * 86400)
    assert kms.describe_key(KeyId=meta["KeyId"])["KeyMetadata"]["KeyState"] == "PendingDeletion"
    local.app.clock.advance(86400 + 1)
    kms_error("NotFoundException", kms.describe_key, KeyId=meta["KeyId"])
    kms_error("NotFoundException", kms.describe_key, KeyId="alias/doomed")
    assert [k["KeyId"] for k in kms.list_keys()["Keys"]] == [keep]
    assert own_aliases(kms) == []
    with local.app.store.read() as tx:
        assert tx.get_key("111122223333", "us-west-2", meta["KeyId"]) is None
