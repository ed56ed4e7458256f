"""The admin routes under ``/_fakekms/``: health, reset, the clock, seed files, and read-only
views of keys, aliases and the audit log. JSON in, JSON out; a bad request answers 400 with
``{"error": ...}``. None of them is a KMS call: they leave no audit event.
"""

from __future__ import annotations

import datetime
import json
import urllib.parse
from typing import TYPE_CHECKING

from . import __version__, seedfile, wire
from .clock import check_time, epoch_seconds
from .identities import IdentityError
from .identities import parse as parse_identities

if TYPE_CHECKING:
    from .app import FakeKMS

STATUS_TEXT = {200: "200 OK", 400: "400 Bad Request", 404: "404 Not Found",
               405: "405 Method Not Allowed", 409: "409 Conflict", 413: "413 Request Entity Too Large",
               500: "500 Internal Server Error"}


class AdminRoutes:
    def __init__(self, app: "FakeKMS") -> None:
        self.app = app

    def __call__(self, method: str, path: str, environ, start_response):
        routes = {
            ("GET", "/_fakekms/health"): self.health,
            ("POST", "/_fakekms/reset"): self.app.reset,
            ("GET", "/_fakekms/clock"): self.clock_state,
            ("POST", "/_fakekms/clock"): lambda: self.control_clock(_json_body(environ)),
            ("GET", "/_fakekms/audit"): lambda: self.audit_query(environ.get("QUERY_STRING", "")),
            ("GET", "/_fakekms/keys"): lambda: {"keys": self.app.views.keys(**_scope(environ))},
            ("GET", "/_fakekms/aliases"): lambda: {"aliases": self.app.views.aliases(**_scope(environ))},
            ("GET", "/_fakekms/state"): self.app.views.state,
            ("POST", "/_fakekms/seed-file"): lambda: self.app.load_seed_file(_path_in(_json_body(environ))),
            ("POST", "/_fakekms/authorization"): lambda: self.set_authorization(_json_body(environ)),
            ("GET", "/_fakekms/identities"): lambda: {"identities": self.app.identities.listing()},
            ("POST", "/_fakekms/identities"): lambda: self.add_identities(_json_body(environ)),
        }
        action = routes.get((method, path))
        if action is not None and method == "POST" and self.app.workers > 1:
            status, body = 409, {"error": (
                f"{method} {path} would change one worker's state: with --workers {self.app.workers} each "
                "worker process keeps its own clock, identities, settings and seed files; serve with "
                "--workers 1 to change them at run time")}
        elif action is None:
            known = any(p == path for _, p in routes)
            status = 405 if known else 404
            body = {"error": f"{method} {path} is not a fakekms admin route; the routes are "
                             + ", ".join(f"{m} {p}" for m, p in routes)}
        else:
            try:
                status, body = 200, action()
            except (ValueError, seedfile.SeedFileError, IdentityError) as exc:
                status, body = 400, {"error": str(exc)}
        payload = json.dumps(body).encode()
        start_response(STATUS_TEXT[status], [("Content-Type", "application/json"),
                                             ("Content-Length", str(len(payload)))])
        return [payload]

    def set_authorization(self, body) -> dict:
        """``{"enforce_policies": true|false}`` until the next reset (which goes back to the
        server's start-up setting)."""
        if not isinstance(body, dict) or not isinstance(body.get("enforce_policies"), bool):
            raise ValueError('send {"enforce_policies": true} or {"enforce_policies": false}')
        self.app.enforce_policies = body["enforce_policies"]
        return {"enforce_policies": self.app.enforce_policies}

    def add_identities(self, body) -> dict:
        """Adds (or replaces, by access key id) the identities of ``{"identities": [...]}`` until
        the next reset; answers every identity the server now knows, without secrets."""
        if not isinstance(body, dict) or "identities" not in body:
            raise ValueError('send {"identities": [{"access_key_id": ..., "secret_access_key": ..., "arn": ...}]}')
        self.app.identities.add(parse_identities(body["identities"], "request"))
        return {"identities": self.app.identities.listing()}

    def health(self) -> dict:
        store = self.app.store
        accounts = self.app.views.counts()
        trouble = store.trouble
        return {
            "status": "degraded" if trouble else "ok",
            **({"reason": f"writes fail: {trouble}"} if trouble else {}),
            "version": __version__,
            "backend": store.backend,
            "db": store.location,
            "keys": sum(a["Keys"] for a in accounts),
            "region": self.app.region,
            "accounts": accounts,
            "enforce_policies": self.app.enforce_policies,
            "verify_signatures": self.app.verify_signatures,
            "workers": self.app.workers,
        }

    def clock_state(self) -> dict:
        now = self.app.clock.now()
        iso = datetime.datetime.fromtimestamp(now, datetime.timezone.utc).isoformat()
        return {"now": now, "iso": iso, "frozen": self.app.clock.frozen}

    def control_clock(self, body: dict) -> dict:
        """``{"advance": seconds}``, ``{"set": epoch seconds or ISO 8601, "frozen": bool}`` or
        ``{"reset": true}``; answers the clock's new state. Raises ValueError for anything else."""
        clock = self.app.clock
        if not isinstance(body, dict) or len(body.keys() - {"frozen"}) != 1:
            raise ValueError(_CLOCK_USAGE)
        if "advance" in body:
            seconds = body["advance"]
            if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or not seconds >= 0:
                raise ValueError(f"advance takes a number of seconds, 0 or more, not {seconds!r}; "
                                 'to go back in time, send {"set": <epoch seconds or ISO 8601>}')
            check_time(clock.now() + seconds)
            clock.advance(seconds)
        elif "set" in body:
            epoch = check_time(epoch_seconds(body["set"]))
            clock.set(epoch, frozen=bool(body.get("frozen", False)))
        elif body.get("reset") is True:
            clock.reset()
        else:
            raise ValueError(_CLOCK_USAGE)
        return self.clock_state()

    def audit_query(self, query: str) -> dict:
        """``GET /_fakekms/audit?eventName=Decrypt&key=<id, ARN or alias>&since=<time>``."""
        one = _query(query, {"eventName", "key", "since"})
        since = one.get("since")
        if since is not None:
            try:
                since = float(since)
            except ValueError:
                since = epoch_seconds(since, "since")
        return {"events": self.app.views.audit_events(one.get("eventName"), one.get("key"), since)}


def _query(query: str, allowed: set[str]) -> dict[str, str]:
    args = urllib.parse.parse_qs(query, keep_blank_values=True)
    unknown = args.keys() - allowed
    if unknown:
        raise ValueError(f"unknown filter {sorted(unknown)[0]!r}; filters are {', '.join(sorted(allowed))}")
    return {name: values[-1] for name, values in args.items()}


def _scope(environ) -> dict:
    """The ``account`` and ``region`` filters of a view route."""
    return _query(environ.get("QUERY_STRING", ""), {"account", "region"})


def read_body(environ) -> bytes | None:
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
    raw = read_body(environ)
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


