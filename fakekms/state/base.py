"""The store interface: what the rest of fakekms may ask of state, whatever engine keeps it.

A ``Store`` hands out transactions. A write ``Transaction`` is one operation's whole effect: it
commits at the end of its ``with`` block or, if the block raises, leaves nothing behind. A
``ReadTransaction`` sees one consistent snapshot and cannot write. Nothing outside ``state/``
knows how an engine keeps its rows; every engine passes ``tests/test_store_contract.py``.

Timed events (deletion, automatic rotation, expiry of imported material) are found from the due
dates stored with the keys (``next_due_key``), never from anything a process remembers, so any
number of processes sharing one store agree on what is due.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from contextlib import AbstractContextManager

from .records import AliasRecord, GrantRecord, ImportTokenRecord, KeyRecord, KeyUse, MaterialRecord


class StoreError(Exception):
    """A store that cannot be opened; the message names it and says what to do."""


class StoreUnavailable(Exception):
    """The store cannot take this transaction now (its disk is full, another process holds its
    lock, its file cannot be written): the call fails, the store stays whole, later calls may
    succeed. The message says why, for the log; ``locked``: another process holds the lock."""

    def __init__(self, message: str, *, locked: bool = False) -> None:
        super().__init__(message)
        self.locked = locked


class ReadTransaction(ABC):
    """Reads, inside one consistent snapshot."""

    # --- keys -----------------------------------------------------------------------------

    @abstractmethod
    def get_key(self, account: str, region: str, key_id: str) -> KeyRecord | None: ...

    @abstractmethod
    def list_keys(self, account: str | None, region: str | None, after: int,
                  limit: int) -> list[tuple[int, KeyRecord]]:
        """(position, key) in creation order after position ``after``; None matches every
        account or Region."""

    @abstractmethod
    def key_copies(self, account: str, key_id: str) -> list[KeyRecord]:
        """Every Region's copy of a key id (a multi-Region key's primary and replicas), by Region."""

    @abstractmethod
    def next_due_key(self, now: float) -> KeyRecord | None:
        """The key whose stored due date comes first, if it is ``now`` or earlier."""

    @abstractmethod
    def key_count(self) -> int: ...

    # --- key material ---------------------------------------------------------------------

    @abstractmethod
    def key_material(self, key: KeyRecord, version: int | None = None) -> MaterialRecord | None:
        """The given version of a key's material, or its CURRENT one; None if there is none."""

    @abstractmethod
    def pending_key_material(self, key: KeyRecord) -> MaterialRecord | None:
        """The imported material waiting for an on-demand rotation, if any."""

    @abstractmethod
    def key_material_by_id(self, key: KeyRecord, material_id: str) -> MaterialRecord | None: ...

    @abstractmethod
    def last_material_version(self, key: KeyRecord) -> int:
        """The newest version number of a key's material; 0 if it has none."""

    @abstractmethod
    def key_materials(self, key: KeyRecord) -> list[MaterialRecord]:
        """Every version of a key's material, oldest first."""

    # --- import tokens, aliases, tags ------------------------------------------------------

    @abstractmethod
    def import_token(self, token: str) -> ImportTokenRecord | None: ...

    @abstractmethod
    def get_alias(self, account: str, region: str, alias_name: str) -> AliasRecord | None: ...

    @abstractmethod
    def list_aliases(self, account: str | None, region: str | None, after: str, limit: int,
                     key_id: str | None = None) -> list[AliasRecord]:
        """Aliases by name after ``after``; None matches every account or Region."""

    @abstractmethod
    def tags(self, key: KeyRecord) -> list[tuple[str, str]]:
        """(TagKey, TagValue) in the order the tags were first set."""

    # --- audit ----------------------------------------------------------------------------

    @abstractmethod
    def audit_events(self, event_name: str | None = None,
                     since: float | None = None) -> list[tuple[float, str]]:
        """(epoch seconds, JSON) of the kept audit events, oldest first."""

    @abstractmethod
    def key_last_use(self, key: KeyRecord) -> KeyUse | None: ...

    @abstractmethod
    def grant(self, grant_id: str) -> GrantRecord | None:
        """The grant with this id, in any account and Region."""

    @abstractmethod
    def grants(self, account: str, region: str, *, key_id: str | None = None,
               retiring: str | None = None, after: int = 0,
               limit: int | None = None) -> list[tuple[int, GrantRecord]]:
        """(position, grant) in creation order after position ``after``: one key's, or those a
        principal (or service principal) may retire."""


class Transaction(ReadTransaction):
    """Reads and writes, committed together or not at all."""

    @abstractmethod
    def insert_key(self, key: KeyRecord) -> None: ...

    @abstractmethod
    def update_key(self, key: KeyRecord) -> None:
        """Stores the key, with its due date (``KeyRecord.due_at``)."""

    @abstractmethod
    def delete_key(self, account: str, region: str, key_id: str) -> list[MaterialRecord]:
        """Deletes a key with everything that belongs to it (material, import tokens, aliases,
        tags, last use) and answers the material it had, for its backend to destroy."""

    @abstractmethod
    def add_key_material(self, key: KeyRecord, record: MaterialRecord) -> None: ...

    @abstractmethod
    def update_key_material(self, key: KeyRecord, record: MaterialRecord) -> None: ...

    @abstractmethod
    def delete_key_material(self, key: KeyRecord, version: int) -> None: ...

    @abstractmethod
    def add_import_token(self, token: ImportTokenRecord) -> None: ...

    @abstractmethod
    def drop_import_tokens(self, before: float) -> None:
        """Forgets tokens that expired before ``before``."""

    @abstractmethod
    def insert_alias(self, alias: AliasRecord) -> None: ...

    @abstractmethod
    def update_alias(self, alias: AliasRecord) -> None: ...

    @abstractmethod
    def delete_alias(self, account: str, region: str, alias_name: str) -> None: ...

    @abstractmethod
    def put_tag(self, key: KeyRecord, tag_key: str, tag_value: str) -> None:
        """Sets a tag; a tag key already set keeps its place and takes the new value."""

    @abstractmethod
    def delete_tag(self, key: KeyRecord, tag_key: str) -> None: ...

    @abstractmethod
    def insert_grant(self, grant: GrantRecord) -> None: ...

    @abstractmethod
    def delete_grant(self, grant_id: str) -> None: ...

    @abstractmethod
    def commit_so_far(self) -> None:
        """Commits what this transaction has written and goes on in a new one: what time did
        to the keys stays done even if the operation that follows fails."""

    @abstractmethod
    def wipe(self) -> None:
        """Deletes every key, alias, tag, token and audit event of every account and Region."""


class Store(ABC):
    """An engine keeping fakekms's state."""

    #: What the health route reports: "memory", "sqlite", ...
    backend: str
    #: Whether the state outlives the process.
    persistent: bool
    #: Why the last write failed for want of the store (StoreUnavailable's words); None once a
    #: write has succeeded since.
    trouble: str | None = None
    #: Where the state is kept (a path, a connection string), or None in memory.
    location: str | None

    @abstractmethod
    def transaction(self, *, read_only: bool = False) -> AbstractContextManager[Transaction]:
        """A write transaction; writers are serialised (across processes too, where the engine
        is shared), so what one reads stays true until it commits. ``read_only``: the call
        expects only to read, so the write lock is taken at its first write, if any (a write
        that then finds another process's lock raises StoreUnavailable). StoreUnavailable when
        the store cannot take the transaction now."""

    @abstractmethod
    def read(self) -> AbstractContextManager[ReadTransaction]:
        """A read-only snapshot, for views that must not write."""

    def append_audit(self, time: float, event_name: str, doc: str,
                     uses: list[tuple[str, str, str, KeyUse]] = ()) -> None:
        """Keeps a call's audit event and, atomically with it, the last use of each key
        (account, Region, key id) it used; the oldest events beyond the store's retention are
        dropped. Its own transaction: a call's event is written once the call has ended."""
        self.append_audit_batch([(time, event_name, doc)], uses)

    @abstractmethod
    def append_audit_batch(self, events: list[tuple[float, str, str]],
                           uses: list[tuple[str, str, str, KeyUse]] = (), *, wait: bool = True) -> None:
        """Keeps audit events (time, event name, JSON), in order, and each key's last use, in
        one transaction; StoreUnavailable if it cannot (at once, without ``wait``)."""

    @abstractmethod
    def close(self) -> None: ...
