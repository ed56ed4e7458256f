"""Assertions shared by the boto3-level tests."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError


def kms_error(code: str, call, **kwargs) -> str:
    """Runs ``call(**kwargs)``, asserts it fails with the AWS error ``code`` and HTTP 400, and
    returns the error message."""
    with pytest.raises(ClientError) as info:
        call(**kwargs)
    error = info.value.response["Error"]
    assert error["Code"] == code, f"expected {code}, got {error['Code']}: {error.get('Message')}"
    assert info.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    return error.get("Message", "")
