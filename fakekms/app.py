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
import uuid

from . import __version__, errors, model, ops, wire
from .clock import Clock
from .context import DEFAULT_ACCOUNT, DEFAULT_REGION, RequestContext
from .seeding import RandomSource, random_source
from .state import Store

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
    ) -> None:
        self.store = store if store is not None else Store()
        self.region = region
        self.clock = clock or Clock()
        self.rng = rng or random_source(seed)
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
        """One KMS call: (HTTP status, response body, request id)."""
        request_id = str(uuid.uuid4())
        operation = None
        try:
            operation = wire.operation_from_target(target)
            scope = wire.credential_scope(authorization)
            access_key_id, region = scope if scope else (None, self.region)
            ctx = RequestContext(
                operation=operation,
                account=account_for(access_key_id),
                region=region,
                request_id=request_id,
                now=self.clock.now(),
                access_key_id=access_key_id,
                source_ip=source_ip,
                user_agent=user_agent,
                rng=self.rng,
            )
            params = model.parse_input(operation, wire.decode_body(raw_body))
            handler = ops.handler_for(operation)
            with self.store.transaction(ctx.now) as tx:
                ctx.tx = tx
                result = handler(ctx, params)
            body = model.serialize_output(operation, result) if model.output_shape_name(operation) else None
            log.debug("%s %s ok", request_id, operation)
            return 200, wire.encode(body), request_id
        except errors.KMSError as exc:
            log.info(
                "%s %s -> %s: %s%s", request_id, operation or target, exc.code, exc.message,
                f" ({exc.detail})" if exc.detail else "",
            )
            return exc.status, wire.error_body(exc), request_id
        except Exception:  # a bug of ours: AWS's internal error, never a traceback on the wire
            log.exception("%s %s failed", request_id, operation or target)
            exc = errors.KMSInternalException("fakekms failed to process the request; see its log.")
            return 500, wire.error_body(exc), request_id

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
        """Back to a fresh server: no state, the wall clock, a seeded generator at its first draw."""
        self.store.reset()
        self.clock.reset()
        self.rng.restart()
        return {"reset": True}

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
        }
        action = routes.get((method, path))
        if action is None:
            known = any(p == path for _, p in routes)
            status = 405 if known else 404
            body = {"error": f"{method} {path} is not a fakekms admin route"}
        else:
            try:
                status, body = 200, action()
            except ValueError as exc:
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


def create_app(db: str = ":memory:", *, region: str = DEFAULT_REGION, seed: str | None = None) -> FakeKMS:
    """The app factory: a fresh fakekms on an in-memory or file-backed store; a seed makes its
    ids, key material and ciphertexts reproducible."""
    return FakeKMS(Store(db), region=region, rng=random_source(seed))
