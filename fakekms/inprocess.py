"""In-process mode: botocore KMS clients in this process are answered by a FakeKMS app directly,
with no socket, through botocore's ``before-send`` event.

Only requests bound for AWS's own KMS endpoints are answered; a client given an explicit
``endpoint_url`` (a running fakekms server, say) still goes there. The handler joins every
botocore session made after the first ``mock_kms`` starts, and answers only while a mock is
active; a session made before that (other than boto3's default one) is not served.

    with fakekms.mock_kms() as app:
        kms = boto3.client("kms", region_name="us-east-1")
        kms.create_key()

    @fakekms.mock_kms(seed="fixture")
    def test_something(): ...
"""

from __future__ import annotations

import io
import os
import sys
import threading
from contextlib import ContextDecorator
from urllib.parse import urlsplit

from .app import FakeKMS, create_app
from .context import DEFAULT_REGION
from .control import DUMMY_ACCESS_KEY, DUMMY_SECRET_KEY

_AWS_HOST_SUFFIXES = (".amazonaws.com", ".amazonaws.com.cn", ".api.aws")
# Dummy credentials for the mock's duration, where none are configured: botocore signs every
# request before the event that answers it, and must find something to sign with.
_DUMMY_ENV = {"AWS_ACCESS_KEY_ID": DUMMY_ACCESS_KEY, "AWS_SECRET_ACCESS_KEY": DUMMY_SECRET_KEY}

_active: list[FakeKMS] = []
_lock = threading.Lock()
_installed = False


class _Body(io.BytesIO):
    """A response body botocore can stream."""

    def stream(self, **_kwargs):
        yield self.getvalue()


def _header(request, name: str) -> str | None:
    """A header as text: signed requests carry some header values as bytes."""
    value = request.headers.get(name)
    return value.decode("latin-1") if isinstance(value, bytes) else value


def _answer(request, **_kwargs):
    """The ``before-send.kms`` handler: a response from the active app, or None to send for real."""
    if not _active or not (urlsplit(request.url).hostname or "").endswith(_AWS_HOST_SUFFIXES):
        return None
    from botocore.awsrequest import AWSResponse

    app = _active[-1]
    body = request.body or b""
    if isinstance(body, str):
        body = body.encode()
    elif hasattr(body, "read"):
        body = body.read()
    status, payload, request_id = app.handle(
        _header(request, "X-Amz-Target"),
        body,
        authorization=_header(request, "Authorization"),
        source_ip="127.0.0.1",
        user_agent=_header(request, "User-Agent"),
        signed=_signed_request(request, body) if app.verify_signatures else None,
    )
    response_headers = {
        "Content-Type": "application/x-amz-json-1.1",
        "Content-Length": str(len(payload)),
        "x-amzn-RequestId": request_id,
    }
    return AWSResponse(request.url, status, response_headers, _Body(payload))


def _signed_request(request, body: bytes):
    from .signatures import SignedRequest

    parts = urlsplit(request.url)
    headers = {name.lower(): _header(request, name) for name in request.headers.keys()}
    headers.setdefault("host", parts.netloc)
    return SignedRequest(request.method, parts.path or "/", parts.query, headers, body)


def _install() -> None:
    """Register the handler for every botocore session made from now on (once per process).

    botocore sends ``before-send`` to every handler a session has, so the handler must be there
    once: boto3's default session, if one was made before, is dropped so that the next
    ``boto3.client()`` makes a session that has it.
    """
    global _installed
    if _installed:
        return
    from botocore import handlers

    handlers.BUILTIN_HANDLERS.append(("before-send.kms", _answer))
    _installed = True
    boto3 = sys.modules.get("boto3")
    if boto3 is not None:
        boto3.DEFAULT_SESSION = None


class mock_kms(ContextDecorator):
    """Serve KMS from a FakeKMS app inside this process, as a context manager or decorator.

    ``app`` shares an existing app (and its state); otherwise a fresh one is made from ``db``,
    ``region``, ``seed``, ``seed_files``, ``clock``, ``frozen``, ``identity_files``,
    ``enforce_policies`` and ``verify_signatures`` as ``fakekms serve`` would.
    """

    def __init__(
        self,
        *,
        app: FakeKMS | None = None,
        db: str = ":memory:",
        region: str = DEFAULT_REGION,
        seed: str | None = None,
        seed_files: list[str] = (),
        clock: float | str | None = None,
        frozen: bool = False,
        identity_files: list[str] = (),
        enforce_policies: bool = False,
        verify_signatures: bool = False,
    ) -> None:
        self._options = dict(db=db, region=region, seed=seed, seed_files=list(seed_files),
                             clock=clock, frozen=frozen, identity_files=list(identity_files),
                             enforce_policies=enforce_policies, verify_signatures=verify_signatures)
        self._given = app
        self.app: FakeKMS | None = app
        self._saved_env: dict[str, str | None] = {}

    def __enter__(self) -> FakeKMS:
        if self._given is None:
            self.app = create_app(**self._options)
        with _lock:
            _install()
            _active.append(self.app)
            if len(_active) == 1:
                self._saved_env = {name: os.environ.get(name) for name in _DUMMY_ENV}
                for name, value in _DUMMY_ENV.items():
                    os.environ.setdefault(name, value)
        return self.app

    def __exit__(self, *exc_info) -> None:
        with _lock:
            _active.remove(self.app)
            if not _active:
                for name, value in self._saved_env.items():
                    if value is None:
                        os.environ.pop(name, None)
                    else:
                        os.environ[name] = value
        if self._given is None:
            self.app.close()
            self.app = None
