"""KMS operations: one plain function per operation, registered under its AWS name.

An operation takes the request context and the validated request (AWS member names, blobs as
bytes) and returns the response members; it never sees HTTP, JSON, SQL or key material. Every
operation in the service model is routed: one without a handler answers
UnsupportedOperationException.

An operation that makes slow key material names a ``prepare`` step: it runs before the write
transaction opens (``ctx.tx`` is None), checks what it can without state, makes the material
through ``ctx.generate`` and returns what the handler needs as ``ctx.prepared``. Material it made
is destroyed again if the transaction does not commit.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Callable

from .. import errors, model

Handler = Callable[..., "dict | None"]


@dataclass(frozen=True)
class Operation:
    name: str
    handler: Handler
    prepare: Callable[..., object] | None = None


_OPERATIONS: dict[str, Operation] = {}

# The modules that register handlers, by KMS area.
_AREAS = ("keys", "aliases", "tags", "policies", "encryption", "signing", "encapsulation", "rotation",
          "imports", "grants", "multiregion")


def operation(name: str, *, prepare: Callable[..., object] | None = None) -> Callable[[Handler], Handler]:
    if name not in model.operations():
        raise ValueError(f"{name} is not an operation of the KMS service model")

    def register(fn: Handler) -> Handler:
        _OPERATIONS[name] = Operation(name, fn, prepare)
        return fn

    return register


def handlers() -> dict[str, Operation]:
    """Every registered operation; imports each area (importing one area alone registers only
    its own operations)."""
    for area in _AREAS:
        importlib.import_module(f"{__name__}.{area}")
    return _OPERATIONS


def operation_for(operation_name: str) -> Operation:
    found = _OPERATIONS.get(operation_name) or handlers().get(operation_name)
    if found is None:
        raise errors.UnsupportedOperationException(
            f"{operation_name} is not supported by fakekms yet."
        )
    return found


def run(ctx, op: Operation, request: dict):
    """One operation inside its open transaction: the AWS managed keys the request names
    (``managed``), the grant tokens it gives, then the handler. What time has done is caught up
    before (``lifecycle``)."""
    from . import grants, managed

    ctx.params = request
    managed.ensure(ctx, request)
    if request.get("GrantTokens"):
        grants.check_grant_tokens(ctx, request)
    return op.handler(ctx, request)
