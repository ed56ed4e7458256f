"""Callers: the identities file, the identities route, who a signed request is made by, and how
the audit log names them."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
import yaml
from conftest import make_client

from fakekms.control import AdminError, start_server

ACCOUNT = "111122223333"
ENTRIES = [
    {"access_key_id": "AKIAROOT00000EXAMPLE", "secret_access_key": "root-secret",
     "arn": f"arn:aws:iam::{ACCOUNT}:root"},
    {"access_key_id": "AKIAALICE0000EXAMPLE", "secret_access_key": "alice-secret",
     "arn": f"arn:aws:iam::{ACCOUNT}:user/team/alice", "policies": [{"Version": "2012-10-17", "Statement": []}]},
    {"access_key_id": "AKIAROLE00000EXAMPLE", "secret_access_key": "role-secret",
     "arn": f"arn:aws:iam::{ACCOUNT}:role/app"},
    {"access_key_id": "ASIASESSION00EXAMPLE", "secret_access_key": "session-secret",
     "session_token": "session-token-value", "arn": f"arn:aws:sts::{ACCOUNT}:assumed-role/app/worker-1"},
    {"access_key_id": "ASIAVIAS300000EXAMPLE", "secret_access_key": "s3-secret",
     "arn": f"arn:aws:sts::{ACCOUNT}:assumed-role/app/s3-call", "via_service": "s3.us-east-1.amazonaws.com"},
]
SECRETS = ("root-secret", "alice-secret", "role-secret", "session-secret", "session-token-value", "s3-secret")


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    path = tmp_path_factory.mktemp("ids") / "identities.yaml"
    path.write_text(yaml.safe_dump({"identities": ENTRIES}))
    with start_server("--identities", str(path), "--log-level", "INFO") as srv:
        yield srv


def client_of(srv, entry, region="us-east-1"):
    return make_client(srv.endpoint, region=region, access_key=entry["access_key_id"],
                       secret=entry["secret_access_key"], token=entry.get("session_token"))


def _identity_of_last_call(srv) -> dict:
    return srv.audit.events()[-1]


def test_each_principal_is_named_as_cloudtrail_names_it(served):
    served.reset()
    seen = {}
    for entry in ENTRIES:
        kms = client_of(served, entry)
        arn = kms.create_key()["KeyMetadata"]["Arn"]
        assert arn.split(":")[4] == ACCOUNT  # the account is the identity's
        seen[entry["access_key_id"]] = _identity_of_last_call(served)
    root = seen["AKIAROOT00000EXAMPLE"]["userIdentity"]
    assert root == {"type": "Root", "principalId": ACCOUNT, "arn": f"arn:aws:iam::{ACCOUNT}:root",
                    "accountId": ACCOUNT, "accessKeyId": "AKIAROOT00000EXAMPLE"}
    alice = seen["AKIAALICE0000EXAMPLE"]["userIdentity"]
    assert (alice["type"], alice["arn"], alice["userName"]) == ("IAMUser", ENTRIES[1]["arn"], "alice")
    assert alice["principalId"].startswith("AIDA")
    role = seen["AKIAROLE00000EXAMPLE"]["userIdentity"]
    assert role["type"] == "AssumedRole" and role["arn"] == f"arn:aws:sts::{ACCOUNT}:assumed-role/app/fakekms"
    issuer = role["sessionContext"]["sessionIssuer"]
    assert issuer == {"type": "Role", "principalId": issuer["principalId"], "arn": f"arn:aws:iam::{ACCOUNT}:role/app",
                      "accountId": ACCOUNT, "userName": "app"}
    assert role["principalId"] == f"{issuer['principalId']}:fakekms" and issuer["principalId"].startswith("AROA")
    session = seen["ASIASESSION00EXAMPLE"]["userIdentity"]
    assert session["arn"] == ENTRIES[3]["arn"] and session["sessionContext"]["sessionIssuer"]["arn"] == issuer["arn"]
    via = seen["ASIAVIAS300000EXAMPLE"]
    assert via["userIdentity"]["invokedBy"] == "s3.amazonaws.com"
    assert via["sourceIPAddress"] == via["userAgent"] == "s3.amazonaws.com"
    assert seen["AKIAALICE0000EXAMPLE"]["sourceIPAddress"] == "127.0.0.1"


def test_unknown_access_keys_keep_the_account_rule(served):
    assert make_client(served.endpoint, access_key="444455556666").create_key()["KeyMetadata"]["AWSAccountId"] == "444455556666"
    assert make_client(served.endpoint, access_key="AKIAUNKNOWN").create_key()["KeyMetadata"]["AWSAccountId"] == "123456789012"


def test_the_route_adds_lists_without_secrets_and_a_reset_keeps_only_the_files(served):
    added = served.add_identities([{"access_key_id": "AKIABOB00000EXAMPLE", "secret_access_key": "bob-secret",
                                    "arn": "arn:aws:iam::444455556666:user/bob"}])
    assert {i["access_key_id"] for i in added} == {e["access_key_id"] for e in ENTRIES} | {"AKIABOB00000EXAMPLE"}
    bob = next(i for i in added if i["access_key_id"] == "AKIABOB00000EXAMPLE")
    assert bob == {"access_key_id": "AKIABOB00000EXAMPLE", "arn": "arn:aws:iam::444455556666:user/bob",
                   "account": "444455556666", "type": "IAMUser", "temporary": False}
    bob_client = make_client(served.endpoint, access_key="AKIABOB00000EXAMPLE", secret="bob-secret")
    assert bob_client.create_key()["KeyMetadata"]["AWSAccountId"] == "444455556666"
    listing = json.dumps(served.admin.call("GET", "identities"))
    assert not any(secret in listing for secret in (*SECRETS, "bob-secret"))
    assert '"temporary": true' in listing  # the session's token is known to exist, not shown
    served.reset()
    after = {i["access_key_id"] for i in served.admin.call("GET", "identities")["identities"]}
    assert after == {e["access_key_id"] for e in ENTRIES}
    # Replacing a file's identity at run time, until the next reset.
    served.add_identities([{**ENTRIES[1], "arn": f"arn:aws:iam::{ACCOUNT}:user/renamed"}])
    client_of(served, ENTRIES[1]).list_keys()
    assert _identity_of_last_call(served)["userIdentity"]["userName"] == "renamed"
    served.reset()


def test_no_secret_reaches_the_audit_log_or_the_server_log(served):
    for entry in ENTRIES:
        client_of(served, entry).list_keys()
    assert not any(secret in json.dumps(served.audit.events()) for secret in SECRETS)
    assert not any(secret in served.log() for secret in SECRETS)


@pytest.mark.parametrize("entry, words", [
    ({"secret_access_key": "s", "arn": "arn:aws:iam::111122223333:root"}, "access_key_id is required"),
    ({"access_key_id": "AKIAX000", "arn": "arn:aws:iam::111122223333:root"}, "secret_access_key is required"),
    ({"access_key_id": "AKIAX000", "secret_access_key": "s"}, "arn is required"),
    ({"access_key_id": "AKIAX000", "secret_access_key": "s", "arn": "arn:aws:iam::1111:user/x"}, "arn must be"),
    ({"access_key_id": "AKIAX000", "secret_access_key": "s", "arn": "arn:aws:iam::111122223333:group/x"}, "arn must be"),
    ({"access_key_id": "AK/X", "secret_access_key": "s", "arn": "arn:aws:iam::111122223333:root"}, "letters and digits"),
    ({"access_key_id": "AKIAX000", "secret_access_key": "s", "arn": "arn:aws:iam::111122223333:root",
      "via_service": "s3"}, "via_service must be"),
    ({"access_key_id": "AKIAX000", "secret_access_key": "s", "arn": "arn:aws:iam::111122223333:root",
      "policies": {"Statement": []}}, "policies must be a list"),
    ({"access_key_id": "AKIAX000", "secret_access_key": "s", "arn": "arn:aws:iam::111122223333:root",
      "policies": [{"Version": "2012-10-17"}]}, "policies[0]: a policy document"),
    ({"access_key_id": "AKIAX000", "secret_access_key": "s", "arn": "arn:aws:iam::111122223333:root",
      "role": "x"}, "unknown field 'role'"),
    ({"access_key_id": "AKIAX000", "secret_access_key": "s", "arn": "arn:aws:iam::111122223333:root",
      "session_token": 5}, "session_token must be"),
    ({"access_key_id": "AKIAX000", "secret_access_key": "s", "arn": "arn:aws:iam::111122223333:root",
      "source_arn": "arn:aws:s3:::b"}, "source_arn is the resource a service calls for: it needs via_service"),
    ({"access_key_id": "AKIAX000", "secret_access_key": "s", "arn": "arn:aws:iam::111122223333:root",
      "via_service": "s3.us-east-1.amazonaws.com", "source_arn": "bucket"}, "source_arn must be a resource ARN"),
])
def test_every_mistake_in_a_file_stops_the_server_naming_entry_and_field(tmp_path, entry, words):
    path = tmp_path / "ids.yaml"
    path.write_text(yaml.safe_dump({"identities": [ENTRIES[0], entry]}))
    out = subprocess.run([sys.executable, "-m", "fakekms", "serve", "-p", "0", "--identities", str(path)],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 2
    assert out.stderr.startswith(f"fakekms: bad identities file {path}: identities[1]")
    assert words in out.stderr
    assert "Traceback" not in out.stderr and "\n" == out.stderr[-1] and out.stderr.count("\n") == 1


@pytest.mark.parametrize("text, words", [
    ("identities: [", "not valid YAML"),
    ("[]", "a mapping with an 'identities' list"),
    ("identities: {}", "'identities' must be a list"),
    ("identities: []\nusers: []", "unknown top-level field 'users'"),
])
def test_a_file_that_is_not_an_identities_file(tmp_path, text, words):
    path = tmp_path / "ids.yaml"
    path.write_text(text)
    out = subprocess.run([sys.executable, "-m", "fakekms", "serve", "-p", "0", "--identities", str(path)],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 2 and words in out.stderr


def test_duplicate_and_missing_files(tmp_path):
    path = tmp_path / "ids.json"
    path.write_text(json.dumps({"identities": [ENTRIES[0], ENTRIES[0]]}))
    out = subprocess.run([sys.executable, "-m", "fakekms", "serve", "-p", "0", "--identities", str(path)],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 2 and "given twice" in out.stderr
    out = subprocess.run([sys.executable, "-m", "fakekms", "serve", "-p", "0", "--identities",
                          str(tmp_path / "nope.yaml")], capture_output=True, text=True, timeout=60)
    assert out.returncode == 2 and "cannot read it" in out.stderr


def test_the_route_refuses_a_bad_entry_and_changes_nothing(served):
    before = served.admin.call("GET", "identities")
    with pytest.raises(AdminError) as info:
        served.add_identities([{"access_key_id": "AKIAOK000", "secret_access_key": "s",
                                "arn": "arn:aws:iam::111122223333:root"},
                               {"access_key_id": "AKIABAD0", "secret_access_key": "s", "arn": "nope"}])
    assert "identities[1] (AKIABAD0): arn must be" in str(info.value)
    assert served.admin.call("GET", "identities") == before


@pytest.mark.parametrize("tags, words", [
    (["team"], "tags must be a mapping"),
    ({"team": 5}, "tags must be a mapping"),
    ({"": "a"}, "tag key '' must be 1 to 128"),
    ({"t" * 129: "a"}, "must be 1 to 128"),
    ({"team!": "a"}, "tag key 'team!' must be"),
    ({"team": "v" * 257}, "the value of tag 'team' must be up to 256"),
    ({"Team": "a", "team": "b"}, "tag key 'team' is given twice"),
    ({f"k{n}": "v" for n in range(51)}, "at most 50 tags, not 51"),
])
def test_principal_tags_are_checked_as_iam_checks_them(served, tags, words):
    with pytest.raises(AdminError) as info:
        served.add_identities([{"access_key_id": "AKIATAGS0", "secret_access_key": "s",
                                "arn": "arn:aws:iam::111122223333:user/t", "tags": tags}])
    assert "identities[0] (AKIATAGS0): tags: " in str(info.value) and words in str(info.value)
    listed = served.add_identities([{"access_key_id": "AKIATAGS0", "secret_access_key": "s",
                                     "arn": "arn:aws:iam::111122223333:user/t",
                                     "tags": {"team": "pay ments", "cost-centre": "a:b/c=d+e@f.g_h", "empty": ""}}])
    assert [i["tags"] for i in listed if i["access_key_id"] == "AKIATAGS0"] == [
        {"team": "pay ments", "cost-centre": "a:b/c=d+e@f.g_h", "empty": ""}]


def test_identity_clients_in_both_modes(backend):
    kms = backend.control.identity(f"arn:aws:iam::{ACCOUNT}:user/carol")
    assert kms.create_key()["KeyMetadata"]["AWSAccountId"] == ACCOUNT
    event = backend.control.audit.last("CreateKey")
    assert event["userIdentity"]["userName"] == "carol"
