"""The KMS request path, one call at a time, on plain values (no HTTP), so a transport other than
HTTP (the in-process mode) runs exactly the same steps:

    wire       operation from X-Amz-Target, JSON body, caller from the SigV4 credential scope
    validate   the request against the service model (types, required, ranges, enums, blobs)
    prepare    what an operation makes before any state is held: slow key material
    time       the timed events due by now (deletions, rotations, expiries), committed apart
    operation  in one write transaction: AWS managed keys the request names, the handler;
               every key it touches passes the authorize step (``authorize``)
    serialize  the output shape from the model, after commit
    audit      one CloudTrail event per call, answered or refused, after commit

Material made for a call that does not commit is destroyed; material of keys the call deleted
is destroyed once the deletion has committed.
"""

from __future__ import annotations

import logging
import threading
import time
from contextlib import contextmanager

from . import audit, errors, model, ops, signatures, wire
from .audit import AuditLog
from .authorize import Authorizer
from .clock import Clock
from .context import DEFAULT_ACCOUNT, Caller, RequestContext, random_id
from .crypto.backend import KeyBackend
from .identities import Identities
from .signatures import SignedRequest
from .ops import lifecycle
from .seeding import RandomSource
from .state import Store, StoreUnavailable

log = logging.getLogger("fakekms")
# One line per answered call at INFO; ``fakekms serve --quiet`` raises this logger's level.
access_log = logging.getLogger("fakekms.access")


def account_for(access_key_id: str | None) -> str:
    """A 12-digit access key id is taken as the account id; anything else is the default."""
    if access_key_id and len(access_key_id) == 12 and access_key_id.isdigit():
        return access_key_id
    return DEFAULT_ACCOUNT


# Operations that change no state (CloudTrail's readOnly ones, but GetParametersForImport, which
# keeps its import token): they run without the write lock until they write.
_READERS = frozenset(op for op in model.operation_names() if audit.read_only(op)) - {"GetParametersForImport"}
# Operations that read what the audit log writes (a key's last use): its held-back events first.
_READS_AUDIT = frozenset({"GetKeyLastUsage"})


# AWS's words for KMSInternalException (the service model's): what a call gets when the store
# cannot take it now; the reason goes to the log and the audit record.
_RETRY = "The request was rejected because an internal exception occurred. The request can be retried."


class Gate:
    """Calls pass side by side; a reset passes alone, after the calls under way and before the
    next, so no call sees half a reset. ``with gate:`` is a call."""

    def __init__(self) -> None:
        self._cond = threading.Condition(threading.Lock())
        self._calls = 0
        self._closed = False

    def __enter__(self) -> None:
        with self._cond:
            while self._closed:
                self._cond.wait()
            self._calls += 1

    def __exit__(self, *exc_info) -> None:
        with self._cond:
            self._calls -= 1
            if self._closed and not self._calls:
                self._cond.notify_all()

    def wait_for_reset(self, timeout: float) -> bool:
        """Whether a reset has begun (waiting or running) within ``timeout`` seconds."""
        with self._cond:
            return self._cond.wait_for(lambda: self._closed, timeout)

    @contextmanager
    def alone(self):
        with self._cond:
            while self._closed:
                self._cond.wait()
            self._closed = True
            self._cond.notify_all()
            while self._calls:
                self._cond.wait()
        try:
            yield
        finally:
            with self._cond:
                self._closed = False
                self._cond.notify_all()


class Pipeline:
    def __init__(self, *, store: Store, clock: Clock, rng: RandomSource, backend: KeyBackend,
                 authorizer: Authorizer, audit: AuditLog, region: str,
                 identities: Identities | None = None) -> None:
        self.store = store
        self.clock = clock
        self.rng = rng
        self.backend = backend
        self.authorizer = authorizer
        self.audit = audit
        self.region = region
        self.identities = identities or Identities()
        # Whether SigV4 signatures are checked against the identities' secrets.
        self.verify_signatures = False
        self.gate = Gate()
        ops.handlers()  # register every operation now, not on the first request

    def context(self, operation: str = "", *, source_ip: str | None = None,
                user_agent: str | None = None) -> RequestContext:
        """A call's context in the default account and Region, until its signature says more."""
        return RequestContext(
            operation=operation, account=DEFAULT_ACCOUNT, region=self.region,
            request_id=random_id(), now=self.clock.now(), source_ip=source_ip,
            user_agent=user_agent, rng=self.rng, backend=self.backend, authorizer=self.authorizer,
        )

    def handle(self, target: str | None, raw_body: bytes, *, authorization: str | None = None,
               source_ip: str | None = None, user_agent: str | None = None,
               signed: SignedRequest | None = None) -> tuple[int, bytes, str]:
        """One KMS call: (HTTP status, response body, request id)."""
        with self.gate:
            started = time.perf_counter()
            ctx = self.context(source_ip=source_ip, user_agent=user_agent)
            params = result = None
            try:
                ctx.operation = wire.operation_from_target(target)
                scope = wire.credential_scope(authorization)
                if scope:
                    access_key_id, ctx.region = scope
                    ctx.account = account_for(access_key_id)
                else:
                    access_key_id = None
                if self.verify_signatures:
                    identity = signatures.verify(signed or SignedRequest("POST", "/", "", {}, raw_body),
                                                 self.identities, ctx.now)
                else:
                    identity = self.identities.find(access_key_id)
                if identity is not None:
                    ctx.caller = identity.caller
                    ctx.account = ctx.caller.account
                else:
                    ctx.caller = Caller.root(ctx.account, ctx.region, access_key_id)
                params = model.parse_input(ctx.operation, wire.decode_body(raw_body))
                if ctx.operation in _READS_AUDIT:
                    self.audit.flush()
                result = self.run(ctx, ops.operation_for(ctx.operation), params)
                body = model.serialize_output(ctx.operation, result) if model.output_shape_name(ctx.operation) else None
            except errors.KMSError as exc:
                return self._refused(ctx, target, params, exc, started)
            except StoreUnavailable as exc:  # the disk is full, another process holds the lock...
                log.warning("%s %s failed: the store is unavailable: %s", ctx.request_id, ctx.operation, exc)
                return self._refused(ctx, target, params, errors.KMSInternalException(_RETRY, detail=str(exc)),
                                     started, status=500)
            except Exception:  # a bug of ours: AWS's internal error, never a traceback on the wire
                log.exception("%s %s failed", ctx.request_id, ctx.operation or target)
                exc = errors.KMSInternalException("fakekms failed to process the request; see its log.")
                return self._refused(ctx, target, params, exc, started, status=500)
            self.audit.record(ctx, params, result)
            if access_log.isEnabledFor(logging.INFO):
                access_log.info("%s %s %s 200 %.1fms", ctx.operation, _named_key(ctx, params),
                                ctx.caller.arn, (time.perf_counter() - started) * 1e3)
            return 200, wire.encode(body), ctx.request_id

    def run(self, ctx: RequestContext, op: ops.Operation, params: dict):
        """The operation's prepare step, then the operation in one write transaction. A call
        that only reads takes no write lock unless it writes; if it had to write (a timed event
        fell due, an AWS managed key was made) and another process held the lock, it runs again
        as a writer."""
        if op.prepare is not None:
            try:
                ctx.prepared = op.prepare(ctx, params)
            except BaseException:
                self._destroy(ctx.generated)
                raise
        work = lambda: ops.run(ctx, op, params)  # noqa: E731
        if op.prepare is None and ctx.operation in _READERS:
            try:
                return self._transact(ctx, work, read_only=True)
            except StoreUnavailable as exc:
                if not exc.locked:
                    raise
                ctx.service_events, ctx.retired = [], []
        return self._transact(ctx, work)

    def catch_up(self) -> None:
        """Runs the timed events due by now, outside any call (before a read-only view)."""
        ctx = self.context("CatchUp")
        ctx.caller = Caller.root(ctx.account, ctx.region)
        with self.store.read() as view:
            if view.next_due_key(ctx.now) is None:
                return
        with self.gate:
            self._transact(ctx, lambda: None)

    def _transact(self, ctx: RequestContext, work, read_only: bool = False):
        """``work()`` in one write transaction, as ``ctx.tx``, after the timed events due by
        now. Those are committed first if any ran, so a failing call does not undo them (and
        they are not run, and logged, again by the next call). Material made for the work is
        destroyed if it does not commit; material of keys deleted, once that has committed."""
        timed: list = []  # the service events of the timed events, once committed
        try:
            with self.store.transaction(read_only=read_only) as tx:
                ctx.tx = tx
                prepared = len(ctx.generated)
                if lifecycle.catch_up(ctx):
                    tx.commit_so_far()
                    self._destroy(ctx.retired)
                    del ctx.generated[prepared:]  # what the events made: the store holds it now
                    timed, ctx.service_events = ctx.service_events, []
                result = work()
        except BaseException:
            self._destroy(ctx.generated)
            self.audit.record_service_events(timed)
            raise
        finally:
            ctx.tx = None
        self._destroy(ctx.retired)
        self.audit.record_service_events(timed + ctx.service_events)
        return result

    def _refused(self, ctx: RequestContext, target: str | None, params, exc: errors.KMSError,
                 started: float, status: int | None = None) -> tuple[int, bytes, str]:
        if not ctx.operation:  # not a KMS operation; the record names what was asked
            ctx.operation = (target or "").rpartition(".")[2]
        if status is None:
            log.info("%s %s %s %s %d %s %.1fms: %s%s", ctx.request_id, ctx.operation or target,
                     _named_key(ctx, params), ctx.caller.arn if ctx.caller else "-", exc.status, exc.code,
                     (time.perf_counter() - started) * 1e3, exc.message,
                     f" ({exc.detail})" if exc.detail else "")
        self.audit.record(ctx, params, error=exc)
        return status or exc.status, wire.error_body(exc), ctx.request_id

    def _destroy(self, refs: list) -> None:
        for ref in refs:
            try:
                self.backend.destroy(ref)
            except Exception:  # a leak in the backend must not fail the call
                log.exception("could not destroy key material")
        refs.clear()


def _named_key(ctx: RequestContext, params: dict | None) -> str:
    """The key a call used (its id), else the one its request named, else "-"."""
    for _account, _region, key_id in ctx.keys.values():
        return key_id
    for member in ("KeyId", "DestinationKeyId", "TargetKeyId", "AliasName"):
        if params and isinstance(params.get(member), str):
            return params[member]
    return "-"
