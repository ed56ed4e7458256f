"""The request context an operation runs in: who is calling, where, when, and with what."""

from __future__ import annotations

import os
from dataclasses import dataclass, field, fields
from functools import lru_cache
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .authorize import Authorizer
    from .crypto.backend import KeyBackend
    from .state import KeyRecord, Transaction

DEFAULT_ACCOUNT = "123456789012"
DEFAULT_REGION = "us-east-1"


def random_id() -> str:
    """A random UUID (version 4), as request and event ids are: ``str(uuid.uuid4())`` at a third
    of its cost, which two ids a call make worth it."""
    h = os.urandom(16).hex()
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{'89ab'[int(h[16], 16) & 3]}{h[17:20]}-{h[20:]}"


def partition_of(region: str) -> str:
    if region.startswith("cn-"):
        return "aws-cn"
    if region.startswith("us-gov-"):
        return "aws-us-gov"
    return "aws"


@dataclass(frozen=True)
class Caller:
    """Who signed the request: an account's root, an IAM user, or an assumed-role session
    (``identities`` makes them), as CloudTrail's userIdentity describes it; the access key id is
    kept as the request gave it. ``via_service`` is the service endpoint the call came through
    (kms:ViaService), ``invoked_by`` that service's name as CloudTrail shows it."""

    account: str
    arn: str
    type: str = "Root"
    access_key_id: str | None = None
    principal_id: str | None = None
    user_name: str | None = None
    session_issuer: str | None = None
    issuer_principal_id: str | None = None
    via_service: str | None = None
    invoked_by: str | None = None
    # The identity's IAM policy documents, as JSON text (hashable, like the rest).
    policies: tuple[str, ...] = ()
    # Its IAM tags, (key, value) pairs: the aws:PrincipalTag/<key> condition keys.
    tags: tuple[tuple[str, str], ...] = ()
    # The resource a via_service call is made for: aws:SourceArn and aws:SourceAccount.
    source_arn: str | None = None

    def __hash__(self) -> int:
        """Hashed once: callers key the caches of every call (authorization, audit)."""
        try:
            return self.__dict__["_hash"]
        except KeyError:
            value = hash(tuple(self.__dict__[f.name] for f in fields(self)))
            object.__setattr__(self, "_hash", value)
            return value

    @staticmethod
    @lru_cache(maxsize=1024)
    def root(account: str, region: str, access_key_id: str | None = None) -> "Caller":
        """The account's root user (one object per account, Region and key: callers repeat)."""
        return Caller(account, f"arn:{partition_of(region)}:iam::{account}:root", "Root", access_key_id)


@dataclass(frozen=True)
class ServiceEvent:
    """Something KMS did by itself to a key, at clock time ``at``."""

    name: str
    at: float
    account: str
    region: str
    arn: str
    details: dict | None = None
    response: dict | None = None


@dataclass
class RequestContext:
    operation: str
    account: str
    region: str
    request_id: str
    now: float
    caller: Caller | None = None
    source_ip: str | None = None
    user_agent: str | None = None
    # Set by the pipeline: the open store transaction (None outside it), the random source, the
    # key backend and the authorize step.
    tx: Transaction | None = None
    rng: Any = None
    backend: KeyBackend | None = None
    authorizer: Authorizer | None = None
    # What the operation's prepare step made before the transaction (see ``ops.operation``).
    prepared: Any = None
    # The validated request, once the operation runs: condition keys are read from it.
    params: dict | None = None
    # The grant a RetireGrant call names: its retiring principal needs no policy to retire it.
    grant: Any = None
    # Material references made for this call: destroyed if its transaction does not commit.
    generated: list = field(default_factory=list)
    # Material references of deleted keys: destroyed once the deletion commits.
    retired: list = field(default_factory=list)
    # The keys the call touched, ARN -> (account, Region, key id): the audit event's resources.
    keys: dict = field(default_factory=dict)
    # What KMS did by itself in this transaction (RotateKey, DeleteKey, DeleteExpiredKeyMaterial):
    # CloudTrail's AwsServiceEvent records, written once the transaction commits.
    service_events: list = field(default_factory=list)

    @property
    def access_key_id(self) -> str | None:
        return self.caller.access_key_id if self.caller else None

    def touch(self, key: KeyRecord) -> None:
        """Notes that the call used ``key``, found or made."""
        self.keys.setdefault(key.arn, (key.account, key.region, key.key_id))

    def service_event(self, name: str, key: KeyRecord, at: float, details: dict | None = None,
                      response: dict | None = None) -> None:
        """Notes an event KMS logs without a caller: CloudTrail's AwsServiceEvent."""
        self.service_events.append(ServiceEvent(name, at, key.account, key.region, key.arn, details, response))

    def backend_for(self, key: KeyRecord) -> KeyBackend:
        """The backend that holds ``key``'s material (every key's is software today; a key in a
        custom key store will name its own)."""
        return self.backend

    def generate(self, key_spec: str) -> bytes:
        """New material from the default backend, destroyed again if the call does not commit."""
        ref = self.backend.generate(key_spec)
        self.generated.append(ref)
        return ref

    @property
    def partition(self) -> str:
        return partition_of(self.region)

    def key_arn(self, key_id: str) -> str:
        return f"arn:{self.partition}:kms:{self.region}:{self.account}:key/{key_id}"

    def alias_arn(self, alias_name: str) -> str:
        return f"arn:{self.partition}:kms:{self.region}:{self.account}:{alias_name}"

    def root_arn(self) -> str:
        return f"arn:{self.partition}:iam::{self.account}:root"
