"""Authorization with --enforce-policies, through boto3 in both modes: key policies, IAM
policies, grants and conditions decide, with AWS's AccessDeniedException forms and fakekms's
reason in the audit record."""

from __future__ import annotations

import functools
import json

import pytest
from conftest import ACCOUNT, REGION
from helpers import kms_error

ALICE = f"arn:aws:iam::{ACCOUNT}:user/alice"
BOB = f"arn:aws:iam::{ACCOUNT}:user/bob"
APP_ROLE = f"arn:aws:iam::{ACCOUNT}:role/app"


def iam(*actions, effect="Allow", resource="*", condition=None):
    statement = {"Effect": effect, "Action": list(actions), "Resource": resource}
    if condition:
        statement["Condition"] = condition
    return {"Version": "2012-10-17", "Statement": [statement]}


def key_policy(*statements):
    return json.dumps({"Version": "2012-10-17", "Statement": [
        {"Sid": "Enable IAM User Permissions", "Effect": "Allow",
         "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"}, "Action": "kms:*", "Resource": "*"},
        *statements]})


@pytest.fixture
def enforced(backend):
    backend.control.admin.call("POST", "authorization", {"enforce_policies": True})
    yield backend
    backend.control.reset()


def denial(call, **kwargs) -> str:
    return kms_error("AccessDeniedException", call, **kwargs)


def test_off_by_default_and_reported_by_health(backend, kms):
    alice = backend.control.identity(ALICE)
    key = kms.create_key()["KeyMetadata"]["KeyId"]
    alice.encrypt(KeyId=key, Plaintext=b"p")
    assert backend.control.health()["enforce_policies"] is False
    backend.control.admin.call("POST", "authorization", {"enforce_policies": True})
    assert backend.control.health()["enforce_policies"] is True
    backend.control.reset()
    assert backend.control.health()["enforce_policies"] is False


def test_the_default_key_policy_delegates_to_iam(enforced, kms):
    key = kms.create_key()["KeyMetadata"]
    alice = enforced.control.identity(ALICE)
    message = denial(alice.encrypt, KeyId=key["KeyId"], Plaintext=b"p")
    assert message == (f"User: {ALICE} is not authorized to perform: kms:Encrypt on resource: {key['Arn']} "
                       "because no identity-based policy allows the kms:Encrypt action")
    allowed = enforced.control.identity(ALICE, policies=[iam("kms:Encrypt", "kms:Decrypt")])
    blob = allowed.encrypt(KeyId=key["KeyId"], Plaintext=b"p")["CiphertextBlob"]
    assert allowed.decrypt(CiphertextBlob=blob)["Plaintext"] == b"p"
    denial(allowed.schedule_key_deletion, KeyId=key["KeyId"])
    kms.encrypt(KeyId=key["KeyId"], Plaintext=b"p")  # the account's root, whatever IAM says
    event = enforced.control.audit.calls("ScheduleKeyDeletion", error_code="AccessDeniedException")[-1]
    assert "no IAM policy" in event["additionalEventData"]["fakekmsReason"]


def test_a_key_policy_naming_the_caller_needs_no_iam_policy(enforced, kms):
    key = kms.create_key(Policy=key_policy({"Sid": "bob", "Effect": "Allow", "Principal": {"AWS": BOB},
                                            "Action": ["kms:Encrypt", "kms:DescribeKey"], "Resource": "*"}))
    key_id = key["KeyMetadata"]["KeyId"]
    bob = enforced.control.identity(BOB)
    bob.encrypt(KeyId=key_id, Plaintext=b"p")
    assert denial(bob.decrypt, CiphertextBlob=kms.encrypt(KeyId=key_id, Plaintext=b"p")["CiphertextBlob"]).endswith(
        "because no identity-based policy allows the kms:Decrypt action")


def test_a_key_policy_without_the_account_or_the_caller_refuses(enforced, kms):
    only_bob = json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": BOB}, "Action": "kms:*", "Resource": "*"}]})
    key = kms.create_key(Policy=only_bob, BypassPolicyLockoutSafetyCheck=True)["KeyMetadata"]
    alice = enforced.control.identity(ALICE, policies=[iam("kms:*")])
    assert denial(alice.encrypt, KeyId=key["KeyId"], Plaintext=b"p").endswith(
        "because no resource-based policy allows the kms:Encrypt action")


def test_explicit_denies_win_and_say_where_they_are(enforced, kms):
    key = kms.create_key(Policy=key_policy({
        "Sid": "NoOtherTenants", "Effect": "Deny", "Principal": {"AWS": "*"}, "Action": "kms:Decrypt",
        "Resource": "*", "Condition": {"StringNotEquals": {"kms:EncryptionContext:tenant": "a"}}}))["KeyMetadata"]
    alice = enforced.control.identity(ALICE, policies=[iam("kms:Encrypt", "kms:Decrypt")])
    good = alice.encrypt(KeyId=key["KeyId"], Plaintext=b"p", EncryptionContext={"tenant": "a"})["CiphertextBlob"]
    bad = alice.encrypt(KeyId=key["KeyId"], Plaintext=b"p", EncryptionContext={"tenant": "b"})["CiphertextBlob"]
    assert alice.decrypt(CiphertextBlob=good, EncryptionContext={"tenant": "a"})["Plaintext"] == b"p"
    message = denial(alice.decrypt, CiphertextBlob=bad, EncryptionContext={"tenant": "b"})
    assert message.endswith("with an explicit deny in a resource-based policy")
    denial(kms.decrypt, CiphertextBlob=bad, EncryptionContext={"tenant": "b"})  # the root too
    event = enforced.control.audit.calls("Decrypt", error_code="AccessDeniedException")[-1]
    assert "'NoOtherTenants'" in event["additionalEventData"]["fakekmsReason"]
    carol = enforced.control.identity(f"arn:aws:iam::{ACCOUNT}:user/carol", policies=[
        iam("kms:*"), iam("kms:Encrypt", effect="Deny")])
    assert denial(carol.encrypt, KeyId=key["KeyId"], Plaintext=b"p").endswith(
        "with an explicit deny in an identity-based policy")


def test_grants_allow_their_operations_when_their_constraints_hold(enforced, kms):
    only_root = json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"}, "Action": "kms:*",
         "Resource": "*"}]})
    key_id = kms.create_key(Policy=only_root)["KeyMetadata"]["KeyId"]
    kms.create_grant(KeyId=key_id, GranteePrincipal=APP_ROLE, Operations=["Decrypt"],
                     Constraints={"EncryptionContextSubset": {"tenant": "a"}})
    app = enforced.control.identity(f"arn:aws:sts::{ACCOUNT}:assumed-role/app/worker")
    blob = kms.encrypt(KeyId=key_id, Plaintext=b"p", EncryptionContext={"tenant": "a", "x": "y"})["CiphertextBlob"]
    other = kms.encrypt(KeyId=key_id, Plaintext=b"p", EncryptionContext={"tenant": "b"})["CiphertextBlob"]
    assert app.decrypt(CiphertextBlob=blob, EncryptionContext={"tenant": "a", "x": "y"})["Plaintext"] == b"p"
    denial(app.decrypt, CiphertextBlob=other, EncryptionContext={"tenant": "b"})
    denial(app.encrypt, KeyId=key_id, Plaintext=b"p")


def test_calls_on_no_key_are_decided_by_iam(enforced, kms):
    alice = enforced.control.identity(ALICE)
    assert denial(alice.create_key) == (f"User: {ALICE} is not authorized to perform: kms:CreateKey on "
                                        "resource: * because no identity-based policy allows the kms:CreateKey action")
    creator = enforced.control.identity(ALICE, policies=[iam("kms:CreateKey", "kms:ListKeys")])
    creator.create_key()
    creator.list_keys()
    kms.create_key()


def test_aws_managed_keys_are_used_only_through_their_service(enforced, kms):
    assert denial(kms.encrypt, KeyId="alias/aws/s3", Plaintext=b"p").endswith(
        "because no resource-based policy allows the kms:Encrypt action")
    through_s3 = enforced.control.identity(f"arn:aws:iam::{ACCOUNT}:user/uploader", policies=[iam("kms:*")],
                                           via_service=f"s3.{REGION}.amazonaws.com")
    blob = through_s3.encrypt(KeyId="alias/aws/s3", Plaintext=b"p")["CiphertextBlob"]
    assert through_s3.decrypt(CiphertextBlob=blob)["Plaintext"] == b"p"
    kms.describe_key(KeyId="alias/aws/s3")  # Describe* is the account's


def test_dry_run_reports_the_decision(enforced, kms):
    key = kms.create_key()["KeyMetadata"]["KeyId"]
    alice = enforced.control.identity(ALICE)
    denial(alice.encrypt, KeyId=key, Plaintext=b"p", DryRun=True)
    allowed = enforced.control.identity(ALICE, policies=[iam("kms:Encrypt")])
    kms_error("DryRunOperationException", allowed.encrypt, KeyId=key, Plaintext=b"p", DryRun=True)


def test_conditions_read_the_request(enforced, kms):
    key = kms.create_key()["KeyMetadata"]["KeyId"]
    policy = iam("kms:Encrypt", condition={"StringEquals": {"kms:EncryptionContext:purpose": "${aws:username}"},
                                           "ForAllValues:StringEquals": {"kms:EncryptionContextKeys": ["purpose"]}})
    alice = enforced.control.identity(ALICE, policies=[policy])
    alice.encrypt(KeyId=key, Plaintext=b"p", EncryptionContext={"purpose": "alice"})
    denial(alice.encrypt, KeyId=key, Plaintext=b"p", EncryptionContext={"purpose": "bob"})
    denial(alice.encrypt, KeyId=key, Plaintext=b"p", EncryptionContext={"purpose": "alice", "extra": "x"})
    denial(alice.encrypt, KeyId=key, Plaintext=b"p")


def test_principal_tags_match_resource_tags(enforced, kms):
    """Attribute-based access: a role may use the keys tagged with its own team, through the
    aws:PrincipalTag condition key and the ${aws:PrincipalTag/...} policy variable."""
    ours = kms.create_key(Tags=[{"TagKey": "team", "TagValue": "payments"}])["KeyMetadata"]["KeyId"]
    theirs = kms.create_key(Tags=[{"TagKey": "team", "TagValue": "search"}])["KeyMetadata"]["KeyId"]
    by_variable = iam("kms:Encrypt", condition={"StringEquals": {"aws:ResourceTag/team": "${aws:PrincipalTag/team}"}})
    payments = enforced.control.identity(APP_ROLE, policies=[by_variable], tags={"team": "payments"})
    payments.encrypt(KeyId=ours, Plaintext=b"p")
    message = denial(payments.encrypt, KeyId=theirs, Plaintext=b"p")
    assert message.endswith("because no identity-based policy allows the kms:Encrypt action")
    untagged = enforced.control.identity(APP_ROLE, policies=[by_variable])  # the variable does not resolve
    denial(untagged.encrypt, KeyId=ours, Plaintext=b"p")
    by_key = iam("kms:Encrypt", condition={"StringEquals": {"aws:PrincipalTag/Clearance": "high"}})
    enforced.control.identity(BOB, policies=[by_key], tags={"clearance": "high"}).encrypt(KeyId=theirs, Plaintext=b"p")
    denial(enforced.control.identity(BOB, policies=[by_key], tags={"clearance": "low"}).encrypt,
           KeyId=theirs, Plaintext=b"p")
    listed = [i for i in enforced.control.admin.call("GET", "identities")["identities"] if i.get("tags") == {"clearance": "low"}]
    assert listed and listed[0]["arn"] == BOB


def test_re_encrypt_needs_from_on_the_source_and_to_on_the_destination(enforced, kms):
    source, destination = (kms.create_key()["KeyMetadata"] for _ in range(2))
    blob = kms.encrypt(KeyId=source["KeyId"], Plaintext=b"p")["CiphertextBlob"]
    only_to = enforced.control.identity(ALICE, policies=[iam("kms:ReEncryptTo")])
    message = denial(only_to.re_encrypt, CiphertextBlob=blob, DestinationKeyId=destination["KeyId"])
    assert f"kms:ReEncryptFrom on resource: {source['Arn']}" in message
    both = enforced.control.identity(ALICE, policies=[iam("kms:ReEncrypt*")])
    out = both.re_encrypt(CiphertextBlob=blob, DestinationKeyId=destination["KeyId"])
    assert out["SourceKeyId"] == source["Arn"] and out["KeyId"] == destination["Arn"]


def test_create_key_with_tags_also_needs_tag_resource(enforced):
    creator = enforced.control.identity(ALICE, policies=[iam("kms:CreateKey")])
    creator.create_key()
    message = denial(creator.create_key, Tags=[{"TagKey": "team", "TagValue": "a"}])
    assert "kms:TagResource on resource: *" in message
    tagger = enforced.control.identity(ALICE, policies=[iam("kms:CreateKey", "kms:TagResource")])
    tagger.create_key(Tags=[{"TagKey": "team", "TagValue": "a"}])
    restricted = enforced.control.identity(ALICE, policies=[iam(
        "kms:CreateKey", "kms:TagResource", condition={"StringEquals": {"aws:RequestTag/team": "a"}})])
    restricted.create_key(Tags=[{"TagKey": "team", "TagValue": "a"}])
    denial(restricted.create_key, Tags=[{"TagKey": "team", "TagValue": "b"}])


def test_conditions_on_the_keys_tags_and_aliases(enforced, kms):
    tagged = kms.create_key(Tags=[{"TagKey": "team", "TagValue": "red"}])["KeyMetadata"]["KeyId"]
    other = kms.create_key(Tags=[{"TagKey": "team", "TagValue": "blue"}])["KeyMetadata"]["KeyId"]
    kms.create_alias(AliasName="alias/red-orders", TargetKeyId=tagged)
    by_tag = enforced.control.identity(ALICE, policies=[iam(
        "kms:Encrypt", condition={"StringEquals": {"aws:ResourceTag/team": "red"}})])
    by_tag.encrypt(KeyId=tagged, Plaintext=b"p")
    denial(by_tag.encrypt, KeyId=other, Plaintext=b"p")
    by_alias = enforced.control.identity(BOB, policies=[iam(
        "kms:Encrypt", condition={"ForAnyValue:StringLike": {"kms:ResourceAliases": "alias/red-*"}})])
    by_alias.encrypt(KeyId=tagged, Plaintext=b"p")
    denial(by_alias.encrypt, KeyId=other, Plaintext=b"p")
    via_alias = enforced.control.identity(f"arn:aws:iam::{ACCOUNT}:user/carol", policies=[iam(
        "kms:Encrypt", condition={"StringEquals": {"kms:RequestAlias": "alias/red-orders"}})])
    via_alias.encrypt(KeyId="alias/red-orders", Plaintext=b"p")
    denial(via_alias.encrypt, KeyId=tagged, Plaintext=b"p")


OTHER = "444455556666"


def test_cross_account_use_needs_the_key_policy_and_the_callers_iam(enforced, kms):
    shared_policy = key_policy({"Sid": "partner", "Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{OTHER}:root"},
                                "Action": ["kms:Encrypt", "kms:Decrypt", "kms:DescribeKey"], "Resource": "*"})
    shared = kms.create_key(Policy=shared_policy)["KeyMetadata"]
    private = kms.create_key()["KeyMetadata"]
    partner = enforced.control.identity(f"arn:aws:iam::{OTHER}:user/partner", policies=[iam("kms:Encrypt", "kms:Decrypt")])
    blob = partner.encrypt(KeyId=shared["Arn"], Plaintext=b"p")["CiphertextBlob"]
    assert partner.decrypt(CiphertextBlob=blob)["Plaintext"] == b"p"  # the blob names the key
    assert kms.decrypt(CiphertextBlob=blob)["Plaintext"] == b"p"
    no_iam = enforced.control.identity(f"arn:aws:iam::{OTHER}:user/intern")
    assert denial(no_iam.encrypt, KeyId=shared["Arn"], Plaintext=b"p").endswith(
        "because no identity-based policy allows the kms:Encrypt action")
    assert denial(partner.encrypt, KeyId=private["Arn"], Plaintext=b"p").endswith(
        "because no resource-based policy allows the kms:Encrypt action")
    partner_root = enforced.control.identity(f"arn:aws:iam::{OTHER}:root")
    partner_root.describe_key(KeyId=shared["Arn"])
    kms.create_alias(AliasName="alias/shared", TargetKeyId=shared["KeyId"])
    alias_arn = shared["Arn"].split(":key/")[0] + ":alias/shared"
    assert partner.encrypt(KeyId=alias_arn, Plaintext=b"p")["KeyId"] == shared["Arn"]
    kms_error("NotFoundException", partner.encrypt, KeyId=alias_arn.replace("shared", "nothing"), Plaintext=b"p")
    kms_error("NotFoundException", partner.encrypt, KeyId="alias/shared", Plaintext=b"p")  # its own account's
    # Only operations AWS allows across accounts, and only by key ARN.
    kms_error("NotFoundException", partner.enable_key, KeyId=shared["Arn"])
    kms_error("NotFoundException", partner.encrypt, KeyId=shared["KeyId"], Plaintext=b"p")
    kms_error("NotFoundException", partner.encrypt, KeyId=shared["Arn"].replace(shared["KeyId"], "0" * 8 + shared["KeyId"][8:]),
              Plaintext=b"p")
    event = enforced.control.audit.calls("Encrypt", succeeded=True)[-1]
    assert event["resources"][0]["accountId"] == ACCOUNT and event["userIdentity"]["accountId"] == OTHER


def test_without_enforcement_another_accounts_key_is_not_found(backend, kms):
    key = kms.create_key()["KeyMetadata"]
    partner = backend.control.identity(f"arn:aws:iam::{OTHER}:user/partner")
    kms_error("NotFoundException", partner.encrypt, KeyId=key["Arn"], Plaintext=b"p")


def _key(kms, **create):
    """A new key's metadata, with a ciphertext of it under ``Blob`` for symmetric keys."""
    meta = kms.create_key(**create)["KeyMetadata"]
    if meta["KeySpec"] == "SYMMETRIC_DEFAULT" and meta["KeyState"] == "Enabled":
        meta["Blob"] = kms.encrypt(KeyId=meta["KeyId"], Plaintext=b"p")["CiphertextBlob"]
    return meta


# (condition key, operator, policy value, action(s), call allowed, call denied): each kms: and aws:
# key filled from the request, checked through boto3 with an IAM policy that names it.
CONDITION_CASES = [
    ("kms:CallerAccount", "StringEquals", ACCOUNT, ["kms:DescribeKey"],
     lambda c, k: c.describe_key(KeyId=k["KeyId"]), None),
    ("aws:PrincipalArn", "ArnLike", ALICE, ["kms:DescribeKey"], lambda c, k: c.describe_key(KeyId=k["KeyId"]), None),
    ("aws:PrincipalAccount", "StringEquals", ACCOUNT, ["kms:DescribeKey"],
     lambda c, k: c.describe_key(KeyId=k["KeyId"]), None),
    ("aws:PrincipalType", "StringEquals", "User", ["kms:DescribeKey"], lambda c, k: c.describe_key(KeyId=k["KeyId"]), None),
    ("aws:userid", "StringLike", "AIDA*", ["kms:DescribeKey"], lambda c, k: c.describe_key(KeyId=k["KeyId"]), None),
    ("aws:SourceIp", "IpAddress", "127.0.0.0/8", ["kms:DescribeKey"], lambda c, k: c.describe_key(KeyId=k["KeyId"]), None),
    ("aws:SecureTransport", "Bool", "false", ["kms:DescribeKey"], lambda c, k: c.describe_key(KeyId=k["KeyId"]), None),
    ("aws:ViaAWSService", "Bool", "false", ["kms:DescribeKey"], lambda c, k: c.describe_key(KeyId=k["KeyId"]), None),
    ("aws:CurrentTime", "DateGreaterThan", "2020-01-01T00:00:00Z", ["kms:DescribeKey"],
     lambda c, k: c.describe_key(KeyId=k["KeyId"]), None),
    ("aws:EpochTime", "NumericGreaterThan", "1577836800", ["kms:DescribeKey"],
     lambda c, k: c.describe_key(KeyId=k["KeyId"]), None),
    ("kms:EncryptionAlgorithm", "StringEquals", "RSAES_OAEP_SHA_256", ["kms:Encrypt"],
     lambda c, k: c.encrypt(KeyId=k["KeyId"], Plaintext=b"p", EncryptionAlgorithm="RSAES_OAEP_SHA_256"),
     lambda c, k: c.encrypt(KeyId=k["KeyId"], Plaintext=b"p", EncryptionAlgorithm="RSAES_OAEP_SHA_1")),
    ("kms:SigningAlgorithm", "StringEquals", "ECDSA_SHA_256", ["kms:Sign"],
     lambda c, k: c.sign(KeyId=k["KeyId"], Message=b"m", SigningAlgorithm="ECDSA_SHA_256"), None),
    ("kms:MessageType", "StringEquals", "RAW", ["kms:Sign"],
     lambda c, k: c.sign(KeyId=k["KeyId"], Message=b"m", SigningAlgorithm="ECDSA_SHA_256", MessageType="RAW"),
     lambda c, k: c.sign(KeyId=k["KeyId"], Message=bytes(32), SigningAlgorithm="ECDSA_SHA_256", MessageType="DIGEST")),
    ("kms:MacAlgorithm", "StringEquals", "HMAC_SHA_256", ["kms:GenerateMac"],
     lambda c, k: c.generate_mac(KeyId=k["KeyId"], Message=b"m", MacAlgorithm="HMAC_SHA_256"), None),
    ("kms:KeySpec", "StringEquals", "RSA_2048", ["kms:Encrypt"],
     lambda c, k: c.encrypt(KeyId=k["KeyId"], Plaintext=b"p", EncryptionAlgorithm="RSAES_OAEP_SHA_256"), None),
    ("kms:KeyUsage", "StringEquals", "ENCRYPT_DECRYPT", ["kms:Encrypt"],
     lambda c, k: c.encrypt(KeyId=k["KeyId"], Plaintext=b"p", EncryptionAlgorithm="RSAES_OAEP_SHA_256"), None),
    ("kms:CustomerMasterKeySpec", "StringEquals", "RSA_2048", ["kms:Encrypt"],
     lambda c, k: c.encrypt(KeyId=k["KeyId"], Plaintext=b"p", EncryptionAlgorithm="RSAES_OAEP_SHA_256"), None),
    ("kms:KeyOrigin", "StringEquals", "AWS_KMS", ["kms:DescribeKey"], lambda c, k: c.describe_key(KeyId=k["KeyId"]), None),
    ("kms:KeyManager", "StringEquals", "CUSTOMER", ["kms:DescribeKey"], lambda c, k: c.describe_key(KeyId=k["KeyId"]), None),
    ("kms:MultiRegion", "Bool", "false", ["kms:DescribeKey"], lambda c, k: c.describe_key(KeyId=k["KeyId"]), None),
    ("kms:DataKeyPairSpec", "StringEquals", "ECC_NIST_P256", ["kms:GenerateDataKeyPair"],
     lambda c, k: c.generate_data_key_pair(KeyId=k["KeyId"], KeyPairSpec="ECC_NIST_P256"),
     lambda c, k: c.generate_data_key_pair(KeyId=k["KeyId"], KeyPairSpec="ECC_NIST_P384")),
    ("kms:GrantOperations", "ForAllValues:StringEquals", ["Decrypt", "Encrypt"], ["kms:CreateGrant"],
     lambda c, k: c.create_grant(KeyId=k["KeyId"], GranteePrincipal=BOB, Operations=["Decrypt"]),
     lambda c, k: c.create_grant(KeyId=k["KeyId"], GranteePrincipal=BOB, Operations=["Decrypt", "ReEncryptFrom"])),
    ("kms:GranteePrincipal", "StringEquals", BOB, ["kms:CreateGrant"],
     lambda c, k: c.create_grant(KeyId=k["KeyId"], GranteePrincipal=BOB, Operations=["Decrypt"]),
     lambda c, k: c.create_grant(KeyId=k["KeyId"], GranteePrincipal=ALICE, Operations=["Decrypt"])),
    ("kms:GrantConstraintType", "StringEquals", "EncryptionContextSubset", ["kms:CreateGrant"],
     lambda c, k: c.create_grant(KeyId=k["KeyId"], GranteePrincipal=BOB, Operations=["Decrypt"],
                                 Constraints={"EncryptionContextSubset": {"a": "b"}}),
     lambda c, k: c.create_grant(KeyId=k["KeyId"], GranteePrincipal=BOB, Operations=["Decrypt"])),
    ("kms:ScheduleKeyDeletionPendingWindowInDays", "NumericGreaterThanEquals", "20", ["kms:ScheduleKeyDeletion"],
     lambda c, k: c.schedule_key_deletion(KeyId=k["KeyId"], PendingWindowInDays=20),
     lambda c, k: c.schedule_key_deletion(KeyId=k["KeyId"], PendingWindowInDays=7)),
    ("kms:RotationPeriodInDays", "NumericLessThanEquals", "180", ["kms:EnableKeyRotation"],
     lambda c, k: c.enable_key_rotation(KeyId=k["KeyId"], RotationPeriodInDays=90),
     lambda c, k: c.enable_key_rotation(KeyId=k["KeyId"], RotationPeriodInDays=365)),
    ("kms:WrappingAlgorithm", "StringEquals", "RSAES_OAEP_SHA_256", ["kms:GetParametersForImport"],
     lambda c, k: c.get_parameters_for_import(KeyId=k["KeyId"], WrappingAlgorithm="RSAES_OAEP_SHA_256",
                                              WrappingKeySpec="RSA_2048"),
     lambda c, k: c.get_parameters_for_import(KeyId=k["KeyId"], WrappingAlgorithm="RSAES_OAEP_SHA_1",
                                              WrappingKeySpec="RSA_2048")),
    ("kms:WrappingKeySpec", "StringEquals", "RSA_2048", ["kms:GetParametersForImport"],
     lambda c, k: c.get_parameters_for_import(KeyId=k["KeyId"], WrappingAlgorithm="RSAES_OAEP_SHA_256",
                                              WrappingKeySpec="RSA_2048"),
     lambda c, k: c.get_parameters_for_import(KeyId=k["KeyId"], WrappingAlgorithm="RSAES_OAEP_SHA_256",
                                              WrappingKeySpec="RSA_3072")),
    ("kms:KeyAgreementAlgorithm", "StringEquals", "ECDH", ["kms:DeriveSharedSecret"],
     lambda c, k: c.derive_shared_secret(KeyId=k["KeyId"], KeyAgreementAlgorithm="ECDH", PublicKey=_peer()), None),
    ("kms:RetiringPrincipal", "StringEquals", BOB, ["kms:CreateGrant"],
     lambda c, k: c.create_grant(KeyId=k["KeyId"], GranteePrincipal=BOB, RetiringPrincipal=BOB, Operations=["Decrypt"]),
     lambda c, k: c.create_grant(KeyId=k["KeyId"], GranteePrincipal=BOB, RetiringPrincipal=ALICE,
                                 Operations=["Decrypt"])),
    ("kms:BypassPolicyLockoutSafetyCheck", "Bool", "false", ["kms:PutKeyPolicy"],
     lambda c, k: c.put_key_policy(KeyId=k["KeyId"], Policy=key_policy(), BypassPolicyLockoutSafetyCheck=False),
     lambda c, k: c.put_key_policy(KeyId=k["KeyId"], Policy=key_policy(), BypassPolicyLockoutSafetyCheck=True)),
    ("kms:MultiRegionKeyType", "StringEquals", "PRIMARY", ["kms:DescribeKey"],
     lambda c, k: c.describe_key(KeyId=k["KeyId"]), None),
    ("aws:TagKeys", "ForAllValues:StringEquals", ["team", "cost"], ["kms:TagResource"],
     lambda c, k: c.tag_resource(KeyId=k["KeyId"], Tags=[{"TagKey": "team", "TagValue": "a"}]),
     lambda c, k: c.tag_resource(KeyId=k["KeyId"], Tags=[{"TagKey": "owner", "TagValue": "a"}])),
    ("kms:ReEncryptOnSameKey", "Bool", "true", ["kms:ReEncryptFrom", "kms:ReEncryptTo"],
     lambda c, k: c.re_encrypt(CiphertextBlob=k["Blob"], SourceKeyId=k["KeyId"], DestinationKeyId=k["KeyId"]),
     None),
    ("kms:ReplicaRegion", "StringEquals", "eu-west-1", ["kms:ReplicateKey", "kms:CreateKey"],
     lambda c, k: c.replicate_key(KeyId=k["KeyId"], ReplicaRegion="eu-west-1"),
     lambda c, k: c.replicate_key(KeyId=k["KeyId"], ReplicaRegion="eu-west-2")),
]
_KEYS_FOR = {
    "kms:EncryptionAlgorithm": {"KeySpec": "RSA_2048", "KeyUsage": "ENCRYPT_DECRYPT"},
    "kms:KeySpec": {"KeySpec": "RSA_2048", "KeyUsage": "ENCRYPT_DECRYPT"},
    "kms:KeyUsage": {"KeySpec": "RSA_2048", "KeyUsage": "ENCRYPT_DECRYPT"},
    "kms:CustomerMasterKeySpec": {"KeySpec": "RSA_2048", "KeyUsage": "ENCRYPT_DECRYPT"},
    "kms:SigningAlgorithm": {"KeySpec": "ECC_NIST_P256", "KeyUsage": "SIGN_VERIFY"},
    "kms:MessageType": {"KeySpec": "ECC_NIST_P256", "KeyUsage": "SIGN_VERIFY"},
    "kms:MacAlgorithm": {"KeySpec": "HMAC_256", "KeyUsage": "GENERATE_VERIFY_MAC"},
    "kms:WrappingAlgorithm": {"Origin": "EXTERNAL"},
    "kms:WrappingKeySpec": {"Origin": "EXTERNAL"},
    "kms:ReplicaRegion": {"MultiRegion": True},
    "kms:KeyAgreementAlgorithm": {"KeySpec": "ECC_NIST_P256", "KeyUsage": "KEY_AGREEMENT"},
    "kms:MultiRegionKeyType": {"MultiRegion": True},
}


def _peer() -> bytes:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    return ec.generate_private_key(ec.SECP256R1()).public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


@pytest.mark.parametrize("name, operator, value, actions, allowed, refused",
                         CONDITION_CASES, ids=[c[0] for c in CONDITION_CASES])
def test_each_condition_key_is_filled_from_the_request(enforced, kms, name, operator, value, actions, allowed,
                                                      refused):
    key = _key(kms, **_KEYS_FOR.get(name, {}))
    yes = enforced.control.identity(ALICE, policies=[iam(*actions, condition={operator: {name: value}})])
    allowed(yes, key)
    if refused is not None:
        message = denial(refused, c=yes, k=key)
        assert "no identity-based policy allows" in message
    # The opposite condition refuses the call the first one allowed.
    if operator == "Bool":  # the opposite truth value
        operator, value = "Bool", "true" if value == "false" else "false"
    negated = {"StringEquals": "StringNotEquals", "ArnLike": "ArnNotLike", "StringLike": "StringNotLike",
               "IpAddress": "NotIpAddress", "Bool": "Bool",
               "DateGreaterThan": "DateLessThanEquals", "NumericGreaterThan": "NumericLessThanEquals",
               "NumericGreaterThanEquals": "NumericLessThan", "NumericLessThanEquals": "NumericGreaterThan",
               "ForAllValues:StringEquals": "ForAnyValue:StringNotEquals"}[operator]
    no = enforced.control.identity(ALICE, policies=[iam(*actions, condition={negated: {name: value}})])
    key = _key(kms, **_KEYS_FOR.get(name, {}))
    denial(allowed, c=no, k=key)


def test_a_retiring_principal_needs_no_policy_to_retire(enforced, kms):
    key = kms.create_key()["KeyMetadata"]["KeyId"]
    out = kms.create_grant(KeyId=key, GranteePrincipal=APP_ROLE, Operations=["Decrypt"], RetiringPrincipal=BOB)
    bob = enforced.control.identity(BOB)  # no IAM policy at all
    bob.retire_grant(KeyId=key, GrantId=out["GrantId"])
    again = kms.create_grant(KeyId=key, GranteePrincipal=APP_ROLE, Operations=["Decrypt"], RetiringPrincipal=BOB)
    bob.retire_grant(GrantToken=again["GrantToken"])
    stranger = enforced.control.identity(ALICE)
    third = kms.create_grant(KeyId=key, GranteePrincipal=APP_ROLE, Operations=["Decrypt"], RetiringPrincipal=BOB)
    denial(stranger.retire_grant, KeyId=key, GrantId=third["GrantId"])
    admin = enforced.control.identity(ALICE, policies=[iam("kms:RetireGrant")])
    denial(admin.retire_grant, KeyId=key, GrantId=third["GrantId"])  # IAM is not enough: not the grant's


SESSION = f"arn:aws:sts::{ACCOUNT}:assumed-role/app/worker"
PARTNER = f"arn:aws:iam::{OTHER}:user/partner"
S3 = f"s3.{REGION}.amazonaws.com"
KEY_POLICIES = {
    "default": key_policy(),
    "names-alice": key_policy({"Effect": "Allow", "Principal": {"AWS": ALICE}, "Action": ["kms:Encrypt", "kms:Decrypt"],
                               "Resource": "*"}),
    "tenant-a-only": key_policy({"Effect": "Deny", "Principal": {"AWS": "*"}, "Action": "kms:Decrypt", "Resource": "*",
                                 "Condition": {"StringNotEquals": {"kms:EncryptionContext:tenant": "a"}}}),
    "app-through-s3": key_policy({"Effect": "Allow", "Principal": {"AWS": APP_ROLE}, "Action": "kms:Decrypt",
                                  "Resource": "*", "Condition": {"StringEquals": {"kms:ViaService": S3}}}),
    "partner": key_policy({"Effect": "Allow", "Principal": {"AWS": OTHER}, "Action": ["kms:Encrypt", "kms:Decrypt"],
                           "Resource": "*"}),
}
ALLOW_BOTH = iam("kms:Encrypt", "kms:Decrypt")
DENY_DECRYPT = iam("kms:Decrypt", effect="Deny")
NO_RESOURCE = "because no resource-based policy allows the kms:Decrypt action"
NO_IDENTITY = "because no identity-based policy allows the kms:Decrypt action"
RESOURCE_DENY = "with an explicit deny in a resource-based policy"
IDENTITY_DENY = "with an explicit deny in an identity-based policy"
GRANT_TENANT_A = {"GranteePrincipal": APP_ROLE, "Operations": ["Decrypt"],
                  "Constraints": {"EncryptionContextSubset": {"tenant": "a"}}}

# (caller ARN, via service, IAM policies, key policy, grant, tenant of the ciphertext, expected for Decrypt)
MATRIX = [
    (ALICE, None, [], "default", None, "a", NO_IDENTITY),
    (ALICE, None, [ALLOW_BOTH], "default", None, "a", "allowed"),
    (ALICE, None, [ALLOW_BOTH, DENY_DECRYPT], "default", None, "a", IDENTITY_DENY),
    (ALICE, None, [], "names-alice", None, "a", "allowed"),
    (ALICE, None, [DENY_DECRYPT], "names-alice", None, "a", IDENTITY_DENY),
    (BOB, None, [], "names-alice", None, "a", NO_IDENTITY),
    (ALICE, None, [ALLOW_BOTH], "tenant-a-only", None, "a", "allowed"),
    (ALICE, None, [ALLOW_BOTH], "tenant-a-only", None, "b", RESOURCE_DENY),
    (f"arn:aws:iam::{ACCOUNT}:root", None, [], "tenant-a-only", None, "b", RESOURCE_DENY),
    (f"arn:aws:iam::{ACCOUNT}:root", None, [], "default", None, "b", "allowed"),
    (SESSION, None, [], "default", None, "a", NO_IDENTITY),
    (SESSION, None, [], "default", GRANT_TENANT_A, "a", "allowed"),
    (SESSION, None, [], "default", GRANT_TENANT_A, "b", NO_IDENTITY),
    (SESSION, None, [], "app-through-s3", None, "a", NO_IDENTITY),
    (SESSION, S3, [], "app-through-s3", None, "a", "allowed"),
    (SESSION, f"ec2.{REGION}.amazonaws.com", [], "app-through-s3", None, "a", NO_IDENTITY),
    (PARTNER, None, [ALLOW_BOTH], "default", None, "a", NO_RESOURCE),
    (PARTNER, None, [ALLOW_BOTH], "partner", None, "a", "allowed"),
    (PARTNER, None, [], "partner", None, "a", NO_IDENTITY),
    (PARTNER, None, [ALLOW_BOTH, DENY_DECRYPT], "partner", None, "a", IDENTITY_DENY),
]


@pytest.mark.parametrize("caller, via, policies, policy_name, grant_request, tenant, expected", MATRIX,
                         ids=[f"{n}" for n in range(len(MATRIX))])
def test_the_decision_matrix(enforced, kms, caller, via, policies, policy_name, grant_request, tenant, expected):
    """Who decrypts what: principals x key policies x IAM policies x grants x encryption contexts x
    the service a call comes through, each with AWS's answer."""
    key = kms.create_key(Policy=KEY_POLICIES[policy_name])["KeyMetadata"]
    if grant_request:
        kms.create_grant(KeyId=key["KeyId"], **grant_request)
    blob = kms.encrypt(KeyId=key["KeyId"], Plaintext=b"p", EncryptionContext={"tenant": tenant})["CiphertextBlob"]
    client = enforced.control.identity(caller, policies=policies, via_service=via)
    if expected == "allowed":
        assert client.decrypt(CiphertextBlob=blob, EncryptionContext={"tenant": tenant})["Plaintext"] == b"p"
    else:
        message = denial(client.decrypt, CiphertextBlob=blob, EncryptionContext={"tenant": tenant})
        assert message == f"User: {_caller_arn(caller)} is not authorized to perform: kms:Decrypt on resource: " \
                          f"{key['Arn']} {expected}"


# The key policies AWS's console writes for key users and key administrators, a grant, another
# account, and an explicit Deny by NotAction: who may call which operation on a key.
_USE = ["kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:DescribeKey",
        "kms:Sign", "kms:Verify", "kms:GetPublicKey", "kms:GenerateMac"]
_ADMIN = ["kms:Create*", "kms:Describe*", "kms:Enable*", "kms:List*", "kms:Put*", "kms:Update*", "kms:Revoke*",
          "kms:Disable*", "kms:Get*", "kms:Delete*", "kms:TagResource", "kms:UntagResource",
          "kms:ScheduleKeyDeletion", "kms:CancelKeyDeletion", "kms:RotateKeyOnDemand"]
SCENARIOS = {
    "key-user": (ALICE, [], key_policy(
        {"Sid": "Allow use of the key", "Effect": "Allow", "Principal": {"AWS": ALICE}, "Action": _USE,
         "Resource": "*"},
        {"Sid": "Allow attachment of persistent resources", "Effect": "Allow", "Principal": {"AWS": ALICE},
         "Action": ["kms:CreateGrant", "kms:ListGrants", "kms:RevokeGrant"], "Resource": "*",
         "Condition": {"Bool": {"kms:GrantIsForAWSResource": "true"}}})),
    "key-admin": (BOB, [], key_policy({"Sid": "Allow access for Key Administrators", "Effect": "Allow",
                                       "Principal": {"AWS": BOB}, "Action": _ADMIN, "Resource": "*"})),
    "grantee": (APP_ROLE, [], key_policy()),
    "partner": (PARTNER, [iam("kms:*")], key_policy(
        {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{OTHER}:root"},
         "Action": ["kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:DescribeKey"],
         "Resource": "*"})),
    "fenced": (ALICE, [iam("kms:*")], key_policy(
        {"Sid": "Only encrypt, decrypt and describe", "Effect": "Deny", "Principal": {"AWS": ALICE},
         "NotAction": ["kms:Encrypt", "kms:Decrypt", "kms:DescribeKey"], "Resource": "*"})),
}
# The grantee's grant on each kind of key.
GRANTED = {"symmetric": ["Encrypt", "Decrypt", "GenerateDataKey", "ReEncryptFrom", "ReEncryptTo", "DescribeKey",
                         "CreateGrant"],
           "signing": ["Sign", "Verify", "GetPublicKey", "DescribeKey"],
           "hmac": ["GenerateMac", "VerifyMac", "DescribeKey"]}
KINDS = {"symmetric": {}, "signing": {"KeySpec": "ECC_NIST_P256", "KeyUsage": "SIGN_VERIFY"},
         "hmac": {"KeySpec": "HMAC_256", "KeyUsage": "GENERATE_VERIFY_MAC"}}


def _call(operation: str, client, key: dict, kms):
    """``operation`` on ``key`` (by its ARN, which another account needs) through ``client``."""
    arn = key["Arn"]
    if operation == "Encrypt":
        return client.encrypt(KeyId=arn, Plaintext=b"p")
    if operation == "Decrypt":
        return client.decrypt(CiphertextBlob=key["Blob"])
    if operation == "GenerateDataKey":
        return client.generate_data_key(KeyId=arn, KeySpec="AES_256")
    if operation == "GenerateDataKeyWithoutPlaintext":
        return client.generate_data_key_without_plaintext(KeyId=arn, KeySpec="AES_256")
    if operation == "ReEncrypt":
        return client.re_encrypt(CiphertextBlob=key["Blob"], DestinationKeyId=arn)
    if operation == "DescribeKey":
        return client.describe_key(KeyId=arn)
    if operation == "CreateGrant":
        return client.create_grant(KeyId=arn, GranteePrincipal=BOB, Operations=["Decrypt"])
    if operation == "ListGrants":
        return client.list_grants(KeyId=arn)
    if operation == "GetKeyPolicy":
        return client.get_key_policy(KeyId=arn)
    if operation == "PutKeyPolicy":
        return client.put_key_policy(KeyId=arn, Policy=kms.get_key_policy(KeyId=arn)["Policy"])
    if operation == "ScheduleKeyDeletion":
        return client.schedule_key_deletion(KeyId=arn, PendingWindowInDays=7)
    if operation == "DisableKey":
        return client.disable_key(KeyId=arn)
    if operation == "TagResource":
        return client.tag_resource(KeyId=arn, Tags=[{"TagKey": "team", "TagValue": "a"}])
    if operation == "EnableKeyRotation":
        return client.enable_key_rotation(KeyId=arn)
    if operation == "Sign":
        return client.sign(KeyId=arn, Message=b"m", SigningAlgorithm="ECDSA_SHA_256")
    if operation == "Verify":
        signature = kms.sign(KeyId=arn, Message=b"m", SigningAlgorithm="ECDSA_SHA_256")["Signature"]
        return client.verify(KeyId=arn, Message=b"m", Signature=signature, SigningAlgorithm="ECDSA_SHA_256")
    if operation == "GetPublicKey":
        return client.get_public_key(KeyId=arn)
    if operation == "GenerateMac":
        return client.generate_mac(KeyId=arn, Message=b"m", MacAlgorithm="HMAC_SHA_256")
    raise AssertionError(operation)


OK, NOT_FOUND = "allowed", "NotFoundException"
NO_IAM = "because no identity-based policy allows the {action} action"
NO_KEY_POLICY = "because no resource-based policy allows the {action} action"
# operation, kind of key, then the answer to each scenario: key-user, key-admin, grantee, partner, fenced.
OPERATION_MATRIX = [
    ("Encrypt", "symmetric", OK, NO_IAM, OK, OK, OK),
    ("Decrypt", "symmetric", OK, NO_IAM, OK, OK, OK),
    ("GenerateDataKey", "symmetric", OK, NO_IAM, OK, OK, RESOURCE_DENY),
    ("GenerateDataKeyWithoutPlaintext", "symmetric", OK, NO_IAM, NO_IAM, OK, RESOURCE_DENY),
    ("ReEncrypt", "symmetric", OK, NO_IAM, OK, OK, RESOURCE_DENY),
    ("DescribeKey", "symmetric", OK, OK, OK, OK, OK),
    ("CreateGrant", "symmetric", NO_IAM, OK, OK, NO_KEY_POLICY, RESOURCE_DENY),
    ("ListGrants", "symmetric", NO_IAM, OK, NO_IAM, NO_KEY_POLICY, RESOURCE_DENY),
    ("GetKeyPolicy", "symmetric", NO_IAM, OK, NO_IAM, NOT_FOUND, RESOURCE_DENY),
    ("PutKeyPolicy", "symmetric", NO_IAM, OK, NO_IAM, NOT_FOUND, RESOURCE_DENY),
    ("ScheduleKeyDeletion", "symmetric", NO_IAM, OK, NO_IAM, NOT_FOUND, RESOURCE_DENY),
    ("DisableKey", "symmetric", NO_IAM, OK, NO_IAM, NOT_FOUND, RESOURCE_DENY),
    ("TagResource", "symmetric", NO_IAM, OK, NO_IAM, NOT_FOUND, RESOURCE_DENY),
    ("EnableKeyRotation", "symmetric", NO_IAM, OK, NO_IAM, NOT_FOUND, RESOURCE_DENY),
    ("Sign", "signing", OK, NO_IAM, OK, NO_KEY_POLICY, RESOURCE_DENY),
    ("Verify", "signing", OK, NO_IAM, OK, NO_KEY_POLICY, RESOURCE_DENY),
    ("GetPublicKey", "signing", OK, OK, OK, NO_KEY_POLICY, RESOURCE_DENY),
    ("GenerateMac", "hmac", OK, NO_IAM, OK, NO_KEY_POLICY, RESOURCE_DENY),
]
_CASES = [(op, kind, scenario, answers[n]) for op, kind, *answers in OPERATION_MATRIX
          for n, scenario in enumerate(SCENARIOS)]


@pytest.mark.parametrize("operation, kind, scenario, expected", _CASES,
                         ids=[f"{c[2]}-{c[0]}" for c in _CASES])
def test_the_operation_matrix(enforced, kms, operation, kind, scenario, expected):
    """Each operation's action under AWS's key-user and key-administrator statements, a grant,
    another account and a Deny by NotAction: allowed, or refused in AWS's words."""
    caller, policies, policy_text = SCENARIOS[scenario]
    key = _key(kms, Policy=policy_text, **KINDS[kind])
    if scenario == "grantee":
        kms.create_grant(KeyId=key["KeyId"], GranteePrincipal=APP_ROLE, Operations=GRANTED[kind])
    client = enforced.control.identity(caller, policies=policies)
    call = functools.partial(_call, operation, client, key, kms)
    if expected == OK:
        out = call()
        assert out["ResponseMetadata"]["HTTPStatusCode"] == 200 and out.get("KeyId", key["Arn"]) == key["Arn"]
        return
    if expected == NOT_FOUND:
        assert kms_error(NOT_FOUND, call) == f"Key '{key['Arn']}' does not exist"
        return
    # ReEncrypt without a SourceKeyId resolves its destination first, the source from the ciphertext after.
    action = "kms:ReEncryptTo" if operation == "ReEncrypt" else f"kms:{operation}"
    assert denial(call) == (f"User: {_caller_arn(caller)} is not authorized to perform: {action} on resource: "
                            f"{key['Arn']} {expected.format(action=action)}")


def _caller_arn(arn: str) -> str:
    return arn.replace(":iam::", ":sts::").replace(":role/", ":assumed-role/") + "/fakekms" if ":role/" in arn else arn


def test_import_replication_and_service_condition_keys(enforced, kms):
    import datetime as dt
    import os

    from test_imports import import_material

    external = kms.create_key(Origin="EXTERNAL")["KeyMetadata"]["KeyId"]
    parameters = iam("kms:GetParametersForImport")
    lasting = enforced.control.identity(ALICE, policies=[parameters, iam("kms:ImportKeyMaterial", condition={
        "StringEquals": {"kms:ExpirationModel": "KEY_MATERIAL_DOES_NOT_EXPIRE"}})])
    material = os.urandom(32)
    import_material(lasting, external, material)
    with pytest.raises(Exception, match="AccessDeniedException"):
        import_material(lasting, external, material, ExpirationModel="KEY_MATERIAL_EXPIRES",
                        ValidTo=dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=3))
    soon = enforced.control.identity(ALICE, policies=[parameters, iam("kms:ImportKeyMaterial", condition={
        "NumericLessThanEquals": {"kms:ValidTo": str(int(enforced.control.clock.now().timestamp()) + 7 * 86400)}})])
    import_material(soon, external, material, ExpirationModel="KEY_MATERIAL_EXPIRES",
                    ValidTo=dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=3))
    with pytest.raises(Exception, match="AccessDeniedException"):
        import_material(soon, external, material, ExpirationModel="KEY_MATERIAL_EXPIRES",
                        ValidTo=dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=30))

    mrk = kms.create_key(MultiRegion=True)["KeyMetadata"]["KeyId"]
    kms.replicate_key(KeyId=mrk, ReplicaRegion="eu-west-1")
    mover = enforced.control.identity(ALICE, policies=[iam("kms:UpdatePrimaryRegion", condition={
        "StringEquals": {"kms:PrimaryRegion": "ap-south-1"}})])
    denial(mover.update_primary_region, KeyId=mrk, PrimaryRegion="eu-west-1")
    mover = enforced.control.identity(ALICE, policies=[iam("kms:UpdatePrimaryRegion", condition={
        "StringEquals": {"kms:PrimaryRegion": "eu-west-1"}})])
    mover.update_primary_region(KeyId=mrk, PrimaryRegion="eu-west-1")

    key = kms.create_key()["KeyMetadata"]["KeyId"]
    service_only = iam("kms:CreateGrant", condition={"Bool": {"kms:GrantIsForAWSResource": "true"},
                                                     "ForAnyValue:StringEquals": {"aws:CalledVia": ["s3.amazonaws.com"]}})
    through_s3 = enforced.control.identity(ALICE, policies=[service_only], via_service=S3)
    through_s3.create_grant(KeyId=key, GranteePrincipal=BOB, Operations=["Decrypt"])
    direct = enforced.control.identity(ALICE, policies=[service_only])
    denial(direct.create_grant, KeyId=key, GranteePrincipal=BOB, Operations=["Decrypt"])


def test_a_service_principal_grant_serves_calls_made_through_that_service(enforced, kms):
    key = kms.create_key()["KeyMetadata"]["KeyId"]
    kms.create_grant(KeyId=key, GranteeServicePrincipal="s3.amazonaws.com", Operations=["Decrypt"],
                     RetiringServicePrincipal="s3.amazonaws.com",
                     Constraints={"SourceArn": f"arn:aws:s3:{REGION}:{ACCOUNT}:accesspoint/ap"})
    blob = kms.encrypt(KeyId=key, Plaintext=b"p")["CiphertextBlob"]
    access_point = f"arn:aws:s3:{REGION}:{ACCOUNT}:accesspoint/ap"
    through_s3 = enforced.control.identity(ALICE, via_service=S3, source_arn=access_point)  # no IAM policy
    assert through_s3.decrypt(CiphertextBlob=blob)["Plaintext"] == b"p"
    denial(enforced.control.identity(ALICE).decrypt, CiphertextBlob=blob)
    denial(through_s3.encrypt, KeyId=key, Plaintext=b"p")  # not an operation of the grant
    # The grant's SourceArn constraint: S3 calling for another resource, or for none, is not served.
    other = enforced.control.identity(ALICE, via_service=S3, source_arn=f"arn:aws:s3:{REGION}:{ACCOUNT}:accesspoint/b")
    denial(other.decrypt, CiphertextBlob=blob)
    denial(enforced.control.identity(ALICE, via_service=S3).decrypt, CiphertextBlob=blob)


def test_source_arn_and_source_account_name_the_resource_a_service_calls_for(enforced, kms):
    key = kms.create_key()["KeyMetadata"]["KeyId"]
    bucket = "arn:aws:s3:::reports"
    for_bucket = iam("kms:GenerateDataKey", condition={"ArnLike": {"aws:SourceArn": "arn:aws:s3:::rep*"}})
    enforced.control.identity(ALICE, [for_bucket], S3, source_arn=bucket).generate_data_key(KeyId=key, NumberOfBytes=32)
    denial(enforced.control.identity(ALICE, [for_bucket], S3, source_arn="arn:aws:s3:::logs").generate_data_key,
           KeyId=key, NumberOfBytes=32)
    denial(enforced.control.identity(ALICE, [for_bucket], S3).generate_data_key, KeyId=key, NumberOfBytes=32)
    from_account = iam("kms:GenerateDataKey", condition={"StringEquals": {"aws:SourceAccount": ACCOUNT}})
    queue = f"arn:aws:sqs:{REGION}:{ACCOUNT}:jobs"
    sqs = f"sqs.{REGION}.amazonaws.com"
    enforced.control.identity(ALICE, [from_account], sqs, source_arn=queue).generate_data_key(KeyId=key, NumberOfBytes=32)
    foreign = f"arn:aws:sqs:{REGION}:999988887777:jobs"
    denial(enforced.control.identity(ALICE, [from_account], sqs, source_arn=foreign).generate_data_key,
           KeyId=key, NumberOfBytes=32)
