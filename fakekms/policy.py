"""The IAM policy language, evaluated as AWS evaluates it: which statements of one policy
document apply to a request, and with what effect.

No well-kept Python library evaluates IAM policies, so this module does, and only this one:
Effect; Action and NotAction with ``*`` and ``?`` (case-insensitive); Resource and NotResource;
Principal and NotPrincipal (``*``, ``AWS`` account ids, root, user, role and assumed-role ARNs,
``Service``); Condition with every operator family, the ``...IfExists`` forms, ``ForAnyValue:``
and ``ForAllValues:``, values ORed and keys ANDed; policy variables (``${aws:username}``,
``${aws:PrincipalTag/team}``, ``${*}``...). How key policies, identity policies and grants
combine for KMS is the authorize step's business; this module answers for one document.
"""

from __future__ import annotations

import ipaddress
import json
import re
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Callable

from .clock import epoch_seconds


@dataclass(frozen=True)
class Principal:
    """Who asks: an account root, an IAM user, or an assumed-role session (``role`` is its role
    ARN); ``service`` for an AWS service principal (s3.amazonaws.com)."""

    arn: str
    account: str
    role: str | None = None
    service: str | None = None


@dataclass
class Request:
    """One authorization question: may ``principal`` do ``action`` on ``resource``, with these
    condition keys (names case-insensitive; values a string, number, bool, or list of them)."""

    action: str
    resource: str
    principal: Principal
    context: dict = field(default_factory=dict)
    # Answers the keys that cost a lookup (a key's tags, its aliases) when a policy asks for them.
    resolve: Callable[[str], object] | None = None
    # The context's names are lower case already (condition_keys makes them so).
    lowered: bool = False

    def __post_init__(self) -> None:
        if not self.lowered:
            self.context = {name.lower(): value for name, value in self.context.items()}
        self._resolved: dict = {}  # what ``resolve`` answered (the context may be shared: not there)

    def values(self, key: str) -> list | None:
        """The request's values of a condition key: None when the key is absent."""
        name = key.lower()
        value = self.context.get(name)
        if value is None and self.resolve is not None and name not in self.context:
            if name not in self._resolved:
                self._resolved[name] = self.resolve(name)
            value = self._resolved[name]
        if value is None:
            return None
        return list(value) if isinstance(value, (list, tuple, set, frozenset)) else [value]


@dataclass(frozen=True)
class Match:
    """A statement that applies (its effect counts) or nearly applies (``missed`` says which
    element did not: an explanation for a refusal)."""

    index: int
    sid: str | None
    effect: str
    missed: str | None = None
    # A key policy statement that names the caller only through its account (the account id or
    # root ARN): at AWS that delegates the decision to the account's IAM policies.
    by_account: bool = False


@dataclass
class Verdict:
    """What one policy document says: the statements that allow or deny, and those that came
    close (the action matched; the principal, resource or a condition did not)."""

    allows: list[Match] = field(default_factory=list)
    denies: list[Match] = field(default_factory=list)
    near: list[Match] = field(default_factory=list)

    @property
    def effect(self) -> str | None:
        """Deny if any statement denies, Allow if one allows, None if none applies."""
        if self.denies:
            return "Deny"
        return "Allow" if self.allows else None


# An AWS principal a policy or a grant may name: an account, its root, an IAM user or role, an
# assumed-role or federated-user session.
PRINCIPAL = re.compile(
    r"\d{12}|arn:aws[a-z-]*:iam::\d{12}:(root|user/[\w+=,.@/-]+|role/[\w+=,.@/-]+)"
    r"|arn:aws[a-z-]*:sts::\d{12}:(assumed-role|federated-user)/[\w+=,.@/-]+"
)


class PolicyError(ValueError):
    """A document that is not a policy this module can evaluate; the message says where."""


def parse(document) -> dict:
    """A policy document from JSON text (parsed once per text: policies repeat on every call)
    or a mapping, with a list of statements. Callers must not change what it answers."""
    if isinstance(document, str):
        return _parse_text(document)
    return _parse(document)


@lru_cache(maxsize=1024)
def _parse_text(text: str) -> dict:
    try:
        document = json.loads(text)
    except ValueError as exc:
        raise PolicyError(f"not valid JSON: {exc}") from None
    return _parse(document)


def _parse(document) -> dict:
    if not isinstance(document, dict) or "Statement" not in document:
        raise PolicyError("a policy document is a JSON object with a Statement")
    statements = document["Statement"]
    if isinstance(statements, dict):
        statements = [statements]
    if not isinstance(statements, list) or not all(isinstance(s, dict) for s in statements):
        raise PolicyError("Statement must be an object or a list of objects")
    for index, statement in enumerate(statements):
        if statement.get("Effect") not in ("Allow", "Deny"):
            raise PolicyError(f"Statement[{index}]: Effect must be Allow or Deny")
        if ("Action" in statement) == ("NotAction" in statement):
            raise PolicyError(f"Statement[{index}]: give Action or NotAction")
    return {**document, "Statement": statements}


def evaluate(document, request: Request, *, resource_policy: bool) -> Verdict:
    """Which statements of ``document`` apply to ``request``. A resource (key) policy's
    statements must name the principal; an identity policy's apply to its own principal.
    The verdict on a policy text is remembered for the values of the condition keys its
    statements read: callers must not change it."""
    if not isinstance(document, str):
        return _verdict(_candidates(parse(document), request.action, request.principal, resource_policy), request)
    candidates, names = _read_by(document, request.action, request.principal, resource_policy)
    if names is None:
        return _verdict(candidates, request)
    remembered = (document, request.action, request.principal, resource_policy, request.resource,
                  tuple(_frozen(request.values(name)) for name in names))
    verdict = _VERDICTS.get(remembered)
    if verdict is None:
        verdict = _verdict(candidates, request)
        if len(_VERDICTS) >= 4096:
            _VERDICTS.clear()
        _VERDICTS[remembered] = verdict
    return verdict


_VERDICTS: dict = {}


def _frozen(values: list | None):
    return None if values is None else tuple(_frozen(v) if isinstance(v, list) else v for v in values)


def _verdict(candidates: tuple, request: Request) -> Verdict:
    verdict = Verdict()
    for index, statement, by_account, principal_missed in candidates:
        missed = principal_missed or _resource_missed(statement, request) or _condition_missed(statement, request)
        match = Match(index, statement.get("Sid"), statement["Effect"], missed, by_account)
        if missed:
            verdict.near.append(match)
        elif statement["Effect"] == "Deny":
            verdict.denies.append(match)
        else:
            verdict.allows.append(match)
    return verdict


@lru_cache(maxsize=4096)
def _read_by(text: str, action: str, principal: Principal, resource_policy: bool) -> tuple:
    """(candidates, the condition keys they read): ``_candidates`` of a policy text, once per
    action and caller (what a statement's Action and Principal decide does not change from call
    to call, only its Resource and Condition), and ``_keys_read`` of them."""
    candidates = _candidates(parse(text), action, principal, resource_policy)
    return candidates, _keys_read(candidates)


def _keys_read(candidates: tuple) -> tuple[str, ...] | None:
    """The condition keys (lower case) read by the candidates whose Principal names the caller,
    in Conditions or in policy variables; None if one is malformed (its verdict is then not
    remembered)."""
    names: set[str] = set()

    def variables(value) -> None:
        for text in _as_list(value):
            if isinstance(text, str) and "${" in text:
                names.update(n.lower() for n in _VARIABLE.findall(text) if n not in _LITERALS)

    for _, statement, _, principal_missed in candidates:
        if principal_missed:
            continue
        variables(statement.get("Resource"))
        variables(statement.get("NotResource"))
        conditions = statement.get("Condition") or {}
        if not isinstance(conditions, dict):
            return None
        for tests in conditions.values():
            if not isinstance(tests, dict):
                return None
            for name, wanted in tests.items():
                names.add(name.lower())
                variables(wanted)
    return tuple(sorted(names))


def _candidates(document: dict, action: str, principal: Principal, resource_policy: bool) -> tuple:
    """(index, statement, names the caller only by its account, why its Principal misses) of
    each statement whose Action matches."""
    out = []
    for index, statement in enumerate(document["Statement"]):
        if not _action_matches(statement, action):
            continue
        out.append((index, statement, resource_policy and _by_account_only(statement, principal),
                    _principal_missed(statement, principal) if resource_policy else None))
    return tuple(out)


def describe(match: Match) -> str:
    name = f"statement {match.sid!r}" if match.sid else f"statement {match.index}"
    return f"{name} ({match.effect})" + (f": {match.missed}" if match.missed else "")


# --- elements -----------------------------------------------------------------------------------

def _as_list(value) -> list:
    if value is None:
        return []
    return list(value) if isinstance(value, list) else [value]


@lru_cache(maxsize=4096)
def _wildcard(pattern: str, ignore_case: bool) -> re.Pattern:
    escaped = re.escape(pattern).replace(r"\*", ".*").replace(r"\?", ".")
    return re.compile(escaped, re.IGNORECASE | re.DOTALL if ignore_case else re.DOTALL)


def _like(pattern: str, value: str, ignore_case: bool = False) -> bool:
    """IAM's wildcards: ``*`` any run of characters, ``?`` one; nothing else is special."""
    if "*" not in pattern and "?" not in pattern:
        return pattern.lower() == value.lower() if ignore_case else pattern == value
    return _wildcard(pattern, ignore_case).fullmatch(value) is not None


def _action_matches(statement: dict, action: str) -> bool:
    if "Action" in statement:
        return any(_like(p, action, ignore_case=True) for p in _as_list(statement["Action"]))
    return not any(_like(p, action, ignore_case=True) for p in _as_list(statement["NotAction"]))


def _resource_missed(statement: dict, request: Request) -> str | None:
    resource = statement.get("Resource")
    if resource == "*":  # what nearly every key policy statement says
        return None
    if resource is not None:
        patterns = [_substitute(p, request) for p in _as_list(statement["Resource"])]
        if not any(p is not None and _like(p, request.resource) for p in patterns):
            return f"Resource does not match {request.resource}"
    elif "NotResource" in statement:
        patterns = [_substitute(p, request) for p in _as_list(statement["NotResource"])]
        if any(p is not None and _like(p, request.resource) for p in patterns):
            return f"NotResource excludes {request.resource}"
    return None


def principal_matches(value: str, principal: Principal) -> bool:
    """Whether one ``AWS`` principal value names the caller: ``*``, its account (id or root
    ARN), its own ARN, or the role of its session."""
    if value == "*":
        return True
    if value == principal.account or re.fullmatch(rf"arn:aws[a-z-]*:iam::{principal.account}:root", value):
        return True
    return value in (principal.arn, principal.role)


def _by_account_only(statement: dict, caller: Principal) -> bool:
    """Whether a statement's Principal names the caller, but only by its account."""
    element = statement.get("Principal")
    if not isinstance(element, dict) or caller.service is not None:
        return False
    values = _as_list(element.get("AWS"))
    direct = any(v in ("*", caller.arn, caller.role) for v in values)
    return not direct and any(principal_matches(v, caller) for v in values)


def _principal_missed(statement: dict, caller: Principal) -> str | None:
    if "Principal" in statement:
        if not _names(statement["Principal"], caller):
            return f"Principal does not name {caller.service or caller.arn}"
    elif "NotPrincipal" in statement:
        if _names(statement["NotPrincipal"], caller):
            return f"NotPrincipal excludes {caller.service or caller.arn}"
    else:
        return "a key policy statement must name a Principal"
    return None


def _names(element, caller: Principal) -> bool:
    if element == "*":
        return True
    if not isinstance(element, dict):
        return False
    if caller.service is not None:
        return caller.service in _as_list(element.get("Service"))
    return any(principal_matches(v, caller) for v in _as_list(element.get("AWS")))


# --- conditions ---------------------------------------------------------------------------------

_VARIABLE = re.compile(r"\$\{([^}]+)\}")
_LITERALS = {"*": "*", "?": "?", "$": "$"}


def _substitute(text, request: Request) -> str | None:
    """``text`` with its policy variables resolved; None if one names a key the request lacks
    (AWS then treats the element as not matching)."""
    if not isinstance(text, str) or "${" not in text:
        return text
    missing = False

    def resolve(found: re.Match) -> str:
        nonlocal missing
        name = found[1]
        if name in _LITERALS:
            return _LITERALS[name]
        values = request.values(name)
        if not values or len(values) != 1:
            missing = True
            return ""
        return str(values[0])

    out = _VARIABLE.sub(resolve, text)
    return None if missing else out


def _parse_date(value) -> float | None:
    """A Date* operand: epoch seconds, or ISO 8601 (as the clock reads them); None if neither."""
    try:
        return epoch_seconds(value if isinstance(value, (int, float)) else str(value))
    except ValueError:
        return None


def _number(value) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _bool(value) -> str:
    return str(value).lower() if isinstance(value, (bool, str)) else str(value)


def _ip_in(value, network) -> bool:
    try:
        return ipaddress.ip_address(str(value)) in ipaddress.ip_network(str(network), strict=False)
    except ValueError:
        return False


def _arn_like(pattern: str, value) -> bool:
    """ArnLike: each of the six colon-separated parts matched on its own, with wildcards."""
    parts, got = str(pattern).split(":", 5), str(value).split(":", 5)
    return len(parts) == len(got) == 6 and all(_like(p, g) for p, g in zip(parts, got))


# Operator family -> (compare(policy value, request value) -> bool, negated)
_COMPARE = {
    "StringEquals": (lambda p, v: str(p) == str(v), False),
    "StringNotEquals": (lambda p, v: str(p) == str(v), True),
    "StringEqualsIgnoreCase": (lambda p, v: str(p).lower() == str(v).lower(), False),
    "StringNotEqualsIgnoreCase": (lambda p, v: str(p).lower() == str(v).lower(), True),
    "StringLike": (lambda p, v: _like(str(p), str(v)), False),
    "StringNotLike": (lambda p, v: _like(str(p), str(v)), True),
    "NumericEquals": (lambda p, v: _number(p) is not None and _number(p) == _number(v), False),
    "NumericNotEquals": (lambda p, v: _number(p) is not None and _number(p) == _number(v), True),
    "NumericLessThan": (lambda p, v: None not in (_number(p), _number(v)) and _number(v) < _number(p), False),
    "NumericLessThanEquals": (lambda p, v: None not in (_number(p), _number(v)) and _number(v) <= _number(p), False),
    "NumericGreaterThan": (lambda p, v: None not in (_number(p), _number(v)) and _number(v) > _number(p), False),
    "NumericGreaterThanEquals": (lambda p, v: None not in (_number(p), _number(v)) and _number(v) >= _number(p),
                                 False),
    "DateEquals": (lambda p, v: None not in (_parse_date(p), _parse_date(v)) and _parse_date(v) == _parse_date(p),
                   False),
    "DateNotEquals": (lambda p, v: None not in (_parse_date(p), _parse_date(v)) and _parse_date(v) == _parse_date(p),
                      True),
    "DateLessThan": (lambda p, v: None not in (_parse_date(p), _parse_date(v)) and _parse_date(v) < _parse_date(p),
                     False),
    "DateLessThanEquals": (lambda p, v: None not in (_parse_date(p), _parse_date(v))
                           and _parse_date(v) <= _parse_date(p), False),
    "DateGreaterThan": (lambda p, v: None not in (_parse_date(p), _parse_date(v))
                        and _parse_date(v) > _parse_date(p), False),
    "DateGreaterThanEquals": (lambda p, v: None not in (_parse_date(p), _parse_date(v))
                              and _parse_date(v) >= _parse_date(p), False),
    "Bool": (lambda p, v: _bool(p) == _bool(v), False),
    "BinaryEquals": (lambda p, v: str(p) == str(v), False),
    "IpAddress": (lambda p, v: _ip_in(v, p), False),
    "NotIpAddress": (lambda p, v: _ip_in(v, p), True),
    "ArnEquals": (lambda p, v: _arn_like(p, v), False),
    "ArnLike": (lambda p, v: _arn_like(p, v), False),
    "ArnNotEquals": (lambda p, v: _arn_like(p, v), True),
    "ArnNotLike": (lambda p, v: _arn_like(p, v), True),
}


def _condition_missed(statement: dict, request: Request) -> str | None:
    conditions = statement.get("Condition")
    if not conditions:
        return None
    if not isinstance(conditions, dict):
        return "Condition must be an object"
    for operator, tests in conditions.items():
        if not isinstance(tests, dict):
            return f"Condition {operator} must map condition keys to values"
        for key, wanted in tests.items():
            if not _holds(operator, key, _as_list(wanted), request):
                return f"condition {operator} {key} {json.dumps(wanted)} does not hold"
    return None


def _holds(operator: str, key: str, wanted: list, request: Request) -> bool:
    """One condition key under one operator (its values ORed)."""
    present = request.values(key)
    if operator == "Null":
        # "true": the key must be absent; "false": present.
        return any((present is None) == (_bool(w) == "true") for w in wanted)
    quantifier = None
    if ":" in operator:
        quantifier, _, operator = operator.partition(":")
    if_exists = operator.endswith("IfExists")
    base = operator[: -len("IfExists")] if if_exists else operator
    if base not in _COMPARE:
        return False  # an operator AWS does not have never matches
    compare, negated = _COMPARE[base]
    wanted = [_substitute(w, request) for w in wanted]
    wanted = [w for w in wanted if w is not None]
    if quantifier == "ForAllValues":
        # True when every value of the request matches (vacuously true with none).
        if not present:
            return True
        results = [any(compare(w, v) for w in wanted) for v in present]
        return all(not r for r in results) if negated else all(results)
    if quantifier == "ForAnyValue":
        if not present:
            return False
        results = [any(compare(w, v) for w in wanted) for v in present]
        return any(not r for r in results) if negated else any(results)
    if present is None:
        # A missing key matches only the IfExists forms and the negated operators.
        return if_exists or negated
    matched = any(compare(w, v) for w in wanted for v in present)
    return not matched if negated else matched
