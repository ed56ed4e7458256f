"""Seed files: keys and aliases with known ids and key material, made at start and after reset.

A seed file (YAML or JSON) names its fields as CreateKey does, and each key entry is checked as
CreateKey would check it (the model's constraints, KeySpec and KeyUsage, policy, tags), plus what
only a seed file has: the key id, its state and its key material. The whole file is read and
checked before anything is written, and then written in one transaction, so a bad file changes
nothing. Loading is idempotent: each key the file names is put in exactly the state the file
describes, replacing whatever had that id (aliases to it included); everything else is left
alone.

Material not given in the file is derived from the server's seed, the key's ARN and the material
version, so the same file gives the same key material on every run, seeded server or not.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
from dataclasses import dataclass, field
from functools import lru_cache
from types import SimpleNamespace
from typing import Any

from . import errors, keyspecs, model
from .context import DEFAULT_ACCOUNT, RequestContext
from .crypto import software
from .crypto.backend import imported_material_id
from .ops import factory, grants
from .ops.aliases import check_alias_name
from .ops.keys import DEFAULT_PENDING_WINDOW, key_spec_and_usage
from .ops.lookup import KEY_ID
from .ops.policies import validate_policy
from .ops.tags import validate_new_tags
from .seeding import SeededRandomSource
from .state import AliasRecord, GrantRecord, MaterialRecord

_ACCOUNT = re.compile(r"\d{12}")
_REGION = re.compile(r"[a-z]{2}(-[a-z0-9]+)+-\d+")
_TOP_FIELDS = {"Account", "Region", "Keys", "Aliases"}
_KEY_FIELDS = {
    "KeyId", "Account", "Region", "Description", "KeySpec", "KeyUsage", "Origin", "MultiRegion",
    "Policy", "Tags", "Aliases", "KeyState", "PendingWindowInDays", "KeyMaterial",
    "KeyMaterialVersions", "RotationPeriodInDays", "Replicas", "Grants",
}
_GRANT_FIELDS = {"GrantId", "Name", "GranteePrincipal", "GranteeServicePrincipal", "RetiringPrincipal",
                 "RetiringServicePrincipal", "Operations", "Constraints"}
_SEEDABLE_STATES = ("Enabled", "Disabled", "PendingDeletion", "PendingImport")
_MAX_VERSIONS = 100


class SeedFileError(Exception):
    """A seed file that cannot be loaded: which file, which entry, and what is wrong."""

    def __init__(self, path: str, entry: str | None, reason: str) -> None:
        self.path, self.entry, self.reason = path, entry, reason
        super().__init__(f"{path}: {entry}: {reason}" if entry else f"{path}: {reason}")


@dataclass
class SeedKey:
    account: str
    region: str
    key_id: str
    key_spec: str
    key_usage: str
    origin: str
    multi_region: bool
    description: str
    policy: str | None
    key_state: str
    pending_window_days: int | None
    materials: list[bytes]
    tags: list[tuple[str, str]]
    rotation_period_days: int | None = None
    replicas: list[str] = field(default_factory=list)
    grants: list[dict] = field(default_factory=list)  # GrantRecord fields, less key and time


@dataclass
class SeedPlan:
    """A checked seed file, ready to be written as often as needed (at start, after each reset)."""

    path: str
    keys: list[SeedKey] = field(default_factory=list)
    aliases: list[tuple[str, str, str, str]] = field(default_factory=list)  # account, region, name, key id

    def counts(self) -> list[dict]:
        """Keys (each Region's copy) and aliases the file makes, per account and Region."""
        counts: dict[tuple[str, str], dict] = {}

        def count(account: str, region: str) -> dict:
            return counts.setdefault((account, region), {"Account": account, "Region": region,
                                                         "Keys": 0, "Aliases": 0})

        for seed in self.keys:
            for region in (seed.region, *seed.replicas):
                count(seed.account, region)["Keys"] += 1
        for account, region, _name, _key_id in self.aliases:
            count(account, region)["Aliases"] += 1
        return [counts[k] for k in sorted(counts)]

    def apply(self, tx, now: float, backend) -> list[bytes]:
        """Writes the file's keys and aliases in the open transaction ``tx``, their material
        held by ``backend``; answers the material references of the keys it replaced."""
        replaced: list[bytes] = []
        for seed in self.keys:
            for region in (seed.region, *seed.replicas):
                replaced += _write_key(tx, backend, seed, region, now)
        for account, region, alias_name, key_id in self.aliases:
            tx.delete_alias(account, region, alias_name)
            tx.insert_alias(AliasRecord(account, region, alias_name, key_id, now, now))
        return replaced


def _write_key(tx, backend, seed: SeedKey, region: str, now: float) -> list[bytes]:
    """One Region's copy of a seeded key: the key itself, or a replica (with its Region's
    default policy and no tags, as ReplicateKey without them makes it), replacing any key of
    that id; answers the replaced key's material references."""
    replaced = [m.ref for m in tx.delete_key(seed.account, region, seed.key_id) if m.ref is not None]
    ctx = _context(seed.account, region, now)
    ctx.tx = tx
    replica = region != seed.region
    external = seed.origin == "EXTERNAL"
    primary_arn = _context(seed.account, seed.region).key_arn(seed.key_id)  # every copy's ids
    records = []
    for version, material in enumerate(seed.materials, start=1):
        record = MaterialRecord(
            version=version,
            material_id=(imported_material_id(seed.key_id, material) if external
                         else _material_id(primary_arn, version)),
            ref=backend.load(seed.key_spec, material),
            created=now,
            state="CURRENT" if version == len(seed.materials) else "NON_CURRENT",
            imported=external,
            expiration_model="KEY_MATERIAL_DOES_NOT_EXPIRE" if external else None,
        )
        if version > 1:
            record.rotation_date, record.rotation_type = now, "ON_DEMAND"
        records.append(record)
    factory.seeded(
        ctx, seed.key_id, records=records, key_spec=seed.key_spec, key_usage=seed.key_usage,
        origin=seed.origin, key_state=seed.key_state,
        description="" if replica else seed.description, policy=None if replica else seed.policy,
        multi_region=seed.multi_region,
        multi_region_type=("REPLICA" if replica else "PRIMARY") if seed.multi_region else None,
        pending_window_days=seed.pending_window_days, rotation_period_days=seed.rotation_period_days,
        tags=[] if replica else list(seed.tags),
    )
    if not replica:  # a replica has grants of its own, none seeded
        for grant in seed.grants:
            tx.insert_grant(GrantRecord(account=seed.account, region=region, key_id=seed.key_id,
                                        creation_date=now, issuing_account=ctx.root_arn(), **grant))
    return replaced


def _context(account: str, region: str, now: float = 0.0) -> RequestContext:
    return RequestContext(operation="CreateKey", account=account, region=region,
                          request_id="seed-file", now=now)


def _material_id(arn: str, version: int) -> str:
    return hashlib.sha256(f"fakekms seeded key material\0{arn}\0{version}".encode()).hexdigest()


@lru_cache(maxsize=256)
def _derived_material(key_spec: str, label: str) -> bytes:
    """Key material drawn from a generator seeded with ``label``; cached, since seeded RSA keys
    take a second or two and a seed file is loaded again after every reset."""
    return software.generate_key_material(key_spec, SeededRandomSource(label))


# --- reading -------------------------------------------------------------------------------


def load(path: str, *, region: str, seed: str | None = None) -> SeedPlan:
    """Reads and checks a seed file; SeedFileError names the entry and the problem."""
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except OSError as exc:
        raise SeedFileError(path, None, f"cannot read it: {exc.strerror}") from None
    document = _parse(path, text)
    return _Reader(path, region, seed or "").read(document)


def _parse(path: str, text: str) -> Any:
    if path.endswith(".json"):
        try:
            return json.loads(text)
        except ValueError as exc:
            raise SeedFileError(path, None, f"not valid JSON: {exc}") from None
    import yaml  # YAML is a superset of JSON: a file of either kind reads here

    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise SeedFileError(path, None, f"not valid YAML: {exc}") from None


class _Reader:
    def __init__(self, path: str, region: str, seed: str) -> None:
        self.path = path
        self.region = region
        self.seed = seed
        self.account = DEFAULT_ACCOUNT

    def fail(self, entry: str | None, reason: str) -> SeedFileError:
        return SeedFileError(self.path, entry, reason)

    def read(self, document) -> SeedPlan:
        if not isinstance(document, dict):
            raise self.fail(None, "the file must be a mapping with Keys (and optionally Aliases, "
                                  "Account, Region)")
        unknown = document.keys() - _TOP_FIELDS
        if unknown:
            raise self.fail(None, f"unknown field {sorted(unknown)[0]!r}; "
                                  f"the file's fields are {', '.join(sorted(_TOP_FIELDS))}")
        self.account = self._account(None, document.get("Account", self.account))
        self.region = self._region(None, document.get("Region", self.region))
        plan = SeedPlan(self.path)
        entries = document.get("Keys") or []
        if not isinstance(entries, list):
            raise self.fail("Keys", "must be a list of key entries")
        seen: set[tuple[str, str, str]] = set()
        for index, entry in enumerate(entries):
            key, aliases = self._key(f"Keys[{index}]", entry)
            for region in (key.region, *key.replicas):
                where = (key.account, region, key.key_id)
                if where in seen:
                    raise self.fail(f"Keys[{index}] ({key.key_id})", f"the file names this key twice in {region}")
                seen.add(where)
            plan.keys.append(key)
            plan.aliases += [(key.account, key.region, name, key.key_id) for name in aliases]
        plan.aliases += self._aliases(document.get("Aliases") or [], plan)
        names = set()
        for account, region, name, _ in plan.aliases:
            if (account, region, name) in names:
                raise self.fail("Aliases", f"the file names {name} twice")
            names.add((account, region, name))
        return plan

    def _account(self, entry: str | None, value) -> str:
        if isinstance(value, int) and not isinstance(value, bool):
            value = f"{value:012d}"
        if not isinstance(value, str) or not _ACCOUNT.fullmatch(value):
            raise self.fail(entry, f"Account {value!r} is not a 12-digit AWS account id")
        return value

    def _region(self, entry: str | None, value) -> str:
        if not isinstance(value, str) or not _REGION.fullmatch(value):
            raise self.fail(entry, f"Region {value!r} is not an AWS Region name such as us-east-1")
        return value

    def _key(self, entry: str, raw) -> tuple[SeedKey, list[str]]:
        if not isinstance(raw, dict):
            raise self.fail(entry, "a key entry must be a mapping with at least KeyId")
        key_id = raw.get("KeyId")
        if not isinstance(key_id, str) or not KEY_ID.fullmatch(key_id):
            raise self.fail(entry, f"KeyId {key_id!r} is not a key id: a lowercase UUID, or mrk- "
                                   "and 32 hex digits for a multi-Region key")
        entry = f"{entry} ({key_id})"
        unknown = raw.keys() - _KEY_FIELDS
        if unknown:
            raise self.fail(entry, f"unknown field {sorted(unknown)[0]!r}; "
                                   f"a key's fields are {', '.join(sorted(_KEY_FIELDS))}")
        account = self._account(entry, raw.get("Account", self.account))
        region = self._region(entry, raw.get("Region", self.region))
        ctx = _context(account, region)
        request = self._create_key_request(entry, raw, ctx)
        try:
            key_spec, key_usage = key_spec_and_usage(ctx, request)
        except errors.KMSError as exc:
            raise self.fail(entry, _explained(exc)) from None
        origin = request.get("Origin", "AWS_KMS")
        if origin not in ("AWS_KMS", "EXTERNAL"):
            raise self.fail(entry, f"Origin {origin} cannot be seeded; use AWS_KMS or EXTERNAL")
        multi_region = key_id.startswith("mrk-")
        if "MultiRegion" in request and request["MultiRegion"] != multi_region:
            raise self.fail(entry, "a multi-Region key's id starts with mrk-, and only its id does")
        materials = self._materials(entry, raw, key_spec, ctx.key_arn(key_id), origin)
        state, window = self._state(entry, raw, origin, bool(materials))
        period = self._rotation(entry, raw, key_spec, origin)
        replicas = self._replicas(entry, raw, ctx, multi_region)
        key_grants = self._grants(entry, raw.get("Grants"), ctx.key_arn(key_id), key_spec, key_usage)
        return SeedKey(
            account=account,
            region=region,
            key_id=key_id,
            key_spec=key_spec,
            key_usage=key_usage,
            origin=origin,
            multi_region=multi_region,
            description=request.get("Description", ""),
            policy=request.get("Policy") or None,  # None: the factory's default policy
            key_state=state,
            pending_window_days=window,
            materials=materials,
            tags=[(t["TagKey"], t["TagValue"]) for t in request.get("Tags", [])],
            rotation_period_days=period,
            replicas=replicas,
            grants=key_grants,
        ), self._alias_names(entry, raw.get("Aliases") or [])

    def _grants(self, entry: str, raw, arn: str, key_spec: str, key_usage: str) -> list[dict]:
        """A key's Grants, checked as CreateGrant checks them; a GrantId may be fixed, else it is
        derived from the key's ARN and the grant's place, so every load makes the same ids."""
        if raw is None:
            return []
        if not isinstance(raw, list):
            raise self.fail(entry, "Grants must be a list of grants")
        key = SimpleNamespace(arn=arn, key_spec=key_spec, key_usage=key_usage)
        out, ids = [], set()
        for index, item in enumerate(raw):
            where = f"{entry} Grants[{index}]"
            if not isinstance(item, dict):
                raise self.fail(where, "a grant must be a mapping with Operations and a grantee")
            unknown = item.keys() - _GRANT_FIELDS
            if unknown:
                raise self.fail(where, f"unknown field {sorted(unknown)[0]!r}; a grant's fields are "
                                       f"{', '.join(sorted(_GRANT_FIELDS))}")
            operations = item.get("Operations")
            if not isinstance(operations, list) or not operations or not all(isinstance(o, str) for o in operations):
                raise self.fail(where, "Operations must be a non-empty list of grant operations")
            grant_id = item.get("GrantId") or hashlib.sha256(f"{arn}\0grant\0{index}".encode()).hexdigest()
            if not isinstance(grant_id, str) or not grants.GRANT_ID.fullmatch(grant_id):
                raise self.fail(where, "GrantId must be 64 lowercase hex digits")
            if grant_id in ids:
                raise self.fail(where, f"GrantId {grant_id} is given twice")
            ids.add(grant_id)
            try:
                grants.check_grant(key, item, operations)
            except errors.KMSError as exc:
                raise self.fail(where, _explained(exc)) from None
            out.append({"grant_id": grant_id, "operations": list(dict.fromkeys(operations)),
                        "name": item.get("Name"), "grantee_principal": item.get("GranteePrincipal"),
                        "retiring_principal": item.get("RetiringPrincipal"),
                        "grantee_service_principal": item.get("GranteeServicePrincipal"),
                        "retiring_service_principal": item.get("RetiringServicePrincipal"),
                        "constraints": item.get("Constraints") or None})
        return out

    def _rotation(self, entry: str, raw: dict, key_spec: str, origin: str) -> int | None:
        """RotationPeriodInDays: automatic rotation enabled, as EnableKeyRotation would set it."""
        period = raw.get("RotationPeriodInDays")
        if period is None:
            return None
        if not keyspecs.is_symmetric_encryption(key_spec) or origin != "AWS_KMS":
            raise self.fail(entry, "only SYMMETRIC_DEFAULT keys of Origin AWS_KMS rotate automatically")
        try:
            model.parse_input("EnableKeyRotation", {"KeyId": "k", "RotationPeriodInDays": period})
        except errors.KMSError as exc:
            raise self.fail(entry, _explained(exc)) from None
        return period

    def _replicas(self, entry: str, raw: dict, ctx: RequestContext, multi_region: bool) -> list[str]:
        """Replicas: the Regions of a multi-Region key's replicas, made as ReplicateKey makes them."""
        regions = raw.get("Replicas") or []
        if not isinstance(regions, list):
            raise self.fail(entry, "Replicas must be a list of Regions")
        if regions and not multi_region:
            raise self.fail(entry, "only a multi-Region key (KeyId mrk-...) has Replicas")
        if regions and raw.get("KeyState") == "PendingDeletion":
            raise self.fail(entry, "a primary key with Replicas cannot be seeded PendingDeletion")
        for region in regions:
            self._region(entry, region)
            if region == ctx.region or regions.count(region) > 1:
                raise self.fail(entry, f"Replicas names {region} twice, or the key's own Region")
            if _context(ctx.account, region).partition != ctx.partition:
                raise self.fail(entry, f"replica Region {region} is not in the key's partition ({ctx.partition})")
        return list(regions)

    def _create_key_request(self, entry: str, raw: dict, ctx: RequestContext) -> dict:
        """The entry as a CreateKey request, checked against the model as the call would be."""
        request = {name: raw[name] for name in ("Description", "KeySpec", "KeyUsage", "Origin",
                                                "MultiRegion") if raw.get(name) is not None}
        policy = raw.get("Policy")
        if isinstance(policy, (dict, list)):
            policy = json.dumps(policy, indent=2)
        if policy is not None:
            request["Policy"] = policy
        tags = raw.get("Tags")
        if isinstance(tags, dict):
            tags = [{"TagKey": k, "TagValue": "" if v is None else str(v)} for k, v in tags.items()]
        if tags is not None:
            request["Tags"] = tags
        try:
            request = model.parse_input("CreateKey", request)
            if "Policy" in request:
                validate_policy(request["Policy"])
            validate_new_tags(request.get("Tags", []), existing=[])
        except errors.KMSError as exc:
            raise self.fail(entry, _explained(exc)) from None
        return request

    def _materials(self, entry: str, raw: dict, key_spec: str, arn: str, origin: str) -> list[bytes]:
        given = raw.get("KeyMaterial")
        versions = raw.get("KeyMaterialVersions")
        if given is not None and versions is not None:
            raise self.fail(entry, "give KeyMaterial or KeyMaterialVersions, not both")
        if given is None:
            if versions is None:
                if origin == "EXTERNAL":
                    return []  # no material imported yet: PendingImport
                versions = 1
            if isinstance(versions, bool) or not isinstance(versions, int) or not 1 <= versions <= _MAX_VERSIONS:
                raise self.fail(entry, f"KeyMaterialVersions must be a whole number from 1 to {_MAX_VERSIONS}")
            given_list = [None] * versions
        else:
            given_list = given if isinstance(given, list) else [given]
            if not given_list:
                raise self.fail(entry, "KeyMaterial lists no material")
        if len(given_list) > 1 and not keyspecs.is_symmetric_encryption(key_spec):
            raise self.fail(entry, f"only SYMMETRIC_DEFAULT keys have several key material versions, "
                                   f"not {key_spec}")
        materials = []
        for version, item in enumerate(given_list, start=1):
            if item is None:
                materials.append(_derived_material(key_spec, f"{self.seed}\0{arn}\0{version}"))
            else:
                materials.append(self._material(f"{entry} KeyMaterial[{version - 1}]", item, key_spec))
        return materials

    def _material(self, entry: str, item, key_spec: str) -> bytes:
        if not isinstance(item, str):
            raise self.fail(entry, "key material is a base64 string, or a PEM private key")
        length = software.secret_length(key_spec)
        if length is None and "-----BEGIN" in item:
            data = item.encode()
        else:
            try:
                data = base64.b64decode("".join(item.split()), validate=True)
            except (binascii.Error, ValueError):
                raise self.fail(entry, "key material is not valid base64") from None
        if length is not None:
            if len(data) != length:
                raise self.fail(entry, f"{key_spec} key material is {length} bytes, not {len(data)}")
            return data
        try:
            return software.private_key_material(key_spec, data)
        except ValueError as exc:
            raise self.fail(entry, str(exc)) from None

    def _state(self, entry: str, raw: dict, origin: str, has_material: bool) -> tuple[str, int | None]:
        state = raw.get("KeyState", "Enabled" if has_material else "PendingImport")
        if state not in _SEEDABLE_STATES:
            raise self.fail(entry, f"KeyState {state!r} cannot be seeded; use one of {', '.join(_SEEDABLE_STATES)}")
        if (state == "PendingImport") == has_material:
            raise self.fail(entry, "a key is PendingImport exactly when it is EXTERNAL with no KeyMaterial"
                            if origin == "EXTERNAL" else "only an EXTERNAL key can be PendingImport")
        window = raw.get("PendingWindowInDays")
        if window is not None and state != "PendingDeletion":
            raise self.fail(entry, "PendingWindowInDays goes with KeyState PendingDeletion")
        if state == "PendingDeletion":
            low, high = model.documented_range("ScheduleKeyDeletionRequest", "PendingWindowInDays")
            window = DEFAULT_PENDING_WINDOW if window is None else window
            if isinstance(window, bool) or not isinstance(window, int) or not low <= window <= high:
                raise self.fail(entry, f"PendingWindowInDays must be a whole number from {low} to {high}")
        return state, window

    def _alias_names(self, entry: str, names) -> list[str]:
        if isinstance(names, str):
            names = [names]
        if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
            raise self.fail(entry, "Aliases must be a list of alias names")
        for name in names:
            self._check_alias(entry, name)
        return names

    def _check_alias(self, entry: str, name: str) -> None:
        try:
            model.parse_input("CreateAlias", {"AliasName": name, "TargetKeyId": "seed"})
            check_alias_name(name)
        except errors.KMSError as exc:
            raise self.fail(entry, _explained(exc)) from None

    def _aliases(self, entries, plan: SeedPlan) -> list[tuple[str, str, str, str]]:
        if not isinstance(entries, list):
            raise self.fail("Aliases", "must be a list of {AliasName, TargetKeyId}")
        by_id = {}
        for key in plan.keys:
            by_id.setdefault(key.key_id, key)
        out = []
        for index, raw in enumerate(entries):
            entry = f"Aliases[{index}]"
            if not isinstance(raw, dict) or set(raw) != {"AliasName", "TargetKeyId"}:
                raise self.fail(entry, "an alias entry has exactly AliasName and TargetKeyId")
            name, target = raw["AliasName"], raw["TargetKeyId"]
            if not isinstance(name, str):
                raise self.fail(entry, "AliasName must be a string")
            self._check_alias(entry, name)
            key = by_id.get(target)
            if key is None:
                raise self.fail(entry, f"TargetKeyId {target!r} is not a key of this file")
            out.append((key.account, key.region, name, key.key_id))
        return out


def _explained(exc: errors.KMSError) -> str:
    """AWS's message with fakekms's reason: a seed file's author needs both."""
    if exc.detail:
        return f"{exc.message} ({exc.detail})" if exc.message else exc.detail
    return exc.message
