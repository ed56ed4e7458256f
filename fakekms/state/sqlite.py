"""The SQLite engine of the store: at ``:memory:`` by default or in a file, one code path for both.

Every write transaction is ``BEGIN IMMEDIATE`` ... ``COMMIT``, so it commits whole or not at all,
before the response leaves: a server killed with SIGKILL keeps everything it acknowledged. A file
database runs in WAL mode; WAL with ``synchronous=NORMAL`` survives a killed process (only an
operating-system crash could lose the last commits).

Within a process, one connection guarded by a lock serialises the transactions; across processes
sharing a file, SQLite's write lock does (``BEGIN IMMEDIATE`` waits for it). Either way what a
transaction read stays true until it commits: racing writes (two CreateAlias calls for one name)
come out as exactly one success, and no update is lost.

What is due is read from the stored due dates. To spare most calls that query, the store keeps a
lower bound of the earliest due date: every due date this connection writes lowers it, and any
commit by another connection (another process on the file, seen through ``PRAGMA data_version``)
drops it, so it is never later than the truth and processes sharing a file always agree.
"""

from __future__ import annotations

import json
import math
import os
import sqlite3
import threading
from contextlib import contextmanager
from typing import Iterator

from . import migrations
from .base import ReadTransaction, Store, StoreError, StoreUnavailable, Transaction
from .records import AliasRecord, GrantRecord, ImportTokenRecord, KeyRecord, KeyUse, MaterialRecord

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
CREATE TABLE IF NOT EXISTS grants (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    account TEXT NOT NULL,
    region TEXT NOT NULL,
    key_id TEXT NOT NULL,
    grant_id TEXT NOT NULL UNIQUE,
    retiring TEXT,
    retiring_service TEXT,
    doc TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS grants_by_key ON grants (account, region, key_id);
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
_TABLES = ("keys", "key_material", "import_tokens", "aliases", "tags", "key_usage", "grants")
_MATERIAL_SELECT = "SELECT version, material, created, state, doc FROM key_material"
_KEY_WHERE = " WHERE account = ? AND region = ? AND key_id = ?"
_GET_KEY = "SELECT doc FROM keys" + _KEY_WHERE
# Rows the store remembers between calls (SQLiteReadTransaction._one_remembered); emptied when full.
_REMEMBERED_ROWS = 2048
# How long a write waits for another process's lock on the file before StoreUnavailable.
BUSY_TIMEOUT_MS = 5_000
# How many audit events the store keeps (the newest); the --audit-log file keeps every one.
DEFAULT_AUDIT_RETENTION = 10_000


def _and(sql: str, args: list, *conditions: tuple[str, object]) -> str:
    """Adds each (clause, value) condition whose value is not None."""
    for clause, value in conditions:
        if value is not None:
            sql += f" AND {clause}"
            args.append(value)
    return sql


class SQLiteStore(Store):
    def __init__(self, path: str = ":memory:", *, audit_retention: int = DEFAULT_AUDIT_RETENTION) -> None:
        self.path = path
        self.audit_retention = audit_retention
        self.persistent = path not in ("", ":memory:") and not path.startswith("file::memory:")
        self.backend = "sqlite" if self.persistent else "memory"
        self.location = path if self.persistent else None
        self._lock = threading.RLock()
        # A lower bound of the earliest due date in the store; None when unknown.
        self._earliest_due: float | None = None
        self._data_version: int | None = None
        # Counts the changes to the stored rows (this connection's writes, and for a file, any
        # other process's): a remembered row is good while the count is the one it was read at.
        self.generation = 0
        self._rows: dict = {}
        self._conn: sqlite3.Connection | None = None
        # Why the last write failed for want of the store (disk full, locked...); None once a
        # write has succeeded since. Health reports it.
        self.trouble: str | None = None
        try:
            self._open()
        except sqlite3.Error as exc:
            if self._conn is not None:
                self._conn.close()
            raise StoreError(_cannot_open(path, exc)) from None

    def _open(self) -> None:
        self._conn = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        self._conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        if self.persistent:
            self._conn.execute("PRAGMA journal_mode = WAL")
            self._conn.execute("PRAGMA synchronous = NORMAL")
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")  # two processes opening one new file: one at a time
            try:
                migrations.upgrade(self._conn)
                for statement in filter(str.strip, _SCHEMA.split(";")):
                    self._conn.execute(statement)
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute(
                "INSERT OR REPLACE INTO meta (name, value) VALUES ('schema_version', ?)",
                (str(SCHEMA_VERSION),),
            )
            self._conn.execute("COMMIT")

    def _begin(self, statement: str) -> None:
        self._conn.execute(statement)
        if self.persistent:  # an in-memory database has no other connection
            version = self._conn.execute("PRAGMA data_version").fetchone()[0]
            if version != self._data_version:
                self._data_version, self._earliest_due = version, None
                self.generation += 1  # another process wrote

    def _raise_unavailable(self, exc: BaseException) -> None:
        """StoreUnavailable, noted as the store's trouble, if ``exc`` means the file cannot take
        a transaction now; else nothing (the caller re-raises ``exc``)."""
        unavailable = _unavailable(exc)
        if unavailable is not None:
            self.trouble = str(unavailable)
            raise unavailable from exc

    def earliest_due(self) -> float | None:
        """The lower bound of the earliest due date (None: unknown), for this store's transactions."""
        return self._earliest_due

    def due_written(self, due: float | None, *, earliest: bool = False) -> None:
        """A transaction wrote ``due`` (or, ``earliest``, found it is the earliest there is)."""
        if earliest:
            self._earliest_due = due
        elif due is not None and self._earliest_due is not None and due < self._earliest_due:
            self._earliest_due = due

    def transaction(self, *, read_only: bool = False) -> "_WriteScope":
        return _WriteScope(self, read_only)

    @contextmanager
    def read(self) -> Iterator["SQLiteReadTransaction"]:
        with self._lock:
            self._begin("BEGIN")
            tx = SQLiteReadTransaction(self._conn, self)
            try:
                yield tx
            finally:
                tx._conn = None
                self._conn.execute("ROLLBACK")

    def append_audit_batch(self, events: list[tuple[float, str, str]],
                           uses: list[tuple[str, str, str, KeyUse]] = (), *, wait: bool = True) -> None:
        with self._lock:
            # One statement commits alone; more, in one transaction.
            alone = len(events) == 1 and not uses
            if not wait:
                self._conn.execute("PRAGMA busy_timeout = 0")
            try:
                if not alone:
                    self._conn.execute("BEGIN IMMEDIATE")
                self._conn.executemany("INSERT INTO audit (time, event_name, doc) VALUES (?, ?, ?)", events)
                seq = self._conn.execute("SELECT last_insert_rowid()").fetchone()[0]
                self._conn.executemany(
                    "INSERT OR REPLACE INTO key_usage (account, region, key_id, operation, time,"
                    " event_id, request_id) VALUES (?, ?, ?, ?, ?, ?, ?)",
                    [(account, region, key_id, use.operation, use.time, use.event_id, use.request_id)
                     for account, region, key_id, use in uses],
                )
                if not alone:
                    self._conn.execute("COMMIT")
            except BaseException as exc:
                if self._conn.in_transaction:
                    self._conn.execute("ROLLBACK")
                self._raise_unavailable(exc)
                raise
            finally:
                if not wait:
                    self._conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            if seq // 100 != (seq - len(events)) // 100:  # trimmed in batches, not on every call
                self._conn.execute("DELETE FROM audit WHERE seq <= ?", (seq - self.audit_retention,))

    def close(self) -> None:
        with self._lock:
            self._conn.close()


# What SQLite says when the file cannot take a transaction now, and how the log says it.
_UNAVAILABLE = (
    ("database or disk is full", "the disk holding the database is full"),
    ("database is locked", "another process holds the database's lock"),
    ("disk i/o error", "the disk failed (I/O error)"),
    ("readonly database", "the database file cannot be written"),
    ("unable to open database file", "the database file cannot be opened"),
)


def _unavailable(exc: BaseException) -> StoreUnavailable | None:
    """The StoreUnavailable an SQLite error means, if it is one (else None: a bug of ours)."""
    if isinstance(exc, sqlite3.OperationalError):
        text = str(exc).lower()
        for fragment, why in _UNAVAILABLE:
            if fragment in text:
                return StoreUnavailable(f"{why} ({exc})", locked=fragment == "database is locked")
    return None


def _cannot_open(path: str, exc: sqlite3.Error) -> str:
    """Why ``path`` cannot be a database, and what to give instead, in one sentence."""
    directory = os.path.dirname(os.path.abspath(path))
    if os.path.isdir(path):
        why = "it is a directory"
    elif not os.path.isdir(directory):
        why = f"its directory {directory} does not exist"
    elif not os.access(directory, os.W_OK):
        why = f"its directory {directory} is not writable"
    elif "not a database" in str(exc):
        why = "it is not a SQLite database"
    elif _unavailable(exc) is not None and "unable to open" not in str(exc):  # full, locked, failing
        return f"cannot use --db {path}: {_unavailable(exc)}; free the disk or the file, or give another path"
    else:
        why = f"SQLite cannot open it ({exc})"
    return (f"cannot use --db {path}: {why}; give the path of a new file or of one fakekms wrote, in "
            "a writable directory, or leave --db out to keep state in memory")


class _WriteScope:
    """``with store.transaction() as tx``: BEGIN IMMEDIATE, then COMMIT, or ROLLBACK if the block
    raises. A class rather than a generator: it runs on every call."""

    __slots__ = ("store", "tx", "read_only")

    def __init__(self, store: SQLiteStore, read_only: bool = False) -> None:
        self.store = store
        # A call that only reads takes no write lock until it writes (a file's readers then
        # go on while another process writes, or while the disk is full).
        self.read_only = read_only and store.persistent

    def __enter__(self) -> "SQLiteTransaction":
        store = self.store
        store._lock.acquire()
        try:
            store._begin("BEGIN" if self.read_only else "BEGIN IMMEDIATE")
        except BaseException as exc:
            store._lock.release()
            store._raise_unavailable(exc)
            raise
        self.tx = SQLiteTransaction(store._conn, store)
        return self.tx

    def __exit__(self, exc_type, exc, tb) -> None:
        store = self.store
        self.tx._conn = None  # a transaction kept past its block cannot touch the store
        if self.tx._written:  # committed or rolled back, the remembered rows may be stale
            store.generation += 1
        try:
            if exc_type is None:
                try:
                    store._conn.execute("COMMIT")
                except BaseException as failed:
                    if store._conn.in_transaction:
                        store._conn.execute("ROLLBACK")
                    store._earliest_due = None
                    store._raise_unavailable(failed)
                    raise
                if not self.read_only:
                    store.trouble = None
                return
            store._conn.execute("ROLLBACK")
            store._earliest_due = None  # it may have been read from rows now rolled back
            store._raise_unavailable(exc)
        finally:
            store._lock.release()




class SQLiteReadTransaction(ReadTransaction):
    # Whether this transaction has written: from then on it reads its own writes, not the cache.
    _written = False

    def __init__(self, conn: sqlite3.Connection, store: SQLiteStore) -> None:
        self._conn = conn
        self._store = store

    def _one(self, sql: str, args: tuple | list = ()):
        return self._conn.execute(sql, args).fetchone()

    def _one_remembered(self, sql: str, args: tuple):
        """``_one``, answered from the store's row cache while nothing has been written since
        the row was read (see SQLiteStore.generation): the rows every call reads, its key's
        document and material, are read from SQLite once per change, not once per call."""
        store = self._store
        if self._written:
            return self._one(sql, args)
        remembered = store._rows.get((sql, args))
        if remembered is not None and remembered[0] == store.generation:
            return remembered[1]
        row = self._one(sql, args)
        if len(store._rows) >= _REMEMBERED_ROWS:
            store._rows.clear()
        store._rows[sql, args] = (store.generation, row)
        return row

    def _all(self, sql: str, args: tuple | list = ()):
        return self._conn.execute(sql, args).fetchall()

    # --- keys -----------------------------------------------------------------------------

    def get_key(self, account: str, region: str, key_id: str) -> KeyRecord | None:
        row = self._one_remembered(_GET_KEY, (account, region, key_id))
        return KeyRecord.from_json(row[0]) if row else None

    def list_keys(self, account: str | None, region: str | None, after: int,
                  limit: int) -> list[tuple[int, KeyRecord]]:
        args: list = [after]
        sql = _and("SELECT seq, doc FROM keys WHERE seq > ?", args, ("account = ?", account),
                   ("region = ?", region))
        rows = self._all(sql + " ORDER BY seq LIMIT ?", (*args, limit))
        return [(seq, KeyRecord.from_json(doc)) for seq, doc in rows]

    def key_copies(self, account: str, key_id: str) -> list[KeyRecord]:
        rows = self._all("SELECT doc FROM keys WHERE account = ? AND key_id = ? ORDER BY region",
                         (account, key_id))
        return [KeyRecord.from_json(doc) for (doc,) in rows]

    def next_due_key(self, now: float) -> KeyRecord | None:
        earliest = self._store.earliest_due()
        if earliest is not None and now < earliest:
            return None
        row = self._one(
            "SELECT doc FROM keys WHERE due_at IS NOT NULL AND due_at <= ? ORDER BY due_at, seq LIMIT 1",
            (now,),
        )
        if row:
            return KeyRecord.from_json(row[0])
        earliest = self._one("SELECT MIN(due_at) FROM keys")[0]
        self._store.due_written(earliest if earliest is not None else math.inf, earliest=True)
        return None

    def key_count(self) -> int:
        return self._one("SELECT COUNT(*) FROM keys")[0]

    # --- key material ---------------------------------------------------------------------

    def _material(self, key: KeyRecord, condition: str = "", args: tuple = ()) -> MaterialRecord | None:
        row = self._one_remembered(_MATERIAL_SELECT + _KEY_WHERE + condition,
                                   (key.account, key.region, key.key_id, *args))
        return MaterialRecord.from_row(*row) if row else None

    def key_material(self, key: KeyRecord, version: int | None = None) -> MaterialRecord | None:
        if version is None:
            return self._material(key, " AND state = 'CURRENT'")
        return self._material(key, " AND version = ?", (version,))

    def pending_key_material(self, key: KeyRecord) -> MaterialRecord | None:
        return self._material(key, " AND state LIKE 'PENDING%'")

    def key_material_by_id(self, key: KeyRecord, material_id: str) -> MaterialRecord | None:
        return self._material(key, " AND json_extract(doc, '$.material_id') = ?", (material_id,))

    def last_material_version(self, key: KeyRecord) -> int:
        return self._one("SELECT COALESCE(MAX(version), 0) FROM key_material" + _KEY_WHERE,
                         (key.account, key.region, key.key_id))[0]

    def key_materials(self, key: KeyRecord) -> list[MaterialRecord]:
        rows = self._all(_MATERIAL_SELECT + _KEY_WHERE + " ORDER BY version",
                         (key.account, key.region, key.key_id))
        return [MaterialRecord.from_row(*row) for row in rows]

    # --- import tokens, aliases, tags ------------------------------------------------------

    def import_token(self, token: str) -> ImportTokenRecord | None:
        row = self._one(
            "SELECT account, region, key_id, valid_to, wrapping_key, doc FROM import_tokens WHERE token = ?",
            (token,),
        )
        if row is None:
            return None
        account, region, key_id, valid_to, wrapping_key, doc = row
        params = json.loads(doc)
        return ImportTokenRecord(token, account, region, key_id, valid_to, bytes(wrapping_key),
                                 params["WrappingAlgorithm"], params["WrappingKeySpec"])

    def get_alias(self, account: str, region: str, alias_name: str) -> AliasRecord | None:
        row = self._one(
            "SELECT key_id, created, updated FROM aliases WHERE account = ? AND region = ? AND alias_name = ?",
            (account, region, alias_name),
        )
        return AliasRecord(account, region, alias_name, *row) if row else None

    def list_aliases(self, account: str | None, region: str | None, after: str, limit: int,
                     key_id: str | None = None) -> list[AliasRecord]:
        args: list = [after]
        sql = _and("SELECT account, region, alias_name, key_id, created, updated FROM aliases"
                   " WHERE alias_name > ?", args, ("account = ?", account), ("region = ?", region),
                   ("key_id = ?", key_id))
        rows = self._all(sql + " ORDER BY alias_name, account, region LIMIT ?", (*args, limit))
        return [AliasRecord(*row) for row in rows]

    def tags(self, key: KeyRecord) -> list[tuple[str, str]]:
        return self._all("SELECT tag_key, tag_value FROM tags" + _KEY_WHERE + " ORDER BY seq",
                         (key.account, key.region, key.key_id))

    # --- audit ----------------------------------------------------------------------------

    def audit_events(self, event_name: str | None = None,
                     since: float | None = None) -> list[tuple[float, str]]:
        args: list = []
        sql = _and("SELECT time, doc FROM audit WHERE 1 = 1", args, ("event_name = ?", event_name),
                   ("time >= ?", since))
        return self._all(sql + " ORDER BY seq", args)

    def grant(self, grant_id: str) -> GrantRecord | None:
        row = self._one("SELECT doc FROM grants WHERE grant_id = ?", (grant_id,))
        return GrantRecord.from_doc(row[0]) if row else None

    def grants(self, account: str, region: str, *, key_id: str | None = None,
               retiring: str | None = None, after: int = 0,
               limit: int | None = None) -> list[tuple[int, GrantRecord]]:
        args: list = [account, region, after]
        sql = _and("SELECT seq, doc FROM grants WHERE account = ? AND region = ? AND seq > ?", args,
                   ("key_id = ?", key_id))
        if retiring is not None:
            sql += " AND (retiring = ? OR retiring_service = ?)"
            args += [retiring, retiring]
        sql += " ORDER BY seq"
        if limit is not None:
            sql += " LIMIT ?"
            args.append(limit)
        return [(seq, GrantRecord.from_doc(doc)) for seq, doc in self._all(sql, args)]

    def key_last_use(self, key: KeyRecord) -> KeyUse | None:
        row = self._one("SELECT operation, time, event_id, request_id FROM key_usage" + _KEY_WHERE,
                        (key.account, key.region, key.key_id))
        return KeyUse(*row) if row else None


class SQLiteTransaction(SQLiteReadTransaction, Transaction):
    def __init__(self, conn: sqlite3.Connection, store: SQLiteStore) -> None:
        super().__init__(conn, store)

    def _run(self, sql: str, args: tuple | list = ()) -> sqlite3.Cursor:
        self._written = True
        return self._conn.execute(sql, args)

    # --- keys -----------------------------------------------------------------------------

    def _due(self, key: KeyRecord) -> float | None:
        due = key.due_at()
        self._store.due_written(due)  # lowered now: a rollback leaves it early, never late
        return due

    def insert_key(self, key: KeyRecord) -> None:
        self._run("INSERT INTO keys (account, region, key_id, due_at, doc) VALUES (?, ?, ?, ?, ?)",
                  (key.account, key.region, key.key_id, self._due(key), key.to_json()))

    def update_key(self, key: KeyRecord) -> None:
        self._run("UPDATE keys SET due_at = ?, doc = ?" + _KEY_WHERE,
                  (self._due(key), key.to_json(), key.account, key.region, key.key_id))

    def delete_key(self, account: str, region: str, key_id: str) -> list[MaterialRecord]:
        rows = self._all(_MATERIAL_SELECT + _KEY_WHERE, (account, region, key_id))
        for table in _TABLES:
            self._run(f"DELETE FROM {table}" + _KEY_WHERE, (account, region, key_id))  # noqa: S608
        return [MaterialRecord.from_row(*row) for row in rows]

    # --- key material ---------------------------------------------------------------------

    def add_key_material(self, key: KeyRecord, record: MaterialRecord) -> None:
        self._run(
            "INSERT INTO key_material (account, region, key_id, version, material, created, state, doc)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (key.account, key.region, key.key_id, record.version, record.ref, record.created,
             record.state, record.doc()),
        )

    def update_key_material(self, key: KeyRecord, record: MaterialRecord) -> None:
        self._run("UPDATE key_material SET material = ?, state = ?, doc = ?" + _KEY_WHERE + " AND version = ?",
                  (record.ref, record.state, record.doc(), key.account, key.region, key.key_id,
                   record.version))

    def delete_key_material(self, key: KeyRecord, version: int) -> None:
        self._run("DELETE FROM key_material" + _KEY_WHERE + " AND version = ?",
                  (key.account, key.region, key.key_id, version))

    # --- import tokens, aliases, tags ------------------------------------------------------

    def add_import_token(self, token: ImportTokenRecord) -> None:
        doc = json.dumps({"WrappingAlgorithm": token.wrapping_algorithm,
                          "WrappingKeySpec": token.wrapping_key_spec})
        self._run(
            "INSERT INTO import_tokens (token, account, region, key_id, valid_to, wrapping_key, doc)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)",
            (token.token, token.account, token.region, token.key_id, token.valid_to,
             token.wrapping_key, doc),
        )

    def drop_import_tokens(self, before: float) -> None:
        self._run("DELETE FROM import_tokens WHERE valid_to < ?", (before,))

    def insert_alias(self, alias: AliasRecord) -> None:
        self._run(
            "INSERT INTO aliases (account, region, alias_name, key_id, created, updated)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            (alias.account, alias.region, alias.alias_name, alias.key_id, alias.creation_date,
             alias.last_updated_date),
        )

    def update_alias(self, alias: AliasRecord) -> None:
        self._run(
            "UPDATE aliases SET key_id = ?, updated = ? WHERE account = ? AND region = ? AND alias_name = ?",
            (alias.key_id, alias.last_updated_date, alias.account, alias.region, alias.alias_name),
        )

    def delete_alias(self, account: str, region: str, alias_name: str) -> None:
        self._run("DELETE FROM aliases WHERE account = ? AND region = ? AND alias_name = ?",
                  (account, region, alias_name))

    def put_tag(self, key: KeyRecord, tag_key: str, tag_value: str) -> None:
        self._run(
            "INSERT INTO tags (account, region, key_id, tag_key, tag_value) VALUES (?, ?, ?, ?, ?)"
            " ON CONFLICT (account, region, key_id, tag_key) DO UPDATE SET tag_value = excluded.tag_value",
            (key.account, key.region, key.key_id, tag_key, tag_value),
        )

    def delete_tag(self, key: KeyRecord, tag_key: str) -> None:
        self._run("DELETE FROM tags" + _KEY_WHERE + " AND tag_key = ?",
                  (key.account, key.region, key.key_id, tag_key))

    def insert_grant(self, grant: GrantRecord) -> None:
        self._run(
            "INSERT INTO grants (account, region, key_id, grant_id, retiring, retiring_service, doc)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)",
            (grant.account, grant.region, grant.key_id, grant.grant_id, grant.retiring_principal,
             grant.retiring_service_principal, grant.doc()),
        )

    def delete_grant(self, grant_id: str) -> None:
        self._run("DELETE FROM grants WHERE grant_id = ?", (grant_id,))

    def commit_so_far(self) -> None:
        self._conn.execute("COMMIT")
        self._store._begin("BEGIN IMMEDIATE")

    def wipe(self) -> None:
        for table in (*_TABLES, "audit"):
            self._run(f"DELETE FROM {table}")  # noqa: S608 - fixed table names
