"""Serving the WSGI app with granian, a maintained HTTP server (its HTTP/1.1 is hyper's, in Rust).

Granian parses requests and holds connections outside Python, so idle and slow connections cost
no thread; it gives keep-alive, a listen backlog, header timeouts and worker processes sharing
one port. fakekms runs in those workers: the app is made by ``make_app`` in each (in-memory
state is made once, before the worker is forked, and lives in that one worker).

The app is served through granian's RSGI interface by ``BodyFirst``: the whole body is read on
the event loop, bounded in size and time, before the app runs (on the loop for a quick call on
in-memory state, else on a thread). Under granian's WSGI interface a client that announces a
body and never sends it holds an app thread for ever.

SIGTERM or SIGINT stops the server gracefully: the workers answer the calls in flight, then
exit, then the main process does.
"""

from __future__ import annotations

import asyncio
import ctypes
import functools
import io
import logging
import os
import signal
import socket
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from . import errors, wire

log = logging.getLogger("fakekms")

# A burst of clients connecting at once must queue, not be reset.
BACKLOG = 1024
# A client that opens a connection and sends no complete header within this time is dropped.
HEADER_READ_TIMEOUT_MS = 10_000
# Threads a worker runs the app on: enough that a slow call (an RSA_4096 CreateKey) does not
# hold up the others, few enough that the GIL is not fought over.
APP_THREADS = 4
# An oversized body is read and dropped up to this size (see _discard).
_MAX_DISCARD_BYTES = 64 << 20
# A body must arrive whole within this time once its headers have.
BODY_READ_TIMEOUT_S = 10.0
_PR_SET_PDEATHSIG = 1
# Calls that can take long (key pairs are generated, an admin route may wait for the calls in
# flight) run on a worker thread; the others run on the event loop itself, which saves two
# thread hand-offs a call, unless the state is a file (a write may wait for another process).
_SLOW = frozenset({"CreateKey", "GenerateDataKeyPair", "GenerateDataKeyPairWithoutPlaintext", "ReplicateKey",
                   "GetParametersForImport", "ImportKeyMaterial"})


class BodyFirst:
    """An RSGI app that reads each request's body whole (at most ``wire.MAX_BODY_BYTES``, within
    ``BODY_READ_TIMEOUT_S``) and then calls the WSGI ``app``: on the event loop where ``inline``
    allows and the call is quick, else on one of ``threads`` threads."""

    def __init__(self, app, *, inline: bool = False, threads: int = APP_THREADS) -> None:
        self.app = app
        self.inline = inline
        self.pool = ThreadPoolExecutor(threads, thread_name_prefix="fakekms")

    async def __rsgi__(self, scope, protocol) -> None:
        headers = scope.headers
        declared = headers.get("content-length")
        too_large = declared is not None and declared.isdigit() and int(declared) > wire.MAX_BODY_BYTES
        # A timer, not asyncio.wait_for: no task per request.
        timer = asyncio.get_running_loop().call_later(BODY_READ_TIMEOUT_S, asyncio.current_task().cancel)
        try:
            if too_large:
                body = await _discard(protocol)
            else:
                body = await protocol() if declared is not None else await _read(protocol)
        except asyncio.CancelledError:
            log.info("a request's body did not arrive within %.0f s; connection closed", BODY_READ_TIMEOUT_S)
            exc = errors.RequestTimeoutException(
                f"The request body did not arrive within {BODY_READ_TIMEOUT_S:.0f} seconds.")
            protocol.response_bytes(408, [("Content-Type", wire.CONTENT_TYPE), ("Connection", "close")],
                                   wire.error_body(exc))
            return
        except Exception:  # the client went away mid-body: nobody to answer
            return
        finally:
            timer.cancel()
        if body is None:
            body, too_large = b"", True
        client = scope.client.rsplit(":", 1)[0].strip("[]")
        target = headers.get("x-amz-target")
        if scope.method == "POST" and scope.path == "/" and not too_large and not self.app.verify_signatures:
            # A KMS call: straight to the pipeline, no WSGI environ to build.
            work = functools.partial(self.app.answer, target, body, authorization=headers.get("authorization"),
                                     source_ip=client, user_agent=headers.get("user-agent"))
        else:
            work = functools.partial(self._call, _environ(scope, headers, body, client, too_large))
        if self.inline and scope.path == "/" and (target or "").rpartition(".")[2] not in _SLOW:
            status, response_headers, payload = work()
        else:
            status, response_headers, payload = await asyncio.get_running_loop().run_in_executor(self.pool, work)
        if log.isEnabledFor(logging.DEBUG):  # before the answer, so that the log is in step with it
            log.debug("%s \"%s %s HTTP/%s\" %d %d", client, scope.method, scope.path,
                      scope.http_version, status, len(payload))
        protocol.response_bytes(status, response_headers, payload)

    def _call(self, environ) -> tuple[int, list, bytes]:
        answer: list = []

        def start_response(status, headers, exc_info=None):
            answer[:] = [int(status.split(" ", 1)[0]), headers]
            return lambda data: None  # the app returns its body; write() is not used

        payload = b"".join(self.app(environ, start_response))
        return answer[0], answer[1], payload


def _environ(scope, headers, body: bytes, client: str, too_large: bool) -> dict:
    environ = {
        "REQUEST_METHOD": scope.method,
        "PATH_INFO": scope.path,
        "QUERY_STRING": scope.query_string,
        "SERVER_PROTOCOL": f"HTTP/{scope.http_version}",
        "REMOTE_ADDR": client,
        "CONTENT_LENGTH": str(len(body)),
        "CONTENT_TYPE": headers.get("content-type", ""),
        "wsgi.input": io.BytesIO(body),
        "wsgi.url_scheme": scope.scheme,
        "fakekms.body_too_large": too_large,
    }
    for name, value in headers.items():
        key = "HTTP_" + name.upper().replace("-", "_")
        if key not in ("HTTP_CONTENT_LENGTH", "HTTP_CONTENT_TYPE"):
            environ[key] = value
    return environ


async def _discard(protocol) -> None:
    """Reads an oversized body and drops it, up to a bound, so that the client, still sending,
    gets its 413 answer rather than a broken pipe; past the bound the connection just closes."""
    size = 0
    async for chunk in protocol:
        size += len(chunk)
        if size > _MAX_DISCARD_BYTES:
            break


async def _read(protocol) -> bytes | None:
    """The whole body, or None once it passes the size limit."""
    chunks, size = [], 0
    async for chunk in protocol:
        size += len(chunk)
        if size > wire.MAX_BODY_BYTES:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


def probe(host: str, port: int) -> int:
    """The port to serve on: ``port`` if nothing listens there (port 0: a free one). OSError
    if it is taken. Granian's workers share the port (SO_REUSEPORT), so a second fakekms on a
    busy port would be let in beside the first without this check."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.bind((host, port))
        return sock.getsockname()[1]


def serve(make_app: Callable[[], object], host: str, port: int, *, workers: int = 1, in_memory: bool = True,
          on_ready: Callable[[], None] | None = None, watch_stdin: bool = False) -> int | None:
    """Serves until SIGTERM or SIGINT (answered: the signal's number), or until standard input
    closes with ``watch_stdin``. ``on_ready`` runs once the port answers."""
    from granian.constants import HTTPModes, Interfaces, RuntimeModes
    from granian.http import HTTP1Settings
    from granian.server import Server

    received: list[int] = []
    server = Server(
        "fakekms", address=host, port=port, interface=Interfaces.RSGI, workers=workers, runtime_mode=RuntimeModes.mt,
        backlog=BACKLOG, http=HTTPModes.http1,
        http1_settings=HTTP1Settings(header_read_timeout=HEADER_READ_TIMEOUT_MS, keep_alive=True),
        log_enabled=True, log_level="warning", log_dictconfig=_log_config(), workers_kill_timeout=30,
    )
    original = server.signal_handler_interrupt

    def interrupted(*args, **kwargs):
        received.append(args[0] if args and isinstance(args[0], int) else signal.SIGTERM)
        return original(*args, **kwargs)

    server.signal_handler_interrupt = interrupted
    if on_ready is not None:
        threading.Thread(target=_when_answering, args=(host, port, on_ready), daemon=True).start()
    if watch_stdin:
        threading.Thread(target=_stop_at_eof, daemon=True).start()
    try:
        server.serve(target_loader=lambda _target: _in_worker(make_app, in_memory), wrap_loader=True)
    except SystemExit as exc:  # granian exits non-zero when a worker died
        if exc.code:
            raise
    return received[0] if received else None


def _in_worker(make_app: Callable[[], object], in_memory: bool):
    """The app of one worker, which ends with its parent (a main process killed outright must not
    leave a worker serving the port) and closes the app's store when it stops."""
    from multiprocessing import util

    if sys.platform.startswith("linux"):
        parent = os.getppid()
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
        if os.getppid() != parent:  # the parent died before the line above
            os._exit(1)
    app = make_app()
    util.Finalize(app, app.close, exitpriority=10)
    return BodyFirst(app, inline=in_memory)


def _when_answering(host: str, port: int, on_ready: Callable[[], None]) -> None:
    """Runs ``on_ready`` once the server answers a request (a connection alone is accepted
    before the worker's event loop runs, and a SIGTERM then would not reach it). It imports
    nothing: a thread importing while the worker is forked leaves the worker an import lock
    that nobody will release."""
    deadline = time.monotonic() + 30
    target = "127.0.0.1" if host in ("0.0.0.0", "") else ("::1" if host == "::" else host)
    while time.monotonic() < deadline:
        try:
            with socket.create_connection((target, port), timeout=5) as sock:
                sock.sendall(b"GET /_fakekms/health HTTP/1.1\r\nHost: fakekms\r\nConnection: close\r\n\r\n")
                answered = sock.recv(12) == b"HTTP/1.1 200"
        except OSError:
            answered = False
        if answered:
            on_ready()
            return
        time.sleep(0.002)


def _stop_at_eof() -> None:
    """Waits for standard input to close (the parent exited, however it died), then stops."""
    # os.read, not sys.stdin: a daemon thread blocked inside a buffered reader aborts the
    # interpreter's shutdown.
    while os.read(sys.stdin.fileno(), 4096):
        pass
    os.kill(os.getpid(), signal.SIGTERM)


def _log_config() -> dict:
    """granian's own messages go to standard error with fakekms's, never to standard output."""
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"generic": {"()": "logging.Formatter",
                                   "fmt": "%(asctime)s %(levelname)s granian %(message)s"}},
        "handlers": {"console": {"formatter": "generic", "class": "logging.StreamHandler",
                                 "stream": "ext://sys.stderr"}},
        "loggers": {"_granian": {"handlers": ["console"], "level": "WARNING", "propagate": False},
                    "granian.access": {"handlers": ["console"], "level": "WARNING", "propagate": False}},
    }
