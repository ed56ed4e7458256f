"""The fakekms application: a WSGI app that serves KMS at ``POST /`` and the admin routes under
``/_fakekms/``.

``FakeKMS.handle`` is the whole KMS request path (wire -> validate -> operation -> state ->
serialize) on plain values, so a transport other than HTTP (the in-process mode) can call it.
The app is plain WSGI rather than a Flask app: KMS has a single route, and skipping Flask's import
(about 100 ms) and per-request layers keeps start-up and every call short.
"""

from __future__ import annotations

import datetime
import json
import logging
import urllib.parse
import uuid

from . import __version__, audit, errors, model, ops, seedfile, wire
from .clock import Clock
from .context import DEFAULT_ACCOUNT, DEFAULT_REGION, RequestContext
from .ops import lifecycle
from .seeding import RandomSource, random_source
from .state import Store
from .state.store import DEFAULT_AUDIT_RETENTION

log = logging.getLogger("fakekms")

_STATUS_TEXT = {200: "200 OK", 400: "400 Bad Request", 404: "404 Not Found",
                405: "405 Method Not Allowed", 413: "413 Request Entity Too Large",
                500: "500 Internal Server Error"}


def account_for(access_key_id: str | None) -> str:
    """A 12-digit access key id is taken as the account id; anything else is the default."""
    if access_key_id and len(access_key_id) == 12 and access_key_id.isdigit():
        return access_key_id
    return DEFAULT_ACCOUNT


class FakeKMS:
    def __init__(
        self,
        store: Store | None = None,
        *,
        region: str = DEFAULT_REGION,
        clock: Clock | None = None,
        rng: RandomSource | None = None,
        seed: str | None = None,
        audit_log: str | None = None,
        seed_files: list[str] = (),
    ) -> None:
        self.store = store if store is not None else Store()
        self.region = region
        self.clock = clock or Clock()
        self.seed = seed
        self.rng = rng or random_source(seed)
        # Read and checked before anything else starts: a bad file raises SeedFileError here.
        self.seed_plans = [seedfile.load(path, region=region, seed=seed) for path in seed_files]
        self.audit_file = audit.AuditFile(audit_log) if audit_log else None
        self._apply(self.seed_plans)
        ops.handlers()  # register every operation now, not on the first request

    # --- the KMS request path --------------------------------------------------------------

    def handle(
        self,
        target: str | None,
        raw_body: bytes,
        *,
        authorization: str | None = None,
        source_ip: str | None = None,
        user_agent: str | None = None,
    ) -> tuple[int, bytes, str]:
        """One KMS call: (HTTP status, response body, request id). Every call, answered or
        refused, leaves one audit event."""
        ctx = RequestContext(
            operation="",
            account=DEFAULT_ACCOUNT,
            region=self.region,
            request_id=str(uuid.uuid4()),
            now=self.clock.now(),
            source_ip=source_ip,
            user_agent=user_agent,
            rng=self.rng,
        )
        params = None
        try:
            ctx.operation = wire.operation_from_target(target)
            scope = wire.credential_scope(authorization)
            if scope:
                ctx.access_key_id, ctx.region = scope
            ctx.account = account_for(ctx.access_key_id)
            params = model.parse_input(ctx.operation, wire.decode_body(raw_body))
            handler = ops.handler_for(ctx.operation)
            with self.store.transaction(ctx.now) as tx:
                ctx.tx = tx
                lifecycle.catch_up(ctx)
                result = handler(ctx, params)
                body = model.serialize_output(ctx.operation, result) if model.output_shape_name(ctx.operation) else None
                event = self._record(tx, ctx, params, result)
            log.debug("%s %s ok", ctx.request_id, ctx.operation)
            self._publish(event)
            return 200, wire.encode(body), ctx.request_id
        except errors.KMSError as exc:
            if not ctx.operation:  # not a KMS operation; the record names what was asked
                ctx.operation = (target or "").rpartition(".")[2]
            log.info(
                "%s %s -> %s: %s%s", ctx.request_id, ctx.operation or target, exc.code, exc.message,
                f" ({exc.detail})" if exc.detail else "",
            )
            self._record_failure(ctx, params, exc)
            return exc.status, wire.error_body(exc), ctx.request_id
        except Exception:  # a bug of ours: AWS's internal error, never a traceback on the wire
            log.exception("%s %s failed", ctx.request_id, ctx.operation or target)
            exc = errors.KMSInternalException("fakekms failed to process the request; see its log.")
            self._record_failure(ctx, params, exc)
            return 500, wire.error_body(exc), ctx.request_id

    # --- audit ----------------------------------------------------------------------------

    def _record(self, tx, ctx: RequestContext, params, result=None, error=None) -> dict:
        """Builds the call's audit event and stores it in the open transaction, with the key use
        GetKeyLastUsage reports."""
        event = audit.build_event(ctx, params, result, error)
        tx.add_audit_event(ctx.now, ctx.operation, json.dumps(event))
        for account, region, key_id in audit.key_uses(ctx, event):
            tx.record_key_use(account, region, key_id, ctx.operation, ctx.now,
                              event["eventID"], ctx.request_id)
        return event

    def _record_failure(self, ctx: RequestContext, params, error: errors.KMSError) -> None:
        """A refused call's event, in a transaction of its own: the call's own was rolled back."""
        try:
            with self.store.transaction(ctx.now) as tx:
                event = self._record(tx, ctx, params, error=error)
        except Exception:  # the answer matters more than its record
            log.exception("%s could not record the audit event", ctx.request_id)
            return
        self._publish(event)

    def _publish(self, event: dict) -> None:
        if self.audit_file is not None:
            self.audit_file.write(event)

    def audit_events(self, event_name: str | None = None, key: str | None = None,
                     since: float | None = None) -> list[dict]:
        """The kept audit events, oldest first, filtered by name, key and start time."""
        events = (json.loads(doc) for _, doc in self.store.audit_events(event_name, since))
        return [event for event in events if key is None or audit.concerns(event, key)]

    def close(self) -> None:
        self.store.close()
        if self.audit_file is not None:
            self.audit_file.close()

    # --- admin ----------------------------------------------------------------------------

    def health(self) -> dict:
        return {
            "status": "ok",
            "version": __version__,
            "backend": self.store.backend,
            "db": self.store.path if self.store.persistent else None,
            "keys": self.store.key_count(),
            "region": self.region,
        }

    def reset(self) -> dict:
        """Back to a fresh server: no state but the start-up seed files' keys, the wall clock, a
        seeded generator at its first draw, an empty audit log."""
        self.store.reset()
        self.clock.reset()
        self.rng.restart()
        self._apply(self.seed_plans)
        return {"reset": True}

    def load_seed_file(self, path: str) -> dict:
        """Loads one more seed file now (until the next reset); SeedFileError if it is bad."""
        plan = seedfile.load(path, region=self.region, seed=self.seed)
        self._apply([plan])
        return {"keys": len(plan.keys), "aliases": len(plan.aliases)}

    def _apply(self, plans: list) -> None:
        if not plans:
            return
        now = self.clock.now()
        with self.store.transaction(now) as tx:  # every file whole, or none of them
            for plan in plans:
                plan.apply(tx, now)

    def clock_state(self) -> dict:
        now = self.clock.now()
        iso = datetime.datetime.fromtimestamp(now, datetime.timezone.utc).isoformat()
        return {"now": now, "iso": iso, "frozen": self.clock.frozen}

    def control_clock(self, body: dict) -> dict:
        """``{"advance": seconds}``, ``{"set": epoch seconds or ISO 8601, "frozen": bool}`` or
        ``{"reset": true}``; answers the clock's new state. Raises ValueError for anything else."""
        if not isinstance(body, dict) or len(body.keys() - {"frozen"}) != 1:
            raise ValueError(_CLOCK_USAGE)
        if "advance" in body:
            seconds = body["advance"]
            if isinstance(seconds, bool) or not isinstance(seconds, (int, float)):
                raise ValueError("advance takes a number of seconds")
            _check_time(self.clock.now() + seconds)
            self.clock.advance(seconds)
        elif "set" in body:
            epoch = _check_time(_epoch_seconds(body["set"]))
            self.clock.set(epoch, frozen=bool(body.get("frozen", False)))
        elif body.get("reset") is True:
            self.clock.reset()
        else:
            raise ValueError(_CLOCK_USAGE)
        return self.clock_state()

    def audit_query(self, query: str) -> dict:
        """``GET /_fakekms/audit?eventName=Decrypt&key=<id, ARN or alias>&since=<time>``."""
        args = urllib.parse.parse_qs(query, keep_blank_values=True)
        unknown = args.keys() - {"eventName", "key", "since"}
        if unknown:
            raise ValueError(f"unknown filter {sorted(unknown)[0]!r}; filters are eventName, key, since")
        one = {name: values[-1] for name, values in args.items()}
        since = one.get("since")
        if since is not None:
            try:
                since = _epoch_seconds(float(since))
            except ValueError:
                since = _epoch_seconds(since)
        return {"events": self.audit_events(one.get("eventName"), one.get("key"), since)}

    # --- WSGI -----------------------------------------------------------------------------

    def __call__(self, environ, start_response):
        method = environ.get("REQUEST_METHOD", "GET")
        path = environ.get("PATH_INFO", "/") or "/"
        if path.startswith("/_fakekms/"):
            return self._admin(method, path, environ, start_response)
        if path != "/" or method != "POST":
            exc = errors.UnknownOperationException(f"fakekms serves KMS at POST /, not {method} {path}")
            return self._respond(start_response, 404, wire.error_body(exc), str(uuid.uuid4()), close=True)
        raw = None if environ.get("fakekms.body_too_large") else _read_body(environ)
        if raw is None:
            exc = errors.RequestEntityTooLargeException(
                f"Request body is larger than {wire.MAX_BODY_BYTES} bytes")
            return self._respond(start_response, 413, wire.error_body(exc), str(uuid.uuid4()), close=True)
        status, body, request_id = self.handle(
            environ.get("HTTP_X_AMZ_TARGET"),
            raw,
            authorization=environ.get("HTTP_AUTHORIZATION"),
            source_ip=environ.get("REMOTE_ADDR"),
            user_agent=environ.get("HTTP_USER_AGENT"),
        )
        return self._respond(start_response, status, body, request_id)

    def _admin(self, method: str, path: str, environ, start_response):
        routes = {
            ("GET", "/_fakekms/health"): self.health,
            ("POST", "/_fakekms/reset"): self.reset,
            ("GET", "/_fakekms/clock"): self.clock_state,
            ("POST", "/_fakekms/clock"): lambda: self.control_clock(_json_body(environ)),
            ("GET", "/_fakekms/audit"): lambda: self.audit_query(environ.get("QUERY_STRING", "")),
            ("POST", "/_fakekms/seed-file"): lambda: self.load_seed_file(_path_in(_json_body(environ))),
        }
        action = routes.get((method, path))
        if action is None:
            known = any(p == path for _, p in routes)
            status = 405 if known else 404
            body = {"error": f"{method} {path} is not a fakekms admin route"}
        else:
            try:
                status, body = 200, action()
            except (ValueError, seedfile.SeedFileError) as exc:
                status, body = 400, {"error": str(exc)}
        payload = json.dumps(body).encode()
        start_response(_STATUS_TEXT[status], [("Content-Type", "application/json"),
                                              ("Content-Length", str(len(payload)))])
        return [payload]

    @staticmethod
    def _respond(start_response, status: int, body: bytes, request_id: str, *, close: bool = False):
        headers = [
            ("Content-Type", wire.CONTENT_TYPE),
            ("Content-Length", str(len(body))),
            ("x-amzn-RequestId", request_id),
        ]
        if close:  # the request body was not read: the connection cannot carry another request
            headers.append(("Connection", "close"))
        start_response(_STATUS_TEXT.get(status, f"{status} Error"), headers)
        return [body]


def _read_body(environ) -> bytes | None:
    """The request body, or None if it is over the size limit."""
    stream = environ["wsgi.input"]
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    if length > wire.MAX_BODY_BYTES:
        return None
    if length:
        return stream.read(length)
    if environ.get("wsgi.input_terminated"):
        data = stream.read(wire.MAX_BODY_BYTES + 1)
        return None if len(data) > wire.MAX_BODY_BYTES else data
    return b""


def _json_body(environ):
    raw = _read_body(environ)
    if raw is None:
        raise ValueError("request body too large")
    try:
        return json.loads(raw or b"{}")
    except ValueError:
        raise ValueError("request body is not JSON") from None


def _path_in(body) -> str:
    if not isinstance(body, dict) or not isinstance(body.get("path"), str):
        raise ValueError('send {"path": "<seed file>"}')
    return body["path"]


_CLOCK_USAGE = 'send one of {"advance": seconds}, {"set": time, "frozen": bool}, {"reset": true}'
_LATEST = 253402300799.0  # 9999-12-31T23:59:59Z, the last time a timestamp can show


def _check_time(epoch: float) -> float:
    """The clock stays between 1970 and 9999, where every response can render it."""
    if not 0.0 <= epoch <= _LATEST:  # also false for NaN
        raise ValueError("the clock must stay between 1970-01-01 and 9999-12-31")
    return epoch


def _epoch_seconds(value) -> float:
    """Epoch seconds from a number or an ISO 8601 string (a naive time is taken as UTC)."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, str):
        parsed = datetime.datetime.fromisoformat(value)
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=datetime.timezone.utc)
        return parsed.timestamp()
    raise ValueError("set takes epoch seconds or an ISO 8601 time")


def create_app(
    db: str = ":memory:",
    *,
    region: str = DEFAULT_REGION,
    seed: str | None = None,
    seed_files: list[str] = (),
    audit_log: str | None = None,
    audit_retention: int = DEFAULT_AUDIT_RETENTION,
) -> FakeKMS:
    """The app factory: a fresh fakekms on an in-memory or file-backed store, with the keys of
    its seed files; a seed makes its ids, key material and ciphertexts reproducible; every call
    is recorded in the audit log (and appended to ``audit_log``, a JSON-lines file, if given)."""
    store = Store(db, audit_retention=audit_retention)
    try:
        return FakeKMS(store, region=region, rng=random_source(seed), seed=seed,
                       seed_files=seed_files, audit_log=audit_log)
    except BaseException:
        store.close()
        raise
