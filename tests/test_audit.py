"""The audit log: one CloudTrail-format event per call, success or failure, in both modes; its
filters; the --audit-log file; no secret in any record or log line; GetKeyLastUsage from it."""

from __future__ import annotations

import base64
import datetime as dt
import json
import os

import pytest
from botocore.exceptions import ClientError
from conftest import ACCOUNT, REGION, make_client
from helpers import kms_error

from fakekms.app import create_app
from fakekms.control import AdminError, start_server

CLOUDTRAIL_FIELDS = {
    "eventVersion", "userIdentity", "eventTime", "eventSource", "eventName", "awsRegion",
    "sourceIPAddress", "userAgent", "requestParameters", "responseElements", "requestID",
    "eventID", "readOnly", "resources", "eventType", "managementEvent", "recipientAccountId",
    "eventCategory",
}


def test_a_successful_call_is_one_cloudtrail_event(backend, kms):
    audit = backend.control.audit
    clock = backend.control.clock
    clock.set("2031-05-06T07:08:09Z", frozen=True)
    created = kms.create_key(Description="orders")
    key = created["KeyMetadata"]
    response = kms.encrypt(KeyId=key["KeyId"], Plaintext=b"x", EncryptionContext={"dept": "it"})

    events = audit.events()
    assert [e["eventName"] for e in events] == ["CreateKey", "Encrypt"]
    event = events[1]
    assert CLOUDTRAIL_FIELDS <= event.keys()
    assert event["eventVersion"] == "1.08"
    assert event["eventSource"] == "kms.amazonaws.com"
    assert event["eventType"] == "AwsApiCall"
    assert event["eventTime"] == "2031-05-06T07:08:09Z"
    assert event["awsRegion"] == REGION
    assert event["recipientAccountId"] == ACCOUNT
    assert event["userIdentity"] == {
        "type": "Root", "principalId": ACCOUNT, "arn": f"arn:aws:iam::{ACCOUNT}:root",
        "accountId": ACCOUNT, "accessKeyId": ACCOUNT,
    }
    assert event["userAgent"].startswith("Boto3/")
    assert event["requestID"] == response["ResponseMetadata"]["RequestId"]
    assert event["readOnly"] is True
    assert event["requestParameters"] == {"keyId": key["KeyId"], "encryptionContext": {"dept": "it"},
                                          "encryptionAlgorithm": "SYMMETRIC_DEFAULT"}
    assert event["responseElements"] is None
    assert event["resources"] == [{"accountId": ACCOUNT, "type": "AWS::KMS::Key", "ARN": key["Arn"]}]
    assert "errorCode" not in event
    assert events[0]["eventID"] != event["eventID"]


def test_write_calls_log_their_response_elements_as_cloudtrail_names_them(backend, kms):
    key = kms.create_key(Description="d", Tags=[{"TagKey": "team", "TagValue": "a"}])["KeyMetadata"]
    kms.describe_key(KeyId=key["KeyId"])
    create, describe = backend.control.audit.events()
    assert create["readOnly"] is False
    # With the defaults KMS filled in, as in the CloudTrail CreateKey example of the developer guide.
    assert create["requestParameters"] == {
        "description": "d", "tags": [{"tagKey": "team", "tagValue": "a"}], "origin": "AWS_KMS",
        "bypassPolicyLockoutSafetyCheck": False, "customerMasterKeySpec": "SYMMETRIC_DEFAULT",
        "keySpec": "SYMMETRIC_DEFAULT", "keyUsage": "ENCRYPT_DECRYPT"}
    metadata = create["responseElements"]["keyMetadata"]
    assert metadata["AWSAccountId"] == ACCOUNT and metadata["keyId"] == key["KeyId"]
    created = key["CreationDate"].astimezone(dt.timezone.utc)
    assert metadata["creationDate"] == created.strftime("%b %-d, %Y, %-I:%M:%S %p")
    assert describe["readOnly"] is True and describe["responseElements"] is None


def test_a_failed_call_records_its_error(backend, kms):
    key = kms.create_key()["KeyMetadata"]
    kms.disable_key(KeyId=key["KeyId"])
    message = kms_error("DisabledException", kms.encrypt, KeyId=key["KeyId"], Plaintext=b"x")
    kms_error("NotFoundException", kms.describe_key, KeyId="alias/missing")
    encrypt = backend.control.audit.last("Encrypt")
    assert encrypt["errorCode"] == "DisabledException"
    assert encrypt["errorMessage"] == message
    assert encrypt["responseElements"] is None
    assert encrypt["resources"][0]["ARN"] == key["Arn"]  # found, then refused
    missing = backend.control.audit.last("DescribeKey")
    assert missing["errorCode"] == "NotFoundException" and missing["resources"] == []


def test_requests_fakekms_cannot_parse_are_recorded(server):
    server.reset()
    status, _, _ = server.call("TrentService.NoSuchThing", {})
    assert status == 400
    status, _, _ = server.call("TrentService.CreateKey", b"{not json")
    assert status == 400
    unknown, garbled = server.audit.events()
    assert unknown["eventName"] == "NoSuchThing" and unknown["errorCode"] == "UnknownOperationException"
    assert garbled["eventName"] == "CreateKey" and garbled["errorCode"] == "SerializationException"


def test_filters_by_name_key_alias_and_time(backend, kms):
    control = backend.control
    control.clock.set("2030-01-01T00:00:00Z", frozen=True)
    first = kms.create_key()["KeyMetadata"]
    control.clock.advance(hours=1)
    second = kms.create_key()["KeyMetadata"]
    kms.create_alias(AliasName="alias/second", TargetKeyId=second["KeyId"])
    kms.encrypt(KeyId="alias/second", Plaintext=b"x")
    kms.encrypt(KeyId=first["KeyId"], Plaintext=b"x")

    audit = control.audit
    assert len(audit.events("Encrypt")) == 2
    by_id = [e["eventName"] for e in audit.events(key=second["KeyId"])]
    assert by_id == ["CreateKey", "CreateAlias", "Encrypt"]
    assert [e["eventName"] for e in audit.events(key=second["Arn"])] == by_id
    assert [e["eventName"] for e in audit.events(key="alias/second")] == ["Encrypt"]
    assert len(audit.events(since="2030-01-01T00:30:00Z")) == 4
    assert len(audit.events(since=dt.datetime(2030, 1, 1, 1, 0, 0))) == 4
    assert len(audit.events(since=1893456000)) == 5  # 2030-01-01T00:00:00Z as epoch seconds
    with pytest.raises(AdminError, match="unknown filter 'nope'"):
        control.admin.call("GET", "audit", query={"nope": "1"})
    with pytest.raises(AdminError, match="since takes epoch seconds or an ISO 8601 time .*, not 'yesterday'"):
        audit.events(since="yesterday")


def test_assertion_helpers(backend, kms):
    audit = backend.control.audit
    key = kms.create_key()["KeyMetadata"]["KeyId"]
    blob = kms.encrypt(KeyId=key, Plaintext=b"x", EncryptionContext={"k": "v"})["CiphertextBlob"]
    kms.decrypt(CiphertextBlob=blob, EncryptionContext={"k": "v"})
    kms_error("InvalidCiphertextException", kms.decrypt, CiphertextBlob=blob)

    event = audit.assert_called("Decrypt", key=key, encryption_context={"k": "v"}, succeeded=True)
    assert event["requestParameters"]["encryptionContext"] == {"k": "v"}
    audit.assert_called("Decrypt", key=key, times=2)
    audit.assert_called("Decrypt", error_code="InvalidCiphertextException", times=1)
    audit.assert_not_called("Decrypt", encryption_context={"k": "other"})
    with pytest.raises(AssertionError, match=r"Calls recorded: CreateKey\(.*Decrypt\(.*InvalidCiphertextException"):
        audit.assert_called("Sign")
    with pytest.raises(AssertionError, match="found 1"):
        audit.assert_not_called("Encrypt")


def test_reset_empties_the_audit_log(backend, kms):
    kms.create_key()
    backend.control.reset()
    assert backend.control.audit.events() == []


def test_no_secret_reaches_the_audit_log_file_or_server_log(tmp_path):
    """Plaintext, data keys, private keys, messages, MACs: none in any record or log line, in
    any encoding a log might use."""
    log_path = tmp_path / "audit.jsonl"
    plaintext = b"top-secret-plaintext-0123456789"
    with start_server("--audit-log", str(log_path), log_level="DEBUG") as srv:
        kms = make_client(srv.endpoint)
        key = kms.create_key()["KeyMetadata"]["KeyId"]
        blob = kms.encrypt(KeyId=key, Plaintext=plaintext, EncryptionContext={"c": "1"})["CiphertextBlob"]
        kms_error("InvalidCiphertextException", kms.decrypt, CiphertextBlob=blob)
        data_key = kms.generate_data_key(KeyId=key, KeySpec="AES_256")
        pair = kms.generate_data_key_pair(KeyId=key, KeyPairSpec="ECC_NIST_P256")
        signer = kms.create_key(KeySpec="ECC_NIST_P256", KeyUsage="SIGN_VERIFY")["KeyMetadata"]["KeyId"]
        signature = kms.sign(KeyId=signer, Message=plaintext, SigningAlgorithm="ECDSA_SHA_256")["Signature"]
        mac_key = kms.create_key(KeySpec="HMAC_256", KeyUsage="GENERATE_VERIFY_MAC")["KeyMetadata"]["KeyId"]
        mac = kms.generate_mac(KeyId=mac_key, Message=plaintext, MacAlgorithm="HMAC_SHA_256")["Mac"]
        random = kms.generate_random(NumberOfBytes=32)["Plaintext"]
        with pytest.raises(ClientError):  # a validation failure on an oversized plaintext
            kms.encrypt(KeyId=key, Plaintext=plaintext * 200)
        served = srv.audit.events()
        server_log = srv.log()
    written = [json.loads(line) for line in log_path.read_text().splitlines()]
    assert written == served and len(written) == 11
    secrets = [plaintext, data_key["Plaintext"], pair["PrivateKeyPlaintext"], signature, mac, random,
               blob, data_key["CiphertextBlob"]]
    haystacks = [log_path.read_bytes(), json.dumps(served).encode(), server_log.encode()]
    for secret in secrets:
        for form in (secret, base64.b64encode(secret), secret.hex().encode()):
            for haystack in haystacks:
                assert form not in haystack


def test_audit_log_path_that_cannot_be_opened_stops_the_server(tmp_path):
    with pytest.raises(RuntimeError, match="cannot open"):
        start_server("--audit-log", str(tmp_path / "no" / "such" / "dir.jsonl"))


def test_the_store_keeps_the_newest_events():
    app = create_app(audit_retention=150)
    try:
        for _ in range(420):
            app.handle("TrentService.GenerateRandom", b'{"NumberOfBytes": 1}')
        kept = app.audit_events()
        assert 150 <= len(kept) < 250
        assert all(e["eventName"] == "GenerateRandom" for e in kept)
    finally:
        app.close()


def test_held_back_events_come_whole_and_in_order():
    """An in-memory store takes events in batches: a reader sees every event, in call order,
    however the calls fall across batches, and a key's last use is its last call's."""
    app = create_app()
    try:
        created = json.loads(app.handle("TrentService.CreateKey", b"{}")[1])["KeyMetadata"]["KeyId"]
        for n in range(1, 151):
            app.handle("TrentService.GenerateRandom", json.dumps({"NumberOfBytes": n}).encode())
            if n == 100:
                app.handle("TrentService.Encrypt", json.dumps({"KeyId": created, "Plaintext": "cA=="}).encode())
        events = app.audit_events()
        assert [e["requestParameters"]["numberOfBytes"] for e in events if e["eventName"] == "GenerateRandom"] == \
            list(range(1, 151))
        assert [e["eventName"] for e in events][:1] == ["CreateKey"] and len(events) == 152
        last = json.loads(app.handle("TrentService.GetKeyLastUsage", json.dumps({"KeyId": created}).encode())[1])
        encrypt = [e for e in events if e["eventName"] == "Encrypt"][0]
        assert last["KeyLastUsage"]["CloudTrailEventId"] == encrypt["eventID"]
        app.handle("TrentService.GenerateRandom", b'{"NumberOfBytes": 1}')
        app.reset()  # the held-back event goes with the rest
        assert app.audit_events() == []
    finally:
        app.close()


# --- GetKeyLastUsage ------------------------------------------------------------------------


def test_last_usage_is_the_last_successful_cryptographic_call(backend, kms):
    control = backend.control
    control.clock.set("2030-06-01T00:00:00Z", frozen=True)
    key = kms.create_key()["KeyMetadata"]
    before = kms.get_key_last_usage(KeyId=key["KeyId"])
    assert "KeyLastUsage" not in before
    assert before["KeyId"] == key["KeyId"]
    assert before["TrackingStartDate"] == before["KeyCreationDate"] == key["CreationDate"]

    control.clock.advance(days=1)
    blob = kms.encrypt(KeyId=key["KeyId"], Plaintext=b"x")["CiphertextBlob"]
    control.clock.advance(days=1)
    kms.describe_key(KeyId=key["KeyId"])  # not a cryptographic operation
    kms_error("InvalidCiphertextException", kms.decrypt, CiphertextBlob=blob, EncryptionContext={"a": "b"})
    kms.disable_key(KeyId=key["KeyId"])
    kms_error("DisabledException", kms.encrypt, KeyId=key["KeyId"], Plaintext=b"x")

    usage = kms.get_key_last_usage(KeyId=key["KeyId"])["KeyLastUsage"]
    encrypt = control.audit.assert_called("Encrypt", succeeded=True, times=1)
    assert usage == {
        "Operation": "Encrypt",
        "Timestamp": dt.datetime(2030, 6, 2, tzinfo=dt.timezone.utc),
        "CloudTrailEventId": encrypt["eventID"],
        "KmsRequestId": encrypt["requestID"],
    }


def test_reencrypt_counts_as_use_of_both_keys(backend, kms):
    source = kms.create_key()["KeyMetadata"]["KeyId"]
    destination = kms.create_key()["KeyMetadata"]["KeyId"]
    blob = kms.encrypt(KeyId=source, Plaintext=b"x")["CiphertextBlob"]
    kms.re_encrypt(CiphertextBlob=blob, DestinationKeyId=destination)
    event = backend.control.audit.last("ReEncrypt")
    for key in (source, destination):
        usage = kms.get_key_last_usage(KeyId=key)["KeyLastUsage"]
        assert usage["Operation"] == "ReEncrypt" and usage["CloudTrailEventId"] == event["eventID"]


def test_last_usage_of_a_missing_key(kms):
    kms_error("NotFoundException", kms.get_key_last_usage, KeyId="11111111-2222-3333-4444-555555555555")


SERVICE_EVENT_FIELDS = {
    "eventVersion", "userIdentity", "eventTime", "eventSource", "eventName", "awsRegion",
    "sourceIPAddress", "userAgent", "requestParameters", "responseElements", "eventID", "readOnly",
    "resources", "eventType", "managementEvent", "recipientAccountId", "eventCategory",
}


def _service_event(audit, name: str, arn: str) -> dict:
    [event] = [e for e in audit.events(name) if e["resources"][0]["ARN"] == arn]
    assert event["eventType"] == "AwsServiceEvent"
    assert event["userIdentity"] == {"accountId": arn.split(":")[4], "invokedBy": "AWS Internal"}
    assert event["sourceIPAddress"] == event["userAgent"] == "AWS Internal"
    assert event["requestParameters"] is None and event["readOnly"] is False
    assert SERVICE_EVENT_FIELDS <= set(event)
    return event


@pytest.fixture
def timed(backend):
    """(audit, clock) with the clock frozen at 2030-01-01T00:00:00Z."""
    backend.control.clock.set("2030-01-01T00:00:00Z", frozen=True)
    return backend.control.audit, backend.control.clock


def test_time_records_rotate_key_as_cloudtrail_does(timed, kms):
    audit, clock = timed
    key = kms.create_key()["KeyMetadata"]
    kms.enable_key_rotation(KeyId=key["KeyId"], RotationPeriodInDays=90)
    clock.advance(days=91)
    kms.describe_key(KeyId=key["KeyId"])  # the next call runs what fell due
    event = _service_event(audit, "RotateKey", key["Arn"])
    assert event["serviceEventDetails"] == {"rotationType": "AUTOMATIC", "keyId": key["KeyId"]}
    assert event["eventTime"] == "2030-04-01T00:00:00Z"  # when it fell due, not when it was noticed
    assert event["responseElements"] is None
    kms.rotate_key_on_demand(KeyId=key["KeyId"])
    on_demand = [e for e in audit.events("RotateKey") if e["serviceEventDetails"]["rotationType"] == "ON_DEMAND"]
    assert len(on_demand) == 1 and on_demand[0]["eventType"] == "AwsServiceEvent"


def test_time_records_delete_key_as_cloudtrail_does(timed, kms):
    audit, clock = timed
    key = kms.create_key()["KeyMetadata"]
    kms.schedule_key_deletion(KeyId=key["KeyId"], PendingWindowInDays=7)
    clock.advance(days=8)
    kms.list_keys()
    event = _service_event(audit, "DeleteKey", key["Arn"])
    assert event["responseElements"] == {"keyId": key["Arn"]}
    assert event["eventTime"] == "2030-01-08T00:00:00Z"
    assert audit.events("ScheduleKeyDeletion")[0]["requestParameters"]["pendingWindowInDays"] == 7


def test_time_records_delete_expired_key_material_as_cloudtrail_does(timed, kms):
    from test_imports import import_material

    audit, clock = timed
    key = kms.create_key(Origin="EXTERNAL")["KeyMetadata"]
    import_material(kms, key["KeyId"], os.urandom(32), ExpirationModel="KEY_MATERIAL_EXPIRES",
                    ValidTo=dt.datetime(2030, 1, 3, tzinfo=dt.timezone.utc))
    material_id = kms.describe_key(KeyId=key["KeyId"])["KeyMetadata"]["CurrentKeyMaterialId"]
    clock.advance(days=3)
    assert kms.describe_key(KeyId=key["KeyId"])["KeyMetadata"]["KeyState"] == "PendingImport"
    event = _service_event(audit, "DeleteExpiredKeyMaterial", key["Arn"])
    assert event["serviceEventDetails"] == {"keyId": key["KeyId"], "keyMaterialId": material_id}
    assert event["eventTime"] == "2030-01-03T00:00:00Z"


def test_request_parameters_carry_the_defaults_kms_filled_in(backend, kms):
    audit = backend.control.audit
    key = kms.create_key()["KeyMetadata"]["KeyId"]
    blob = kms.encrypt(KeyId=key, Plaintext=b"p")["CiphertextBlob"]
    kms.decrypt(CiphertextBlob=blob)
    kms.re_encrypt(CiphertextBlob=blob, DestinationKeyId=key)
    signing = kms.create_key(KeySpec="ECC_NIST_P256", KeyUsage="SIGN_VERIFY")["KeyMetadata"]["KeyId"]
    kms.sign(KeyId=signing, Message=b"m", SigningAlgorithm="ECDSA_SHA_256")
    assert audit.last("Encrypt")["requestParameters"]["encryptionAlgorithm"] == "SYMMETRIC_DEFAULT"
    assert audit.last("Decrypt")["requestParameters"]["encryptionAlgorithm"] == "SYMMETRIC_DEFAULT"
    re_encrypt = audit.last("ReEncrypt")["requestParameters"]
    assert re_encrypt["sourceEncryptionAlgorithm"] == re_encrypt["destinationEncryptionAlgorithm"] == "SYMMETRIC_DEFAULT"
    assert audit.last("Sign")["requestParameters"]["messageType"] == "RAW"
    asymmetric = [e for e in audit.events("CreateKey") if e["requestParameters"]["keySpec"] == "ECC_NIST_P256"]
    assert asymmetric[0]["requestParameters"]["keyUsage"] == "SIGN_VERIFY"
