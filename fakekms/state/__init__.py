"""State: one store interface over SQLite, in memory by default or in a file."""

from .records import AliasRecord, KeyRecord, MaterialRecord
from .store import Store, Transaction

__all__ = ["AliasRecord", "KeyRecord", "MaterialRecord", "Store", "Transaction"]
