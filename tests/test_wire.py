"""The wire protocol, spoken raw: headers, error envelopes, malformed input, every operation."""

from __future__ import annotations

import http.client
import json
import socket
import threading

import pytest

from fakekms import model, ops

TARGET = "TrentService."

KNOWN_ERRORS = set(model.error_shapes()) | {"ValidationException", "SerializationException"}


def test_success_response_headers(server):
    status, body, headers = server.call(TARGET + "ListKeys", {})
    assert status == 200
    assert headers["Content-Type"] == "application/x-amz-json-1.1"
    assert len(headers["x-amzn-RequestId"]) == 36
    assert set(body) >= {"Keys", "Truncated"}


def test_error_envelope_is_aws_json(server):
    status, body, headers = server.call(TARGET + "DescribeKey", {"KeyId": "nope"})
    assert status == 400
    assert headers["Content-Type"] == "application/x-amz-json-1.1"
    assert headers["x-amzn-RequestId"]
    assert set(body) == {"__type", "message"}
    assert body["__type"] == "NotFoundException"


@pytest.mark.parametrize("raw", [b"{", b"{\"KeyId\": }", b"\xff\xfe", b"[1, 2]", b"\"text\"", b"12"])
def test_malformed_json_is_serialization_exception(server, raw):
    status, body, _ = server.call(TARGET + "DescribeKey", raw)
    assert status == 400
    assert body["__type"] == "SerializationException"


@pytest.mark.parametrize(
    "target,payload",
    [
        ("ListKeys", {"Limit": "ten"}),
        ("ListKeys", {"Limit": True}),
        ("ListKeys", {"Limit": 1.5}),
        ("DescribeKey", {"KeyId": 12}),
        ("DescribeKey", {"KeyId": ["a"]}),
        ("CreateKey", {"Tags": {"TagKey": "a"}}),
        ("CreateKey", {"Tags": [{"TagKey": 1, "TagValue": "x"}]}),
        ("CreateKey", {"MultiRegion": "yes"}),
        ("Encrypt", {"KeyId": "k", "Plaintext": "not base64!"}),
        ("Encrypt", {"KeyId": "k", "Plaintext": "aGk=", "EncryptionContext": {"a": 1}}),
    ],
)
def test_wrong_member_type_is_serialization_exception(server, target, payload):
    status, body, _ = server.call(TARGET + target, payload)
    assert status == 400
    assert body["__type"] == "SerializationException", body


def test_unknown_operation(server):
    status, body, _ = server.call(TARGET + "MakeCoffee", {})
    assert (status, body["__type"]) == (400, "UnknownOperationException")
    status, body, _ = server.call("OtherService.ListKeys", {})
    assert (status, body["__type"]) == (400, "UnknownOperationException")
    status, _, raw = server.post("/", b"{}", {"Content-Type": "application/x-amz-json-1.1"})
    assert (status, json.loads(raw)["__type"]) == (400, "UnknownOperationException")


def test_other_paths_and_methods_get_json_errors(server):
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)
    conn.request("GET", "/")
    resp = conn.getresponse()
    assert resp.status == 404
    assert json.loads(resp.read())["__type"] == "UnknownOperationException"
    conn.close()


def test_validation_message_in_aws_form(server):
    status, body, _ = server.call(TARGET + "DescribeKey", {"KeyId": ""})
    assert status == 400
    assert body == {
        "__type": "ValidationException",
        "message": "1 validation error detected: Value '' at 'keyId' failed to satisfy "
        "constraint: Member must have length greater than or equal to 1",
    }


def test_every_violation_is_listed(server):
    status, body, _ = server.call(
        TARGET + "CreateKey",
        {"KeySpec": "AES_999", "KeyUsage": "SING", "Description": "d" * 8193},
    )
    assert body["__type"] == "ValidationException"
    message = body["message"]
    assert message.startswith("3 validation errors detected: ")
    assert "at 'keySpec' failed to satisfy constraint: Member must satisfy enum value set: [RSA_2048" in message
    assert "Value 'SING' at 'keyUsage'" in message
    assert "at 'description' failed to satisfy constraint: Member must have length less than or equal to 8192" in message


def test_missing_required_member(server):
    status, body, _ = server.call(TARGET + "CreateAlias", {"AliasName": "alias/x"})
    assert body == {
        "__type": "ValidationException",
        "message": "1 validation error detected: Value null at 'targetKeyId' failed to satisfy "
        "constraint: Member must not be null",
    }


def test_oversized_members(server):
    status, body, _ = server.call(TARGET + "DescribeKey", {"KeyId": "k" * 2049})
    assert body["__type"] == "ValidationException"
    assert "Member must have length less than or equal to 2048" in body["message"]
    status, body, _ = server.call(TARGET + "CreateKey", {"Policy": "{" + " " * 131072 + "}"})
    assert body["__type"] == "ValidationException"
    assert "at 'policy'" in body["message"]


def test_oversized_body_gets_an_error_not_a_crash(server):
    raw = json.dumps({"Description": "x" * (2 << 20)}).encode()
    status, _, payload = server.post("/", raw, {"X-Amz-Target": TARGET + "CreateKey"})
    assert status == 413
    assert json.loads(payload)["__type"] == "RequestEntityTooLargeException"
    # The server is still serving.
    assert server.call(TARGET + "ListKeys", {})[0] == 200


def test_empty_body_is_an_empty_request(server):
    status, body, _ = server.call(TARGET + "ListKeys", b"")
    assert status == 200 and "Keys" in body


def test_null_members_are_absent(server):
    server.reset()
    status, body, _ = server.call(TARGET + "CreateKey", {"Description": None, "Tags": None})
    assert status == 200
    assert body["KeyMetadata"]["Description"] == ""


def test_blob_length_is_checked_after_decoding(server):
    import base64

    plaintext = base64.b64encode(b"x" * 4097).decode()
    status, body, _ = server.call(TARGET + "Encrypt", {"KeyId": "k", "Plaintext": plaintext})
    assert body["__type"] == "ValidationException"
    # Plaintext is sensitive: AWS names the member and leaves its value out.
    assert body["message"] == ("1 validation error detected: Value at 'plaintext' failed to satisfy constraint: "
                               "Member must have length less than or equal to 4096")


@pytest.mark.parametrize("operation", model.operation_names())
def test_every_operation_is_routed_and_never_500(server, operation):
    status, body, _ = server.call(TARGET + operation, {})
    assert status in (200, 400), (status, body)
    if status == 400:
        assert body["__type"] in KNOWN_ERRORS, body


def test_unimplemented_operations_answer_unsupported(server):
    missing = [name for name in model.operation_names() if name not in ops.handlers()]
    callable_empty = [
        name for name in missing
        if not model.shapes()[model.input_shape_name(name)].get("required")
    ]
    assert callable_empty, "no unimplemented operation takes an empty request: pick others"
    for name in callable_empty:
        status, body, _ = server.call(TARGET + name, {})
        assert (status, body["__type"]) == (400, "UnsupportedOperationException"), name
        assert name in body["message"]


def test_keep_alive_serves_many_calls_on_one_connection(server):
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)
    conn.connect()
    sock = conn.sock
    for _ in range(5):
        conn.request("POST", "/", body=b"{}", headers={"X-Amz-Target": TARGET + "ListKeys"})
        resp = conn.getresponse()
        assert resp.status == 200
        assert resp.getheader("Connection") != "close"
        resp.read()
        assert conn.sock is sock
    conn.close()


def test_chunked_request_body(server):
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=5)
    body = b'{"Limit": 5}'
    request = (
        b"POST / HTTP/1.1\r\nHost: x\r\nX-Amz-Target: TrentService.ListKeys\r\n"
        b"Transfer-Encoding: chunked\r\n\r\n" + f"{len(body):x}\r\n".encode() + body + b"\r\n0\r\n\r\n"
    )
    sock.sendall(request)
    reply = sock.recv(65536)
    sock.close()
    assert reply.startswith(b"HTTP/1.1 200")


def test_concurrent_requests_are_served(server):
    server.reset()
    results = []

    def create():
        results.append(server.call(TARGET + "CreateKey", {})[0])

    threads = [threading.Thread(target=create) for _ in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == [200] * 20
    status, body, _ = server.call(TARGET + "ListKeys", {"Limit": 1000})
    assert len(body["Keys"]) == 20


def test_health_and_reset(server):
    server.reset()
    server.call(TARGET + "CreateKey", {})
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)
    conn.request("GET", "/_fakekms/health")
    health = json.loads(conn.getresponse().read())
    conn.close()
    from fakekms import __version__

    assert health["version"] == __version__
    assert health["backend"] == "memory"
    assert health["keys"] == 1
    server.reset()
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)
    conn.request("GET", "/_fakekms/health")
    assert json.loads(conn.getresponse().read())["keys"] == 0
    conn.close()
