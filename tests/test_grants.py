"""Grants through boto3, in both modes: CreateGrant, ListGrants, ListRetirableGrants, RetireGrant,
RevokeGrant, and grant tokens on every operation that takes them."""

from __future__ import annotations

import re

import pytest
from conftest import make_client
from helpers import kms_error

from fakekms.control import start_server

ROLE = "arn:aws:iam::111122223333:role/app"
OPS_USER = "arn:aws:iam::111122223333:user/ops"
BUCKET_ARN = "arn:aws:s3:us-east-1:111122223333:accesspoint/ap"


def grant(kms, key_id, **kwargs):
    kwargs.setdefault("GranteePrincipal", ROLE)
    kwargs.setdefault("Operations", ["Encrypt", "Decrypt"])
    return kms.create_grant(KeyId=key_id, **kwargs)


@pytest.fixture
def key(kms):
    return kms.create_key()["KeyMetadata"]


def test_a_grant_is_listed_with_every_field_and_its_token_works(kms, key):
    out = grant(kms, key["KeyId"], RetiringPrincipal=OPS_USER, Name="app-grant",
                Constraints={"EncryptionContextSubset": {"tenant": "a"}})
    assert re.fullmatch(r"[0-9a-f]{64}", out["GrantId"]) and out["GrantToken"]
    [entry] = kms.list_grants(KeyId=key["KeyId"])["Grants"]
    assert entry.pop("CreationDate")
    assert entry == {
        "KeyId": key["Arn"], "GrantId": out["GrantId"], "Name": "app-grant", "GranteePrincipal": ROLE,
        "RetiringPrincipal": OPS_USER, "IssuingAccount": f"arn:aws:iam::{key['AWSAccountId']}:root",
        "Operations": ["Encrypt", "Decrypt"], "Constraints": {"EncryptionContextSubset": {"tenant": "a"}},
    }
    blob = kms.encrypt(KeyId=key["KeyId"], Plaintext=b"p", GrantTokens=[out["GrantToken"]])["CiphertextBlob"]
    assert kms.decrypt(CiphertextBlob=blob, GrantTokens=[out["GrantToken"]])["Plaintext"] == b"p"


def test_the_same_named_request_is_the_same_grant_with_a_new_token(kms, key):
    first = grant(kms, key["KeyId"], Name="n")
    again = grant(kms, key["KeyId"], Name="n")
    assert again["GrantId"] == first["GrantId"] and again["GrantToken"] != first["GrantToken"]
    other_ops = grant(kms, key["KeyId"], Name="n", Operations=["Encrypt"])
    other_key = grant(kms, kms.create_key()["KeyMetadata"]["KeyId"], Name="n")
    unnamed = [grant(kms, key["KeyId"])["GrantId"] for _ in range(2)]
    ids = {first["GrantId"], other_ops["GrantId"], other_key["GrantId"], *unnamed}
    assert len(ids) == 5
    assert len(kms.list_grants(KeyId=key["KeyId"])["Grants"]) == 4


@pytest.mark.parametrize("create, good, bad", [
    ({}, ["GenerateDataKey", "GenerateDataKeyPairWithoutPlaintext", "ReEncryptFrom", "DescribeKey"], "Sign"),
    ({"KeySpec": "RSA_2048", "KeyUsage": "ENCRYPT_DECRYPT"}, ["Encrypt", "GetPublicKey"], "GenerateDataKey"),
    ({"KeySpec": "ECC_NIST_P256", "KeyUsage": "SIGN_VERIFY"}, ["Sign", "Verify", "RetireGrant"], "Encrypt"),
    ({"KeySpec": "HMAC_256", "KeyUsage": "GENERATE_VERIFY_MAC"}, ["GenerateMac", "VerifyMac"], "GetPublicKey"),
    ({"KeySpec": "ECC_NIST_P256", "KeyUsage": "KEY_AGREEMENT"}, ["DeriveSharedSecret"], "Sign"),
    ({"KeySpec": "ML_KEM_768", "KeyUsage": "ENCAPSULATE_DECAPSULATE"}, ["Encapsulate", "Decapsulate"], "Decrypt"),
])
def test_operations_must_fit_the_key(kms, create, good, bad):
    key_id = kms.create_key(**create)["KeyMetadata"]["KeyId"]
    grant(kms, key_id, Operations=good)
    message = kms_error("ValidationException", grant, kms=kms, key_id=key_id, Operations=[*good, bad])
    assert bad in message
    kms_error("ValidationException", grant, kms=kms, key_id=key_id, Operations=["Bogus"])


def test_principals(kms, key):
    for bad in ("bob", "arn:aws:iam::111122223333:group/devs", "arn:aws:s3:::bucket"):
        assert "valid principal" in kms_error("InvalidArnException", grant, kms=kms, key_id=key["KeyId"],
                                              GranteePrincipal=bad)
    kms_error("InvalidArnException", grant, kms=kms, key_id=key["KeyId"], RetiringPrincipal="nobody")
    for good in ("111122223333", "arn:aws:iam::111122223333:root", "arn:aws:iam::111122223333:user/a/b",
                 "arn:aws:sts::111122223333:assumed-role/app/session"):
        grant(kms, key["KeyId"], GranteePrincipal=good)
    kms_error("ValidationException", kms.create_grant, KeyId=key["KeyId"], Operations=["Encrypt"])
    # A grantee and a grantee service principal together.
    kms_error("ValidationException", grant, kms=kms, key_id=key["KeyId"], GranteeServicePrincipal="s3.amazonaws.com",
              Constraints={"SourceArn": BUCKET_ARN}, RetiringPrincipal=OPS_USER)


def test_service_principal_grants(kms, key):
    common = {"KeyId": key["KeyId"], "GranteeServicePrincipal": "s3.amazonaws.com", "Operations": ["Decrypt"]}
    kms_error("ValidationException", kms.create_grant, RetiringPrincipal=OPS_USER, **common)  # no SourceArn
    kms_error("ValidationException", kms.create_grant, Constraints={"SourceArn": BUCKET_ARN}, **common)  # no retiring
    out = kms.create_grant(Constraints={"SourceArn": BUCKET_ARN}, RetiringServicePrincipal="s3.amazonaws.com", **common)
    grant(kms, key["KeyId"])  # a grant for someone else
    [entry] = kms.list_grants(KeyId=key["KeyId"], GranteeServicePrincipal="s3.amazonaws.com")["Grants"]
    assert entry["GrantId"] == out["GrantId"] and entry["Constraints"] == {"SourceArn": BUCKET_ARN}
    assert "GranteePrincipal" not in entry and entry["RetiringServicePrincipal"] == "s3.amazonaws.com"
    retirable = kms.list_retirable_grants(RetiringServicePrincipal="s3.amazonaws.com")["Grants"]
    assert [g["GrantId"] for g in retirable] == [out["GrantId"]]


def test_constraints(kms, key):
    kms_error("ValidationException", grant, kms=kms, key_id=key["KeyId"],
              Constraints={"EncryptionContextSubset": {"a": "b"}, "EncryptionContextEquals": {"a": "b"}})
    kms_error("ValidationException", grant, kms=kms, key_id=key["KeyId"],
              Constraints={"EncryptionContextEquals": {str(i): "v" for i in range(9)}})
    signing = kms.create_key(KeySpec="ECC_NIST_P256", KeyUsage="SIGN_VERIFY")["KeyMetadata"]["KeyId"]
    kms_error("ValidationException", grant, kms=kms, key_id=signing, Operations=["Sign"],
              Constraints={"EncryptionContextEquals": {"a": "b"}})
    grant(kms, key["KeyId"], Operations=["Decrypt", "DescribeKey", "RetireGrant", "CreateGrant"],
          Constraints={"EncryptionContextEquals": {"a": "b"}})


def test_grant_tokens_are_checked_everywhere(kms, key):
    token = grant(kms, key["KeyId"])["GrantToken"]
    for bad in ("not-a-token", "x" * 100):
        kms_error("InvalidGrantTokenException", kms.encrypt, KeyId=key["KeyId"], Plaintext=b"p", GrantTokens=[bad])
        kms_error("InvalidGrantTokenException", kms.describe_key, KeyId=key["KeyId"], GrantTokens=[token, bad])
        kms_error("InvalidGrantTokenException", grant, kms=kms, key_id=key["KeyId"], GrantTokens=[bad])
        kms_error("InvalidGrantTokenException", kms.retire_grant, GrantToken=bad)
    kms.retire_grant(GrantToken=token)
    kms_error("InvalidGrantTokenException", kms.generate_data_key, KeyId=key["KeyId"], KeySpec="AES_256",
              GrantTokens=[token])


def test_list_grants_filters_and_pages(kms, key):
    ids = [grant(kms, key["KeyId"], GranteePrincipal=f"arn:aws:iam::111122223333:role/r{i}")["GrantId"]
           for i in range(5)]
    pages, seen, marker = 0, [], None
    while True:
        page = kms.list_grants(KeyId=key["KeyId"], Limit=2, **({"Marker": marker} if marker else {}))
        pages += 1
        seen += [g["GrantId"] for g in page["Grants"]]
        if not page["Truncated"]:
            break
        marker = page["NextMarker"]
    assert seen == ids and pages == 3
    assert [g["GrantId"] for g in kms.list_grants(KeyId=key["KeyId"], GrantId=ids[3])["Grants"]] == [ids[3]]
    by_grantee = kms.list_grants(KeyId=key["Arn"], GranteePrincipal="arn:aws:iam::111122223333:role/r1")
    assert [g["GrantId"] for g in by_grantee["Grants"]] == [ids[1]]
    kms_error("InvalidGrantIdException", kms.list_grants, KeyId=key["KeyId"], GrantId="not-an-id")
    kms_error("ValidationException", kms.list_grants, KeyId=key["KeyId"], Limit=0)
    kms_error("ValidationException", kms.list_grants, KeyId=key["KeyId"], Limit=101)
    kms_error("InvalidMarkerException", kms.list_grants, KeyId=key["KeyId"], Marker="bogus")
    kms_error("NotFoundException", kms.list_grants, KeyId="00000000-0000-4000-8000-000000000000")


def test_retire_and_revoke(kms, key):
    by_token = grant(kms, key["KeyId"], RetiringPrincipal=OPS_USER)
    by_ids = grant(kms, key["KeyId"])
    revoked = grant(kms, key["KeyId"])
    assert [g["GrantId"] for g in kms.list_retirable_grants(RetiringPrincipal=OPS_USER)["Grants"]] == [by_token["GrantId"]]
    kms_error("DryRunOperationException", kms.retire_grant, GrantToken=by_token["GrantToken"], DryRun=True)
    kms.retire_grant(GrantToken=by_token["GrantToken"])
    kms.retire_grant(KeyId=key["KeyId"], GrantId=by_ids["GrantId"])
    kms_error("DryRunOperationException", kms.revoke_grant, KeyId=key["KeyId"], GrantId=revoked["GrantId"], DryRun=True)
    kms.revoke_grant(KeyId=key["KeyId"], GrantId=revoked["GrantId"])
    assert kms.list_grants(KeyId=key["KeyId"])["Grants"] == []
    kms_error("NotFoundException", kms.revoke_grant, KeyId=key["KeyId"], GrantId=revoked["GrantId"])
    kms_error("NotFoundException", kms.retire_grant, KeyId=key["KeyId"], GrantId=by_ids["GrantId"])
    kms_error("InvalidGrantIdException", kms.revoke_grant, KeyId=key["KeyId"], GrantId="123")
    kms_error("ValidationException", kms.retire_grant, KeyId=key["KeyId"])
    kms_error("ValidationException", kms.retire_grant)
    other = kms.create_key()["KeyMetadata"]["KeyId"]
    elsewhere = grant(kms, other)["GrantId"]
    kms_error("NotFoundException", kms.revoke_grant, KeyId=key["KeyId"], GrantId=elsewhere)


def test_dry_run_and_key_states(kms, key):
    kms_error("DryRunOperationException", grant, kms=kms, key_id=key["KeyId"], DryRun=True)
    assert kms.list_grants(KeyId=key["KeyId"])["Grants"] == []
    kms.disable_key(KeyId=key["KeyId"])
    assert kms_error("DisabledException", grant, kms=kms, key_id=key["KeyId"]) == f"{key['Arn']} is disabled."
    kms.enable_key(KeyId=key["KeyId"])
    kept = grant(kms, key["KeyId"])["GrantId"]
    kms.schedule_key_deletion(KeyId=key["KeyId"], PendingWindowInDays=7)
    kms_error("KMSInvalidStateException", grant, kms=kms, key_id=key["KeyId"])
    assert [g["GrantId"] for g in kms.list_grants(KeyId=key["KeyId"])["Grants"]] == [kept]


def test_grants_die_with_their_key_and_stay_in_their_region(backend, kms):
    clock = backend.control.clock
    key = kms.create_key(MultiRegion=True)["KeyMetadata"]
    token = grant(kms, key["KeyId"])["GrantToken"]
    kms.replicate_key(KeyId=key["KeyId"], ReplicaRegion="eu-west-1")
    replica = backend.client(region="eu-west-1")
    assert replica.list_grants(KeyId=key["KeyId"])["Grants"] == []
    doomed = kms.create_key()["KeyMetadata"]["KeyId"]
    doomed_token = grant(kms, doomed)["GrantToken"]
    kms.schedule_key_deletion(KeyId=doomed, PendingWindowInDays=7)
    clock.advance(days=8)
    kms_error("InvalidGrantTokenException", kms.describe_key, KeyId=key["KeyId"], GrantTokens=[doomed_token])
    kms.describe_key(KeyId=key["KeyId"], GrantTokens=[token])


def test_grant_tokens_and_retired_grants_never_reach_the_audit_log(backend, kms, key):
    out = grant(kms, key["KeyId"], Name="audited")
    kms.encrypt(KeyId=key["KeyId"], Plaintext=b"p", GrantTokens=[out["GrantToken"]])
    events = backend.control.audit.events()
    assert out["GrantToken"] not in str(events)
    created = [e for e in events if e["eventName"] == "CreateGrant"][-1]
    assert created["responseElements"] == {"grantId": out["GrantId"]}
    assert created["requestParameters"]["name"] == "audited"


def test_grants_survive_a_restart_and_repeat_with_a_seed(tmp_path):
    db = tmp_path / "kms.db"
    with start_server("--db", str(db), "--seed", "grants") as srv:
        kms = make_client(srv.endpoint)
        key_id = kms.create_key()["KeyMetadata"]["KeyId"]
        out = grant(kms, key_id)
    with start_server("--db", str(db)) as srv:
        kms = make_client(srv.endpoint)
        assert [g["GrantId"] for g in kms.list_grants(KeyId=key_id)["Grants"]] == [out["GrantId"]]
        kms.encrypt(KeyId=key_id, Plaintext=b"p", GrantTokens=[out["GrantToken"]])
    with start_server("--seed", "grants") as srv:
        kms = make_client(srv.endpoint)
        again = grant(kms, kms.create_key()["KeyMetadata"]["KeyId"])
        assert (again["GrantId"], again["GrantToken"]) == (out["GrantId"], out["GrantToken"])


def test_grants_on_an_aws_managed_key(kms):
    """Its key policy lets the account create, list and revoke grants (services use them)."""
    kms.encrypt(KeyId="alias/aws/s3", Plaintext=b"p")
    managed = kms.describe_key(KeyId="alias/aws/s3")["KeyMetadata"]
    out = grant(kms, managed["KeyId"], Operations=["Decrypt", "GenerateDataKey"])
    assert [g["GrantId"] for g in kms.list_grants(KeyId=managed["Arn"])["Grants"]] == [out["GrantId"]]
    kms.revoke_grant(KeyId=managed["KeyId"], GrantId=out["GrantId"])
    assert kms.list_grants(KeyId=managed["KeyId"])["Grants"] == []


def test_who_may_retire_a_grant(backend, kms, key):
    """The retiring principal, a grantee whose grant includes RetireGrant, the issuing account;
    nobody else (the developer guide's "Retiring and revoking grants")."""
    ops_user = backend.control.identity(OPS_USER)
    grantee = backend.control.identity(ROLE)
    stranger = backend.control.identity("arn:aws:iam::111122223333:user/stranger")
    retirable = grant(kms, key["KeyId"], RetiringPrincipal=OPS_USER)
    kms_error("AccessDeniedException", stranger.retire_grant, GrantToken=retirable["GrantToken"])
    kms_error("AccessDeniedException", grantee.retire_grant, GrantToken=retirable["GrantToken"])
    ops_user.retire_grant(GrantToken=retirable["GrantToken"])
    self_retiring = grant(kms, key["KeyId"], Operations=["Decrypt", "RetireGrant"])
    grantee.retire_grant(GrantToken=self_retiring["GrantToken"])
    by_issuer = grant(kms, key["KeyId"])
    kms.retire_grant(KeyId=key["KeyId"], GrantId=by_issuer["GrantId"])
    assert kms.list_grants(KeyId=key["KeyId"])["Grants"] == []
    # A retiring principal in another account retires with the token alone.
    other_account = backend.control.identity("arn:aws:iam::444455556666:user/ops")
    cross = grant(kms, key["KeyId"], RetiringPrincipal="arn:aws:iam::444455556666:user/ops")
    other_account.retire_grant(GrantToken=cross["GrantToken"])
    assert kms.list_grants(KeyId=key["KeyId"])["Grants"] == []
