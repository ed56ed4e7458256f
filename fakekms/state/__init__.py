"""State: one store interface over SQLite, in memory by default or in a file."""

from .records import AliasRecord, KeyRecord
from .store import Store, Transaction

__all__ = ["AliasRecord", "KeyRecord", "Store", "Transaction"]
