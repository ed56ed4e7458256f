"""The service model drives validation and serialization: unit tests on model.py."""

from __future__ import annotations

from pathlib import Path

import pytest

from fakekms import errors, model


def violations(operation, body):
    with pytest.raises(errors.ValidationException) as info:
        model.parse_input(operation, body)
    return info.value.message


def test_all_56_operations_are_in_the_model():
    assert len(model.operation_names()) == 56
    assert model.target_prefix() == "TrentService"


def test_blobs_are_decoded_and_unknown_members_dropped():
    params = model.parse_input("Encrypt", {"KeyId": "k", "Plaintext": "aGk=", "Bogus": 1})
    assert params == {"KeyId": "k", "Plaintext": b"hi"}


def test_enum_message_lists_the_model_values():
    message = violations("CreateKey", {"KeyUsage": "NOPE"})
    values = ", ".join(model.enum_values("KeyUsageType"))
    assert message == (
        "1 validation error detected: Value 'NOPE' at 'keyUsage' failed to satisfy constraint: "
        f"Member must satisfy enum value set: [{values}]"
    )


def test_nested_paths_are_one_based():
    message = violations("CreateKey", {"Tags": [{"TagKey": "a", "TagValue": "b"}, {"TagKey": "", "TagValue": "c"}]})
    assert "at 'tags.2.member.tagKey'" in message


def test_required_members_inside_lists():
    message = violations("TagResource", {"KeyId": "k", "Tags": [{"TagKey": "a"}]})
    assert "Value null at 'tags.1.member.tagValue' failed to satisfy constraint: Member must not be null" in message


def test_patterns_match_the_whole_value():
    assert "regular expression pattern" in violations("CreateAlias", {"AliasName": "alias/a b", "TargetKeyId": "k"})
    model.parse_input("CreateAlias", {"AliasName": "alias/a-b_c/d", "TargetKeyId": "k"})


def test_lengths_count_utf16_units_as_aws_does():
    # One astral-plane character is two UTF-16 code units.
    model.parse_input("CreateKey", {"Description": "\U0001F600" * 4096})
    assert "less than or equal to 8192" in violations("CreateKey", {"Description": "\U0001F600" * 4097})


def test_documented_ranges_narrow_the_shape():
    assert model.documented_range("ListAliasesRequest", "Limit") == (1, 100)
    assert model.documented_range("ListResourceTagsRequest", "Limit") == (1, 50)
    assert model.documented_range("ScheduleKeyDeletionRequest", "PendingWindowInDays") == (7, 30)
    assert model.documented_range("ListKeysRequest", "Limit") == (1, 1000)
    assert model.documented_range("CreateKeyRequest", "Description") is None
    assert "less than or equal to 100" in violations("ListAliases", {"Limit": 101})
    # One value, one violation: the documented range replaces the shape's, it is not checked twice.
    assert violations("ListAliases", {"Limit": 0}) == (
        "1 validation error detected: Value '0' at 'limit' failed to satisfy constraint: "
        "Member must have value greater than or equal to 1"
    )
    assert violations("ScheduleKeyDeletion", {"KeyId": "k", "PendingWindowInDays": 400}).startswith(
        "1 validation error detected: Value '400' at 'pendingWindowInDays'"
    )


@pytest.mark.parametrize("value", ["1", True, 1.5, [1], {"a": 1}])
def test_wrong_types_are_serialization_errors(value):
    with pytest.raises(errors.SerializationException):
        model.parse_input("ListKeys", {"Limit": value})


def test_integral_floats_are_integers():
    assert model.parse_input("ListKeys", {"Limit": 5.0}) == {"Limit": 5}


def test_output_serialization_follows_shapes():
    out = model.serialize_output(
        "GenerateRandom", {"Plaintext": b"\x00\x01", "CiphertextForRecipient": None}
    )
    assert out == {"Plaintext": "AAE="}
    out = model.serialize_output("ListAliases", {
        "Aliases": [{"AliasName": "alias/a", "CreationDate": 1700000000.12345, "Ignored": 1}],
        "Truncated": False,
    })
    assert out == {"Aliases": [{"AliasName": "alias/a", "CreationDate": 1700000000.123}], "Truncated": False}


def test_error_classes_come_from_the_model():
    for name, shape in model.error_shapes().items():
        cls = getattr(errors, name)
        assert cls.code == name
        assert cls.status == (500 if shape.get("fault") else 400)
    assert errors.KMSInternalException.status == 500
    assert errors.NotFoundException("m").body() == {"__type": "NotFoundException", "message": "m"}


def test_the_carried_model_is_served_whatever_botocore_is_installed(tmp_path):
    """A project whose botocore knows only ListKeys is still served every operation fakekms
    implements: the model comes from fakekms/data, not from the installed botocore."""
    import json
    import subprocess
    import sys

    data = tmp_path / "botocore" / "data" / "kms" / "2014-11-01"
    data.mkdir(parents=True)
    (tmp_path / "botocore" / "__init__.py").write_text("__version__ = '1.0.0'\n")
    trimmed = dict(model.service_model(), operations={"ListKeys": model.operations()["ListKeys"]})
    (data / "service-2.json").write_text(json.dumps(trimmed))
    script = (
        "from fakekms.app import create_app\n"
        "app = create_app()\n"
        "status, body, _ = app.handle('TrentService.CreateKey', b'{}')\n"
        "print(status, body.decode())\n"
    )
    from pathlib import Path

    import fakekms

    env = {"PYTHONPATH": f"{tmp_path}:{Path(fakekms.__file__).parent.parent}", "PATH": "/usr/bin:/bin"}
    out = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=60)
    assert out.stdout.startswith('200 {"KeyMetadata":{"AWSAccountId"'), (out.stdout, out.stderr)


def test_the_carried_model_names_its_botocore_release():
    assert model.model_version() == "botocore 1.44.8"
    assert model.service_model()["metadata"]["uid"] == "kms-2014-11-01"


def test_a_sensitive_members_value_is_left_out_of_a_violation():
    """AWS leaves the value of a sensitive member out ("Value at 'plaintext' failed ...")."""
    assert violations("Encrypt", {"KeyId": "k", "Plaintext": ""}) == (
        "1 validation error detected: Value at 'plaintext' failed to satisfy constraint: Member must have "
        "length greater than or equal to 1")
    assert violations("CreateCustomKeyStore", {"CustomKeyStoreName": "s", "KeyStorePassword": "pw-1234"[:6]}) == (
        "1 validation error detected: Value at 'keyStorePassword' failed to satisfy constraint: Member must "
        "have length greater than or equal to 7")
    assert violations("CreateKey", {"Description": "d" * 8193}).startswith(
        "1 validation error detected: Value 'ddd")  # not sensitive: the value is shown


def test_no_sensitive_value_reaches_the_body_the_log_or_the_audit_record():
    import http.client
    import json

    from fakekms.control import start_server

    password = "s3cr!t"  # one short of KeyStorePassword's 7
    with start_server(log_level="DEBUG") as srv:
        conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=10)
        conn.request("POST", "/", body=json.dumps({"CustomKeyStoreName": "s", "KeyStorePassword": password}),
                     headers={"X-Amz-Target": "TrentService.CreateCustomKeyStore"})
        body = conn.getresponse().read().decode()
        events = srv.audit.events("CreateCustomKeyStore")
        log = srv.log()
    assert json.loads(body)["__type"] == "ValidationException" and "keyStorePassword" in body
    assert events and events[-1]["errorCode"] == "ValidationException"
    for haystack in (body, log, json.dumps(events)):
        assert password not in haystack


def test_the_compatibility_set_runs_on_the_oldest_botocore_the_project_supports():
    """pyproject.toml's lower bounds are the pins `make compat` installs."""
    import re
    import tomllib

    root = Path(__file__).resolve().parent.parent
    project = tomllib.loads((root / "pyproject.toml").read_text())["project"]
    declared = project["dependencies"] + project["optional-dependencies"]["test"]
    pins = dict(re.findall(r"^(botocore|boto3)==(\S+)$", (root / "constraints-oldest.txt").read_text(), re.M))
    for name in ("botocore", "boto3"):
        (lower,) = [re.match(rf"{name}>=(\S+)", d).group(1) for d in declared if d.startswith(f"{name}>=")]
        assert pins[name] == f"{lower}.0" if lower.count(".") == 1 else pins[name] == lower


def _message_fragments() -> list[tuple[str, int, str]]:
    """(file, line, the longest literal run of the message) of every error raised with words."""
    import ast

    root = Path(__file__).resolve().parent.parent / "fakekms"
    found = []
    for path in sorted(root.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                    and isinstance(node.func.value, ast.Name) and node.func.value.id == "errors"
                    and node.args):
                continue
            first = node.args[0]
            if isinstance(first, ast.Constant) and isinstance(first.value, str):
                runs = [first.value]
            elif isinstance(first, ast.JoinedStr):
                runs = [part.value for part in first.values if isinstance(part, ast.Constant)]
            else:
                continue
            longest = max(runs, key=len, default="").strip()
            if len(longest) >= 8:
                found.append((path.name, node.lineno, longest))
    return found


def test_every_message_is_listed_with_its_source():
    """docs/aws-messages.md lists every message fakekms sends and where its words come from."""
    table = (Path(__file__).resolve().parent.parent / "docs" / "aws-messages.md").read_text()
    fragments = _message_fragments()
    assert len(fragments) > 60
    missing = [f"{file}:{line}: {text!r}" for file, line, text in fragments if text not in table]
    assert not missing, "add these to docs/aws-messages.md:\n" + "\n".join(missing)
