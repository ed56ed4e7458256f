"""A --db file the server cannot write: a full disk, a lock another process holds. Reads go on,
writes answer AWS's KMSInternalException (the reason in the log), health says degraded, the
audit events wait in memory and are written once the store takes them, and a server that
cannot start says why in one sentence."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from conftest import make_client

from fakekms.control import start_server

RETRY = "The request was rejected because an internal exception occurred. The request can be retried."


@pytest.fixture
def small_disk():
    """A 2 MiB tmpfs, mounted for the test (root only: skipped where it cannot be mounted)."""
    path = Path(f"/tmp/fakekms-full-{uuid.uuid4().hex[:8]}")
    path.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(path)], capture_output=True)
    if mounted.returncode != 0:
        path.rmdir()
        pytest.skip(f"cannot mount a small tmpfs here ({mounted.stderr.decode().strip() or 'not root'})")
    yield path
    subprocess.run(["umount", "-l", str(path)], capture_output=True)
    path.rmdir()


def fill(directory: Path) -> Path:
    filler = directory / "filler"
    with open(filler, "wb") as out:
        try:
            while True:
                out.write(b"\0" * 65536)
                out.flush()
        except OSError:
            pass
    return filler


def internal_error(call, **kwargs) -> None:
    from botocore.exceptions import ClientError

    with pytest.raises(ClientError) as info:
        call(**kwargs)
    assert info.value.response["Error"] == {"Code": "KMSInternalException", "Message": RETRY}
    assert info.value.response["ResponseMetadata"]["HTTPStatusCode"] == 500


def test_a_full_disk_stops_writes_not_reads(small_disk):
    with start_server("--db", str(small_disk / "kms.db"), log_level="INFO") as server:
        kms = make_client(server.endpoint)
        key = kms.create_key()["KeyMetadata"]["KeyId"]
        blob = kms.encrypt(KeyId=key, Plaintext=b"p")["CiphertextBlob"]
        filler = fill(small_disk)
        assert kms.describe_key(KeyId=key)["KeyMetadata"]["KeyState"] == "Enabled"
        assert kms.decrypt(CiphertextBlob=blob)["Plaintext"] == b"p"
        internal_error(kms.create_key)
        internal_error(kms.tag_resource, KeyId=key, Tags=[{"TagKey": "t" * 128, "TagValue": "v" * 256}])
        health = server.health()
        assert health["status"] == "degraded" and "the disk holding the database is full" in health["reason"]
        assert "CreateKey failed: the store is unavailable: the disk holding the database is full" in server.log()
        assert "Traceback" not in server.log()
        filler.unlink()
        made = kms.create_key()["KeyMetadata"]["KeyId"]
        assert server.health()["status"] == "ok"
        names = [e["eventName"] for e in server.audit.events()]
        assert names[:3] == ["CreateKey", "Encrypt", "DescribeKey"] and names[-1] == "CreateKey"
        assert "Decrypt" in names  # held in memory while the disk was full, written since
        assert {k["KeyId"] for k in kms.list_keys()["Keys"]} == {key, made}


def test_a_server_cannot_start_on_a_full_disk(small_disk):
    fill(small_disk)
    out = subprocess.run([sys.executable, "-m", "fakekms", "serve", "--port", "0", "--db",
                          str(small_disk / "kms.db")], capture_output=True, text=True, timeout=60)
    assert out.returncode == 2
    assert out.stderr == (f"fakekms: cannot use --db {small_disk / 'kms.db'}: the disk holding the database is "
                          "full (database or disk is full); free the disk or the file, or give another path\n")


def test_a_lock_held_by_another_process_stops_writes_not_reads(tmp_path):
    db = str(tmp_path / "kms.db")
    with start_server("--db", db, log_level="INFO") as server:
        kms = make_client(server.endpoint)
        key = kms.create_key()["KeyMetadata"]["KeyId"]
        holder = sqlite3.connect(db, isolation_level=None)
        holder.execute("BEGIN EXCLUSIVE")
        try:
            assert kms.describe_key(KeyId=key)["KeyMetadata"]["KeyId"] == key
            assert kms.list_keys()["Keys"] == [{"KeyId": key, "KeyArn": kms.describe_key(KeyId=key)["KeyMetadata"]["Arn"]}]
            internal_error(kms.schedule_key_deletion, KeyId=key)
            health = server.health()
            assert health["status"] == "degraded" and "another process holds the database's lock" in health["reason"]
        finally:
            holder.execute("ROLLBACK")
            holder.close()
        kms.tag_resource(KeyId=key, Tags=[{"TagKey": "after", "TagValue": "lock"}])
        assert server.health()["status"] == "ok"
        assert kms.describe_key(KeyId=key)["KeyMetadata"]["KeyState"] == "Enabled"  # nothing half-written
        assert [e["eventName"] for e in server.audit.events()].count("DescribeKey") == 3
