"""State in a SQLite file: a restart keeps every key, alias, tag and key material, and a
SIGKILL loses nothing the server acknowledged."""

from __future__ import annotations

import signal

from conftest import ACCOUNT, REGION, make_client
from cryptography.hazmat.primitives import serialization

from fakekms.control import start_server
from fakekms.state import Store


def material(db, key_id):
    store = Store(str(db))
    try:
        with store.transaction(0) as tx:
            key = tx.get_key(ACCOUNT, REGION, key_id)
            record = tx.key_material(key)
            return record.version, record.material
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
        assert [a["AliasName"] for a in kms.list_aliases()["Aliases"]] == ["alias/kept"]
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
            assert client.list_keys()["Keys"] == [] and client.list_aliases()["Aliases"] == []


