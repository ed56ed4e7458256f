"""Callers: the IAM identities a signed request can be made by.

An identities file (``fakekms serve --identities PATH``, YAML or JSON) and ``POST
/_fakekms/identities`` name access keys and the principal behind each: an account's root, an
IAM user, a role, or an assumed-role session, optionally calling through an AWS service
(``via_service``). A request signed with a known access key id is made by that principal; any
other access key keeps the old rule (12 digits: that account's root; else the default account's).

Secret keys and session tokens are kept for signature checking (the next layer) and never leave
this module: not in listings, logs, errors or the audit log.
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
from functools import cached_property
from dataclasses import dataclass, field, replace
from pathlib import Path

from .context import Caller

_FIELDS = ("access_key_id", "secret_access_key", "session_token", "arn", "via_service", "policies", "tags",
           "source_arn")
_REQUIRED = ("access_key_id", "secret_access_key", "arn")
_ACCESS_KEY_ID = re.compile(r"[A-Za-z0-9]{4,128}")
_ARN = re.compile(
    r"arn:(?P<partition>aws|aws-cn|aws-us-gov):(?:"
    r"iam::(?P<account>\d{12}):(?P<kind>root|user|role)(?:/(?P<path>[\w+=,.@/-]+))?"
    r"|sts::(?P<sts_account>\d{12}):assumed-role/(?P<role>[\w+=,.@-]+)/(?P<session>[\w+=,.@-]+))"
)
# IAM's rules for principal tags: up to 50, keys 1-128 and values 0-256 characters of these.
_TAG_TEXT = re.compile(r"[\w\s.:/=+\-@]*")
_MAX_TAGS = 50
_RESOURCE_ARN = re.compile(r"arn:(?:aws|aws-cn|aws-us-gov):[a-z0-9-]+:[a-z0-9-]*:(?P<account>\d{12})?:.+")
_VIA_SERVICE = re.compile(r"(?P<service>[a-z0-9-]+)\.(?P<region>[a-z0-9-]+)\.amazonaws\.com(?:\.cn)?")
# The session name fakekms gives a role identity, which signs as a session of that role.
ROLE_SESSION = "fakekms"


class IdentityError(ValueError):
    """A bad identities file or entry; the message names the entry and the field."""


@dataclass(frozen=True)
class Identity:
    access_key_id: str
    secret_access_key: str = field(repr=False)
    arn: str
    session_token: str | None = field(default=None, repr=False)
    via_service: str | None = None
    policies: tuple = ()
    # The principal's IAM tags (a user's, or a role's with its session tags): aws:PrincipalTag/*.
    tags: tuple[tuple[str, str], ...] = ()
    # The resource a via_service call is made for (aws:SourceArn; a service grant's SourceArn).
    source_arn: str | None = None

    @cached_property
    def caller(self) -> Caller:
        caller = caller_for(self.arn, self.access_key_id, self.via_service)
        if self.policies or self.tags or self.source_arn:
            caller = replace(caller, policies=tuple(json.dumps(p) for p in self.policies), tags=self.tags,
                             source_arn=self.source_arn)
        return caller

    def public(self) -> dict:
        """The entry as listed: everything but the secret key and the session token."""
        out = {"access_key_id": self.access_key_id, "arn": self.arn, "account": self.caller.account,
               "type": self.caller.type, "temporary": self.session_token is not None}
        if self.via_service:
            out["via_service"] = self.via_service
        if self.policies:
            out["policies"] = list(self.policies)
        if self.tags:
            out["tags"] = dict(self.tags)
        if self.source_arn:
            out["source_arn"] = self.source_arn
        return out


def _principal_id(prefix: str, arn: str) -> str:
    """A stable unique id in AWS's style (AIDA... for users, AROA... for roles)."""
    return prefix + hashlib.sha256(arn.encode()).hexdigest()[:17].upper()


def caller_for(arn: str, access_key_id: str | None, via_service: str | None = None) -> Caller:
    """The Caller an identity ARN signs as; ``arn`` must have passed ``_ARN``."""
    found = _ARN.fullmatch(arn)
    partition = found["partition"]
    invoked_by = None
    if via_service:
        invoked_by = f"{_VIA_SERVICE.fullmatch(via_service)['service']}.amazonaws.com"
    if found["kind"] == "root":
        account = found["account"]
        return Caller(account, arn, "Root", access_key_id, principal_id=account, via_service=via_service,
                      invoked_by=invoked_by)
    if found["kind"] == "user":
        account = found["account"]
        return Caller(account, arn, "IAMUser", access_key_id, principal_id=_principal_id("AIDA", arn),
                      user_name=found["path"].rsplit("/", 1)[-1], via_service=via_service, invoked_by=invoked_by)
    if found["kind"] == "role":
        account, role, session = found["account"], found["path"].rsplit("/", 1)[-1], ROLE_SESSION
        issuer = arn
    else:
        account, role, session = found["sts_account"], found["role"], found["session"]
        issuer = f"arn:{partition}:iam::{account}:role/{role}"
    role_id = _principal_id("AROA", issuer)
    return Caller(account, f"arn:{partition}:sts::{account}:assumed-role/{role}/{session}", "AssumedRole",
                  access_key_id, principal_id=f"{role_id}:{session}", session_issuer=issuer,
                  issuer_principal_id=role_id, user_name=role, via_service=via_service, invoked_by=invoked_by)


def _check_policy(policy, where: str) -> dict:
    if isinstance(policy, str):
        try:
            policy = json.loads(policy)
        except ValueError as exc:
            raise IdentityError(f"{where}: not a JSON policy document ({exc})") from None
    if not isinstance(policy, dict) or "Statement" not in policy:
        raise IdentityError(f"{where}: a policy document must be an object with a Statement")
    return policy


def _check_tags(tags, where: str) -> tuple[tuple[str, str], ...]:
    """IAM principal tags as IAM accepts them; keys are unique whatever their case."""
    if tags is None:
        return ()
    if not isinstance(tags, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in tags.items()):
        raise IdentityError(f"{where}: tags must be a mapping of tag keys to string values")
    if len(tags) > _MAX_TAGS:
        raise IdentityError(f"{where}: at most {_MAX_TAGS} tags, not {len(tags)}")
    seen = set()
    for key, value in tags.items():
        if not 1 <= len(key) <= 128 or not _TAG_TEXT.fullmatch(key):
            raise IdentityError(f"{where}: tag key {key!r} must be 1 to 128 letters, digits, spaces or _.:/=+-@")
        if len(value) > 256 or not _TAG_TEXT.fullmatch(value):
            raise IdentityError(f"{where}: the value of tag {key!r} must be up to 256 letters, digits, "
                                f"spaces or _.:/=+-@")
        if key.lower() in seen:
            raise IdentityError(f"{where}: tag key {key!r} is given twice (tag keys ignore case)")
        seen.add(key.lower())
    return tuple(tags.items())


def parse(entries, source: str) -> list[Identity]:
    """Identities from a list of entries; IdentityError naming the entry and field if one is bad."""
    if not isinstance(entries, list):
        raise IdentityError(f"{source}: 'identities' must be a list of entries")
    out, seen = [], set()
    for index, entry in enumerate(entries):
        name = f"{source}: identities[{index}]"
        if not isinstance(entry, dict):
            raise IdentityError(f"{name}: an entry must be a mapping with {', '.join(_REQUIRED)}")
        if isinstance(entry.get("access_key_id"), str):
            name += f" ({entry['access_key_id']})"
        unknown = sorted(set(entry) - set(_FIELDS))
        if unknown:
            raise IdentityError(f"{name}: unknown field {unknown[0]!r}; the fields are {', '.join(_FIELDS)}")
        for required in _REQUIRED:
            if not isinstance(entry.get(required), str) or not entry[required]:
                raise IdentityError(f"{name}: {required} is required and must be a non-empty string")
        for optional in ("session_token", "via_service", "source_arn"):
            if optional in entry and entry[optional] is not None and (
                    not isinstance(entry[optional], str) or not entry[optional]):
                raise IdentityError(f"{name}: {optional} must be a non-empty string")
        key_id = entry["access_key_id"]
        if not _ACCESS_KEY_ID.fullmatch(key_id):
            raise IdentityError(f"{name}: access_key_id must be 4 to 128 letters and digits")
        if key_id in seen:
            raise IdentityError(f"{name}: access_key_id {key_id} is given twice")
        seen.add(key_id)
        if not _ARN.fullmatch(entry["arn"]):
            raise IdentityError(
                f"{name}: arn must be an account root (arn:aws:iam::ACCOUNT:root), an IAM user or role "
                f"(arn:aws:iam::ACCOUNT:user/NAME, role/NAME) or an assumed role "
                f"(arn:aws:sts::ACCOUNT:assumed-role/ROLE/SESSION), not {entry['arn']!r}")
        via = entry.get("via_service")
        if via is not None and not _VIA_SERVICE.fullmatch(via):
            raise IdentityError(f"{name}: via_service must be a service endpoint name such as "
                                f"s3.us-east-1.amazonaws.com, not {via!r}")
        source_arn = entry.get("source_arn")
        if source_arn is not None and via is None:
            raise IdentityError(f"{name}: source_arn is the resource a service calls for: it needs via_service")
        if source_arn is not None and not _RESOURCE_ARN.fullmatch(source_arn):
            raise IdentityError(f"{name}: source_arn must be a resource ARN such as "
                                f"arn:aws:s3:::bucket, not {source_arn!r}")
        policies = entry.get("policies") or []
        if not isinstance(policies, list):
            raise IdentityError(f"{name}: policies must be a list of policy documents")
        checked = tuple(_check_policy(p, f"{name}: policies[{i}]") for i, p in enumerate(policies))
        tags = _check_tags(entry.get("tags"), f"{name}: tags")
        out.append(Identity(key_id, entry["secret_access_key"], entry["arn"], entry.get("session_token"),
                            via, checked, tags, source_arn))
    return out


def load(path: str) -> list[Identity]:
    """The identities of a YAML or JSON file: ``{"identities": [...]}``."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise IdentityError(f"{path}: cannot read it ({exc.strerror})") from None
    import yaml

    is_json = path.endswith(".json")
    try:
        data = json.loads(text) if is_json else yaml.safe_load(text)
    except (ValueError, yaml.YAMLError) as exc:
        raise IdentityError(f"{path}: not valid {'JSON' if is_json else 'YAML'} "
                            f"({str(exc).splitlines()[0]})") from None
    if not isinstance(data, dict) or "identities" not in data:
        raise IdentityError(f"{path}: the file must be a mapping with an 'identities' list")
    extra = sorted(set(data) - {"identities"})
    if extra:
        raise IdentityError(f"{path}: unknown top-level field {extra[0]!r}; only 'identities' is read")
    return parse(data["identities"], path)


class Identities:
    """The identities a server knows: its files' (kept by a reset) and those added at run time."""

    def __init__(self, from_files: list[Identity] = ()) -> None:
        self._files = {i.access_key_id: i for i in from_files}
        self._added: dict[str, Identity] = {}
        self._lock = threading.Lock()

    def find(self, access_key_id: str | None) -> Identity | None:
        if access_key_id is None:
            return None
        return self._added.get(access_key_id) or self._files.get(access_key_id)

    def add(self, identities: list[Identity]) -> None:
        """Adds, or replaces by access key id."""
        with self._lock:
            self._added = {**self._added, **{i.access_key_id: i for i in identities}}

    def reset(self) -> None:
        with self._lock:
            self._added = {}

    def listing(self) -> list[dict]:
        merged = {**self._files, **self._added}
        return [merged[k].public() for k in sorted(merged)]


# The credentials fakekms's own clients use (the pytest fixtures, KMSHandle.client): with
# signatures checked, they sign as the default account's root.
DEFAULT_IDENTITY = Identity("123456789012", "fakekms", "arn:aws:iam::123456789012:root")

