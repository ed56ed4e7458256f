"""The records the store keeps. Plain data: what a key *is*, not what may be done with it."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields


@dataclass
class KeyRecord:
    account: str
    region: str
    key_id: str
    arn: str
    creation_date: float
    key_spec: str
    key_usage: str
    key_state: str
    origin: str = "AWS_KMS"
    key_manager: str = "CUSTOMER"
    description: str = ""
    policy: str = ""
    multi_region: bool = False
    deletion_date: float | None = None
    pending_deletion_window_days: int | None = None
    custom_key_store_id: str | None = None
    valid_to: float | None = None
    expiration_model: str | None = None
    current_key_material_id: str | None = None
    # Room for the attributes later capabilities add (rotation, replicas, ...), kept with the key.
    extra: dict = field(default_factory=dict)

    @property
    def enabled(self) -> bool:
        return self.key_state == "Enabled"

    def to_json(self) -> str:
        return json.dumps(asdict(self), separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str) -> "KeyRecord":
        data = json.loads(text)
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})


@dataclass
class AliasRecord:
    account: str
    region: str
    alias_name: str
    key_id: str
    creation_date: float
    last_updated_date: float
