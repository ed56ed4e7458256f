"""The pytest plugin as users meet it: pytest sessions in a fresh directory, with nothing but the
installed fakekms, using each fixture; both modes; flags and ini keys; xdist; and an interrupted
session that leaves no server behind."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
KEYS_YAML = ROOT / "fixtures" / "keys.yaml"

USES_EVERY_FIXTURE = '''
import boto3
import pytest


def test_kms_client_is_fresh_for_each_test(kms_client):
    kms_client.create_key(Description="one")
    assert len(kms_client.list_keys()["Keys"]) == 1


def test_and_again(kms_client):
    assert kms_client.list_keys()["Keys"] == []


def test_kms_env_reaches_unmodified_code(kms_env):
    kms = boto3.client("kms")  # no endpoint, Region or credentials given
    key_id = kms.create_key()["KeyMetadata"]["KeyId"]
    assert kms.describe_key(KeyId=key_id)["KeyMetadata"]["Arn"].startswith("arn:aws:kms:us-east-1:")


def test_kms_clock_deletes_keys_when_their_window_passes(kms_client, kms_clock):
    key_id = kms_client.create_key()["KeyMetadata"]["KeyId"]
    kms_client.schedule_key_deletion(KeyId=key_id, PendingWindowInDays=7)
    kms_clock.advance(days=7, seconds=1)
    with pytest.raises(kms_client.exceptions.NotFoundException):
        kms_client.describe_key(KeyId=key_id)


def test_kms_audit_records_the_call(kms_client, kms_audit):
    key_id = kms_client.create_key()["KeyMetadata"]["KeyId"]
    blob = kms_client.encrypt(KeyId=key_id, Plaintext=b"x", EncryptionContext={"order": "42"})["CiphertextBlob"]
    kms_client.decrypt(CiphertextBlob=blob, EncryptionContext={"order": "42"})
    kms_audit.assert_called("Decrypt", key=key_id, encryption_context={"order": "42"}, succeeded=True)
    assert [e["eventName"] for e in kms_audit.events()] == ["CreateKey", "Encrypt", "Decrypt"]


def test_kms_server_offers_its_controls(kms_server, kms_client):
    kms_server.clock.set("2030-01-01T00:00:00Z", frozen=True)
    created = kms_client.create_key()["KeyMetadata"]["CreationDate"]
    assert created.year == 2030
    assert kms_server.region == "us-east-1"
    assert kms_server.mode in ("server", "in-process")
    assert (kms_server.endpoint is None) == (kms_server.mode == "in-process")


@pytest.mark.kms_seed_file("keys.yaml")
def test_a_seed_file_for_one_test(kms_client):
    assert kms_client.describe_key(KeyId="alias/orders")["KeyMetadata"]["Description"] == "orders envelope key"


def test_which_is_gone_for_the_next(kms_client):
    assert kms_client.list_keys()["Keys"] == []


def test_kms_identity_calls_as_that_principal(kms_identity, kms_audit):
    alice = kms_identity("arn:aws:iam::444455556666:user/alice", via_service="ec2.us-east-1.amazonaws.com")
    assert alice.create_key()["KeyMetadata"]["AWSAccountId"] == "444455556666"
    caller = kms_audit.last("CreateKey")["userIdentity"]
    assert (caller["type"], caller["userName"], caller["invokedBy"]) == ("IAMUser", "alice", "ec2.amazonaws.com")
'''


def _seed_file(pytester: pytest.Pytester, name: str = "keys.yaml") -> None:
    """The example seed file, in the default account so that the fixtures' clients see it."""
    text = KEYS_YAML.read_text().replace('Account: "111122223333"', "")
    (pytester.path / name).write_text(text)


def _run(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    return pytester.runpytest_subprocess("-p", "no:cacheprovider", *args, timeout=120)


@pytest.mark.parametrize("mode", ["server", "in-process"])
def test_every_fixture_in_both_modes(pytester, mode):
    _seed_file(pytester)
    pytester.makepyfile(test_fixtures=USES_EVERY_FIXTURE)
    result = _run(pytester, f"--fakekms-mode={mode}")
    result.assert_outcomes(passed=9)


def test_ini_keys_configure_the_session(pytester):
    _seed_file(pytester, "session-keys.yaml")
    pytester.makeini("""
        [pytest]
        fakekms_mode = in-process
        fakekms_seed = ini-seed
        fakekms_region = eu-west-1
        fakekms_seed_files = session-keys.yaml
    """)
    pytester.makepyfile(test_ini='''
        def test_session_seed_file_is_there_after_every_reset(kms_server, kms_client):
            assert kms_server.mode == "in-process" and kms_server.region == "eu-west-1"
            # The seed file's own Region wins over the session's for its keys.
            assert kms_client.list_keys()["Keys"] == []
            us = kms_server.client(region="us-east-1")
            assert us.describe_key(KeyId="alias/orders")["KeyMetadata"]["KeyState"] == "Enabled"
            us.disable_key(KeyId="1234abcd-12ab-34cd-56ef-1234567890ab")

        def test_second(kms_server, kms_client):
            us = kms_server.client(region="us-east-1")
            assert us.describe_key(KeyId="alias/orders")["KeyMetadata"]["KeyState"] == "Enabled"
    ''')
    _run(pytester).assert_outcomes(passed=2)


def test_a_seed_makes_runs_repeat(pytester):
    pytester.makepyfile(test_seed='''
        def test_ids(kms_client, tmp_path_factory):
            key_id = kms_client.create_key()["KeyMetadata"]["KeyId"]
            print("KEY", key_id)
    ''')
    runs = [_run(pytester, "--fakekms-seed=repeat", "-s") for _ in range(2)]
    ids = [_printed_keys(r) for r in runs]
    assert ids[0] == ids[1] and len(ids[0]) == 1
    assert _printed_keys(_run(pytester, "--fakekms-seed=different", "-s")) != ids[0]


@pytest.mark.parametrize("mode", ["server", "in-process"])
def test_the_clock_option_starts_every_test_at_that_time(pytester, mode):
    pytester.makepyfile(test_clock='''
        import datetime

        START = datetime.datetime(2030, 1, 1, tzinfo=datetime.timezone.utc)

        def test_first(kms_client, kms_clock):
            assert kms_clock.now() == START and kms_clock.frozen
            assert kms_client.create_key()["KeyMetadata"]["CreationDate"] == START
            kms_clock.advance(days=2)

        def test_second(kms_clock):
            assert kms_clock.now() == START
    ''')
    _run(pytester, f"--fakekms-mode={mode}", "--fakekms-clock=2030-01-01T00:00:00Z",
         "--fakekms-frozen").assert_outcomes(passed=2)


def test_a_db_path_keeps_state_in_that_file(pytester):
    pytester.makepyfile(test_db='''
        def test_makes_a_key(kms_client):
            kms_client.create_key(Description="kept")
    ''')
    _run(pytester, "--fakekms-db=state.sqlite").assert_outcomes(passed=1)
    rows = sqlite3.connect(pytester.path / "state.sqlite").execute("SELECT doc FROM keys").fetchall()
    assert len(rows) == 1 and '"description":"kept"' in rows[0][0]


def test_xdist_workers_each_have_their_own_server(pytester):
    pytester.makepyfile(test_parallel='''
        import os, time
        import pytest

        @pytest.mark.parametrize("n", range(8))
        def test_alone(kms_server, kms_client, n, tmp_path_factory):
            kms_client.create_key(Description=str(n))
            time.sleep(0.05)  # overlap with the other worker
            keys = kms_client.list_keys()["Keys"]
            assert len(keys) == 1
            assert kms_client.describe_key(KeyId=keys[0]["KeyId"])["KeyMetadata"]["Description"] == str(n)
            out = tmp_path_factory.getbasetemp().parent.parent / f"endpoint-{os.environ['PYTEST_XDIST_WORKER']}"
            out.write_text(kms_server.endpoint)
    ''')
    result = _run(pytester, "-n", "2", "--fakekms-db=kms.sqlite")
    result.assert_outcomes(passed=8)
    endpoints = {p.read_text() for p in pytester.path.parent.glob("**/endpoint-gw*")}
    assert len(endpoints) == 2
    assert sorted(p.name for p in pytester.path.glob("kms-gw*.sqlite")) == ["kms-gw0.sqlite", "kms-gw1.sqlite"]


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGINT])
def test_an_interrupted_session_leaves_no_server(pytester, sig):
    pid_file = pytester.path / "server.pid"
    pytester.makepyfile(test_hang=f'''
        import time

        def test_waits(kms_server):
            open({str(pid_file)!r}, "w").write(str(kms_server.pid))
            time.sleep(60)
    ''')
    session = subprocess.Popen([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q"],
                               cwd=pytester.path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        while not (pid_file.exists() and pid_file.read_text()):
            assert time.monotonic() < deadline and session.poll() is None, "the session never started its server"
            time.sleep(0.05)
        server_pid = int(pid_file.read_text())
        assert _alive(server_pid)
        session.send_signal(sig)
        session.wait(timeout=30)
    finally:
        if session.poll() is None:
            session.kill()
    deadline = time.monotonic() + 10
    while _alive(server_pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _alive(server_pid), f"fakekms server {server_pid} outlived its pytest session"


def test_a_bad_seed_file_stops_the_session_with_the_reason(pytester):
    (pytester.path / "bad.yaml").write_text("Keys:\n  - KeyId: nope\n")
    pytester.makepyfile(test_bad="def test_x(kms_client): pass\n")
    result = _run(pytester, "--fakekms-seed-file=bad.yaml")
    assert result.ret != 0
    result.stdout.fnmatch_lines(["*bad.yaml: Keys[[]0[]]: KeyId 'nope' is not a key id*"])


def test_disabled_with_no_fakekms(pytester):
    pytester.makepyfile(test_off="def test_x(kms_client): pass\n")
    result = _run(pytester, "-p", "no:fakekms")
    result.stdout.fnmatch_lines(["*fixture 'kms_client' not found*"])


def test_the_project_loader_registers_the_plugin_once(pytester, monkeypatch):
    """conftest_plugin.py loads the plugin where entry points are not read, and is harmless
    where they are."""
    pytester.makepyfile(test_loader="def test_x(kms_client):\n    assert kms_client.list_keys()['Keys'] == []\n")
    monkeypatch.setenv("PYTHONPATH", str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    monkeypatch.setenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", "1")
    _run(pytester, "-p", "conftest_plugin").assert_outcomes(passed=1)
    monkeypatch.delenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD")
    _run(pytester, "-p", "conftest_plugin").assert_outcomes(passed=1)


def _printed_keys(result: pytest.RunResult) -> list[str]:
    return [line.split("KEY ", 1)[1].split()[0] for line in result.outlines if "KEY " in line]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie (exited, not yet reaped by its parent) is not running.
    try:
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    except OSError:
        return False
