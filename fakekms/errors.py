"""AWS KMS errors: one exception class per error code.

The classes for the model's error shapes are made from the model itself, so a code AWS adds to
the model is a class here with no edit; ``fault`` shapes answer HTTP 500, all others 400. A few
errors come from the AWS JSON protocol rather than the KMS model and are declared below.
Every class is reachable as ``errors.<Code>``.
"""

from __future__ import annotations

from .model import error_shapes


class KMSError(Exception):
    """An error with AWS's wire form: ``{"__type": code, "message": message}``."""

    code = "KMSError"
    status = 400

    def __init__(self, message: str = "", *, detail: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        # Shown in the server log only: why the request failed, beyond AWS's terse message.
        self.detail = detail

    def body(self) -> dict:
        # Where AWS sends no message (InvalidCiphertextException...), the body has none either.
        if not self.message:
            return {"__type": self.code}
        return {"__type": self.code, "message": self.message}


def _declare(code: str, status: int = 400) -> type[KMSError]:
    cls = type(code, (KMSError,), {"code": code, "status": status, "__module__": __name__})
    globals()[code] = cls
    return cls


# Errors of the AWS JSON 1.1 protocol and the common AWS error set, absent from the KMS model.
for _code in (
    "ValidationException",
    "SerializationException",
    "UnknownOperationException",
    "AccessDeniedException",
    "UnrecognizedClientException",
    "IncompleteSignatureException",
    "InvalidSignatureException",
    "MissingAuthenticationTokenException",
    "ThrottlingException",
    "RequestEntityTooLargeException",
    "RequestTimeoutException",
    "NotAuthorizedException",
):
    _declare(_code)


for _name, _shape in error_shapes().items():
    _declare(_name, 500 if _shape.get("fault") else 400)


def __getattr__(name: str) -> type[KMSError]:  # pragma: no cover - only for a clear message
    raise AttributeError(f"no KMS error named {name!r} in the service model")
