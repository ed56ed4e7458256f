"""Assertions shared by the boto3-level tests."""

from __future__ import annotations

import socketserver
import threading
import wsgiref.simple_server

import pytest
from botocore.exceptions import ClientError
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from fakekms.crypto import ciphertext


def kms_error(code: str, call, **kwargs) -> str:
    """Runs ``call(**kwargs)``, asserts it fails with the AWS error ``code`` and HTTP 400, and
    returns the error message."""
    with pytest.raises(ClientError) as info:
        call(**kwargs)
    error = info.value.response["Error"]
    assert error["Code"] == code, f"expected {code}, got {error['Code']}: {error.get('Message')}"
    assert info.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    return error.get("Message", "")


def opens_with(blob: bytes, material: bytes, context=None) -> bytes:
    """Opens a fakekms ciphertext with plain AES-GCM and ``material``: proof it sealed with it.
    The body is the software backend's: a 12-byte IV, then the ciphertext and tag."""
    sealed = ciphertext.parse(blob)
    iv, body = sealed.body[:12], sealed.body[12:]
    return AESGCM(material).decrypt(iv, body, sealed.aad(context))


def own_aliases(client, **kwargs) -> list[dict]:
    """ListAliases less AWS's predefined aliases, which have no TargetKeyId until their AWS
    managed key exists."""
    return [a for a in client.list_aliases(**kwargs)["Aliases"] if "TargetKeyId" in a]


class _QuietHandler(wsgiref.simple_server.WSGIRequestHandler):
    def log_message(self, format, *args):  # noqa: A002 - the stdlib's signature
        pass


class _ThreadingWSGIServer(socketserver.ThreadingMixIn, wsgiref.simple_server.WSGIServer):
    daemon_threads = True


def serve_in_thread(app):
    """A test's own ``app`` (a custom backend or authorizer) over HTTP in a thread of the test
    process: (server, endpoint). ``server.shutdown()`` and ``server.server_close()`` stop it."""
    httpd = wsgiref.simple_server.make_server("127.0.0.1", 0, app, _ThreadingWSGIServer, _QuietHandler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    return httpd, f"http://127.0.0.1:{httpd.server_address[1]}"
