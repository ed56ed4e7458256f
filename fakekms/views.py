"""Read-only views of the state, across every account and Region: keys (as DescribeKey shows
them, with their aliases and tags), aliases and the audit log. Built on read transactions: a view
never writes, never makes an AWS managed key, never leaves an audit event. The admin routes serve
them; a console can too.
"""

from __future__ import annotations

import datetime
import json
from typing import Callable

from . import audit
from .context import RequestContext
from .ops.keys import key_metadata
from .state import ReadTransaction, Store

PAGE = 1000  # keys read at a time
_ALL = 1 << 62  # aliases are few: read at once


class Views:
    def __init__(self, store: Store, catch_up: Callable[[], None] = lambda: None,
                 flush_audit: Callable[[], None] = lambda: None) -> None:
        self.store = store
        # Runs what time has made due, so that a view shows a key deleted by the clock as gone.
        self._catch_up = catch_up
        # Writes the audit events still held back (see AuditLog).
        self._flush_audit = flush_audit

    def keys(self, account: str | None = None, region: str | None = None) -> list[dict]:
        """Every key (of one account or Region, if given), oldest first."""
        self._catch_up()
        out = []
        with self.store.read() as tx:
            for key in _all_keys(tx, account, region):
                here = RequestContext(operation="DescribeKey", account=key.account, region=key.region,
                                      request_id="view", now=0.0, tx=tx)
                out.append({
                    "KeyMetadata": key_metadata(here, key),
                    "Aliases": [a.alias_name for a in tx.list_aliases(key.account, key.region, "", _ALL, key.key_id)],
                    "Tags": [{"TagKey": k, "TagValue": v} for k, v in tx.tags(key)],
                })
        return out

    def aliases(self, account: str | None = None, region: str | None = None) -> list[dict]:
        """Every alias (of one account or Region, if given), by name."""
        self._catch_up()
        with self.store.read() as tx:
            rows = tx.list_aliases(account, region, "", _ALL)
        return [{"AliasName": a.alias_name, "Account": a.account, "Region": a.region,
                 "TargetKeyId": a.key_id, "CreationDate": a.creation_date,
                 "LastUpdatedDate": a.last_updated_date} for a in rows]

    def audit_events(self, event_name: str | None = None, key: str | None = None,
                     since: float | None = None) -> list[dict]:
        """The kept audit events, oldest first, filtered by name, key and start time."""
        self._flush_audit()
        with self.store.read() as tx:
            rows = tx.audit_events(event_name, since)
        events = (json.loads(doc) for _, doc in rows)
        return [event for event in events if key is None or audit.concerns(event, key)]

    def key_count(self) -> int:
        self._catch_up()
        with self.store.read() as tx:
            return tx.key_count()

    def state(self) -> dict:
        """Every account and Region that has a key or an alias, with its keys (state, spec,
        usage, aliases, tags; never key material) and aliases: ``GET /_fakekms/state``."""
        groups: dict[tuple[str, str], dict] = {}

        def group(account: str, region: str) -> dict:
            return groups.setdefault((account, region), {"Account": account, "Region": region,
                                                         "Keys": [], "Aliases": []})

        for entry in self.keys():
            meta = entry["KeyMetadata"]
            group(meta["AWSAccountId"], meta["Arn"].split(":")[3])["Keys"].append({
                "KeyId": meta["KeyId"], "Arn": meta["Arn"], "KeyState": meta["KeyState"],
                "KeySpec": meta["KeySpec"], "KeyUsage": meta["KeyUsage"], "Origin": meta["Origin"],
                "KeyManager": meta["KeyManager"], "MultiRegion": meta["MultiRegion"],
                "Description": meta["Description"], "CreationDate": _iso(meta["CreationDate"]),
                "Aliases": entry["Aliases"], "Tags": {t["TagKey"]: t["TagValue"] for t in entry["Tags"]},
            })
        for alias in self.aliases():
            group(alias["Account"], alias["Region"])["Aliases"].append(
                {"AliasName": alias["AliasName"], "TargetKeyId": alias["TargetKeyId"]})
        return {"accounts": [groups[k] for k in sorted(groups)]}

    def counts(self) -> list[dict]:
        """Keys and aliases per account and Region, read from one snapshot without building
        each key's metadata (the health route asks for this)."""
        self._catch_up()
        counts: dict[tuple[str, str], dict] = {}

        def count(account: str, region: str) -> dict:
            return counts.setdefault((account, region), {"Account": account, "Region": region,
                                                         "Keys": 0, "Aliases": 0})

        with self.store.read() as tx:
            for key in _all_keys(tx, None, None):
                count(key.account, key.region)["Keys"] += 1
            for alias in tx.list_aliases(None, None, "", _ALL):
                count(alias.account, alias.region)["Aliases"] += 1
        return [counts[k] for k in sorted(counts)]


def _iso(epoch: float) -> str:
    return datetime.datetime.fromtimestamp(epoch, datetime.timezone.utc).isoformat().replace("+00:00", "Z")


def _all_keys(tx: ReadTransaction, account: str | None, region: str | None):
    after = 0
    while True:
        page = tx.list_keys(account, region, after, PAGE)
        for _, key in page:
            yield key
        if len(page) < PAGE:
            return
        after = page[-1][0]
