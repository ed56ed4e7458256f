"""Two ``fakekms serve`` processes on one ``--db`` file are one KMS: what time does to a key
(deletion, rotation, expiry of imported material) is seen the same way by both, whichever of
them scheduled it, and racing writes through both lose nothing and have one winner."""

from __future__ import annotations

import datetime as dt
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from botocore.exceptions import ClientError
from conftest import make_client
from helpers import kms_error, own_aliases
from test_imports import import_material

from fakekms.control import start_server

START = dt.datetime(2030, 1, 1, tzinfo=dt.timezone.utc)


@pytest.fixture
def pair(tmp_path):
    """Two servers on one file, their clocks frozen at the same moment."""
    db = str(tmp_path / "kms.db")
    with start_server("--db", db) as first, start_server("--db", db) as second:
        for srv in (first, second):
            srv.clock.set(START, frozen=True)
        yield first, second


def advance(servers, **delta) -> None:
    for srv in servers:
        srv.clock.advance(**delta)


def test_a_deletion_scheduled_by_one_process_happens_in_both(pair):
    first, second = pair
    a, b = make_client(first.endpoint), make_client(second.endpoint)
    assert b.list_keys()["Keys"] == []  # the second process has already looked at the store
    doomed = a.create_key()["KeyMetadata"]["KeyId"]
    kept = a.create_key()["KeyMetadata"]["KeyId"]
    a.create_alias(AliasName="alias/doomed", TargetKeyId=doomed)
    a.schedule_key_deletion(KeyId=doomed, PendingWindowInDays=7)
    advance(pair, days=6)
    assert b.describe_key(KeyId=doomed)["KeyMetadata"]["KeyState"] == "PendingDeletion"
    advance(pair, days=1, seconds=1)
    kms_error("NotFoundException", b.describe_key, KeyId=doomed)
    kms_error("NotFoundException", a.describe_key, KeyId="alias/doomed")
    assert [k["KeyId"] for k in a.list_keys()["Keys"]] == [kept]


def test_a_rotation_enabled_through_one_process_runs_in_the_other(pair):
    first, second = pair
    a, b = make_client(first.endpoint), make_client(second.endpoint)
    key_id = a.create_key()["KeyMetadata"]["KeyId"]
    old = a.encrypt(KeyId=key_id, Plaintext=b"before")["CiphertextBlob"]
    assert b.list_key_rotations(KeyId=key_id)["Rotations"] == []
    a.enable_key_rotation(KeyId=key_id, RotationPeriodInDays=90)
    advance(pair, days=91)
    rotations = b.list_key_rotations(KeyId=key_id)["Rotations"]
    assert [r["RotationType"] for r in rotations] == ["AUTOMATIC"]
    assert rotations[0]["RotationDate"] == START + dt.timedelta(days=90)
    assert a.list_key_rotations(KeyId=key_id)["Rotations"] == rotations
    out = a.decrypt(CiphertextBlob=old)
    assert out["Plaintext"] == b"before" and out["KeyMaterialId"] != rotations[0]["KeyMaterialId"]
    new = b.encrypt(KeyId=key_id, Plaintext=b"after")
    assert new["KeyId"].endswith(key_id)
    assert a.decrypt(CiphertextBlob=new["CiphertextBlob"])["KeyMaterialId"] == rotations[0]["KeyMaterialId"]


def test_imported_material_expiring_is_seen_by_both(pair):
    first, second = pair
    a, b = make_client(first.endpoint), make_client(second.endpoint)
    key_id = a.create_key(Origin="EXTERNAL")["KeyMetadata"]["KeyId"]
    assert b.describe_key(KeyId=key_id)["KeyMetadata"]["KeyState"] == "PendingImport"
    import_material(b, key_id, bytes(range(32)), ExpirationModel="KEY_MATERIAL_EXPIRES",
                    ValidTo=START + dt.timedelta(days=2))
    assert a.describe_key(KeyId=key_id)["KeyMetadata"]["KeyState"] == "Enabled"
    a.encrypt(KeyId=key_id, Plaintext=b"x")
    advance(pair, days=2, seconds=1)
    assert b.describe_key(KeyId=key_id)["KeyMetadata"]["KeyState"] == "PendingImport"
    kms_error("KMSInvalidStateException", a.encrypt, KeyId=key_id, Plaintext=b"x")


def test_concurrent_rotations_through_both_processes_are_all_counted(pair):
    """RotateKeyOnDemand reads and writes the key's rotation count: 24 calls split over two
    processes leave 24 rotations, and the limit of 25 holds exactly."""
    first, second = pair
    key_id = make_client(first.endpoint).create_key()["KeyMetadata"]["KeyId"]
    clients = [make_client(srv.endpoint) for srv in pair for _ in range(3)]
    barrier = threading.Barrier(len(clients))

    def rotate(client) -> int:
        barrier.wait()
        for _ in range(4):
            client.rotate_key_on_demand(KeyId=key_id)
        return 4

    with ThreadPoolExecutor(len(clients)) as pool:
        assert sum(pool.map(rotate, clients)) == 24
    rotations = make_client(second.endpoint).list_key_rotations(KeyId=key_id)["Rotations"]
    assert len(rotations) == 24 and len({r["KeyMaterialId"] for r in rotations}) == 24
    make_client(first.endpoint).rotate_key_on_demand(KeyId=key_id)
    kms_error("LimitExceededException", make_client(second.endpoint).rotate_key_on_demand, KeyId=key_id)


def test_a_race_for_an_alias_through_both_processes_has_one_winner(pair):
    first, second = pair
    a = make_client(first.endpoint)
    targets = {srv.endpoint: a.create_key()["KeyMetadata"]["KeyId"] for srv in pair}
    names = [f"alias/race-{n}" for n in range(15)]
    barrier = threading.Barrier(4)

    def claim(endpoint: str) -> dict[str, str]:
        client = make_client(endpoint)
        barrier.wait()
        outcome = {}
        for name in names:
            try:
                client.create_alias(AliasName=name, TargetKeyId=targets[endpoint])
                outcome[name] = "won"
            except ClientError as exc:
                outcome[name] = exc.response["Error"]["Code"]
        return outcome

    endpoints = [first.endpoint, second.endpoint] * 2
    with ThreadPoolExecutor(4) as pool:
        outcomes = list(pool.map(claim, endpoints))
    aliases = {al["AliasName"]: al["TargetKeyId"] for al in own_aliases(a)}
    for name in names:
        results = [outcome[name] for outcome in outcomes]
        assert results.count("won") == 1 and results.count("AlreadyExistsException") == 3, (name, results)
        winner = endpoints[results.index("won")]
        assert aliases[name] == targets[winner]
