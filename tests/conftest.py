"""Test fixtures: the real server as a separate process, and the same server run in a thread when
a test needs to reach inside it (the clock, the store)."""

from __future__ import annotations

from dataclasses import dataclass

import boto3
import pytest
from botocore.config import Config
from helpers import serve_in_thread

from fakekms.app import FakeKMS
from fakekms.control import Admin, KMSHandle, start_server
from fakekms.inprocess import mock_kms
from fakekms.state import open_store

REGION = "us-west-2"
ACCOUNT = "111122223333"


def make_client(endpoint: str | None, region: str = REGION, access_key: str = ACCOUNT,
                secret: str = "fake-secret", token: str | None = None):
    """A boto3 KMS client; with no endpoint it is bound for AWS, which in-process mode answers."""
    return boto3.client(
        "kms",
        endpoint_url=endpoint,
        region_name=region,
        aws_access_key_id=access_key,
        aws_secret_access_key=secret,
        aws_session_token=token,
        # The server, not the client, must reject bad input: botocore's own checks are off.
        config=Config(retries={"max_attempts": 1}, parameter_validation=False),
    )


@pytest.fixture(scope="session")
def server():
    srv = start_server()
    yield srv
    srv.stop()


# The boto3-level tests run in both modes: against a ``fakekms serve`` process, and in-process,
# where ``mock_kms`` answers clients bound for AWS without a socket.
MODES = ["server", "in-process"]


@dataclass
class Backend:
    """Where a test's KMS lives: a server process, or an app answering in this process."""

    mode: str
    endpoint: str | None = None
    app: FakeKMS | None = None

    def client(self, region: str = REGION, access_key: str = ACCOUNT):
        return make_client(self.endpoint, region, access_key)

    @property
    def control(self) -> KMSHandle:
        """The admin controls (clock, audit log, seed files) of this KMS, in either mode."""
        admin = Admin(endpoint=self.endpoint) if self.app is None else Admin(app=self.app)
        return KMSHandle(admin, region=REGION, mode=self.mode)


@pytest.fixture(scope="session")
def inprocess_app():
    with mock_kms() as app:
        yield app


@pytest.fixture(params=MODES)
def backend(request):
    """A freshly reset KMS in each mode."""
    if request.param == "server":
        srv = request.getfixturevalue("server")
        srv.reset()
        return Backend("server", endpoint=srv.endpoint)
    app = request.getfixturevalue("inprocess_app")
    app.reset()
    return Backend("in-process", app=app)


@pytest.fixture
def kms(backend):
    """A boto3 KMS client on a freshly reset KMS, in each mode."""
    return backend.client()


@dataclass
class LocalServer:
    """The server in a thread of the test process, with its app at hand."""

    app: FakeKMS
    endpoint: str

    def client(self, region: str = REGION, access_key: str = ACCOUNT):
        return make_client(self.endpoint, region, access_key)


@pytest.fixture
def local(tmp_path):
    app = FakeKMS(open_store(":memory:"))
    httpd, endpoint = serve_in_thread(app)
    yield LocalServer(app, endpoint)
    httpd.shutdown()
    httpd.server_close()
    app.store.close()


class KeyCache:
    """Keys made once per module and reused by its tests: asymmetric key generation is the slow
    part of the crypto tests, and their KMS is never reset under them."""

    def __init__(self, backend: Backend) -> None:
        self.backend = backend
        self.client = backend.client()
        self._keys: dict[tuple[str, str], dict] = {}

    def get(self, key_spec: str = "SYMMETRIC_DEFAULT", key_usage: str = "ENCRYPT_DECRYPT") -> dict:
        """KeyMetadata of a key with this KeySpec and KeyUsage."""
        if (key_spec, key_usage) not in self._keys:
            meta = self.client.create_key(KeySpec=key_spec, KeyUsage=key_usage)["KeyMetadata"]
            self._keys[key_spec, key_usage] = meta
        return self._keys[key_spec, key_usage]


@pytest.fixture(scope="module")
def crypto_server():
    """A server of the module's own, never reset, so keys made once serve every test."""
    with start_server() as srv:
        yield srv


@pytest.fixture(scope="module", params=MODES)
def keys(request):
    """A module's own KMS, in each mode, and the keys its tests share."""
    if request.param == "server":
        yield KeyCache(Backend("server", endpoint=request.getfixturevalue("crypto_server").endpoint))
    else:
        with mock_kms() as app:
            yield KeyCache(Backend("in-process", app=app))
