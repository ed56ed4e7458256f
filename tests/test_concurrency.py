"""Calls side by side: key generation holds no state, so no call waits for another call's RSA key;
material made for a call that fails is destroyed, and so is a deleted key's; a reset is atomic
with respect to the calls around it."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from conftest import make_client
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding
from helpers import kms_error, serve_in_thread

from fakekms.app import FakeKMS, create_app
from fakekms.authorize import AccessRequest, Authorizer, denied
from fakekms.crypto.software import SoftwareBackend
from fakekms.seeding import RandomSource
from fakekms.state import open_store

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
WAIT = 30  # seconds: a bound for a hung call, never a measure of speed


class HeldBackend(SoftwareBackend):
    """Software keys, except that making an RSA_4096 key (or wrapping key) waits until the test
    lets it finish: a call that waited for it could not answer before."""

    def __init__(self) -> None:
        super().__init__(RandomSource())
        self.started = threading.Event()
        self.release = threading.Event()

    def _hold(self) -> None:
        self.started.set()
        assert self.release.wait(WAIT), "the test never let the key generation finish"

    def generate(self, key_spec, rng=None):
        if key_spec == "RSA_4096":
            self._hold()
        return super().generate(key_spec, rng)

    def wrapping_key(self, wrapping_key_spec):
        if wrapping_key_spec == "RSA_4096":
            self._hold()
        return super().wrapping_key(wrapping_key_spec)


class RecordingBackend(SoftwareBackend):
    """Software keys, with a record of every material reference made and destroyed."""

    def __init__(self) -> None:
        super().__init__(RandomSource())
        self.made: list[bytes] = []
        self.destroyed: list[bytes] = []

    def generate(self, key_spec, rng=None):
        ref = super().generate(key_spec, rng)
        self.made.append(ref)
        return ref

    def destroy(self, ref):
        self.destroyed.append(ref)


class RefuseAccount(Authorizer):
    def authorize(self, request: AccessRequest) -> None:
        if request.resource == "*":
            raise denied(request, "refused by the test")


def serve(app: FakeKMS):
    return serve_in_thread(app)


@pytest.fixture
def held():
    backend = HeldBackend()
    app = FakeKMS(open_store(), backend=backend)
    httpd, endpoint = serve(app)
    yield backend, endpoint, app
    backend.release.set()
    httpd.shutdown()
    httpd.server_close()
    app.close()


def test_calls_answer_while_an_rsa_4096_key_is_being_made(held):
    backend, endpoint, _ = held
    kms = make_client(endpoint)
    key_id = kms.create_key()["KeyMetadata"]["KeyId"]
    with ThreadPoolExecutor(3) as pool:
        creating = pool.submit(make_client(endpoint).create_key, KeySpec="RSA_4096", KeyUsage="ENCRYPT_DECRYPT")
        assert backend.started.wait(WAIT)
        describe = pool.submit(kms.describe_key, KeyId=key_id)
        assert describe.result(timeout=WAIT)["KeyMetadata"]["KeyState"] == "Enabled"
        blob = kms.encrypt(KeyId=key_id, Plaintext=b"meanwhile")["CiphertextBlob"]
        assert kms.decrypt(CiphertextBlob=blob)["Plaintext"] == b"meanwhile"
        listed = kms.list_keys()["Keys"]
        assert not creating.done() and [k["KeyId"] for k in listed] == [key_id]
        backend.release.set()
        rsa_key = creating.result(timeout=WAIT)["KeyMetadata"]
    # The key made meanwhile works: a ciphertext made with its public key decrypts.
    public = serialization.load_der_public_key(kms.get_public_key(KeyId=rsa_key["KeyId"])["PublicKey"])
    oaep = padding.OAEP(mgf=padding.MGF1(hashes.SHA256()), algorithm=hashes.SHA256(), label=None)
    out = kms.decrypt(KeyId=rsa_key["KeyId"], CiphertextBlob=public.encrypt(b"rsa", oaep),
                      EncryptionAlgorithm="RSAES_OAEP_SHA_256")
    assert out["Plaintext"] == b"rsa" and public.key_size == 4096


def test_calls_answer_while_a_wrapping_key_is_being_made(held):
    backend, endpoint, _ = held
    kms = make_client(endpoint)
    external = kms.create_key(Origin="EXTERNAL")["KeyMetadata"]["KeyId"]
    other = kms.create_key()["KeyMetadata"]["KeyId"]
    with ThreadPoolExecutor(2) as pool:
        params = pool.submit(make_client(endpoint).get_parameters_for_import, KeyId=external,
                             WrappingAlgorithm="RSA_AES_KEY_WRAP_SHA_256", WrappingKeySpec="RSA_4096")
        assert backend.started.wait(WAIT)
        assert pool.submit(kms.describe_key, KeyId=other).result(timeout=WAIT)["KeyMetadata"]["KeyId"] == other
        assert not params.done()
        backend.release.set()
        public = serialization.load_der_public_key(params.result(timeout=WAIT)["PublicKey"])
    assert public.key_size == 4096


def test_material_of_a_refused_call_is_destroyed():
    backend = RecordingBackend()
    app = FakeKMS(open_store(), backend=backend, authorizer=RefuseAccount())
    status, body, _ = app.handle("TrentService.CreateKey", b'{"KeySpec": "ECC_NIST_P256", "KeyUsage": "SIGN_VERIFY"}')
    assert status == 400 and b"AccessDeniedException" in body
    assert len(backend.made) == 1 and backend.destroyed == backend.made
    assert app.views.keys() == []


def test_material_of_a_deleted_key_is_destroyed_once_the_deletion_commits():
    backend = RecordingBackend()
    app = FakeKMS(open_store(), backend=backend)
    kept = app.handle("TrentService.CreateKey", b"{}")
    assert kept[0] == 200
    status, body, _ = app.handle("TrentService.CreateKey", b"{}")
    key_id = body.decode().split('"KeyId":"')[1].split('"')[0]
    app.handle("TrentService.RotateKeyOnDemand", f'{{"KeyId": "{key_id}"}}'.encode())
    app.handle("TrentService.ScheduleKeyDeletion", f'{{"KeyId": "{key_id}", "PendingWindowInDays": 7}}'.encode())
    assert backend.destroyed == []
    app.clock.advance(8 * 86400)
    assert app.handle("TrentService.ListKeys", b"{}")[0] == 200
    assert sorted(backend.destroyed) == sorted(backend.made[1:])  # both versions; not the kept key's
    assert len(backend.destroyed) == 2


def test_a_reset_is_atomic_for_the_calls_around_it():
    """Calls on a seed file's key never find it missing, however resets fall among them."""
    app = create_app(seed_files=[str(FIXTURES / "keys.yaml")])
    signed = "AWS4-HMAC-SHA256 Credential=111122223333/20300101/us-east-1/kms/aws4_request, Signature=0"
    stop = threading.Event()
    calls = threading.Semaphore(0)
    failures: list[bytes] = []

    def use():
        while not stop.is_set():
            for target, body in (("Encrypt", b'{"KeyId": "alias/orders", "Plaintext": "AA=="}'),
                                 ("CreateKey", b"{}")):
                status, answer, _ = app.handle(f"TrentService.{target}", body, authorization=signed)
                if status != 200:
                    failures.append(answer)
            calls.release()

    workers = [threading.Thread(target=use) for _ in range(3)]
    for worker in workers:
        worker.start()
    try:
        for _ in range(40):
            for _ in range(6):  # resets fall among the calls, not all at once
                assert calls.acquire(timeout=WAIT)
            app.reset()
            app.clock.advance(400 * 86400)  # a reset also puts the clock back
    finally:
        stop.set()
        for worker in workers:
            worker.join(WAIT)
    assert failures == []
    app.close()


def test_reset_waits_for_calls_under_way_and_holds_the_next(held):
    """A reset begun while a CreateKey is making its material lands after it, whole."""
    backend, endpoint, app = held
    kms = make_client(endpoint)
    with ThreadPoolExecutor(2) as pool:
        creating = pool.submit(make_client(endpoint).create_key, KeySpec="RSA_4096", KeyUsage="SIGN_VERIFY")
        assert backend.started.wait(WAIT)
        resetting = pool.submit(_reset, endpoint)
        assert app.pipeline.gate.wait_for_reset(WAIT)  # the reset has arrived, and waits
        assert not resetting.done() and not creating.done()
        backend.release.set()
        created = creating.result(timeout=WAIT)["KeyMetadata"]["KeyId"]
        resetting.result(timeout=WAIT)
    kms_error("NotFoundException", kms.describe_key, KeyId=created)  # the reset came after it


def _reset(endpoint: str) -> None:
    from fakekms.control import Admin

    Admin(endpoint=endpoint).call("POST", "reset")
