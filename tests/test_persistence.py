"""State in a SQLite file: a restart keeps every key, alias, tag and key material, and a
SIGKILL loses nothing the server acknowledged."""

from __future__ import annotations

import signal

from conftest import ACCOUNT, REGION, make_client
from cryptography.hazmat.primitives import serialization
from helpers import own_aliases

from fakekms.control import start_server
from fakekms.state import open_store


def material(db, key_id):
    """(version, material) of a key's CURRENT software-backend material, read from the file."""
    store = open_store(str(db))
    try:
        with store.read() as tx:
            key = tx.get_key(ACCOUNT, REGION, key_id)
            record = tx.key_material(key)
            return record.version, record.ref
    finally:
        store.close()


def test_restart_keeps_everything(tmp_path):
    db = tmp_path / "kms.db"
    srv = start_server("--db", str(db))
    kms = make_client(srv.endpoint)
    sym = kms.create_key(Description="sym", Tags=[{"TagKey": "t", "TagValue": "v"}])["KeyMetadata"]
    rsa_key = kms.create_key(KeySpec="RSA_2048", KeyUsage="SIGN_VERIFY")["KeyMetadata"]
    kms.create_alias(AliasName="alias/kept", TargetKeyId=sym["KeyId"])
    kms.schedule_key_deletion(KeyId=rsa_key["KeyId"], PendingWindowInDays=9)
    before = {k: kms.describe_key(KeyId=k)["KeyMetadata"] for k in (sym["KeyId"], rsa_key["KeyId"])}
    material_before = material(db, rsa_key["KeyId"])
    assert srv.stop() == 0

    with start_server("--db", str(db)) as srv:
        kms = make_client(srv.endpoint)
        after = {k: kms.describe_key(KeyId=k)["KeyMetadata"] for k in before}
        assert after == before
        assert kms.describe_key(KeyId="alias/kept")["KeyMetadata"]["KeyId"] == sym["KeyId"]
        assert kms.list_resource_tags(KeyId=sym["KeyId"])["Tags"] == [{"TagKey": "t", "TagValue": "v"}]
        assert [a["AliasName"] for a in own_aliases(kms)] == ["alias/kept"]
        assert material(db, rsa_key["KeyId"]) == material_before


def test_sigkill_loses_nothing_acknowledged(tmp_path):
    db = tmp_path / "kms.db"
    srv = start_server("--db", str(db))
    kms = make_client(srv.endpoint)
    key_ids = [kms.create_key(KeySpec="ECC_NIST_P256", KeyUsage="SIGN_VERIFY")["KeyMetadata"]["KeyId"]
               for _ in range(10)]
    kms.create_alias(AliasName="alias/last", TargetKeyId=key_ids[-1])
    srv.stop(signal.SIGKILL)

    with start_server("--db", str(db)) as srv:
        kms = make_client(srv.endpoint)
        assert [k["KeyId"] for k in kms.list_keys()["Keys"]] == key_ids
        assert kms.describe_key(KeyId="alias/last")["KeyMetadata"]["KeyId"] == key_ids[-1]
    for key_id in key_ids:
        version, der = material(db, key_id)
        private = serialization.load_der_private_key(der, None)
        assert version == 1 and private.curve.name == "secp256r1"


def test_health_reports_the_sqlite_backend(tmp_path):
    import http.client
    import json

    db = tmp_path / "kms.db"
    with start_server("--db", str(db)) as srv:
        make_client(srv.endpoint).create_key()
        conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=5)
        conn.request("GET", "/_fakekms/health")
        health = json.loads(conn.getresponse().read())
        assert (health["backend"], health["db"], health["keys"]) == ("sqlite", str(db), 1)


def test_reset_wipes_every_account_and_region(tmp_path):
    with start_server("--db", str(tmp_path / "kms.db")) as srv:
        clients = [make_client(srv.endpoint), make_client(srv.endpoint, region="eu-central-1"),
                   make_client(srv.endpoint, access_key="999988887777")]
        for client in clients:
            client.create_alias(AliasName="alias/x", TargetKeyId=client.create_key()["KeyMetadata"]["KeyId"])
        srv.reset()
        for client in clients:
            assert client.list_keys()["Keys"] == [] and own_aliases(client) == []




def test_rotations_replicas_and_import_tokens_survive_a_restart(tmp_path):
    from test_imports import wrap

    db = tmp_path / "kms.db"
    srv = start_server("--db", str(db))
    kms = make_client(srv.endpoint)
    key_id = kms.create_key(MultiRegion=True)["KeyMetadata"]["KeyId"]
    old = kms.encrypt(KeyId=key_id, Plaintext=b"old")["CiphertextBlob"]
    kms.rotate_key_on_demand(KeyId=key_id)
    kms.enable_key_rotation(KeyId=key_id, RotationPeriodInDays=90)
    kms.replicate_key(KeyId=key_id, ReplicaRegion="eu-west-1")
    new = kms.encrypt(KeyId=key_id, Plaintext=b"new")["CiphertextBlob"]
    external = kms.create_key(Origin="EXTERNAL")["KeyMetadata"]["KeyId"]
    params = kms.get_parameters_for_import(KeyId=external, WrappingAlgorithm="RSA_AES_KEY_WRAP_SHA_256",
                                           WrappingKeySpec="RSA_2048")
    rotations = kms.list_key_rotations(KeyId=key_id)["Rotations"]
    status = kms.get_key_rotation_status(KeyId=key_id)
    srv.stop(signal.SIGKILL)

    with start_server("--db", str(db)) as srv:
        kms = make_client(srv.endpoint)
        replica = make_client(srv.endpoint, region="eu-west-1")
        assert kms.list_key_rotations(KeyId=key_id)["Rotations"] == rotations
        assert kms.get_key_rotation_status(KeyId=key_id) | {"ResponseMetadata": None} == status | {"ResponseMetadata": None}
        assert replica.decrypt(CiphertextBlob=old)["Plaintext"] == b"old"
        assert replica.decrypt(CiphertextBlob=new)["Plaintext"] == b"new"
        # A token issued before the restart still unwraps with its own wrapping key.
        kms.import_key_material(KeyId=external, ImportToken=params["ImportToken"],
                                EncryptedKeyMaterial=wrap(params["PublicKey"], "RSA_AES_KEY_WRAP_SHA_256", bytes(32)),
                                ExpirationModel="KEY_MATERIAL_DOES_NOT_EXPIRE")
        assert kms.describe_key(KeyId=external)["KeyMetadata"]["KeyState"] == "Enabled"


def test_a_schema_1_database_is_upgraded(tmp_path):
    """A file written before key material had metadata opens, keeps its keys and ciphertexts,
    and counts as schema 2 after."""
    import sqlite3

    db = tmp_path / "kms.db"
    with start_server("--db", str(db)) as srv:
        kms = make_client(srv.endpoint)
        key_id = kms.create_key()["KeyMetadata"]["KeyId"]
        blob = kms.encrypt(KeyId=key_id, Plaintext=b"from schema 1")["CiphertextBlob"]
        kms.schedule_key_deletion(KeyId=kms.create_key()["KeyMetadata"]["KeyId"], PendingWindowInDays=7)
        before = kms.describe_key(KeyId=key_id)["KeyMetadata"]
    # Rewrite the file as schema 1 had it.
    conn = sqlite3.connect(db, isolation_level=None)
    conn.executescript("""
        DROP INDEX keys_due_at;
        ALTER TABLE keys RENAME COLUMN due_at TO delete_at;
        CREATE INDEX keys_delete_at ON keys (delete_at) WHERE delete_at IS NOT NULL;
        CREATE TABLE km1 (account TEXT NOT NULL, region TEXT NOT NULL, key_id TEXT NOT NULL,
            version INTEGER NOT NULL, material BLOB NOT NULL, created REAL NOT NULL,
            PRIMARY KEY (account, region, key_id, version));
        INSERT INTO km1 SELECT account, region, key_id, version, material, created FROM key_material;
        DROP TABLE key_material;
        ALTER TABLE km1 RENAME TO key_material;
        DROP TABLE import_tokens;
        UPDATE meta SET value = '1' WHERE name = 'schema_version';
    """)
    conn.close()

    with start_server("--db", str(db)) as srv:
        kms = make_client(srv.endpoint)
        after = kms.describe_key(KeyId=key_id)["KeyMetadata"]
        assert after == before
        out = kms.decrypt(CiphertextBlob=blob)
        assert out["Plaintext"] == b"from schema 1" and out["KeyMaterialId"] == before["CurrentKeyMaterialId"]
        kms.rotate_key_on_demand(KeyId=key_id)
        assert kms.decrypt(CiphertextBlob=blob)["Plaintext"] == b"from schema 1"
        assert len(kms.list_keys()["Keys"]) == 2
    conn = sqlite3.connect(db)
    assert conn.execute("SELECT value FROM meta WHERE name = 'schema_version'").fetchone() == ("2",)
    assert conn.execute("SELECT COUNT(*) FROM keys WHERE due_at IS NOT NULL").fetchone() == (1,)
    conn.close()
