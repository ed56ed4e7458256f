"""The first minutes of a new user: the README's commands and snippets work as written (twice),
and each mistake a newcomer makes is answered with one sentence that says what to do. The
numbers are the items of the issue that asked for this."""

from __future__ import annotations

import http.client
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import tomllib
from pathlib import Path

import pytest
from conftest import make_client
from helpers import kms_error

from fakekms.control import start_server

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()


def fakekms(*args: str, env: dict | None = None, timeout: float = 30) -> subprocess.CompletedProcess:
    """The ``fakekms`` command as a user runs it (a server it starts must stop by itself)."""
    return subprocess.run([sys.executable, "-m", "fakekms", *args], capture_output=True, text=True,
                          timeout=timeout, env=env, cwd=ROOT)


def one_sentence(result: subprocess.CompletedProcess) -> str:
    """The error a command ended with: no traceback, exit code 2, and its last line."""
    assert "Traceback" not in result.stderr, result.stderr
    assert result.returncode == 2, (result.returncode, result.stderr)
    return result.stderr.strip().splitlines()[-1]


def section(title: str) -> str:
    return README.split(f"\n## {title}\n", 1)[1].split("\n## ", 1)[0]


def blocks(text: str, language: str) -> list[str]:
    return [block.split("```", 1)[0] for block in text.split(f"```{language}\n")[1:]]


def admin(srv, method: str, route: str, body=None) -> tuple[int, dict]:
    conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=10)
    conn.request(method, f"/_fakekms/{route}", body=json.dumps(body) if body is not None else None)
    response = conn.getresponse()
    answer = json.loads(response.read())
    conn.close()
    return response.status, answer


def no_aws_configuration(tmp_path: Path) -> dict:
    """A shell with no AWS set-up at all: no config files, no AWS_* variables."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "FAKEKMS_"))}
    env.update(HOME=str(tmp_path), AWS_CONFIG_FILE=str(tmp_path / "none"),
               AWS_SHARED_CREDENTIALS_FILE=str(tmp_path / "none"), AWS_EC2_METADATA_DISABLED="true")
    return env


# 1 -----------------------------------------------------------------------------------------------

def test_1_the_readme_and_make_serve_say_where_the_command_is():
    setup = section("Set-up: two commands")
    assert ". .venv/bin/activate" in setup and ".venv/bin/fakekms" in setup
    dry_run = subprocess.run(["make", "-n", "serve", "VENV=/nonexistent-venv"], capture_output=True, text=True,
                             cwd=ROOT).stdout
    assert "'. /nonexistent-venv/bin/activate' puts it on your PATH" in dry_run


# 2 and 13 ----------------------------------------------------------------------------------------

@pytest.mark.skipif(shutil.which("aws") is None, reason="the AWS CLI (`aws`) is not installed here")
def test_2_the_cli_snippet_works_in_a_shell_without_aws_configuration(tmp_path):
    (snippet,) = blocks(section("Point a client at it"), "sh")
    with start_server() as srv:
        script = snippet.replace("127.0.0.1:4599", f"127.0.0.1:{srv.port}")
        for _ in range(2):
            result = subprocess.run(["bash", "-e", "-c", script], capture_output=True, text=True,
                                    env=no_aws_configuration(tmp_path), timeout=120)
            assert result.returncode == 0, result.stderr
        assert len(make_client(srv.endpoint, "us-east-1").list_keys()["Keys"]) == 2


def test_13_the_boto3_snippet_runs_twice_against_one_server(capsys):
    (snippet,) = blocks(section("Point a client at it"), "python")
    with start_server() as srv:
        for _ in range(2):
            exec(compile(snippet.replace("127.0.0.1:4599", f"127.0.0.1:{srv.port}"), "README.md", "exec"), {})
        arns = capsys.readouterr().out.split()
        keys = make_client(srv.endpoint, "us-east-1").list_keys()["Keys"]
        assert len(arns) == 2 and arns[1] == keys[1]["KeyArn"]  # the alias follows the newest key


# 3 -----------------------------------------------------------------------------------------------

def test_3_a_bad_db_is_one_sentence_naming_it(tmp_path):
    (tmp_path / "not-sqlite").write_text("hello")
    cases = {
        str(tmp_path): "it is a directory",
        str(tmp_path / "missing" / "kms.db"): f"its directory {tmp_path / 'missing'} does not exist",
        str(tmp_path / "not-sqlite"): "it is not a SQLite database",
        "/proc/fakekms.db": "SQLite cannot open it (unable to open database file)",
    }
    for db, why in cases.items():
        message = one_sentence(fakekms("serve", "-p", "0", "--db", db))
        assert message == (f"fakekms: cannot use --db {db}: {why}; give the path of a new file or of one "
                           "fakekms wrote, in a writable directory, or leave --db out to keep state in memory")


# 4, 5, 6 -------------------------------------------------------------------------------------------

def test_4_a_port_out_of_range_is_one_sentence():
    assert one_sentence(fakekms("serve", "--port", "99999")) == (
        "fakekms serve: argument -p/--port: 99999 is not a port number; give 0 to 65535 (0 picks a free "
        "port); see `fakekms serve --help`.")


def test_5_the_log_level_takes_any_case():
    with start_server(log_level="debug") as srv:
        make_client(srv.endpoint).list_keys()
        assert " DEBUG " in srv.log()
    assert one_sentence(fakekms("serve", "--log-level", "loud")) == (
        "fakekms serve: argument --log-level: 'loud' is not a log level; give one of DEBUG, INFO, WARNING, "
        "ERROR; see `fakekms serve --help`.")


def test_6_a_port_in_use_says_how_to_choose_another():
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = fakekms("serve", "--port", str(port))
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert result.stderr.strip() == (
        f"fakekms: cannot listen on 127.0.0.1:{port}: Address already in use; choose another port with "
        "--port (or `make serve PORT=...`), or --port 0 for a free one")


# 7 -----------------------------------------------------------------------------------------------

def test_7_make_serve_installs_fakekms_alone_and_quietly():
    serve = subprocess.run(["make", "-n", "serve", "VENV=/nonexistent-venv"], capture_output=True, text=True,
                           cwd=ROOT).stdout
    assert "-e ." in serve and "[test]" not in serve and "PYTHONWARNINGS=ignore" in serve
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert project["license"] == "Apache-2.0" and project["license-files"] == ["LICENSE"]


# 8, 9, 10 ----------------------------------------------------------------------------------------

def test_8_a_seed_file_answer_names_account_and_region_and_health_agrees():
    with start_server() as srv:
        status, answer = admin(srv, "POST", "seed-file", {"path": str(ROOT / "fixtures" / "keys.yaml")})
        assert status == 200 and answer == {"keys": 9, "aliases": 5, "accounts": [
            {"Account": "111122223333", "Region": "ap-southeast-2", "Keys": 1, "Aliases": 0},
            {"Account": "111122223333", "Region": "us-east-1", "Keys": 8, "Aliases": 5}]}
        _, health = admin(srv, "GET", "health")
        assert health["keys"] == answer["keys"] and health["accounts"] == answer["accounts"]
        # The keys are where the answer says, for the account it names.
        assert len(make_client(srv.endpoint, "us-east-1", "111122223333").list_keys()["Keys"]) == 8


def test_9_a_since_that_is_no_time_is_one_sentence():
    with start_server() as srv:
        status, answer = admin(srv, "GET", "audit?since=yesterday")
    assert (status, answer) == (400, {"error": "since takes epoch seconds or an ISO 8601 time such as "
                                               "2030-01-01T00:00:00Z, not 'yesterday'"})


def test_an_unknown_admin_route_lists_the_routes():
    with start_server() as srv:
        status, answer = admin(srv, "GET", "keyz")
    assert status == 404 and answer["error"].startswith("GET /_fakekms/keyz is not a fakekms admin route; "
                                                        "the routes are GET /_fakekms/health, POST /_fakekms/reset")
    assert "GET /_fakekms/state" in answer["error"]


def test_10_the_clock_does_not_advance_backwards():
    with start_server() as srv:
        srv.clock.set(2_000_000_000, frozen=True)
        status, answer = admin(srv, "POST", "clock", {"advance": -5})
        assert (status, answer) == (400, {"error": 'advance takes a number of seconds, 0 or more, not -5; to '
                                                   'go back in time, send {"set": <epoch seconds or ISO 8601>}'})
        assert srv.clock.now().timestamp() == 2_000_000_000
        srv.clock.set(1_999_999_000)  # back in time is a set
        assert abs(srv.clock.now().timestamp() - 1_999_999_000) < 60


# 11, 12 ------------------------------------------------------------------------------------------

def test_11_a_key_deleted_by_the_clock_is_deleted_once_whatever_fails_after(tmp_path):
    with start_server(log_level="INFO") as srv:
        kms = make_client(srv.endpoint)
        key_id = kms.create_key()["KeyMetadata"]["KeyId"]
        kms.schedule_key_deletion(KeyId=key_id, PendingWindowInDays=7)
        srv.clock.advance(days=8)
        for _ in range(3):  # failing calls: each would roll back the deletion it ran
            kms_error("NotFoundException", kms.describe_key, KeyId="alias/none")
        kms_error("NotFoundException", kms.describe_key, KeyId=key_id)
        assert srv.log().count(f"{key_id} deleted at") == 1


def test_12_the_log_has_a_line_per_call_a_hint_and_a_stop(tmp_path):
    srv = start_server(log_level="INFO")
    try:
        lines: list[str] = []  # read aside: an old server that prints no second line must not hang us
        reader = threading.Thread(target=lambda: lines.append(srv.proc.stdout.readline()), daemon=True)
        reader.start()
        reader.join(10)
        hint = lines[0].strip() if lines else "(no second line)"
        assert hint == (f"point a client at it: export AWS_ENDPOINT_URL_KMS=http://127.0.0.1:{srv.port} "
                        "AWS_DEFAULT_REGION=us-east-1 (and any AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY, "
                        "e.g. 111122223333 / fakekms)")
        kms = make_client(srv.endpoint)
        key_id = kms.create_key()["KeyMetadata"]["KeyId"]
        kms.describe_key(KeyId=key_id)
        kms_error("NotFoundException", kms.describe_key, KeyId="alias/none")
    finally:
        assert srv.stop(signal.SIGTERM) == 0
    log = srv.log()
    assert re.search(rf"INFO fakekms\.access DescribeKey {key_id} arn:aws:iam::111122223333:root 200 "
                     r"\d+\.\dms", log)
    assert re.search(r"INFO fakekms \S+ DescribeKey alias/none arn:aws:iam::111122223333:root 400 "
                     r"NotFoundException \d+\.\dms: Alias arn:aws:kms:us-west-2:111122223333:alias/none is "
                     r"not found\.", log)
    assert log.rstrip().endswith("INFO fakekms fakekms stopped (SIGTERM)")


def test_12_quiet_keeps_failures_only():
    with start_server("--quiet", log_level="INFO") as srv:
        kms = make_client(srv.endpoint)
        kms.list_keys()
        kms_error("NotFoundException", kms.describe_key, KeyId="alias/none")
        log = srv.log()
    assert "fakekms.access" not in log and "NotFoundException" in log


# 14 ----------------------------------------------------------------------------------------------

def test_14_help_has_examples_make_help_lists_targets_and_serve_answers_its_own_mistakes():
    top = fakekms("--help").stdout
    assert "examples:" in top and "fakekms serve -p 0" in top and "AWS_ENDPOINT_URL_KMS" in top
    assert "examples:" in fakekms("serve", "--help").stdout
    targets = subprocess.run(["make", "--no-print-directory", "help"], capture_output=True, text=True,
                             cwd=ROOT).stdout
    assert [line.split()[0] for line in targets.splitlines()[:7]] == ["help", "serve", "test", "suite", "compat", "bench", "clean"]
    wrong = fakekms("serve", "--prot", "5")
    assert one_sentence(wrong) == "fakekms serve: unrecognized arguments: --prot 5; see `fakekms serve --help`."
    assert wrong.stderr.startswith("usage: fakekms serve ")
    with start_server("-p", "0") as srv:  # the short flag
        assert srv.port > 0


# 15 ----------------------------------------------------------------------------------------------

def test_15_install_line_licence_and_changelog():
    assert "pip install /path/to/fakekms" in section("Set-up: two commands")
    licence = (ROOT / "LICENSE").read_text()
    assert "Apache License" in licence and "Version 2.0, January 2004" in licence
    assert (ROOT / "CHANGELOG.md").read_text().startswith("# Changelog")


# 16 ----------------------------------------------------------------------------------------------

def test_16_the_state_route_and_command_list_keys_and_aliases_per_account_and_region():
    with start_server() as srv:
        kms = make_client(srv.endpoint, "eu-west-1", "444455556666")
        key = kms.create_key(Description="d", Tags=[{"TagKey": "team", "TagValue": "a"}])["KeyMetadata"]
        kms.create_alias(AliasName="alias/one", TargetKeyId=key["KeyId"])
        hmac_key = make_client(srv.endpoint).create_key(KeySpec="HMAC_256", KeyUsage="GENERATE_VERIFY_MAC")
        status, state = admin(srv, "GET", "state")
        printed = fakekms("state", "--endpoint", srv.endpoint)
        as_json = json.loads(fakekms("state", "--endpoint", srv.endpoint, "--json").stdout)
    assert status == 200 and as_json == state
    us, eu = state["accounts"]  # by account, then Region
    assert (eu["Account"], eu["Region"], us["Account"], us["Region"]) == (
        "444455556666", "eu-west-1", "111122223333", "us-west-2")
    (listed,) = eu["Keys"]
    assert listed == {"KeyId": key["KeyId"], "Arn": key["Arn"], "KeyState": "Enabled", "KeySpec": "SYMMETRIC_DEFAULT",
                      "KeyUsage": "ENCRYPT_DECRYPT", "Origin": "AWS_KMS", "KeyManager": "CUSTOMER",
                      "MultiRegion": False, "Description": "d", "CreationDate": listed["CreationDate"],
                      "Aliases": ["alias/one"], "Tags": {"team": "a"}}
    assert listed["CreationDate"].endswith("Z") and eu["Aliases"] == [{"AliasName": "alias/one", "TargetKeyId": key["KeyId"]}]
    assert us["Keys"][0]["KeyId"] == hmac_key["KeyMetadata"]["KeyId"]
    assert "material" not in json.dumps(state).lower()
    assert printed.returncode == 0
    assert "account 444455556666, eu-west-1: 1 key(s), 1 alias(es)" in printed.stdout
    assert re.search(rf"{key['KeyId']}\s+Enabled\s+SYMMETRIC_DEFAULT\s+ENCRYPT_DECRYPT\s+alias/one", printed.stdout)


def test_16_state_says_what_to_do_when_nothing_answers():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    result = fakekms("state", "--endpoint", f"http://127.0.0.1:{port}")
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert result.stderr.startswith(f"fakekms state: nothing answers at http://127.0.0.1:{port} (")
    assert result.stderr.rstrip().endswith(
        "start one with `fakekms serve` or `make serve`, or give --endpoint the URL it printed")


# 17 ----------------------------------------------------------------------------------------------

def test_17_options_come_from_the_environment_and_flags_win(tmp_path):
    env = dict(os.environ, FAKEKMS_DB=str(tmp_path / "env.db"), FAKEKMS_REGION="eu-north-1",
               FAKEKMS_LOG_LEVEL="warning")
    proc = subprocess.Popen([sys.executable, "-m", "fakekms", "serve", "-p", "0", "--watch-stdin"], env=env,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        banner = proc.stdout.readline()
        assert f"(state: {tmp_path / 'env.db'})" in banner  # FAKEKMS_DB, and -p over FAKEKMS_PORT's default
        port = int(banner.split("http://127.0.0.1:", 1)[1].split()[0])
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        conn.request("GET", "/_fakekms/health")
        assert json.loads(conn.getresponse().read())["region"] == "eu-north-1"
    finally:
        proc.stdin.close()
        proc.wait(30)
    assert (tmp_path / "env.db").exists()
    bad = fakekms("serve", env=dict(os.environ, FAKEKMS_PORT="http"))
    assert one_sentence(bad) == ("fakekms serve: FAKEKMS_PORT: 'http' is not a port number; give 0 to 65535; "
                                 "see `fakekms serve --help`.")


# doctor ------------------------------------------------------------------------------------------

def test_doctor_says_what_to_change_then_that_all_is_set(tmp_path):
    with start_server() as srv:
        bare = no_aws_configuration(tmp_path)
        result = fakekms("doctor", "--endpoint", srv.endpoint, env=bare)
        assert result.returncode == 1
        lines = result.stdout.splitlines()
        assert lines[0].startswith("ok    fakekms ") and f"answers at {srv.endpoint} (from --endpoint)" in lines[0]
        assert f"FIX   AWS_ENDPOINT_URL_KMS is not set, so SDKs and the AWS CLI in this shell call AWS itself: " \
               f"export AWS_ENDPOINT_URL_KMS={srv.endpoint}" in lines
        assert any(line.startswith("FIX   no Region is configured") for line in lines)
        assert any(line.startswith("FIX   no credentials are configured") for line in lines)
        assert lines[-1] == "3 thing(s) to fix."
        ready = dict(bare, AWS_ENDPOINT_URL_KMS=srv.endpoint, AWS_DEFAULT_REGION="us-east-1",
                     AWS_ACCESS_KEY_ID="111122223333", AWS_SECRET_ACCESS_KEY="x")
        make_client(srv.endpoint, "us-east-1").create_key()
        result = fakekms("doctor", env=ready)
    assert result.returncode == 0, result.stdout
    assert "ok    ListKeys through botocore answered: 1 key(s) in account 111122223333, us-east-1" in result.stdout
    assert result.stdout.splitlines()[-1] == "all set: clients in this shell reach fakekms."
