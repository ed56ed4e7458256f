"""Multi-Region keys: replicas share key id, material and rotation; each Region's copy keeps its
own policy, tags, description and state; ciphertexts and signatures cross Regions."""

from __future__ import annotations

import datetime as dt
import json
import os

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from helpers import kms_error
from test_imports import import_material

PRIMARY, OTHER, THIRD = "us-west-2", "eu-west-1", "ap-southeast-2"
START = dt.datetime(2030, 1, 1, tzinfo=dt.timezone.utc)


@pytest.fixture
def regions(backend):
    return {region: backend.client(region=region) for region in (PRIMARY, OTHER, THIRD)}


@pytest.fixture
def mrk(regions):
    """A multi-Region primary in us-west-2 with a replica in eu-west-1."""
    meta = regions[PRIMARY].create_key(MultiRegion=True, Description="primary")["KeyMetadata"]
    regions[PRIMARY].replicate_key(KeyId=meta["KeyId"], ReplicaRegion=OTHER)
    return meta


def config(kms, key_id):
    return kms.describe_key(KeyId=key_id)["KeyMetadata"]["MultiRegionConfiguration"]


def test_a_replica_has_the_key_id_and_its_own_properties(regions):
    kms = regions[PRIMARY]
    meta = kms.create_key(MultiRegion=True, Description="primary", Tags=[{"TagKey": "p", "TagValue": "1"}])["KeyMetadata"]
    policy = json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"AWS": "*"},
                                                                  "Action": "kms:*", "Resource": "*"}]})
    out = kms.replicate_key(KeyId=meta["KeyId"], ReplicaRegion=OTHER, Description="replica", Policy=policy,
                            Tags=[{"TagKey": "r", "TagValue": "2"}])
    replica = out["ReplicaKeyMetadata"]
    assert replica["KeyId"] == meta["KeyId"]
    assert replica["Arn"] == meta["Arn"].replace(PRIMARY, OTHER)
    assert replica["KeyState"] == "Creating"  # as AWS answers; usable from the next call
    assert out["ReplicaPolicy"] == policy and out["ReplicaTags"] == [{"TagKey": "r", "TagValue": "2"}]
    there = regions[OTHER].describe_key(KeyId=meta["KeyId"])["KeyMetadata"]
    assert there["KeyState"] == "Enabled" and there["Description"] == "replica"
    assert there["MultiRegionConfiguration"] == {
        "MultiRegionKeyType": "REPLICA",
        "PrimaryKey": {"Arn": meta["Arn"], "Region": PRIMARY},
        "ReplicaKeys": [{"Arn": replica["Arn"], "Region": OTHER}],
    }
    assert config(kms, meta["KeyId"])["MultiRegionKeyType"] == "PRIMARY"
    assert config(kms, meta["KeyId"])["ReplicaKeys"] == [{"Arn": replica["Arn"], "Region": OTHER}]
    assert kms.describe_key(KeyId=meta["KeyId"])["KeyMetadata"]["Description"] == "primary"
    assert regions[OTHER].get_key_policy(KeyId=meta["KeyId"])["Policy"] == policy
    assert regions[OTHER].list_resource_tags(KeyId=meta["KeyId"])["Tags"] == [{"TagKey": "r", "TagValue": "2"}]
    assert kms.list_resource_tags(KeyId=meta["KeyId"])["Tags"] == [{"TagKey": "p", "TagValue": "1"}]
    regions[OTHER].disable_key(KeyId=meta["KeyId"])  # key state is each copy's own
    assert kms.describe_key(KeyId=meta["KeyId"])["KeyMetadata"]["KeyState"] == "Enabled"


def test_ciphertexts_decrypt_in_every_region(regions, mrk):
    key_id = mrk["KeyId"]
    regions[PRIMARY].replicate_key(KeyId=key_id, ReplicaRegion=THIRD)
    for source in regions.values():
        data_key = source.generate_data_key(KeyId=key_id, KeySpec="AES_256", EncryptionContext={"a": "b"})
        for target in regions.values():
            out = target.decrypt(CiphertextBlob=data_key["CiphertextBlob"], EncryptionContext={"a": "b"})
            assert out["Plaintext"] == data_key["Plaintext"]
            assert out["KeyId"].endswith(key_id) and f":{target.meta.region_name}:" in out["KeyId"]


def test_signatures_verify_against_any_regions_public_key(regions):
    kms = regions[PRIMARY]
    key_id = kms.create_key(MultiRegion=True, KeySpec="ECC_NIST_P256", KeyUsage="SIGN_VERIFY")["KeyMetadata"]["KeyId"]
    kms.replicate_key(KeyId=key_id, ReplicaRegion=OTHER)
    public_der = kms.get_public_key(KeyId=key_id)["PublicKey"]
    assert regions[OTHER].get_public_key(KeyId=key_id)["PublicKey"] == public_der
    signature = regions[OTHER].sign(KeyId=key_id, Message=b"m", SigningAlgorithm="ECDSA_SHA_256")["Signature"]
    serialization.load_der_public_key(public_der).verify(signature, b"m", ec.ECDSA(hashes.SHA256()))


def test_rotation_is_set_on_the_primary_and_shared(regions, mrk, backend):
    backend.control.clock.set(START.isoformat(), frozen=True)
    key_id = mrk["KeyId"]
    kms_error("UnsupportedOperationException", regions[OTHER].enable_key_rotation, KeyId=key_id)
    kms_error("UnsupportedOperationException", regions[OTHER].rotate_key_on_demand, KeyId=key_id)
    regions[PRIMARY].enable_key_rotation(KeyId=key_id, RotationPeriodInDays=90)
    status = regions[OTHER].get_key_rotation_status(KeyId=key_id)
    assert status["KeyRotationEnabled"] is True and status["RotationPeriodInDays"] == 90
    regions[PRIMARY].rotate_key_on_demand(KeyId=key_id)
    backend.control.clock.advance(days=91)
    for kms in (regions[PRIMARY], regions[OTHER]):
        listed = kms.list_key_rotations(KeyId=key_id)["Rotations"]
        assert [r["RotationType"] for r in listed] == ["ON_DEMAND", "AUTOMATIC"]
    ids = {kms.describe_key(KeyId=key_id)["KeyMetadata"]["CurrentKeyMaterialId"]
           for kms in (regions[PRIMARY], regions[OTHER])}
    assert len(ids) == 1
    blob = regions[PRIMARY].encrypt(KeyId=key_id, Plaintext=b"after")["CiphertextBlob"]
    assert regions[OTHER].decrypt(CiphertextBlob=blob)["Plaintext"] == b"after"


def test_update_primary_region(regions, mrk, backend):
    key_id = mrk["KeyId"]
    regions[PRIMARY].update_primary_region(KeyId=key_id, PrimaryRegion=OTHER)
    for kms in (regions[PRIMARY], regions[OTHER]):
        assert config(kms, key_id)["PrimaryKey"]["Region"] == OTHER
    assert config(regions[PRIMARY], key_id)["MultiRegionKeyType"] == "REPLICA"
    kms_error("UnsupportedOperationException", regions[PRIMARY].replicate_key, KeyId=key_id, ReplicaRegion=THIRD)
    regions[OTHER].replicate_key(KeyId=key_id, ReplicaRegion=THIRD)
    assert len(config(regions[PRIMARY], key_id)["ReplicaKeys"]) == 2
    # The new primary carries the shared rotation schedule.
    regions[OTHER].enable_key_rotation(KeyId=key_id)
    assert regions[PRIMARY].get_key_rotation_status(KeyId=key_id)["KeyRotationEnabled"] is True


def test_replication_errors(regions, mrk):
    kms = regions[PRIMARY]
    single = kms.create_key()["KeyMetadata"]["KeyId"]
    kms_error("UnsupportedOperationException", kms.replicate_key, KeyId=single, ReplicaRegion=OTHER)
    kms_error("AlreadyExistsException", kms.replicate_key, KeyId=mrk["KeyId"], ReplicaRegion=OTHER)
    kms_error("ValidationException", kms.replicate_key, KeyId=mrk["KeyId"], ReplicaRegion=PRIMARY)
    kms_error("ValidationException", kms.replicate_key, KeyId=mrk["KeyId"], ReplicaRegion="cn-north-1")
    kms_error("ValidationException", kms.replicate_key, KeyId=mrk["KeyId"], ReplicaRegion="not a region")
    kms_error("UnsupportedOperationException", regions[OTHER].replicate_key, KeyId=mrk["KeyId"], ReplicaRegion=THIRD)
    kms_error("NotFoundException", kms.update_primary_region, KeyId=mrk["KeyId"], PrimaryRegion=THIRD)
    kms_error("UnsupportedOperationException", kms.update_primary_region, KeyId=single, PrimaryRegion=OTHER)
    kms_error("MalformedPolicyDocumentException", kms.replicate_key, KeyId=mrk["KeyId"], ReplicaRegion=THIRD,
              Policy="{not json")
    assert "ReplicaKeys" in config(kms, mrk["KeyId"]) and len(config(kms, mrk["KeyId"])["ReplicaKeys"]) == 1


def test_a_primary_is_deleted_after_its_replicas(regions, mrk, backend):
    clock = backend.control.clock
    clock.set(START.isoformat(), frozen=True)
    key_id = mrk["KeyId"]
    out = regions[PRIMARY].schedule_key_deletion(KeyId=key_id, PendingWindowInDays=10)
    assert out["KeyState"] == "PendingReplicaDeletion" and out["PendingWindowInDays"] == 10
    assert "DeletionDate" not in out
    meta = regions[PRIMARY].describe_key(KeyId=key_id)["KeyMetadata"]
    assert meta["KeyState"] == "PendingReplicaDeletion" and meta["PendingDeletionWindowInDays"] == 10
    kms_error("KMSInvalidStateException", regions[PRIMARY].encrypt, KeyId=key_id, Plaintext=b"x")
    regions[OTHER].schedule_key_deletion(KeyId=key_id, PendingWindowInDays=7)
    clock.advance(days=8)  # the replica went on day 7; the primary's 10 days started then
    kms_error("NotFoundException", regions[OTHER].describe_key, KeyId=key_id)
    meta = regions[PRIMARY].describe_key(KeyId=key_id)["KeyMetadata"]
    assert meta["KeyState"] == "PendingDeletion" and meta["DeletionDate"] == START + dt.timedelta(days=17)
    assert config(regions[PRIMARY], key_id)["ReplicaKeys"] == []
    clock.advance(days=9)
    kms_error("NotFoundException", regions[PRIMARY].describe_key, KeyId=key_id)


def test_cancelling_a_primarys_deletion_while_replicas_remain(regions, mrk):
    key_id = mrk["KeyId"]
    regions[PRIMARY].schedule_key_deletion(KeyId=key_id, PendingWindowInDays=7)
    regions[PRIMARY].cancel_key_deletion(KeyId=key_id)
    assert regions[PRIMARY].describe_key(KeyId=key_id)["KeyMetadata"]["KeyState"] == "Disabled"


def test_imported_material_is_imported_into_each_region(regions):
    kms, there = regions[PRIMARY], regions[OTHER]
    key_id = kms.create_key(MultiRegion=True, Origin="EXTERNAL")["KeyMetadata"]["KeyId"]
    material = os.urandom(32)
    material_id = import_material(kms, key_id, material)["KeyMaterialId"]
    kms.replicate_key(KeyId=key_id, ReplicaRegion=OTHER)
    assert there.describe_key(KeyId=key_id)["KeyMetadata"]["KeyState"] == "PendingImport"
    kms_error("IncorrectKeyMaterialException", lambda: import_material(there, key_id, os.urandom(32)))
    kms_error("UnsupportedOperationException",
              lambda: import_material(there, key_id, os.urandom(32), ImportType="NEW_KEY_MATERIAL"))
    assert import_material(there, key_id, material)["KeyMaterialId"] == material_id
    blob = kms.encrypt(KeyId=key_id, Plaintext=b"byok")["CiphertextBlob"]
    assert there.decrypt(CiphertextBlob=blob)["Plaintext"] == b"byok"

    # New material: imported into the primary, then every replica, then rotated on the primary.
    second = os.urandom(32)
    second_id = import_material(kms, key_id, second, ImportType="NEW_KEY_MATERIAL")["KeyMaterialId"]
    states = lambda client: [r["KeyMaterialState"] for r in client.list_key_rotations(
        KeyId=key_id, IncludeKeyMaterial="ALL_KEY_MATERIAL")["Rotations"]]
    assert states(kms) == ["CURRENT", "PENDING_MULTI_REGION_IMPORT_AND_ROTATION"]
    kms_error("KMSInvalidStateException", kms.rotate_key_on_demand, KeyId=key_id)
    import_material(there, key_id, second)
    assert states(kms) == states(there) == ["CURRENT", "PENDING_ROTATION"]
    kms.rotate_key_on_demand(KeyId=key_id)
    assert states(kms) == states(there) == ["NON_CURRENT", "CURRENT"]
    for client in (kms, there):
        assert client.describe_key(KeyId=key_id)["KeyMetadata"]["CurrentKeyMaterialId"] == second_id
    blob = there.encrypt(KeyId=key_id, Plaintext=b"second")["CiphertextBlob"]
    assert kms.decrypt(CiphertextBlob=blob)["Plaintext"] == b"second"
