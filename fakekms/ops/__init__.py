"""KMS operations: one plain function per operation, registered under its AWS name.

An operation takes the request context and the validated request (AWS member names, blobs as
bytes) and returns the response members; it never sees HTTP, JSON or base64. Every operation in
the service model is routed: one without a handler answers UnsupportedOperationException.
"""

from __future__ import annotations

import importlib
from typing import Callable

from .. import errors, model

Handler = Callable[..., "dict | None"]

_HANDLERS: dict[str, Handler] = {}

# The modules that register handlers, by KMS area.
_AREAS = ("keys", "aliases", "tags", "policies", "encryption", "signing", "rotation", "imports",
          "multiregion")


def operation(name: str) -> Callable[[Handler], Handler]:
    if name not in model.operations():
        raise ValueError(f"{name} is not an operation of the KMS service model")

    def register(fn: Handler) -> Handler:
        _HANDLERS[name] = fn
        return fn

    return register


def handlers() -> dict[str, Handler]:
    """Every registered handler; imports each area (importing one area alone registers only its
    own operations)."""
    for area in _AREAS:
        importlib.import_module(f"{__name__}.{area}")
    return _HANDLERS


def handler_for(operation_name: str) -> Handler:
    handler = _HANDLERS.get(operation_name) or handlers().get(operation_name)
    if handler is None:
        raise errors.UnsupportedOperationException(
            f"{operation_name} is not supported by fakekms yet."
        )
    return handler
