"""The fakekms application: a WSGI app that serves KMS at ``POST /`` and the admin routes under
``/_fakekms/``, put together from its parts: the store, the clock, the random source, the key
backend, the authorize step, the KMS pipeline, the audit log and the read-only views.

The app is plain WSGI rather than a Flask app: KMS has a single route, and skipping Flask's import
(about 100 ms) and per-request layers keeps start-up and every call short.
"""

from __future__ import annotations


from . import errors, identities, seedfile, wire
from .admin import STATUS_TEXT, AdminRoutes, read_body
from .audit import AuditLog
from .authorize import Authorizer, DefaultAuthorizer, PolicyAuthorizer
from .clock import Clock, check_time, epoch_seconds
from .context import DEFAULT_REGION, random_id
from .crypto.backend import KeyBackend
from .crypto.software import SoftwareBackend
from .identities import Identities
from .pipeline import Pipeline
from .signatures import SignedRequest
from .seeding import RandomSource, random_source
from .state import DEFAULT_AUDIT_RETENTION, Store, open_store
from .views import Views


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
        backend: KeyBackend | None = None,
        authorizer: Authorizer | None = None,
        identity_files: list[str] = (),
        enforce_policies: bool = False,
        verify_signatures: bool = False,
    ) -> None:
        self.store = store if store is not None else open_store()
        self.region = region
        self.clock = clock or Clock()
        self.seed = seed
        self.rng = rng or random_source(seed)
        self.backend = backend or SoftwareBackend(self.rng)
        self.audit = AuditLog(self.store, audit_log)
        # Read and checked before anything starts: a bad file raises IdentityError here.
        self.identities = Identities([i for path in identity_files for i in identities.load(path)])
        self.pipeline = Pipeline(store=self.store, clock=self.clock, rng=self.rng, backend=self.backend,
                                 authorizer=authorizer or _authorizer(enforce_policies), audit=self.audit,
                                 region=region, identities=self.identities)
        self.enforce_policies_at_start = enforce_policies
        # Worker processes serving this state (``fakekms serve --workers``): above 1, the admin
        # routes that change one process's state are refused.
        self.workers = 1
        self.pipeline.verify_signatures = verify_signatures
        self.views = Views(self.store, self.pipeline.catch_up, self.audit.flush)
        self.admin = AdminRoutes(self)
        # Read and checked before anything else starts: a bad file raises SeedFileError here.
        self.seed_plans = [seedfile.load(path, region=region, seed=seed) for path in seed_files]
        self._apply(self.seed_plans)

    @property
    def verify_signatures(self) -> bool:
        return self.pipeline.verify_signatures

    @verify_signatures.setter
    def verify_signatures(self, on: bool) -> None:
        self.pipeline.verify_signatures = on

    @property
    def enforce_policies(self) -> bool:
        return isinstance(self.pipeline.authorizer, PolicyAuthorizer)

    @enforce_policies.setter
    def enforce_policies(self, on: bool) -> None:
        """Key policies, IAM policies and grants decide (on), or only AWS managed keys' policies
        (off, the default: everything else is allowed)."""
        self.pipeline.authorizer = _authorizer(on)

    @property
    def authorizer(self) -> Authorizer:
        return self.pipeline.authorizer

    @authorizer.setter
    def authorizer(self, authorizer: Authorizer) -> None:
        self.pipeline.authorizer = authorizer

    def handle(self, target: str | None, raw_body: bytes, **request) -> tuple[int, bytes, str]:
        """One KMS call: (HTTP status, response body, request id); see ``Pipeline.handle``."""
        return self.pipeline.handle(target, raw_body, **request)

    def audit_events(self, event_name: str | None = None, key: str | None = None,
                     since: float | None = None) -> list[dict]:
        return self.views.audit_events(event_name, key, since)

    def reset(self) -> dict:
        """Back to a fresh server: no state but the start-up seed files' keys, the wall clock, a
        seeded generator at its first draw, an empty audit log. Atomic: a call runs wholly
        before or wholly after it."""
        with self.pipeline.gate.alone():
            self.clock.reset()
            self.rng.restart()
            self.identities.reset()
            self.enforce_policies = self.enforce_policies_at_start
            self.audit.discard()
            with self.store.transaction() as tx:
                tx.wipe()
                self._write_seeds(tx, self.seed_plans)
        return {"reset": True}

    def load_seed_file(self, path: str) -> dict:
        """Loads one more seed file now (until the next reset); SeedFileError if it is bad.
        Answers what it made, per account and Region: a key and each of its replicas count."""
        plan = seedfile.load(path, region=self.region, seed=self.seed)
        with self.pipeline.gate.alone():
            self._apply([plan])
        accounts = plan.counts()
        return {"keys": sum(a["Keys"] for a in accounts), "aliases": sum(a["Aliases"] for a in accounts),
                "accounts": accounts}

    def _apply(self, plans: list) -> None:
        if plans:
            with self.store.transaction() as tx:  # every file whole, or none of them
                replaced = self._write_seeds(tx, plans)
            for ref in replaced:
                self.backend.destroy(ref)

    def _write_seeds(self, tx, plans: list) -> list[bytes]:
        now = self.clock.now()
        return [ref for plan in plans for ref in plan.apply(tx, now, self.backend)]

    def close(self) -> None:
        self.audit.close()  # its last events first
        self.store.close()

    # --- WSGI -----------------------------------------------------------------------------

    def __call__(self, environ, start_response):
        method = environ.get("REQUEST_METHOD", "GET")
        path = environ.get("PATH_INFO", "/") or "/"
        if path.startswith("/_fakekms/"):
            return self.admin(method, path, environ, start_response)
        if path != "/" or method != "POST":
            exc = errors.UnknownOperationException(f"fakekms serves KMS at POST /, not {method} {path}")
            return self._respond(start_response, 404, wire.error_body(exc), random_id(), close=True)
        raw = None if environ.get("fakekms.body_too_large") else read_body(environ)
        if raw is None:
            exc = errors.RequestEntityTooLargeException(
                f"Request body is larger than {wire.MAX_BODY_BYTES} bytes")
            return self._respond(start_response, 413, wire.error_body(exc), random_id(), close=True)
        status, headers, body = self.answer(
            environ.get("HTTP_X_AMZ_TARGET"),
            raw,
            authorization=environ.get("HTTP_AUTHORIZATION"),
            source_ip=environ.get("REMOTE_ADDR"),
            user_agent=environ.get("HTTP_USER_AGENT"),
            signed=_signed_request(environ, raw) if self.pipeline.verify_signatures else None,
        )
        start_response(STATUS_TEXT.get(status, f"{status} Error"), headers)
        return [body]

    def answer(self, target: str | None, raw: bytes, **request) -> tuple[int, list, bytes]:
        """One KMS call, as HTTP: (status, response headers, body). The server calls it
        directly for ``POST /`` (no WSGI environ to build); ``__call__`` for everything."""
        status, body, request_id = self.handle(target, raw, **request)
        return status, _headers(body, request_id), body

    @staticmethod
    def _respond(start_response, status: int, body: bytes, request_id: str, *, close: bool = False):
        headers = _headers(body, request_id)
        if close:  # the request body was not read: the connection cannot carry another request
            headers.append(("Connection", "close"))
        start_response(STATUS_TEXT.get(status, f"{status} Error"), headers)
        return [body]


def _headers(body: bytes, request_id: str) -> list[tuple[str, str]]:
    return [("Content-Type", wire.CONTENT_TYPE), ("Content-Length", str(len(body))), ("x-amzn-RequestId", request_id)]


def create_app(
    db: str = ":memory:",
    *,
    region: str = DEFAULT_REGION,
    seed: str | None = None,
    seed_files: list[str] = (),
    audit_log: str | None = None,
    audit_retention: int = DEFAULT_AUDIT_RETENTION,
    clock: float | str | None = None,
    frozen: bool = False,
    identity_files: list[str] = (),
    enforce_policies: bool = False,
    verify_signatures: bool = False,
) -> FakeKMS:
    """The app factory: a fresh fakekms on an in-memory or file-backed store, with the keys of
    its seed files; a seed makes its ids, key material and ciphertexts reproducible; every call
    is recorded in the audit log (and appended to ``audit_log``, a JSON-lines file, if given).
    ``clock`` starts the clock at that time (epoch seconds or ISO 8601) and ``frozen`` stops it
    there: with a seed, two runs then answer the same bytes, timestamps included."""
    start = None if clock is None else check_time(epoch_seconds(clock, "clock"))
    store = open_store(db, audit_retention=audit_retention)
    try:
        return FakeKMS(store, region=region, rng=random_source(seed), seed=seed,
                       seed_files=seed_files, audit_log=audit_log, clock=Clock(start, frozen=frozen),
                       identity_files=identity_files, enforce_policies=enforce_policies,
                       verify_signatures=verify_signatures)
    except BaseException:
        store.close()
        raise


def _authorizer(enforce_policies: bool) -> Authorizer:
    return PolicyAuthorizer() if enforce_policies else DefaultAuthorizer()


def _signed_request(environ, body: bytes) -> SignedRequest:
    """What a SigV4 signature covers, read back from the WSGI environ."""
    headers = {name[5:].replace("_", "-").lower(): value for name, value in environ.items()
               if name.startswith("HTTP_")}
    for name in ("CONTENT_TYPE", "CONTENT_LENGTH"):
        if environ.get(name):
            headers[name.replace("_", "-").lower()] = environ[name]
    return SignedRequest(environ.get("REQUEST_METHOD", "POST"), environ.get("PATH_INFO", "/") or "/",
                         environ.get("QUERY_STRING", ""), headers, body)

