"""The key-state table: one place, AWS's errors and messages."""

from __future__ import annotations

import pytest

from fakekms import errors, keystates, model

ARN = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"


def test_table_names_only_model_operations():
    assert set(keystates.TABLE) <= set(model.operations())


@pytest.mark.parametrize("state,error,phrase", [
    ("Disabled", errors.DisabledException, "is disabled."),
    ("PendingDeletion", errors.KMSInvalidStateException, "is pending deletion."),
    ("PendingImport", errors.KMSInvalidStateException, "is pending import."),
    ("Unavailable", errors.KMSInvalidStateException, "is unavailable."),
])
def test_cryptographic_use_needs_an_enabled_key(state, error, phrase):
    keystates.check("Encrypt", "Enabled", ARN)
    with pytest.raises(error) as info:
        keystates.check("Encrypt", state, ARN)
    assert info.value.message == f"{ARN} {phrase}"


def test_reads_accept_every_state():
    for state in model.enum_values("KeyState"):
        keystates.check("DescribeKey", state, ARN)
        keystates.check("ListResourceTags", state, ARN)


def test_cancel_needs_pending_deletion():
    keystates.check("CancelKeyDeletion", "PendingDeletion", ARN)
    with pytest.raises(errors.KMSInvalidStateException, match="is not pending deletion"):
        keystates.check("CancelKeyDeletion", "Enabled", ARN)
