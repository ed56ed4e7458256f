"""Deterministic mode: the same calls on two fresh ``fakekms serve --seed S`` processes give
byte-identical responses, for every key spec's material and every deterministic algorithm."""

from __future__ import annotations

import base64
import json

from fakekms.control import start_server

from fakekms.app import FakeKMS
from fakekms.inprocess import mock_kms

MSG = base64.b64encode(b"deterministic").decode()
DIGEST = base64.b64encode(bytes(64)).decode()

KEYS = [
    ("sym", {}),
    ("hmac", {"KeySpec": "HMAC_256", "KeyUsage": "GENERATE_VERIFY_MAC"}),
    ("rsa", {"KeySpec": "RSA_2048", "KeyUsage": "SIGN_VERIFY"}),
    ("p256", {"KeySpec": "ECC_NIST_P256", "KeyUsage": "SIGN_VERIFY"}),
    ("k1", {"KeySpec": "ECC_SECG_P256K1", "KeyUsage": "SIGN_VERIFY"}),
    ("p521", {"KeySpec": "ECC_NIST_P521", "KeyUsage": "KEY_AGREEMENT"}),
    ("ed", {"KeySpec": "ECC_NIST_EDWARDS25519", "KeyUsage": "SIGN_VERIFY"}),
    ("mldsa", {"KeySpec": "ML_DSA_44", "KeyUsage": "SIGN_VERIFY"}),
    ("mlkem512", {"KeySpec": "ML_KEM_512", "KeyUsage": "ENCAPSULATE_DECAPSULATE"}),
    ("mlkem768", {"KeySpec": "ML_KEM_768", "KeyUsage": "ENCAPSULATE_DECAPSULATE"}),
    ("mrk", {"MultiRegion": True}),
]


def script(srv) -> list[tuple[str, object]]:
    """One fixed sequence of calls; every response body, CreateKey's clock-driven date aside."""
    out, ids = [], {}

    def call(op, body):
        status, payload, _ = srv.call(f"TrentService.{op}", body)
        assert status == 200, (op, payload)
        return payload

    for name, body in KEYS:
        meta = call("CreateKey", body)["KeyMetadata"]
        ids[name] = meta["KeyId"]
        meta.pop("CreationDate")
        out.append(("CreateKey", meta))
    for name in ("rsa", "p256", "k1", "p521", "ed", "mldsa", "mlkem512", "mlkem768"):
        out.append(("GetPublicKey", call("GetPublicKey", {"KeyId": ids[name]})))
    sym = ids["sym"]
    out.append(("Encrypt", call("Encrypt", {"KeyId": sym, "Plaintext": MSG, "EncryptionContext": {"a": "b"}})))
    out.append(("GenerateDataKey", call("GenerateDataKey", {"KeyId": sym, "KeySpec": "AES_256"})))
    out.append(("GenerateDataKeyPair", call("GenerateDataKeyPair", {"KeyId": sym, "KeyPairSpec": "ECC_NIST_P256"})))
    out.append(("GenerateDataKeyPair", call("GenerateDataKeyPair", {"KeyId": sym, "KeyPairSpec": "RSA_2048"})))
    out.append(("GenerateDataKeyPair", call("GenerateDataKeyPair", {"KeyId": sym, "KeyPairSpec": "ML_KEM_1024"})))
    for name in ("mlkem512", "mlkem768"):
        out.append(("Encapsulate", call("Encapsulate", {"KeyId": ids[name], "EncapsulationAlgorithm": "ML_KEM"})))
    out.append(("GenerateRandom", call("GenerateRandom", {"NumberOfBytes": 64})))
    out.append(("GenerateMac", call("GenerateMac", {"KeyId": ids["hmac"], "Message": MSG, "MacAlgorithm": "HMAC_SHA_256"})))
    for name, algorithm, extra in (
        ("rsa", "RSASSA_PKCS1_V1_5_SHA_256", {}),
        ("p256", "ECDSA_SHA_256", {}),
        ("k1", "ECDSA_SHA_256", {}),
        ("ed", "ED25519_SHA_512", {}),
        ("ed", "ED25519_PH_SHA_512", {"Message": DIGEST, "MessageType": "DIGEST"}),
    ):
        body = {"KeyId": ids[name], "Message": MSG, "SigningAlgorithm": algorithm, **extra}
        out.append(("Sign", call("Sign", body)))
    return out


def test_same_seed_same_bytes():
    with start_server("--seed", "fixture-42") as a, start_server("--seed", "fixture-42") as b:
        first, second = script(a), script(b)
    assert json.dumps(first) == json.dumps(second)


def test_different_seed_or_no_seed_differs():
    with start_server("--seed", "one") as a, start_server("--seed", "two") as b, start_server() as c:
        ids = [srv.call("TrentService.CreateKey", {})[1]["KeyMetadata"]["KeyId"] for srv in (a, b, c)]
    assert len(set(ids)) == 3


def test_reset_restarts_the_sequence():
    with start_server("--seed", "again") as srv:
        first = srv.call("TrentService.GenerateRandom", {"NumberOfBytes": 32})[1]
        srv.reset()
        assert srv.call("TrentService.GenerateRandom", {"NumberOfBytes": 32})[1] == first


def test_library_api_takes_a_seed():
    def first_key_id(app: FakeKMS) -> str:
        status, body, _ = app.handle("TrentService.CreateKey", b"{}")
        assert status == 200
        return json.loads(body)["KeyMetadata"]["KeyId"]

    assert first_key_id(FakeKMS(seed="lib")) == first_key_id(FakeKMS(seed="lib"))
    assert first_key_id(FakeKMS()) != first_key_id(FakeKMS())


def _timed_calls(srv) -> list:
    """Calls whose answers carry times: every body, whole."""
    out = []

    def call(op, body):
        status, payload, _ = srv.call(f"TrentService.{op}", body)
        assert status == 200, (op, payload)
        out.append(payload)
        return payload

    key = call("CreateKey", {"Description": "timed"})["KeyMetadata"]["KeyId"]
    call("CreateAlias", {"AliasName": "alias/timed", "TargetKeyId": key})
    call("ListAliases", {"KeyId": key})
    call("Encrypt", {"KeyId": key, "Plaintext": MSG})
    external = call("CreateKey", {"Origin": "EXTERNAL"})["KeyMetadata"]["KeyId"]
    params = call("GetParametersForImport", {"KeyId": external, "WrappingAlgorithm": "RSAES_OAEP_SHA_256",
                                             "WrappingKeySpec": "RSA_2048"})
    params.pop("PublicKey"), params.pop("ImportToken")  # from OpenSSL's RSA, never seeded
    call("ScheduleKeyDeletion", {"KeyId": key, "PendingWindowInDays": 7})
    call("DescribeKey", {"KeyId": key})
    return out


def test_a_seeded_server_with_a_frozen_clock_repeats_timestamps_too():
    start = ("--seed", "timed", "--clock", "2030-01-01T00:00:00Z", "--frozen")
    with start_server(*start) as a, start_server(*start) as b:
        first = _timed_calls(a)
        assert first == _timed_calls(b)
    created = first[0]["KeyMetadata"]["CreationDate"]
    assert created == 1893456000  # 2030-01-01T00:00:00Z
    assert first[-1]["KeyMetadata"]["DeletionDate"] == created + 7 * 86400


def test_the_clock_starts_where_asked_and_a_reset_goes_back_there():
    with start_server("--clock", "1893456000") as srv:
        assert srv.clock.now().timestamp() - 1893456000 < 60
        srv.clock.advance(days=3)
        srv.reset()
        assert srv.clock.now().timestamp() - 1893456000 < 60
    with mock_kms(clock="2031-05-06T07:08:09Z", frozen=True) as app:
        assert app.clock.now() == 1935817689.0 and app.clock.frozen
        app.clock.advance(10)
        app.reset()
        assert app.clock.now() == 1935817689.0
