"""The records the store keeps. Plain data: what a key *is*, not what may be done with it."""

from __future__ import annotations

import json
from dataclasses import dataclass, field, fields
from functools import cache


@cache
def _names(cls) -> frozenset[str]:
    return frozenset(f.name for f in fields(cls))


def _shallow(record) -> dict:
    """The record's fields as a dict: ``dataclasses.asdict`` without its deep copies, which
    cost more than the JSON encoding itself."""
    return {name: getattr(record, name) for name in _names(type(record))}


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
    # PRIMARY or REPLICA for a multi-Region key (its MultiRegionKeyType); None for other keys.
    multi_region_type: str | None = None
    # Automatic rotation, a property every copy of a multi-Region key shares.
    rotation_enabled: bool = False
    rotation_period_days: int | None = None
    next_rotation_date: float | None = None
    on_demand_rotations: int = 0
    # Room for the attributes later capabilities add, kept with the key.
    extra: dict = field(default_factory=dict)

    @property
    def enabled(self) -> bool:
        return self.key_state == "Enabled"

    @property
    def is_replica(self) -> bool:
        return self.multi_region_type == "REPLICA"

    @property
    def pending_deletion(self) -> bool:
        """On its way to deletion: waiting out its window, or (a primary) for its replicas."""
        return self.key_state in ("PendingDeletion", "PendingReplicaDeletion")

    def due_at(self) -> float | None:
        """When time next changes this key by itself: its deletion, its next automatic rotation
        or the expiry of imported key material, whichever comes first; None if nothing will."""
        times = []
        if self.key_state == "PendingDeletion" and self.deletion_date is not None:
            times.append(self.deletion_date)
        if self.rotation_due_at() is not None:
            times.append(self.rotation_due_at())
        if self.valid_to is not None:
            times.append(self.valid_to)
        return min(times) if times else None

    def rotation_due_at(self) -> float | None:
        """The next automatic rotation, if it will happen: the key is Enabled (a disabled key
        waits until it is enabled again) and not a replica (the primary rotates every copy)."""
        if self.rotation_enabled and self.key_state == "Enabled" and not self.is_replica:
            return self.next_rotation_date
        return None

    def to_json(self) -> str:
        return json.dumps(_shallow(self), separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str) -> "KeyRecord":
        """The record a stored document holds: parsed once per distinct document (a key is read
        far more often than written), then copied, since operations change the records they get."""
        parsed = _PARSED_KEYS.get(text)
        if parsed is None:
            data = json.loads(text)
            known = _names(cls)
            parsed = cls(**(data if data.keys() <= known else {k: v for k, v in data.items() if k in known}))
            if parsed.multi_region and parsed.multi_region_type is None:  # written before replicas existed
                parsed.multi_region_type = "PRIMARY"
            if len(_PARSED_KEYS) >= _PARSED_LIMIT:
                _PARSED_KEYS.clear()
            _PARSED_KEYS[text] = parsed
        key = object.__new__(cls)
        key.__dict__.update(parsed.__dict__)
        key.extra = dict(parsed.extra)
        return key


# Stored documents and what they parse to (see KeyRecord.from_json, MaterialRecord.from_row):
# keyed by the text itself, so a changed record is simply a new entry. Bounded, and emptied
# when full: a cache, not a copy of the store.
_PARSED_LIMIT = 1024
_PARSED_KEYS: dict[str, "KeyRecord"] = {}
_PARSED_DOCS: dict[str, dict] = {}


@dataclass
class AliasRecord:
    account: str
    region: str
    alias_name: str
    key_id: str
    creation_date: float
    last_updated_date: float


@dataclass
class MaterialRecord:
    """One version of a key's material. Versions count up from 1; a ciphertext names the version
    that sealed it, so every version a key ever had stays until the key is deleted."""

    version: int
    material_id: str
    # The key backend's reference to the material (for the software backend, the material
    # itself); None while imported material is absent: deleted, expired, or not yet imported.
    ref: bytes | None
    created: float
    # KeyMaterialState: CURRENT, NON_CURRENT, PENDING_ROTATION, PENDING_MULTI_REGION_...
    state: str = "CURRENT"
    rotation_date: float | None = None
    rotation_type: str | None = None  # AUTOMATIC or ON_DEMAND; None for the first material
    imported: bool = False  # material the customer imports (Origin EXTERNAL)
    expiration_model: str | None = None
    valid_to: float | None = None
    description: str | None = None

    @property
    def pending(self) -> bool:
        """Imported for a coming on-demand rotation, not yet part of the key."""
        return self.state.startswith("PENDING")

    @property
    def import_state(self) -> str | None:
        if not self.imported:
            return None
        return "IMPORTED" if self.ref is not None else "PENDING_IMPORT"

    def doc(self) -> str:
        """The metadata kept beside the material bytes."""
        data = _shallow(self)
        for column in ("version", "ref", "created", "state"):
            del data[column]
        return json.dumps(data, separators=(",", ":"))

    @classmethod
    def from_row(cls, version: int, ref, created: float, state: str, doc: str) -> "MaterialRecord":
        fields_of_doc = _PARSED_DOCS.get(doc)
        if fields_of_doc is None:
            known = _names(cls)
            fields_of_doc = {k: v for k, v in json.loads(doc).items() if k in known}
            if len(_PARSED_DOCS) >= _PARSED_LIMIT:
                _PARSED_DOCS.clear()
            _PARSED_DOCS[doc] = fields_of_doc
        return cls(version=version, ref=bytes(ref) if ref is not None else None,
                   created=created, state=state, **fields_of_doc)


@dataclass
class ImportTokenRecord:
    """What GetParametersForImport issued: the token is a handle on this row."""

    token: str
    account: str
    region: str
    key_id: str
    valid_to: float
    wrapping_key: bytes  # the key backend's reference to the wrapping private key
    wrapping_algorithm: str
    wrapping_key_spec: str


@dataclass
class KeyUse:
    """A key's last cryptographic use, as GetKeyLastUsage reports it."""

    operation: str
    time: float
    event_id: str
    request_id: str


@dataclass
class GrantRecord:
    """One grant on one key (in one Region: a replica has grants of its own)."""

    account: str
    region: str
    key_id: str
    grant_id: str
    creation_date: float
    operations: list[str]
    issuing_account: str
    name: str | None = None
    grantee_principal: str | None = None
    retiring_principal: str | None = None
    grantee_service_principal: str | None = None
    retiring_service_principal: str | None = None
    constraints: dict | None = None

    def doc(self) -> str:
        return json.dumps(_shallow(self))

    @classmethod
    def from_doc(cls, doc: str) -> GrantRecord:
        return cls(**json.loads(doc))
