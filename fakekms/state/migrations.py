"""Bringing a database file written by an older fakekms up to the current schema.

Version 1 kept a deletion time per key (now the time of the key's next timed change, due_at)
and bare key material (now with per-version metadata: KeyMaterialId, KeyMaterialState, ...).
"""

from __future__ import annotations

import hashlib
import json
import sqlite3


def _version(conn: sqlite3.Connection) -> int | None:
    if conn.execute("SELECT name FROM sqlite_master WHERE name = 'meta'").fetchone() is None:
        return None  # a new database
    row = conn.execute("SELECT value FROM meta WHERE name = 'schema_version'").fetchone()
    return int(row[0]) if row else None


def upgrade(conn: sqlite3.Connection) -> None:
    """Upgrades in the caller's open transaction."""
    if _version(conn) != 1:
        return
    conn.execute("DROP INDEX IF EXISTS keys_delete_at")
    conn.execute("ALTER TABLE keys RENAME COLUMN delete_at TO due_at")
    conn.execute("ALTER TABLE key_material RENAME TO key_material_v1")
    conn.execute(
        "CREATE TABLE key_material (account TEXT NOT NULL, region TEXT NOT NULL,"
        " key_id TEXT NOT NULL, version INTEGER NOT NULL, material BLOB, created REAL NOT NULL,"
        " state TEXT NOT NULL, doc TEXT NOT NULL, PRIMARY KEY (account, region, key_id, version))"
    )
    docs = {
        (account, region, key_id): json.loads(doc)
        for account, region, key_id, doc in conn.execute("SELECT account, region, key_id, doc FROM keys")
    }
    rows = conn.execute(
        "SELECT account, region, key_id, version, material, created FROM key_material_v1"
        " ORDER BY account, region, key_id, version"
    ).fetchall()
    newest = {}
    for account, region, key_id, version, _, _ in rows:
        newest[(account, region, key_id)] = version
    for account, region, key_id, version, material, created in rows:
        key = docs.get((account, region, key_id), {})
        ids = key.get("extra", {}).get("key_material_ids", {})
        material_id = ids.get(str(version)) or (
            key.get("current_key_material_id") if version == 1 else None
        ) or hashlib.sha256(f"{key.get('arn')}\0{version}".encode()).hexdigest()
        doc = {"material_id": material_id, "imported": key.get("origin") == "EXTERNAL"}
        if doc["imported"]:
            doc["expiration_model"] = key.get("expiration_model")
        state = "CURRENT" if newest[(account, region, key_id)] == version else "NON_CURRENT"
        conn.execute(
            "INSERT INTO key_material VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (account, region, key_id, version, material, created, state, json.dumps(doc)),
        )
    conn.execute("DROP TABLE key_material_v1")
    conn.execute("UPDATE meta SET value = '2' WHERE name = 'schema_version'")
