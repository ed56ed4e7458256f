"""AWS's "key states and their effect" table: one place decides which KeyState each operation
accepts and which error it answers otherwise.

Operations not listed accept a key in any state (DescribeKey, ListAliases, GetKeyPolicy, ...).
The messages follow the table's notes: ``<key ARN> is disabled.``, ``... is pending deletion.``.
"""

from __future__ import annotations

from . import errors

# How a state is named in AWS's messages.
_PHRASE = {
    "Enabled": "enabled",
    "Disabled": "disabled",
    "PendingDeletion": "pending deletion",
    "PendingImport": "pending import",
    "PendingReplicaDeletion": "pending replica deletion",
    "Unavailable": "unavailable",
    "Creating": "creating",
    "Updating": "updating",
}

_ANY = None  # sentinel: every state is accepted

# Cryptographic use: Enabled only; Disabled is DisabledException, any other state
# KMSInvalidStateException (table notes [1], [3], [5], [11]).
_CRYPTO = {"Enabled": "ok", "Disabled": "DisabledException"}
# Management calls refused only while the key awaits deletion (note [3]).
_NOT_PENDING_DELETION = {
    "Enabled": "ok",
    "Disabled": "ok",
    "PendingImport": "ok",
    "Unavailable": "ok",
    "PendingDeletion": "KMSInvalidStateException",
    "PendingReplicaDeletion": "KMSInvalidStateException",
}
# EnableKey/DisableKey: also refused while material is missing (notes [3], [5], [12]).
_TOGGLE = {"Enabled": "ok", "Disabled": "ok"}

_CRYPTO_OPERATIONS = (
    "Encrypt",
    "Decrypt",
    "ReEncrypt",
    "GenerateDataKey",
    "GenerateDataKeyWithoutPlaintext",
    "GenerateDataKeyPair",
    "GenerateDataKeyPairWithoutPlaintext",
    "Sign",
    "Verify",
    "GenerateMac",
    "VerifyMac",
    "GetPublicKey",
    "DeriveSharedSecret",
    "Encapsulate",
    "Decapsulate",
    "CreateGrant",
)

TABLE: dict[str, dict[str, str]] = {
    **{op: _CRYPTO for op in _CRYPTO_OPERATIONS},
    "EnableKey": _TOGGLE,
    "DisableKey": _TOGGLE,
    "CancelKeyDeletion": {"PendingDeletion": "ok", "PendingReplicaDeletion": "ok"},
    "ScheduleKeyDeletion": _NOT_PENDING_DELETION,
    "CreateAlias": _NOT_PENDING_DELETION,
    "UpdateAlias": _NOT_PENDING_DELETION,
    "TagResource": _NOT_PENDING_DELETION,
    "UntagResource": _NOT_PENDING_DELETION,
    "UpdateKeyDescription": _NOT_PENDING_DELETION,
    "ReplicateKey": _NOT_PENDING_DELETION,
    "UpdatePrimaryRegion": _NOT_PENDING_DELETION,
    "EnableKeyRotation": _CRYPTO,
    "DisableKeyRotation": _CRYPTO,
    "RotateKeyOnDemand": _CRYPTO,
    "GetParametersForImport": _NOT_PENDING_DELETION,
    "ImportKeyMaterial": _NOT_PENDING_DELETION,
}


def check(operation: str, key_state: str, key_arn: str) -> None:
    """Raises the AWS error for using a key in ``key_state`` with ``operation``, if any."""
    rules = TABLE.get(operation, _ANY)
    if rules is _ANY:
        return
    outcome = rules.get(key_state, "KMSInvalidStateException")
    if outcome == "ok":
        return
    if operation == "CancelKeyDeletion":
        raise errors.KMSInvalidStateException(
            f"{key_arn} is not pending deletion.",
            detail=f"CancelKeyDeletion needs KeyState PendingDeletion; the key is {key_state}",
        )
    raise getattr(errors, outcome)(
        f"{key_arn} is {_PHRASE.get(key_state, key_state)}.",
        detail=f"{operation} is not allowed while the key is {key_state}",
    )
