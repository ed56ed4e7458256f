"""State: the store interface (``base``) and its engines; SQLite today, in memory by default or
in a file."""

from .base import ReadTransaction, Store, StoreError, StoreUnavailable, Transaction
from .records import AliasRecord, GrantRecord, ImportTokenRecord, KeyRecord, KeyUse, MaterialRecord
from .sqlite import DEFAULT_AUDIT_RETENTION, SQLiteStore


def open_store(db: str = ":memory:", *, audit_retention: int = DEFAULT_AUDIT_RETENTION) -> Store:
    """The store for ``--db``: a path (or ``:memory:``) opens SQLite."""
    return SQLiteStore(db, audit_retention=audit_retention)


__all__ = ["AliasRecord", "DEFAULT_AUDIT_RETENTION", "GrantRecord", "ImportTokenRecord", "KeyRecord", "KeyUse",
           "MaterialRecord", "ReadTransaction", "SQLiteStore", "Store", "StoreError", "StoreUnavailable", "Transaction",
           "open_store"]
