"""Rotation: on demand and automatic, on fakekms's clock; every key material version keeps
decrypting what it sealed, and keys that cannot rotate answer AWS's errors."""

from __future__ import annotations

import datetime as dt

import pytest
from helpers import kms_error

from fakekms.ops.rotation import on_demand_limit

DAY = 86400
START = dt.datetime(2030, 1, 1, tzinfo=dt.timezone.utc)


@pytest.fixture
def clock(backend):
    clock = backend.control.clock
    clock.set(START.isoformat(), frozen=True)
    return clock


def at(days: float) -> dt.datetime:
    return START + dt.timedelta(days=days)


def rotations(kms, key_id, **kwargs):
    return kms.list_key_rotations(KeyId=key_id, **kwargs)["Rotations"]


def sealed(kms, key_id, context):
    """A data key under ``key_id``: (plaintext, ciphertext, KeyMaterialId it was sealed with)."""
    out = kms.generate_data_key(KeyId=key_id, KeySpec="AES_256", EncryptionContext=context)
    return out["Plaintext"], out["CiphertextBlob"], out["KeyMaterialId"]


def test_each_rotation_adds_a_version_and_every_version_still_decrypts(kms):
    meta = kms.create_key()["KeyMetadata"]
    key_id = meta["KeyId"]
    made = [sealed(kms, key_id, {"n": "0"})]
    for n in range(1, 4):
        assert kms.rotate_key_on_demand(KeyId=key_id)["KeyId"] == kms.describe_key(KeyId=key_id)["KeyMetadata"]["Arn"]
        made.append(sealed(kms, key_id, {"n": str(n)}))
    material_ids = [m for _, _, m in made]
    assert len(set(material_ids)) == 4  # each rotation brought new material into use
    listed = rotations(kms, key_id)
    assert [r["KeyMaterialId"] for r in listed] == material_ids[1:]
    assert [r["RotationType"] for r in listed] == ["ON_DEMAND"] * 3
    assert [r["KeyMaterialState"] for r in listed] == ["NON_CURRENT", "NON_CURRENT", "CURRENT"]
    everything = rotations(kms, key_id, IncludeKeyMaterial="ALL_KEY_MATERIAL")
    assert [r["KeyMaterialId"] for r in everything] == material_ids
    assert "RotationDate" not in everything[0] and "RotationType" not in everything[0]
    for n, (plaintext, blob, material_id) in enumerate(made):
        out = kms.decrypt(CiphertextBlob=blob, EncryptionContext={"n": str(n)})
        assert out["Plaintext"] == plaintext and out["KeyMaterialId"] == material_id
        assert out["KeyId"] == meta["Arn"]
    after = kms.describe_key(KeyId=key_id)["KeyMetadata"]
    assert after["Arn"] == meta["Arn"] and after["CurrentKeyMaterialId"] == material_ids[-1]
    # ReEncrypt opens the oldest version and seals under the newest.
    out = kms.re_encrypt(CiphertextBlob=made[0][1], SourceEncryptionContext={"n": "0"}, DestinationKeyId=key_id)
    assert out["SourceKeyMaterialId"] == material_ids[0]
    assert out["DestinationKeyMaterialId"] == material_ids[-1]


def test_automatic_rotation_fires_on_every_date_the_clock_passes(kms, clock):
    key_id = kms.create_key()["KeyMetadata"]["KeyId"]
    plaintext, blob, first = sealed(kms, key_id, {})
    assert kms.get_key_rotation_status(KeyId=key_id)["KeyRotationEnabled"] is False
    kms.enable_key_rotation(KeyId=key_id, RotationPeriodInDays=100)
    status = kms.get_key_rotation_status(KeyId=key_id)
    assert status["KeyRotationEnabled"] is True and status["RotationPeriodInDays"] == 100
    assert status["NextRotationDate"] == at(100)
    clock.advance(days=99)
    assert rotations(kms, key_id) == []
    clock.advance(days=251)  # day 350: rotated on days 100, 200 and 300
    listed = rotations(kms, key_id)
    assert [r["RotationDate"] for r in listed] == [at(100), at(200), at(300)]
    assert {r["RotationType"] for r in listed} == {"AUTOMATIC"}
    assert kms.get_key_rotation_status(KeyId=key_id)["NextRotationDate"] == at(400)
    out = kms.decrypt(CiphertextBlob=blob)
    assert out["Plaintext"] == plaintext and out["KeyMaterialId"] == first
    assert sealed(kms, key_id, {})[2] == listed[-1]["KeyMaterialId"]


def test_a_default_period_of_365_days_and_an_on_demand_rotation_leaves_the_schedule(kms, clock):
    key_id = kms.create_key()["KeyMetadata"]["KeyId"]
    kms.enable_key_rotation(KeyId=key_id)
    assert kms.get_key_rotation_status(KeyId=key_id)["RotationPeriodInDays"] == 365
    clock.advance(days=10)
    kms.rotate_key_on_demand(KeyId=key_id)
    assert kms.get_key_rotation_status(KeyId=key_id)["NextRotationDate"] == at(365)
    clock.advance(days=360)
    assert [r["RotationType"] for r in rotations(kms, key_id)] == ["ON_DEMAND", "AUTOMATIC"]


def test_changing_the_period_counts_from_the_same_start(kms, clock):
    key_id = kms.create_key()["KeyMetadata"]["KeyId"]
    kms.enable_key_rotation(KeyId=key_id, RotationPeriodInDays=365)
    kms.enable_key_rotation(KeyId=key_id, RotationPeriodInDays=90)
    assert kms.get_key_rotation_status(KeyId=key_id)["NextRotationDate"] == at(90)


@pytest.mark.parametrize("days", [89, 2561])
def test_the_rotation_period_is_90_to_2560_days(kms, days):
    key_id = kms.create_key()["KeyMetadata"]["KeyId"]
    message = kms_error("ValidationException", kms.enable_key_rotation, KeyId=key_id, RotationPeriodInDays=days)
    assert "rotationPeriodInDays" in message


def test_a_disabled_key_waits_and_rotates_when_enabled_again(kms, clock):
    key_id = kms.create_key()["KeyMetadata"]["KeyId"]
    kms.enable_key_rotation(KeyId=key_id, RotationPeriodInDays=90)
    kms.disable_key(KeyId=key_id)
    clock.advance(days=200)
    assert rotations(kms, key_id) == []
    kms.enable_key(KeyId=key_id)
    listed = rotations(kms, key_id)
    assert [(r["RotationDate"], r["RotationType"]) for r in listed] == [(at(200), "AUTOMATIC")]
    assert kms.get_key_rotation_status(KeyId=key_id)["NextRotationDate"] == at(290)


def test_a_key_pending_deletion_reports_rotation_off_until_the_deletion_is_cancelled(kms, clock):
    key_id = kms.create_key()["KeyMetadata"]["KeyId"]
    kms.enable_key_rotation(KeyId=key_id)
    kms.schedule_key_deletion(KeyId=key_id, PendingWindowInDays=7)
    status = kms.get_key_rotation_status(KeyId=key_id)
    assert status["KeyRotationEnabled"] is False and "NextRotationDate" not in status
    kms_error("KMSInvalidStateException", kms.enable_key_rotation, KeyId=key_id)
    kms_error("KMSInvalidStateException", kms.rotate_key_on_demand, KeyId=key_id)
    kms.cancel_key_deletion(KeyId=key_id)
    assert kms.get_key_rotation_status(KeyId=key_id)["KeyRotationEnabled"] is True


def test_disabling_rotation_stops_it(kms, clock):
    key_id = kms.create_key()["KeyMetadata"]["KeyId"]
    kms.enable_key_rotation(KeyId=key_id, RotationPeriodInDays=90)
    kms.disable_key_rotation(KeyId=key_id)
    status = kms.get_key_rotation_status(KeyId=key_id)
    assert status["KeyRotationEnabled"] is False and "NextRotationDate" not in status
    clock.advance(days=400)
    assert rotations(kms, key_id) == []


def test_a_disabled_key_refuses_rotation_settings(kms):
    key_id = kms.create_key()["KeyMetadata"]["KeyId"]
    kms.disable_key(KeyId=key_id)
    for call in (kms.enable_key_rotation, kms.disable_key_rotation, kms.rotate_key_on_demand):
        kms_error("DisabledException", call, KeyId=key_id)
    assert kms.get_key_rotation_status(KeyId=key_id)["KeyRotationEnabled"] is False


def test_on_demand_rotations_are_limited_per_key(kms):
    limit = on_demand_limit()
    assert limit == 25  # what the pinned model's documentation states
    key_id = kms.create_key()["KeyMetadata"]["KeyId"]
    for _ in range(limit):
        kms.rotate_key_on_demand(KeyId=key_id)
    kms_error("LimitExceededException", kms.rotate_key_on_demand, KeyId=key_id)
    assert len(rotations(kms, key_id, Limit=1000)) == limit


@pytest.mark.parametrize("spec, usage", [
    ("RSA_2048", "ENCRYPT_DECRYPT"), ("ECC_NIST_P256", "SIGN_VERIFY"), ("HMAC_256", "GENERATE_VERIFY_MAC"),
])
def test_keys_that_cannot_rotate(kms, spec, usage):
    key_id = kms.create_key(KeySpec=spec, KeyUsage=usage)["KeyMetadata"]["KeyId"]
    for call in (kms.enable_key_rotation, kms.disable_key_rotation, kms.get_key_rotation_status,
                 kms.rotate_key_on_demand, kms.list_key_rotations):
        kms_error("UnsupportedOperationException", call, KeyId=key_id)


def test_imported_key_material_has_no_automatic_rotation(kms):
    key_id = kms.create_key(Origin="EXTERNAL")["KeyMetadata"]["KeyId"]
    for call in (kms.enable_key_rotation, kms.disable_key_rotation, kms.get_key_rotation_status):
        message = kms_error("UnsupportedOperationException", call, KeyId=key_id)
        assert "origin is EXTERNAL" in message
    assert rotations(kms, key_id) == []


def test_list_key_rotations_pages(kms):
    key_id = kms.create_key()["KeyMetadata"]["KeyId"]
    for _ in range(5):
        kms.rotate_key_on_demand(KeyId=key_id)
    seen, marker = [], None
    while True:
        page = kms.list_key_rotations(KeyId=key_id, Limit=2, **({"Marker": marker} if marker else {}))
        seen += [r["KeyMaterialId"] for r in page["Rotations"]]
        if not page["Truncated"]:
            assert "NextMarker" not in page
            break
        marker = page["NextMarker"]
    assert seen == [r["KeyMaterialId"] for r in rotations(kms, key_id)] and len(seen) == 5
    kms_error("InvalidMarkerException", kms.list_key_rotations, KeyId=key_id, Marker="bogus")
