"""The store: SQLite, at ``:memory:`` by default or in a file, one code path for both.

Every operation runs in one transaction (``BEGIN IMMEDIATE`` ... ``COMMIT``), so it commits whole
or not at all, and it is committed before the response leaves: a server killed with SIGKILL keeps
everything it acknowledged. A file database runs in WAL mode; WAL with ``synchronous=NORMAL``
survives a killed process (only an operating-system crash could lose the last commits).

Requests are served by several threads; one connection guarded by a lock serialises the
transactions, which also makes racing writes (two CreateAlias calls for one name) come out as
exactly one success.
"""

from __future__ import annotations

import math
import sqlite3
import threading
from contextlib import contextmanager
from typing import Iterator

from . import migrations
from .records import AliasRecord, KeyRecord, MaterialRecord

SCHEMA_VERSION = 2

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS keys (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    account TEXT NOT NULL,
    region TEXT NOT NULL,
    key_id TEXT NOT NULL,
    due_at REAL,
    doc TEXT NOT NULL,
    UNIQUE (account, region, key_id)
);
CREATE INDEX IF NOT EXISTS keys_due_at ON keys (due_at) WHERE due_at IS NOT NULL;
CREATE INDEX IF NOT EXISTS keys_by_id ON keys (account, key_id);
CREATE TABLE IF NOT EXISTS key_material (
    account TEXT NOT NULL,
    region TEXT NOT NULL,
    key_id TEXT NOT NULL,
    version INTEGER NOT NULL,
    material BLOB,
    created REAL NOT NULL,
    state TEXT NOT NULL,
    doc TEXT NOT NULL,
    PRIMARY KEY (account, region, key_id, version)
);
CREATE TABLE IF NOT EXISTS import_tokens (
    token TEXT PRIMARY KEY,
    account TEXT NOT NULL,
    region TEXT NOT NULL,
    key_id TEXT NOT NULL,
    valid_to REAL NOT NULL,
    wrapping_key BLOB NOT NULL,
    doc TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS import_tokens_by_key ON import_tokens (account, region, key_id);
CREATE TABLE IF NOT EXISTS aliases (
    account TEXT NOT NULL,
    region TEXT NOT NULL,
    alias_name TEXT NOT NULL,
    key_id TEXT NOT NULL,
    created REAL NOT NULL,
    updated REAL NOT NULL,
    PRIMARY KEY (account, region, alias_name)
);
CREATE INDEX IF NOT EXISTS aliases_by_key ON aliases (account, region, key_id);
CREATE TABLE IF NOT EXISTS tags (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    account TEXT NOT NULL,
    region TEXT NOT NULL,
    key_id TEXT NOT NULL,
    tag_key TEXT NOT NULL,
    tag_value TEXT NOT NULL,
    UNIQUE (account, region, key_id, tag_key)
);
CREATE TABLE IF NOT EXISTS audit (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    time REAL NOT NULL,
    event_name TEXT NOT NULL,
    doc TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS key_usage (
    account TEXT NOT NULL,
    region TEXT NOT NULL,
    key_id TEXT NOT NULL,
    operation TEXT NOT NULL,
    time REAL NOT NULL,
    event_id TEXT NOT NULL,
    request_id TEXT NOT NULL,
    PRIMARY KEY (account, region, key_id)
);
"""

# The tables whose rows belong to one key, deleted with it.
_TABLES = ("keys", "key_material", "import_tokens", "aliases", "tags", "key_usage")
_MATERIAL_SELECT = "SELECT version, material, created, state, doc FROM key_material"
# How many audit events the store keeps (the newest); the --audit-log file keeps every one.
DEFAULT_AUDIT_RETENTION = 10_000


class Store:
    def __init__(self, path: str = ":memory:", *, audit_retention: int = DEFAULT_AUDIT_RETENTION) -> None:
        self.path = path
        self.audit_retention = audit_retention
        self._conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._lock = threading.RLock()
        self._conn.execute("PRAGMA busy_timeout = 5000")
        if self.persistent:
            self._conn.execute("PRAGMA journal_mode = WAL")
            self._conn.execute("PRAGMA synchronous = NORMAL")
        with self._lock:
            migrations.upgrade(self._conn)
            self._conn.executescript(_SCHEMA)
            self._conn.execute(
                "INSERT OR REPLACE INTO meta (name, value) VALUES ('schema_version', ?)",
                (str(SCHEMA_VERSION),),
            )
        self._next_due = self._earliest_due()

    @property
    def persistent(self) -> bool:
        return self.path not in ("", ":memory:") and not self.path.startswith("file::memory:")

    @property
    def backend(self) -> str:
        return "sqlite" if self.persistent else "memory"

    @contextmanager
    def transaction(self, now: float) -> Iterator["Transaction"]:
        """One operation's transaction. ``tx.overdue`` says whether some key's time has come
        (a deletion, rotation or expiry due by ``now``), known without a query."""
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            tx = Transaction(self._conn, self.audit_retention)
            tx.overdue = now >= self._next_due
            try:
                yield tx
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")
            if tx.overdue:
                self._next_due = self._earliest_due()
            elif tx.due_scheduled is not None:
                self._next_due = min(self._next_due, tx.due_scheduled)

    def reset(self) -> None:
        """Wipes every account and Region."""
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            for table in (*_TABLES, "audit"):
                self._conn.execute(f"DELETE FROM {table}")  # noqa: S608 - fixed table names
            self._conn.execute("COMMIT")
            self._next_due = math.inf

    def audit_events(self, event_name: str | None = None, since: float | None = None) -> list[tuple[float, str]]:
        """(epoch seconds, JSON) of the kept audit events, oldest first."""
        sql, args = "SELECT time, doc FROM audit WHERE 1 = 1", []
        if event_name is not None:
            sql += " AND event_name = ?"
            args.append(event_name)
        if since is not None:
            sql += " AND time >= ?"
            args.append(since)
        with self._lock:
            return self._conn.execute(sql + " ORDER BY seq", args).fetchall()

    def key_count(self) -> int:
        with self._lock:
            return self._conn.execute("SELECT COUNT(*) FROM keys").fetchone()[0]

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    def _earliest_due(self) -> float:
        row = self._conn.execute("SELECT MIN(due_at) FROM keys").fetchone()
        return row[0] if row and row[0] is not None else math.inf


class Transaction:
    """The store's operations, inside one open transaction."""

    def __init__(self, conn: sqlite3.Connection, audit_retention: int = DEFAULT_AUDIT_RETENTION) -> None:
        self._conn = conn
        self._audit_retention = audit_retention
        self.overdue = False
        self.due_scheduled: float | None = None

    # --- keys -----------------------------------------------------------------------------

    def get_key(self, account: str, region: str, key_id: str) -> KeyRecord | None:
        row = self._conn.execute(
            "SELECT doc FROM keys WHERE account = ? AND region = ? AND key_id = ?",
            (account, region, key_id),
        ).fetchone()
        return KeyRecord.from_json(row[0]) if row else None

    def insert_key(self, key: KeyRecord) -> None:
        self._conn.execute(
            "INSERT INTO keys (account, region, key_id, due_at, doc) VALUES (?, ?, ?, ?, ?)",
            (key.account, key.region, key.key_id, self._due_at(key), key.to_json()),
        )

    def update_key(self, key: KeyRecord) -> None:
        self._conn.execute(
            "UPDATE keys SET due_at = ?, doc = ? WHERE account = ? AND region = ? AND key_id = ?",
            (self._due_at(key), key.to_json(), key.account, key.region, key.key_id),
        )

    def _due_at(self, key: KeyRecord) -> float | None:
        due = key.due_at()
        if due is not None and (self.due_scheduled is None or due < self.due_scheduled):
            self.due_scheduled = due
        return due

    def delete_key(self, account: str, region: str, key_id: str) -> None:
        """Deletes a key with everything that belongs to it: material, aliases, tags."""
        for table in _TABLES:
            self._conn.execute(
                f"DELETE FROM {table} WHERE account = ? AND region = ? AND key_id = ?",  # noqa: S608
                (account, region, key_id),
            )

    def list_keys(self, account: str, region: str, after: int, limit: int) -> list[tuple[int, KeyRecord]]:
        rows = self._conn.execute(
            "SELECT seq, doc FROM keys WHERE account = ? AND region = ? AND seq > ? ORDER BY seq LIMIT ?",
            (account, region, after, limit),
        ).fetchall()
        return [(seq, KeyRecord.from_json(doc)) for seq, doc in rows]

    def key_copies(self, account: str, key_id: str) -> list[KeyRecord]:
        """Every Region's copy of a key id: the primary and replicas of a multi-Region key."""
        rows = self._conn.execute(
            "SELECT doc FROM keys WHERE account = ? AND key_id = ? ORDER BY region", (account, key_id)
        ).fetchall()
        return [KeyRecord.from_json(doc) for (doc,) in rows]

    def next_due_key(self, now: float) -> KeyRecord | None:
        """The key whose time comes first, if it has come by ``now``."""
        row = self._conn.execute(
            "SELECT doc FROM keys WHERE due_at IS NOT NULL AND due_at <= ? ORDER BY due_at, seq LIMIT 1",
            (now,),
        ).fetchone()
        return KeyRecord.from_json(row[0]) if row else None

    # --- key material ---------------------------------------------------------------------

    def add_key_material(self, key: KeyRecord, record: MaterialRecord) -> None:
        self._conn.execute(
            "INSERT INTO key_material (account, region, key_id, version, material, created, state, doc)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (key.account, key.region, key.key_id, record.version, record.material, record.created,
             record.state, record.doc()),
        )

    def update_key_material(self, key: KeyRecord, record: MaterialRecord) -> None:
        self._conn.execute(
            "UPDATE key_material SET material = ?, state = ?, doc = ?"
            " WHERE account = ? AND region = ? AND key_id = ? AND version = ?",
            (record.material, record.state, record.doc(), key.account, key.region, key.key_id,
             record.version),
        )

    def delete_key_material(self, key: KeyRecord, version: int) -> None:
        self._conn.execute(
            "DELETE FROM key_material WHERE account = ? AND region = ? AND key_id = ? AND version = ?",
            (key.account, key.region, key.key_id, version),
        )

    def key_material(self, key: KeyRecord, version: int | None = None) -> MaterialRecord | None:
        """The given version of a key's material, or its CURRENT one; None if there is none."""
        where = " WHERE account = ? AND region = ? AND key_id = ?"
        args: tuple = (key.account, key.region, key.key_id)
        if version is None:
            where += " AND state = 'CURRENT'"
        else:
            where += " AND version = ?"
            args += (version,)
        row = self._conn.execute(_MATERIAL_SELECT + where, args).fetchone()
        return MaterialRecord.from_row(*row) if row else None

    def pending_key_material(self, key: KeyRecord) -> MaterialRecord | None:
        """The imported material waiting for an on-demand rotation, if any."""
        row = self._conn.execute(
            _MATERIAL_SELECT + " WHERE account = ? AND region = ? AND key_id = ? AND state LIKE 'PENDING%'",
            (key.account, key.region, key.key_id),
        ).fetchone()
        return MaterialRecord.from_row(*row) if row else None

    def key_material_by_id(self, key: KeyRecord, material_id: str) -> MaterialRecord | None:
        row = self._conn.execute(
            _MATERIAL_SELECT + " WHERE account = ? AND region = ? AND key_id = ?"
            " AND json_extract(doc, '$.material_id') = ?",
            (key.account, key.region, key.key_id, material_id),
        ).fetchone()
        return MaterialRecord.from_row(*row) if row else None

    def last_material_version(self, key: KeyRecord) -> int:
        """The newest version number of a key's material; 0 if it has none."""
        return self._conn.execute(
            "SELECT COALESCE(MAX(version), 0) FROM key_material WHERE account = ? AND region = ? AND key_id = ?",
            (key.account, key.region, key.key_id),
        ).fetchone()[0]

    def key_materials(self, key: KeyRecord) -> list[MaterialRecord]:
        """Every version of a key's material, oldest first."""
        rows = self._conn.execute(
            _MATERIAL_SELECT + " WHERE account = ? AND region = ? AND key_id = ? ORDER BY version",
            (key.account, key.region, key.key_id),
        ).fetchall()
        return [MaterialRecord.from_row(*row) for row in rows]

    # --- import tokens --------------------------------------------------------------------

    def add_import_token(self, token: str, key: KeyRecord, valid_to: float, wrapping_key: bytes,
                         doc: str) -> None:
        self._conn.execute(
            "INSERT INTO import_tokens (token, account, region, key_id, valid_to, wrapping_key, doc)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)",
            (token, key.account, key.region, key.key_id, valid_to, wrapping_key, doc),
        )

    def import_token(self, token: str) -> tuple[str, str, str, float, bytes, str] | None:
        """(account, Region, key id, valid to, wrapping private key, doc) of an import token."""
        row = self._conn.execute(
            "SELECT account, region, key_id, valid_to, wrapping_key, doc FROM import_tokens WHERE token = ?",
            (token,),
        ).fetchone()
        return (*row[:4], bytes(row[4]), row[5]) if row else None

    def drop_import_tokens(self, before: float) -> None:
        """Forgets tokens that expired before ``before``."""
        self._conn.execute("DELETE FROM import_tokens WHERE valid_to < ?", (before,))

    # --- aliases --------------------------------------------------------------------------

    def get_alias(self, account: str, region: str, alias_name: str) -> AliasRecord | None:
        row = self._conn.execute(
            "SELECT key_id, created, updated FROM aliases WHERE account = ? AND region = ? AND alias_name = ?",
            (account, region, alias_name),
        ).fetchone()
        return AliasRecord(account, region, alias_name, *row) if row else None

    def insert_alias(self, alias: AliasRecord) -> None:
        self._conn.execute(
            "INSERT INTO aliases (account, region, alias_name, key_id, created, updated)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            (alias.account, alias.region, alias.alias_name, alias.key_id, alias.creation_date,
             alias.last_updated_date),
        )

    def update_alias(self, alias: AliasRecord) -> None:
        self._conn.execute(
            "UPDATE aliases SET key_id = ?, updated = ? WHERE account = ? AND region = ? AND alias_name = ?",
            (alias.key_id, alias.last_updated_date, alias.account, alias.region, alias.alias_name),
        )

    def delete_alias(self, account: str, region: str, alias_name: str) -> None:
        self._conn.execute(
            "DELETE FROM aliases WHERE account = ? AND region = ? AND alias_name = ?",
            (account, region, alias_name),
        )

    def list_aliases(
        self, account: str, region: str, after: str, limit: int, key_id: str | None = None
    ) -> list[AliasRecord]:
        sql = "SELECT alias_name, key_id, created, updated FROM aliases WHERE account = ? AND region = ? AND alias_name > ?"
        args: list = [account, region, after]
        if key_id is not None:
            sql += " AND key_id = ?"
            args.append(key_id)
        rows = self._conn.execute(sql + " ORDER BY alias_name LIMIT ?", (*args, limit)).fetchall()
        return [AliasRecord(account, region, *row) for row in rows]

    def count_aliases(self, account: str, region: str, key_id: str) -> int:
        return self._conn.execute(
            "SELECT COUNT(*) FROM aliases WHERE account = ? AND region = ? AND key_id = ?",
            (account, region, key_id),
        ).fetchone()[0]

    # --- tags -----------------------------------------------------------------------------

    def tags(self, key: KeyRecord) -> list[tuple[str, str]]:
        return self._conn.execute(
            "SELECT tag_key, tag_value FROM tags WHERE account = ? AND region = ? AND key_id = ? ORDER BY seq",
            (key.account, key.region, key.key_id),
        ).fetchall()

    def put_tag(self, key: KeyRecord, tag_key: str, tag_value: str) -> None:
        self._conn.execute(
            "INSERT INTO tags (account, region, key_id, tag_key, tag_value) VALUES (?, ?, ?, ?, ?)"
            " ON CONFLICT (account, region, key_id, tag_key) DO UPDATE SET tag_value = excluded.tag_value",
            (key.account, key.region, key.key_id, tag_key, tag_value),
        )

    def delete_tag(self, key: KeyRecord, tag_key: str) -> None:
        self._conn.execute(
            "DELETE FROM tags WHERE account = ? AND region = ? AND key_id = ? AND tag_key = ?",
            (key.account, key.region, key.key_id, tag_key),
        )

    # --- audit ----------------------------------------------------------------------------

    def add_audit_event(self, time: float, event_name: str, doc: str) -> None:
        seq = self._conn.execute(
            "INSERT INTO audit (time, event_name, doc) VALUES (?, ?, ?)", (time, event_name, doc)
        ).lastrowid
        if seq % 100 == 0:  # trimmed in batches, not on every call
            self._conn.execute("DELETE FROM audit WHERE seq <= ?", (seq - self._audit_retention,))

    def record_key_use(self, account: str, region: str, key_id: str, operation: str, time: float,
                       event_id: str, request_id: str) -> None:
        self._conn.execute(
            "INSERT OR REPLACE INTO key_usage (account, region, key_id, operation, time, event_id,"
            " request_id) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (account, region, key_id, operation, time, event_id, request_id),
        )

    def key_last_use(self, key: KeyRecord) -> tuple[str, float, str, str] | None:
        """(operation, time, CloudTrail event id, request id) of the key's last cryptographic use."""
        return self._conn.execute(
            "SELECT operation, time, event_id, request_id FROM key_usage"
            " WHERE account = ? AND region = ? AND key_id = ?",
            (key.account, key.region, key.key_id),
        ).fetchone()
