"""The audit log: one CloudTrail-format event per KMS call, shaped as CloudTrail logs KMS events.

The event's ``requestParameters`` and ``responseElements`` are the call's members as the model
describes them, named as CloudTrail names them (first letter lowercased; ``AWSAccountId`` kept),
with the defaults KMS filled in (``encryptionAlgorithm``, ``keySpec``...) and every blob and
every member the model marks sensitive left out: plaintext, ciphertext, signatures, key
material and private keys never reach the record. Like CloudTrail, read-only and cryptographic
calls log no response elements. What KMS does by itself (RotateKey, DeleteKey,
DeleteExpiredKeyMaterial) is an AwsServiceEvent with no caller, dated when it fell due.
"""

from __future__ import annotations

import datetime
import json
import logging
import threading
from functools import lru_cache

from . import model
from .context import RequestContext, ServiceEvent, random_id
from .state import KeyUse, Store, StoreUnavailable

log = logging.getLogger("fakekms")

EVENT_VERSION = "1.08"

# The operations KMS counts as cryptographic use of a key: what GetKeyLastUsage reports.
CRYPTOGRAPHIC_OPERATIONS = frozenset({
    "Decrypt", "DeriveSharedSecret", "Encrypt", "GenerateDataKey", "GenerateDataKeyPair",
    "GenerateDataKeyPairWithoutPlaintext", "GenerateDataKeyWithoutPlaintext", "GenerateMac",
    "ReEncrypt", "Sign", "Verify", "VerifyMac", "Encapsulate", "Decapsulate",
})

# Operations that change state; every other KMS call is logged with readOnly true.
_WRITE_PREFIXES = ("Cancel", "Connect", "Create", "Delete", "Disable", "Disconnect", "Enable",
                   "Import", "Put", "Replicate", "Retire", "Revoke", "Rotate", "Schedule", "Tag",
                   "Untag", "Update")


def read_only(operation: str) -> bool:
    return not operation.startswith(_WRITE_PREFIXES)


def event_time(epoch: float) -> str:
    """CloudTrail's eventTime: ISO 8601 UTC to the second."""
    return _second(int(epoch))


@lru_cache(maxsize=16)
def _second(epoch: int) -> str:  # calls come many to the second
    return datetime.datetime.fromtimestamp(epoch, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _element_time(epoch: float) -> str:
    """How CloudTrail renders a timestamp inside request and response elements; one past what a
    date can hold (a ValidTo in the year 10000) as its number."""
    try:
        moment = datetime.datetime.fromtimestamp(epoch, datetime.timezone.utc)
    except (OverflowError, OSError, ValueError):
        return repr(epoch)
    hour = moment.hour % 12 or 12
    return f"{moment:%b} {moment.day}, {moment.year}, {hour}:{moment:%M:%S} {moment:%p}"


_OMIT = object()
# Grant tokens act as credentials for whoever holds them: never recorded.
_BEARER_MEMBERS = frozenset({"GrantToken", "GrantTokens"})


def _cloudtrail_name(member: str) -> str:
    """keyId for KeyId; an initialism such as AWSAccountId stays as it is."""
    return member if member[1:2].isupper() else member[:1].lower() + member[1:]


def _create_key_defaults(params: dict) -> dict:
    spec = params.get("KeySpec") or params.get("CustomerMasterKeySpec") or "SYMMETRIC_DEFAULT"
    out = {"Description": "", "Origin": "AWS_KMS", "BypassPolicyLockoutSafetyCheck": False,
           "CustomerMasterKeySpec": spec, "KeySpec": spec}
    if spec == "SYMMETRIC_DEFAULT":
        out["KeyUsage"] = "ENCRYPT_DECRYPT"
    return out


# The members KMS fills in when a caller leaves them out, as its CloudTrail entries show them.
_DEFAULTS = {
    "Encrypt": lambda p: {"EncryptionAlgorithm": "SYMMETRIC_DEFAULT"},
    "Decrypt": lambda p: {"EncryptionAlgorithm": "SYMMETRIC_DEFAULT"},
    "ReEncrypt": lambda p: {"SourceEncryptionAlgorithm": "SYMMETRIC_DEFAULT",
                            "DestinationEncryptionAlgorithm": "SYMMETRIC_DEFAULT"},
    "Sign": lambda p: {"MessageType": "RAW"},
    "Verify": lambda p: {"MessageType": "RAW"},
    "CreateKey": _create_key_defaults,
    "ScheduleKeyDeletion": lambda p: {"PendingWindowInDays": 30},
}


def _view(shape_name: str, value):
    """A value as CloudTrail records it, or _OMIT for a blob or a sensitive member."""
    shape = model.shapes()[shape_name]
    kind = shape["type"]
    if shape.get("sensitive") or kind == "blob":
        return _OMIT
    if kind == "structure":
        members = shape.get("members", {})
        out = {}
        for name, item in value.items():
            if item is None or name not in members or name in _BEARER_MEMBERS:
                continue
            rendered = _view(members[name]["shape"], item)
            if rendered is not _OMIT:
                out[_cloudtrail_name(name)] = rendered
        return out
    if kind == "list":
        member = shape["member"]["shape"]
        return [v for v in (_view(member, item) for item in value) if v is not _OMIT]
    if kind == "map":
        member = shape["value"]["shape"]
        return {k: v for k, v in ((k, _view(member, item)) for k, item in value.items()) if v is not _OMIT}
    if kind == "timestamp":
        return _element_time(value)
    return value


def request_parameters(operation: str, params: dict | None) -> dict | None:
    shape = model.input_shape_name(operation)
    defaults = _DEFAULTS.get(operation)
    if defaults is not None and params is not None:
        params = {**defaults(params), **params}
    if shape is None or not params:
        return None
    return _view(shape, params) or None


def response_elements(operation: str, result: dict | None) -> dict | None:
    shape = model.output_shape_name(operation)
    if shape is None or not result or read_only(operation):
        return None
    return _view(shape, result) or None


def user_identity(caller, ctx: RequestContext) -> dict:
    """CloudTrail's userIdentity for the caller: Root, IAMUser, or AssumedRole with its
    sessionContext; ``invokedBy`` when an AWS service made the call on the principal's behalf.
    Made once per caller and access key (events are only ever serialized, never changed)."""
    if caller is None:
        return _user_identity(caller, ctx)
    cache_key = (caller, ctx.access_key_id)
    identity = _IDENTITIES.get(cache_key)
    if identity is None:
        if len(_IDENTITIES) >= 1024:
            _IDENTITIES.clear()
        identity = _IDENTITIES[cache_key] = _user_identity(caller, ctx)
    return identity


_IDENTITIES: dict = {}


def _user_identity(caller, ctx: RequestContext) -> dict:
    if caller is None:
        identity = {"type": "Root", "principalId": ctx.account, "arn": ctx.root_arn(), "accountId": ctx.account}
    else:
        identity = {"type": caller.type, "principalId": caller.principal_id or caller.account,
                    "arn": caller.arn, "accountId": caller.account}
    if ctx.access_key_id:
        identity["accessKeyId"] = ctx.access_key_id
    if caller is not None and caller.type == "IAMUser":
        identity["userName"] = caller.user_name
    if caller is not None and caller.type == "AssumedRole":
        identity["sessionContext"] = {
            "sessionIssuer": {"type": "Role", "principalId": caller.issuer_principal_id,
                              "arn": caller.session_issuer, "accountId": caller.account,
                              "userName": caller.user_name},
            "attributes": {"mfaAuthenticated": "false"},
        }
    if caller is not None and caller.invoked_by:
        identity["invokedBy"] = caller.invoked_by
    return identity


def build_event(
    ctx: RequestContext,
    params: dict | None,
    result: dict | None = None,
    error=None,
) -> dict:
    """The CloudTrail event for one call; ``error`` is the KMSError it failed with, if it did."""
    operation = ctx.operation
    caller = ctx.caller
    identity = user_identity(caller, ctx)
    event = {
        "eventVersion": EVENT_VERSION,
        "userIdentity": identity,
        "eventTime": event_time(ctx.now),
        "eventSource": "kms.amazonaws.com",
        "eventName": operation,
        "awsRegion": ctx.region,
        "sourceIPAddress": (caller.invoked_by if caller and caller.invoked_by else None)
                           or ctx.source_ip or "127.0.0.1",
        "userAgent": (caller.invoked_by if caller and caller.invoked_by else None) or ctx.user_agent or "",
    }
    if error is not None:
        event["errorCode"] = error.code
        if error.message:  # CloudTrail has no errorMessage where AWS sends none
            event["errorMessage"] = error.message
    known = operation in model.operations()
    event["requestParameters"] = request_parameters(operation, params) if known else None
    event["responseElements"] = response_elements(operation, result) if known and error is None else None
    if error is not None and error.detail:
        event["additionalEventData"] = {"fakekmsReason": error.detail}
    event.update({
        "requestID": ctx.request_id,
        "eventID": random_id(),
        "readOnly": read_only(operation),
        "resources": [
            {"accountId": account, "type": "AWS::KMS::Key", "ARN": arn}
            for arn, (account, _region, _key_id) in ctx.keys.items()
        ],
        "eventType": "AwsApiCall",
        "managementEvent": True,
        "recipientAccountId": ctx.account,
        "eventCategory": "Management",
    })
    return event


def service_event(event: ServiceEvent) -> dict:
    """CloudTrail's record of something KMS did by itself: no caller, AWS Internal."""
    return {
        "eventVersion": EVENT_VERSION,
        "userIdentity": {"accountId": event.account, "invokedBy": "AWS Internal"},
        "eventTime": event_time(event.at),
        "eventSource": "kms.amazonaws.com",
        "eventName": event.name,
        "awsRegion": event.region,
        "sourceIPAddress": "AWS Internal",
        "userAgent": "AWS Internal",
        "requestParameters": None,
        "responseElements": event.response,
        "eventID": random_id(),
        "readOnly": False,
        "resources": [{"accountId": event.account, "type": "AWS::KMS::Key", "ARN": event.arn}],
        "eventType": "AwsServiceEvent",
        "managementEvent": True,
        "recipientAccountId": event.account,
        **({"serviceEventDetails": event.details} if event.details else {}),
        "eventCategory": "Management",
    }


def key_uses(ctx: RequestContext, event: dict) -> list[tuple[str, str, str]]:
    """(account, Region, key id) of every key this event counts as a use of, for GetKeyLastUsage:
    a successful cryptographic operation uses every key it touched (ReEncrypt, two)."""
    if "errorCode" in event or ctx.operation not in CRYPTOGRAPHIC_OPERATIONS:
        return []
    return list(ctx.keys.values())


def concerns(event: dict, key: str) -> bool:
    """Whether an event is about ``key``: a key id or ARN among its resources, or the KeyId
    exactly as the request gave it (an alias name, say)."""
    arns = [r["ARN"] for r in event.get("resources", [])]
    named = (event.get("requestParameters") or {}).get("keyId")
    return key in arns or any(arn.endswith("/" + key) for arn in arns) or key == named


_compact = json.JSONEncoder(separators=(",", ":")).encode


class AuditLog:
    """Where every call's event goes, once the call's own transaction has ended: the store (with
    the key use GetKeyLastUsage reports) and, if given, the ``--audit-log`` file.

    A file store gets each event as its call ends, in a short transaction of its own. An
    in-memory store, which nothing outside this process reads, gets them in batches of
    ``IN_MEMORY_BATCH``: one transaction, each key's last use written once. Every reader of
    the audit store calls ``flush()`` first (the views, GetKeyLastUsage)."""

    IN_MEMORY_BATCH = 64
    # Events kept while the store cannot take them; past this, the oldest are dropped.
    HELD_LIMIT = 10_000

    def __init__(self, store: Store, path: str | None = None) -> None:
        self.store = store
        self.file = AuditFile(path) if path else None
        self.batch = 1 if store.persistent else self.IN_MEMORY_BATCH
        self._pending: list[tuple[float, str, dict, list]] = []
        self._pending_lock = threading.Lock()
        self._flush_lock = threading.Lock()  # batches are written in the order they were made

    def record(self, ctx: RequestContext, params: dict | None, result: dict | None = None,
               error=None) -> None:
        event = build_event(ctx, params, result, error)
        use = KeyUse(ctx.operation, ctx.now, event["eventID"], ctx.request_id)
        self._add(ctx.now, ctx.operation, event, [(*key, use) for key in key_uses(ctx, event)])

    def record_service_events(self, events: list[ServiceEvent]) -> None:
        for event in events:
            self._add(event.at, event.name, service_event(event), [])

    def _add(self, at: float, name: str, event: dict, uses: list) -> None:
        if self.file is not None:
            self.file.write(event)
        with self._pending_lock:
            self._pending.append((at, name, event, uses))
            full = len(self._pending) >= self.batch or self.store.trouble is not None
        if full:
            self.flush()

    def flush(self) -> None:
        """Writes the events not yet in the store. While the store cannot take them (its disk is
        full, another process holds its lock) they wait in memory, up to ``HELD_LIMIT``, for a
        later flush: an answer never waits on its own record."""
        with self._flush_lock:
            with self._pending_lock:
                pending, self._pending = self._pending, []
            if not pending:
                return
            last_use = {}
            for _, _, _, uses in pending:
                for account, region, key_id, use in uses:
                    last_use[account, region, key_id] = use
            try:
                self.store.append_audit_batch([(at, name, _compact(event)) for at, name, event, _ in pending],
                                              [(*key, use) for key, use in last_use.items()],
                                              wait=self.store.trouble is None)
            except StoreUnavailable as exc:
                with self._pending_lock:
                    self._pending = (pending + self._pending)[-self.HELD_LIMIT:]
                    held = len(self._pending)
                log.error("audit events wait in memory (%d now): %s", held, exc)
            except Exception:
                log.exception("could not record %d audit events", len(pending))

    def discard(self) -> None:
        """Drops the events not yet written (a reset wipes the audit log)."""
        with self._pending_lock:
            self._pending = []

    def close(self) -> None:
        self.flush()
        if self.file is not None:
            self.file.close()


class AuditFile:
    """The ``--audit-log`` file: each event as one JSON line, flushed as it is written."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._file = open(path, "a", encoding="utf-8")  # noqa: SIM115 - open for the app's life
        self._lock = threading.Lock()

    def write(self, event: dict) -> None:
        line = json.dumps(event, separators=(",", ":")) + "\n"
        with self._lock:
            self._file.write(line)
            self._file.flush()

    def close(self) -> None:
        with self._lock:
            self._file.close()
