"""The request context an operation runs in: who is calling, where, and when."""

from __future__ import annotations

from dataclasses import dataclass, field

DEFAULT_ACCOUNT = "123456789012"
DEFAULT_REGION = "us-east-1"


@dataclass
class RequestContext:
    operation: str
    account: str
    region: str
    request_id: str
    now: float
    access_key_id: str | None = None
    source_ip: str | None = None
    user_agent: str | None = None
    # Set by the app for the duration of the operation: the open store transaction and the
    # random source for ids and key material.
    tx: object = None
    rng: object = None
    # The keys the call touched, ARN -> (account, Region, key id): the audit event's resources.
    keys: dict = field(default_factory=dict)

    def touch(self, key) -> None:
        """Notes that the call used ``key`` (a KeyRecord), found or made."""
        self.keys.setdefault(key.arn, (key.account, key.region, key.key_id))

    @property
    def partition(self) -> str:
        if self.region.startswith("cn-"):
            return "aws-cn"
        if self.region.startswith("us-gov-"):
            return "aws-us-gov"
        return "aws"

    def key_arn(self, key_id: str) -> str:
        return f"arn:{self.partition}:kms:{self.region}:{self.account}:key/{key_id}"

    def alias_arn(self, alias_name: str) -> str:
        return f"arn:{self.partition}:kms:{self.region}:{self.account}:{alias_name}"

    def root_arn(self) -> str:
        return f"arn:{self.partition}:iam::{self.account}:root"
