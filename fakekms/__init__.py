"""fakekms: a local, faithful test double for AWS Key Management Service."""

__version__ = "0.1.0"

__all__ = ["mock_kms"]


def __getattr__(name: str):
    # ``fakekms.mock_kms`` without importing the app (and botocore) when only the CLI runs.
    if name == "mock_kms":
        from .inprocess import mock_kms

        return mock_kms
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
