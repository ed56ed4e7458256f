"""Driving a fakekms from tests: start a server process, reset it, move its clock, read its audit
log, load seed files. The same calls work on a server (over HTTP) and on an in-process app (its
WSGI interface called directly), so the pytest plugin and any other harness share one code path.

    from fakekms.control import start_server

    with start_server() as kms:
        kms.client().create_key()
        kms.clock.advance(days=30)
        kms.audit.assert_called("CreateKey")
"""

from __future__ import annotations

import datetime
import http.client
import io
import json
import signal
import secrets
import subprocess
import sys
import tempfile
import urllib.parse
from typing import Any

from .context import DEFAULT_REGION
from .identities import DEFAULT_IDENTITY

DAY = 86400.0
# A 12-digit access key id is taken as the account; this one is the default account.
DUMMY_ACCESS_KEY = DEFAULT_IDENTITY.access_key_id
DUMMY_SECRET_KEY = DEFAULT_IDENTITY.secret_access_key


class AdminError(Exception):
    """An admin request fakekms refused, with its reason."""


class Admin:
    """The ``/_fakekms/`` admin routes of a server (``endpoint``) or of an in-process ``app``."""

    def __init__(self, *, endpoint: str | None = None, app=None) -> None:
        if (endpoint is None) == (app is None):
            raise ValueError("give an endpoint or an app")
        self.endpoint = endpoint
        self.app = app

    def call(self, method: str, route: str, body: dict | None = None, query: dict | None = None) -> Any:
        path = f"/_fakekms/{route}"
        query_string = urllib.parse.urlencode({k: v for k, v in (query or {}).items() if v is not None})
        payload = json.dumps(body).encode() if body is not None else b""
        if self.app is not None:
            status, raw = _call_wsgi(self.app, method, path, query_string, payload)
        else:
            status, raw = _call_http(self.endpoint, method, path, query_string, payload)
        answer = json.loads(raw) if raw else None
        if status != 200:
            raise AdminError(answer.get("error") if isinstance(answer, dict) else raw.decode(errors="replace"))
        return answer


def _call_wsgi(app, method: str, path: str, query: str, payload: bytes) -> tuple[int, bytes]:
    environ = {
        "REQUEST_METHOD": method,
        "PATH_INFO": path,
        "QUERY_STRING": query,
        "CONTENT_LENGTH": str(len(payload)),
        "wsgi.input": io.BytesIO(payload),
    }
    status: list[str] = []
    body = b"".join(app(environ, lambda s, headers, exc_info=None: status.append(s)))
    return int(status[0].split()[0]), body


def _call_http(endpoint: str, method: str, path: str, query: str, payload: bytes) -> tuple[int, bytes]:
    parts = urllib.parse.urlsplit(endpoint)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    try:
        conn.request(method, path + (f"?{query}" if query else ""), body=payload,
                     headers={"Content-Type": "application/json"})
        resp = conn.getresponse()
        return resp.status, resp.read()
    finally:
        conn.close()


def _epoch(when) -> float | str:
    if isinstance(when, datetime.datetime):
        if when.tzinfo is None:
            when = when.replace(tzinfo=datetime.timezone.utc)
        return when.timestamp()
    return when


class KMSClock:
    """fakekms's clock: advance it past a deletion window instead of waiting 7 days."""

    def __init__(self, admin: Admin) -> None:
        self._admin = admin

    @staticmethod
    def _datetime(state: dict) -> datetime.datetime:
        return datetime.datetime.fromtimestamp(state["now"], datetime.timezone.utc)

    def now(self) -> datetime.datetime:
        return self._datetime(self._admin.call("GET", "clock"))

    @property
    def frozen(self) -> bool:
        return self._admin.call("GET", "clock")["frozen"]

    def advance(self, *, days: float = 0, hours: float = 0, minutes: float = 0,
                seconds: float = 0) -> datetime.datetime:
        """Moves time forward (to go back, ``set`` an earlier time); keys whose deletion date it
        passes are deleted. Answers the new time."""
        total = days * DAY + hours * 3600 + minutes * 60 + seconds
        return self._datetime(self._admin.call("POST", "clock", {"advance": total}))

    def set(self, when: datetime.datetime | float | str, *, frozen: bool = False) -> datetime.datetime:
        """Sets the time (a datetime, naive taken as UTC; epoch seconds; or ISO 8601). A frozen
        clock stays there until moved again."""
        return self._datetime(self._admin.call("POST", "clock", {"set": _epoch(when), "frozen": frozen}))

    def freeze(self) -> datetime.datetime:
        """Stops the clock at the current time."""
        return self.set(self._admin.call("GET", "clock")["now"], frozen=True)

    def reset(self) -> datetime.datetime:
        """Back to the wall clock."""
        return self._datetime(self._admin.call("POST", "clock", {"reset": True}))


class KMSAudit:
    """fakekms's audit log: one CloudTrail-format event per KMS call, oldest first."""

    def __init__(self, admin: Admin) -> None:
        self._admin = admin

    def events(self, event_name: str | None = None, *, key: str | None = None,
               since: datetime.datetime | float | str | None = None) -> list[dict]:
        """Events, optionally only one operation's, only those of one key (key id, key ARN, or
        the alias the request named) and only those from ``since`` on."""
        query = {"eventName": event_name, "key": key, "since": _epoch(since) if since is not None else None}
        return self._admin.call("GET", "audit", query=query)["events"]

    def calls(self, event_name: str | None = None, *, key: str | None = None,
              encryption_context: dict | None = None, error_code: str | None = None,
              succeeded: bool | None = None) -> list[dict]:
        """Events filtered further: by the exact EncryptionContext the call gave, by the error it
        failed with, or by whether it succeeded."""
        found = []
        for event in self.events(event_name, key=key):
            params = event.get("requestParameters") or {}
            if encryption_context is not None and params.get("encryptionContext", {}) != encryption_context:
                continue
            if error_code is not None and event.get("errorCode") != error_code:
                continue
            if succeeded is not None and ("errorCode" not in event) != succeeded:
                continue
            found.append(event)
        return found

    def last(self, event_name: str | None = None, **filters) -> dict | None:
        found = self.calls(event_name, **filters)
        return found[-1] if found else None

    def assert_called(self, event_name: str, *, times: int | None = None, **filters) -> dict:
        """Asserts that ``event_name`` was called (``times`` times, if given) with the filters
        of ``calls``; answers the last such event. The failure lists the calls there were."""
        found = self.calls(event_name, **filters)
        if not found or (times is not None and len(found) != times):
            wanted = f"{event_name}" + "".join(f" {k}={v!r}" for k, v in filters.items())
            count = "" if times is None else f" {times} time(s)"
            raise AssertionError(f"expected {wanted} to be called{count}; found {len(found)}. "
                                 f"Calls recorded: {self._summary()}")
        return found[-1]

    def assert_not_called(self, event_name: str, **filters) -> None:
        found = self.calls(event_name, **filters)
        if found:
            wanted = f"{event_name}" + "".join(f" {k}={v!r}" for k, v in filters.items())
            raise AssertionError(f"expected no {wanted}; found {len(found)}: {self._summary(found)}")

    def _summary(self, events: list[dict] | None = None) -> str:
        events = self.events() if events is None else events
        if not events:
            return "none"
        parts = []
        for event in events[-20:]:
            keys = ",".join(r["ARN"].rsplit("/", 1)[-1] for r in event.get("resources", []))
            outcome = f" -> {event['errorCode']}" if "errorCode" in event else ""
            parts.append(f"{event['eventName']}({keys}){outcome}")
        return ", ".join(parts)


class KMSHandle:
    """One fakekms as a test sees it: where it is, and the controls it offers."""

    def __init__(self, admin: Admin, *, region: str = DEFAULT_REGION, mode: str = "server") -> None:
        self.admin = admin
        self.region = region
        self.mode = mode
        self.clock = KMSClock(admin)
        self.audit = KMSAudit(admin)

    @property
    def endpoint(self) -> str | None:
        """The server's URL (None in in-process mode, where clients bound for AWS are served)."""
        return self.admin.endpoint

    def reset(self) -> None:
        """No keys but the start-up seed files', the wall clock, an empty audit log."""
        self.admin.call("POST", "reset")

    def load_seed_file(self, path: str) -> dict:
        """Creates a seed file's keys and aliases now; they last until the next reset."""
        return self.admin.call("POST", "seed-file", {"path": str(path)})

    def health(self) -> dict:
        return self.admin.call("GET", "health")

    def add_identities(self, identities: list[dict]) -> list[dict]:
        """Adds (or replaces) identities until the next reset; answers them all, without secrets."""
        return self.admin.call("POST", "identities", {"identities": identities})["identities"]

    def identity(self, arn: str, policies=(), via_service: str | None = None, *,
                 tags: dict | None = None, source_arn: str | None = None, region: str | None = None,
                 **kwargs):
        """A KMS client whose calls are made by a new identity with this ARN (an account root,
        IAM user or role, or an assumed-role session), its IAM ``policies``, the service it
        calls through, if any (and the ``source_arn`` it calls for), and its principal ``tags``.
        Lasts until the next reset."""
        access_key_id = "AKIAFAKEKMS" + secrets.token_hex(5).upper()
        secret = secrets.token_urlsafe(24)
        entry = {"access_key_id": access_key_id, "secret_access_key": secret, "arn": arn,
                 "policies": list(policies)}
        if via_service is not None:
            entry["via_service"] = via_service
        if tags:
            entry["tags"] = dict(tags)
        if source_arn is not None:
            entry["source_arn"] = source_arn
        self.add_identities([entry])
        return self.client(region, aws_access_key_id=access_key_id, aws_secret_access_key=secret, **kwargs)

    def client(self, region: str | None = None, **kwargs):
        """A new boto3 (or, without boto3, botocore) KMS client for this fakekms, with dummy
        credentials; ``kwargs`` go to ``boto3.client``. New each time (about 4 ms), so that no
        test inherits another's event handlers or stubs."""
        region = region or self.region
        options = {
            "region_name": region,
            # In-process mode answers AWS's own endpoint, named here so that an
            # AWS_ENDPOINT_URL_KMS in the environment cannot send the client elsewhere.
            "endpoint_url": self.endpoint or _aws_endpoint(region),
            "aws_access_key_id": DUMMY_ACCESS_KEY,
            "aws_secret_access_key": DUMMY_SECRET_KEY,
            **kwargs,
        }
        try:
            import boto3

            return boto3.client("kms", **options)
        except ImportError:
            import botocore.session

            return botocore.session.get_session().create_client("kms", **options)


def _aws_endpoint(region: str) -> str:
    suffix = "amazonaws.com.cn" if region.startswith("cn-") else "amazonaws.com"
    return f"https://kms.{region}.{suffix}"


class ServerProcess(KMSHandle):
    """A ``fakekms serve`` child process. It watches its standard input, a pipe from this
    process: when this process ends, however it ends, the server stops too."""

    def __init__(self, proc: subprocess.Popen, port: int, region: str, stderr) -> None:
        super().__init__(Admin(endpoint=f"http://127.0.0.1:{port}"), region=region, mode="server")
        self.proc = proc
        self.port = port
        self._stderr = stderr

    @property
    def pid(self) -> int:
        return self.proc.pid

    def request(self, method: str, path: str, body: bytes = b"", headers: dict | None = None):
        """One raw HTTP request on a fresh connection: (status, headers, body); the headers are
        read without regard to case, as HTTP says (``headers["Content-Type"]``)."""
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        try:
            conn.request(method, path, body=body, headers=headers or {})
            resp = conn.getresponse()
            return resp.status, resp.headers, resp.read()
        finally:
            conn.close()

    def post(self, path: str, body: bytes = b"", headers: dict | None = None):
        return self.request("POST", path, body, headers)

    def call(self, target: str, body, headers: dict | None = None):
        """A raw KMS call, bypassing every SDK: (status, decoded JSON or None, headers)."""
        raw = body if isinstance(body, bytes) else json.dumps(body).encode()
        all_headers = {"X-Amz-Target": target, "Content-Type": "application/x-amz-json-1.1"}
        all_headers.update(headers or {})
        status, resp_headers, payload = self.post("/", raw, all_headers)
        return status, (json.loads(payload) if payload else None), resp_headers

    def log(self) -> str:
        """What the server wrote to its standard error (its log) so far."""
        self._stderr.seek(0)
        return self._stderr.read().decode(errors="replace")

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 10) -> int:
        """Stops the server and answers its exit code."""
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return self.proc.wait()
        finally:
            for stream in (self.proc.stdin, self.proc.stdout):
                if stream is not None:
                    stream.close()

    def __enter__(self) -> "ServerProcess":
        return self

    def __exit__(self, *exc_info) -> None:
        self.stop()


def start_server(*args: str, region: str = DEFAULT_REGION, log_level: str = "WARNING") -> ServerProcess:
    """Starts ``fakekms serve`` on a free port with the given extra arguments; raises
    RuntimeError, with the server's own message, if it does not start."""
    # The log goes to a file, not a pipe: a pipe nobody reads would fill and stall the server.
    stderr = tempfile.TemporaryFile()
    proc = subprocess.Popen(
        [sys.executable, "-m", "fakekms", "serve", "--port", "0", "--region", region,
         "--log-level", log_level, "--watch-stdin", *args],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=stderr,
        text=True,
    )
    line = proc.stdout.readline()
    if "listening on" not in line:
        proc.kill()
        proc.wait()
        stderr.seek(0)
        message = (line + stderr.read().decode(errors="replace")).strip()
        stderr.close()
        raise RuntimeError(f"fakekms did not start: {message}")
    port = int(line.split("http://", 1)[1].split()[0].rsplit(":", 1)[1])
    return ServerProcess(proc, port, region, stderr)
