"""Serving the WSGI app over HTTP/1.1 with keep-alive, one thread per connection.

werkzeug's development server (3.x) sends ``Connection: close`` on every response and then polls
the socket for 10 ms to drain it, so SDK clients reconnect for every call. This server is the
stdlib ``http.server`` with a handler that reads each request body whole before the app runs, so a
connection always stays in step and can carry the next request. The app stays plain WSGI and runs
under any WSGI server too.
"""

from __future__ import annotations

import io
import logging
import signal
import socket
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from . import __version__, wire

log = logging.getLogger("fakekms")

# An oversized body is read and dropped up to this size, so that the client gets its 413 answer
# instead of a broken pipe; past it the connection is simply closed.
_MAX_DISCARD_BYTES = 64 << 20


class KMSRequestHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def setup(self) -> None:
        super().setup()
        # Headers and body go out in separate writes; without NODELAY, Nagle's algorithm holds
        # the body back until the client's delayed ACK, about 40 ms per call on keep-alive.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def version_string(self) -> str:
        return f"fakekms/{__version__}"

    def do_POST(self) -> None:  # noqa: N802 - http.server's naming
        self._run()

    def do_GET(self) -> None:  # noqa: N802
        self._run()

    def do_PUT(self) -> None:  # noqa: N802
        self._run()

    def do_DELETE(self) -> None:  # noqa: N802
        self._run()

    def _read_body(self) -> bytes | None:
        """The whole request body; None if it is too large to read (the connection then closes)."""
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            return self._read_chunked()
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = -1
        if length < 0:
            return None
        if length > wire.MAX_BODY_BYTES:
            self._discard(length)
            return None
        return self.rfile.read(length) if length else b""

    def _discard(self, length: int) -> None:
        """Reads and drops an oversized body (up to a bound) so the client sees the 413."""
        remaining = min(length, _MAX_DISCARD_BYTES)
        while remaining > 0:
            chunk = self.rfile.read(min(remaining, 1 << 16))
            if not chunk:
                break
            remaining -= len(chunk)

    def _read_chunked(self) -> bytes | None:
        body = bytearray()
        while True:
            line = self.rfile.readline(1024).split(b";", 1)[0].strip()
            try:
                size = int(line, 16)
            except ValueError:
                return None
            if size == 0:
                while self.rfile.readline(1024).strip():  # trailers
                    pass
                return bytes(body)
            if len(body) + size > wire.MAX_BODY_BYTES:
                return None
            body += self.rfile.read(size)
            self.rfile.readline(1024)

    def _run(self) -> None:
        body = self._read_body()
        if body is None:
            self.close_connection = True
            body = b""
            too_large = True
        else:
            too_large = False
        path, _, query = self.path.partition("?")
        environ = {
            "REQUEST_METHOD": self.command,
            "PATH_INFO": path,
            "QUERY_STRING": query,
            "SERVER_PROTOCOL": self.request_version,
            "REMOTE_ADDR": self.client_address[0],
            "CONTENT_LENGTH": str(len(body)),
            "CONTENT_TYPE": self.headers.get("Content-Type", ""),
            "wsgi.input": io.BytesIO(body),
            "wsgi.url_scheme": "http",
            "fakekms.body_too_large": too_large,
        }
        for name, value in self.headers.items():
            key = "HTTP_" + name.upper().replace("-", "_")
            if key not in ("HTTP_CONTENT_LENGTH", "HTTP_CONTENT_TYPE"):
                environ[key] = value
        status_line: list[str] = []
        response_headers: list[tuple[str, str]] = []

        def start_response(status, headers, exc_info=None):
            status_line[:] = [status]
            response_headers[:] = headers
            return lambda data: None  # the app returns its body; write() is not used

        chunks = self.server.app(environ, start_response)
        payload = b"".join(chunks)
        code, _, reason = status_line[0].partition(" ")
        self.send_response(int(code), reason)
        for name, value in response_headers:
            if name.lower() == "connection" and value.lower() == "close":
                self.close_connection = True
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, format, *args):  # noqa: A002 - http.server's signature
        if log.isEnabledFor(logging.DEBUG):
            log.debug("%s %s", self.address_string(), format % args)


class KMSServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    # socketserver's default backlog of 5 resets connections when a burst of clients connects
    # at once (20 threads starting together did).
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], app) -> None:
        self.app = app
        super().__init__(address, KMSRequestHandler)


def build_server(app, host: str = "127.0.0.1", port: int = 0) -> KMSServer:
    return KMSServer((host, port), app)


def serve_forever(server: KMSServer) -> int | None:
    """Serves until SIGINT or SIGTERM (answered: the signal's number) or ``server.shutdown()``
    (None), then closes the socket."""
    received: list[int] = []

    def stop(signum, frame):
        received.append(signum)
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        received.append(signal.SIGINT)
    finally:
        server.server_close()
        sys.stdout.flush()
    return received[0] if received else None
