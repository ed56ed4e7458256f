"""The store contract: what every storage engine must do, whatever keeps its rows. The SQLite
engine runs it in memory and on a file; a new engine (PostgreSQL) joins the ``engine`` fixture.

Two stores opened on one file stand for two fakekms processes sharing it."""

from __future__ import annotations

import math
import threading

import pytest

from fakekms.state import (
    AliasRecord,
    ImportTokenRecord,
    KeyRecord,
    KeyUse,
    MaterialRecord,
    ReadTransaction,
    Store,
    Transaction,
    open_store,
)

ACCOUNT, OTHER = "111122223333", "444455556666"
REGION, EU = "us-west-2", "eu-west-1"


@pytest.fixture(params=["memory", "file"])
def engine(request, tmp_path):
    """Opens stores of the engine under test; on a file, every store opened shares it."""
    opened: list[Store] = []
    path = ":memory:" if request.param == "memory" else str(tmp_path / "kms.db")

    def open_one(**options) -> Store:
        store = open_store(path, **options)
        opened.append(store)
        return store

    open_one.shared = request.param == "file"
    yield open_one
    for store in opened:
        store.close()


@pytest.fixture
def store(engine) -> Store:
    return engine()


def key(key_id: str = "k1", *, account: str = ACCOUNT, region: str = REGION, **fields) -> KeyRecord:
    values = dict(account=account, region=region, key_id=key_id,
                  arn=f"arn:aws:kms:{region}:{account}:key/{key_id}", creation_date=1000.0,
                  key_spec="SYMMETRIC_DEFAULT", key_usage="ENCRYPT_DECRYPT", key_state="Enabled")
    values.update(fields)
    return KeyRecord(**values)


def material(version: int, state: str = "CURRENT", ref: bytes | None = b"m", **fields) -> MaterialRecord:
    return MaterialRecord(version=version, material_id=f"id{version}", ref=ref, created=1000.0 + version,
                          state=state, **fields)


def pending_deletion(key_id: str, at: float, **fields) -> KeyRecord:
    return key(key_id, key_state="PendingDeletion", deletion_date=at, pending_deletion_window_days=7, **fields)


# --- keys --------------------------------------------------------------------------------------

def test_a_key_reads_back_as_written_and_updates_in_place(store):
    original = key(description="first", policy='{"Statement": []}', rotation_enabled=True,
                   rotation_period_days=90, next_rotation_date=5000.0, extra={"later": [1, 2]})
    with store.transaction() as tx:
        tx.insert_key(original)
    with store.read() as tx:
        assert tx.get_key(ACCOUNT, REGION, "k1") == original
        assert tx.get_key(ACCOUNT, EU, "k1") is None and tx.get_key(OTHER, REGION, "k1") is None
    original.description = "second"
    with store.transaction() as tx:
        tx.update_key(original)
        assert tx.get_key(ACCOUNT, REGION, "k1").description == "second"  # its own writes
    with store.read() as tx:
        assert tx.get_key(ACCOUNT, REGION, "k1").description == "second"
        assert tx.key_count() == 1


def test_a_key_id_is_unique_in_its_account_and_region(store):
    with store.transaction() as tx:
        tx.insert_key(key())
        tx.insert_key(key(region=EU))
        tx.insert_key(key(account=OTHER))
    with pytest.raises(Exception), store.transaction() as tx:
        tx.insert_key(key())
    with store.read() as tx:
        assert tx.key_count() == 3


def test_list_keys_pages_in_creation_order_within_a_scope(store):
    with store.transaction() as tx:
        for n in range(5):
            tx.insert_key(key(f"k{n}"))
        tx.insert_key(key("eu", region=EU))
        tx.insert_key(key("other", account=OTHER))
    with store.read() as tx:
        first = tx.list_keys(ACCOUNT, REGION, 0, 3)
        assert [k.key_id for _, k in first] == ["k0", "k1", "k2"]
        rest = tx.list_keys(ACCOUNT, REGION, first[-1][0], 3)
        assert [k.key_id for _, k in rest] == ["k3", "k4"]
        assert [k.key_id for _, k in tx.list_keys(None, None, 0, 100)] == [
            "k0", "k1", "k2", "k3", "k4", "eu", "other"]
        assert [k.key_id for _, k in tx.list_keys(ACCOUNT, None, 0, 100)][-1] == "eu"


def test_key_copies_are_every_region_of_one_account(store):
    with store.transaction() as tx:
        for region in ("us-west-2", "eu-west-1", "ap-south-1"):
            tx.insert_key(key("mrk-1", region=region, multi_region=True))
        tx.insert_key(key("mrk-1", account=OTHER, multi_region=True))
    with store.read() as tx:
        assert [k.region for k in tx.key_copies(ACCOUNT, "mrk-1")] == ["ap-south-1", "eu-west-1", "us-west-2"]


def test_deleting_a_key_deletes_what_belongs_to_it_and_answers_its_material(store):
    k, kept = key("k1"), key("k2")
    with store.transaction() as tx:
        for each in (k, kept):
            tx.insert_key(each)
            tx.add_key_material(each, material(1, ref=b"ref-" + each.key_id.encode()))
            tx.put_tag(each, "t", "v")
            tx.insert_alias(AliasRecord(ACCOUNT, REGION, f"alias/{each.key_id}", each.key_id, 1.0, 1.0))
            tx.add_import_token(ImportTokenRecord(f"tok-{each.key_id}", ACCOUNT, REGION, each.key_id, 9e9,
                                                  b"wrap", "RSAES_OAEP_SHA_256", "RSA_2048"))
    store.append_audit(1.0, "Encrypt", "{}", [(ACCOUNT, REGION, "k1", KeyUse("Encrypt", 1.0, "e", "r"))])
    with store.transaction() as tx:
        gone = tx.delete_key(ACCOUNT, REGION, "k1")
    assert [m.ref for m in gone] == [b"ref-k1"]
    with store.read() as tx:
        assert tx.get_key(ACCOUNT, REGION, "k1") is None
        assert tx.key_materials(k) == [] and tx.tags(k) == [] and tx.key_last_use(k) is None
        assert tx.get_alias(ACCOUNT, REGION, "alias/k1") is None and tx.import_token("tok-k1") is None
        assert tx.key_materials(kept)[0].ref == b"ref-k2" and tx.tags(kept) == [("t", "v")]
        assert tx.get_alias(ACCOUNT, REGION, "alias/k2") is not None and tx.import_token("tok-k2") is not None


# --- due dates ---------------------------------------------------------------------------------

def test_the_next_due_key_is_the_earliest_whose_time_has_come(store):
    with store.transaction() as tx:
        tx.insert_key(pending_deletion("late", 300.0))
        tx.insert_key(pending_deletion("early", 200.0))
        tx.insert_key(key("rotating", rotation_enabled=True, rotation_period_days=90, next_rotation_date=250.0))
        tx.insert_key(key("never"))
    with store.read() as tx:
        assert tx.next_due_key(199.0) is None
        assert tx.next_due_key(200.0).key_id == "early"
        assert tx.next_due_key(1e9).key_id == "early"
    with store.transaction() as tx:
        tx.delete_key(ACCOUNT, REGION, "early")
        assert tx.next_due_key(260.0).key_id == "rotating"
        disabled = tx.get_key(ACCOUNT, REGION, "rotating")
        disabled.key_state = "Disabled"  # a disabled key does not rotate
        tx.update_key(disabled)
        assert tx.next_due_key(260.0) is None
        assert tx.next_due_key(300.0).key_id == "late"


def test_a_rolled_back_transaction_leaves_its_keys_due(store):
    """A call that ran a due deletion and then failed must leave the deletion due."""
    with store.transaction() as tx:
        tx.insert_key(pending_deletion("k1", 100.0))
        tx.insert_key(pending_deletion("k2", 500.0))
    with pytest.raises(RuntimeError), store.transaction() as tx:
        tx.delete_key(ACCOUNT, REGION, "k1")
        assert tx.next_due_key(200.0) is None  # as the failing call saw it
        raise RuntimeError("the operation failed after the catch-up")
    with store.transaction() as tx:
        assert tx.next_due_key(200.0).key_id == "k1"


def test_a_due_date_written_through_one_store_is_seen_through_another(tmp_path):
    """Two stores on one file (two processes) agree on what is due, whoever wrote it."""
    first, second = open_store(str(tmp_path / "kms.db")), open_store(str(tmp_path / "kms.db"))
    with second.read() as tx:
        assert tx.next_due_key(1e9) is None  # the second store has looked, and found nothing
    with first.transaction() as tx:
        tx.insert_key(pending_deletion("k1", 100.0))
    for store in (second, first):
        with store.transaction() as tx:
            assert tx.next_due_key(99.0) is None
            assert tx.next_due_key(100.0).key_id == "k1"
    with second.transaction() as tx:  # the second one deletes it; the first must agree
        tx.delete_key(ACCOUNT, REGION, "k1")
    with first.read() as tx:
        assert tx.next_due_key(1e9) is None and tx.get_key(ACCOUNT, REGION, "k1") is None
    first.close()
    second.close()


# --- key material, import tokens ------------------------------------------------------------------

def test_material_versions(store):
    k = key()
    with store.transaction() as tx:
        tx.insert_key(k)
        tx.add_key_material(k, material(1, "NON_CURRENT", ref=b"one"))
        tx.add_key_material(k, material(2, "CURRENT", ref=b"two", rotation_type="ON_DEMAND"))
        tx.add_key_material(k, material(3, "PENDING_ROTATION", ref=None, imported=True))
    with store.read() as tx:
        assert [m.version for m in tx.key_materials(k)] == [1, 2, 3]
        assert tx.key_material(k).ref == b"two" and tx.key_material(k).rotation_type == "ON_DEMAND"
        assert tx.key_material(k, 1).ref == b"one" and tx.key_material(k, 9) is None
        assert tx.pending_key_material(k).version == 3 and tx.pending_key_material(k).import_state == "PENDING_IMPORT"
        assert tx.key_material_by_id(k, "id1").version == 1 and tx.key_material_by_id(k, "nope") is None
        assert tx.last_material_version(k) == 3 and tx.last_material_version(key("k9")) == 0
    with store.transaction() as tx:
        current = tx.key_material(k)
        current.state = "NON_CURRENT"
        tx.update_key_material(k, current)
        pending = tx.pending_key_material(k)
        pending.state, pending.ref = "CURRENT", b"three"
        tx.update_key_material(k, pending)
        tx.delete_key_material(k, 1)
    with store.read() as tx:
        assert tx.key_material(k).ref == b"three" and tx.pending_key_material(k) is None
        assert [m.version for m in tx.key_materials(k)] == [2, 3]


def test_import_tokens_are_dropped_once_expired(store):
    with store.transaction() as tx:
        for name, valid_to in (("old", 100.0), ("new", 300.0)):
            tx.add_import_token(ImportTokenRecord(name, ACCOUNT, REGION, "k1", valid_to, b"\x00wrap",
                                                  "RSA_AES_KEY_WRAP_SHA_256", "RSA_4096"))
    with store.read() as tx:
        assert tx.import_token("new") == ImportTokenRecord("new", ACCOUNT, REGION, "k1", 300.0, b"\x00wrap",
                                                           "RSA_AES_KEY_WRAP_SHA_256", "RSA_4096")
    with store.transaction() as tx:
        tx.drop_import_tokens(before=200.0)
    with store.read() as tx:
        assert tx.import_token("old") is None and tx.import_token("new") is not None


# --- aliases and tags ----------------------------------------------------------------------------

def test_aliases(store):
    with store.transaction() as tx:
        for name, key_id in (("alias/b", "k1"), ("alias/a", "k2"), ("alias/c", "k1")):
            tx.insert_alias(AliasRecord(ACCOUNT, REGION, name, key_id, 1.0, 1.0))
        tx.insert_alias(AliasRecord(OTHER, REGION, "alias/a", "k9", 1.0, 1.0))
    with pytest.raises(Exception), store.transaction() as tx:
        tx.insert_alias(AliasRecord(ACCOUNT, REGION, "alias/a", "k3", 2.0, 2.0))
    with store.read() as tx:
        names = [a.alias_name for a in tx.list_aliases(ACCOUNT, REGION, "", 2)]
        assert names == ["alias/a", "alias/b"]
        assert [a.alias_name for a in tx.list_aliases(ACCOUNT, REGION, "alias/b", 10)] == ["alias/c"]
        assert [a.alias_name for a in tx.list_aliases(ACCOUNT, REGION, "", 10, "k1")] == ["alias/b", "alias/c"]
        assert [(a.account, a.alias_name) for a in tx.list_aliases(None, None, "", 10)] == [
            (ACCOUNT, "alias/a"), (OTHER, "alias/a"), (ACCOUNT, "alias/b"), (ACCOUNT, "alias/c")]
    with store.transaction() as tx:
        moved = tx.get_alias(ACCOUNT, REGION, "alias/a")
        moved.key_id, moved.last_updated_date = "k1", 5.0
        tx.update_alias(moved)
        tx.delete_alias(ACCOUNT, REGION, "alias/c")
    with store.read() as tx:
        assert tx.get_alias(ACCOUNT, REGION, "alias/a") == AliasRecord(ACCOUNT, REGION, "alias/a", "k1", 1.0, 5.0)
        assert tx.get_alias(ACCOUNT, REGION, "alias/c") is None


def test_tags_keep_their_first_position(store):
    k = key()
    with store.transaction() as tx:
        for tag_key in ("z", "a", "m"):
            tx.put_tag(k, tag_key, "1")
        tx.put_tag(k, "z", "2")
        tx.delete_tag(k, "a")
    with store.read() as tx:
        assert tx.tags(k) == [("z", "2"), ("m", "1")]
        assert tx.tags(key(region=EU)) == []


# --- audit ---------------------------------------------------------------------------------------

def test_audit_events_with_their_key_uses(engine):
    store = engine(audit_retention=150)
    use = KeyUse("Decrypt", 7.0, "event-7", "request-7")
    store.append_audit(5.0, "DescribeKey", '{"n": 5}')
    store.append_audit(7.0, "Decrypt", '{"n": 7}', [(ACCOUNT, REGION, "k1", use), (ACCOUNT, EU, "k1", use)])
    with store.read() as tx:
        assert tx.audit_events() == [(5.0, '{"n": 5}'), (7.0, '{"n": 7}')]
        assert tx.audit_events("Decrypt") == [(7.0, '{"n": 7}')]
        assert tx.audit_events(since=6.0) == [(7.0, '{"n": 7}')]
        assert tx.key_last_use(key()) == use and tx.key_last_use(key(region=EU)) == use
    later = KeyUse("Encrypt", 9.0, "event-9", "request-9")
    store.append_audit(9.0, "Encrypt", "{}", [(ACCOUNT, REGION, "k1", later)])
    for n in range(400):
        store.append_audit(10.0 + n, "ListKeys", f'{{"n": {10 + n}}}')
    with store.read() as tx:
        kept = tx.audit_events()
        assert 150 <= len(kept) < 250 and kept[-1] == (409.0, '{"n": 409}')  # the newest are kept
        assert tx.key_last_use(key()) == later  # trimming events keeps the last use


# --- transactions ----------------------------------------------------------------------------------

def test_a_transaction_that_raises_writes_nothing(store):
    with store.transaction() as tx:
        tx.insert_key(key("kept"))
    with pytest.raises(ValueError), store.transaction() as tx:
        tx.insert_key(key("k1"))
        tx.add_key_material(key("k1"), material(1))
        tx.insert_alias(AliasRecord(ACCOUNT, REGION, "alias/x", "k1", 1.0, 1.0))
        tx.delete_key(ACCOUNT, REGION, "kept")
        raise ValueError("the operation failed")
    with store.read() as tx:
        assert tx.get_key(ACCOUNT, REGION, "k1") is None and tx.key_materials(key("k1")) == []
        assert tx.get_alias(ACCOUNT, REGION, "alias/x") is None and tx.get_key(ACCOUNT, REGION, "kept")


def test_a_read_transaction_cannot_write(store):
    with store.read() as tx:
        assert isinstance(tx, ReadTransaction) and not isinstance(tx, Transaction)
        assert not hasattr(tx, "insert_key") and not hasattr(tx, "wipe")


def test_a_transaction_cannot_be_used_after_its_block(store):
    with store.transaction() as tx:
        pass
    with pytest.raises(Exception):
        tx.insert_key(key())
    with store.read() as tx:
        assert tx.key_count() == 0


def test_wipe_forgets_every_account_and_region(store):
    with store.transaction() as tx:
        for account, region in ((ACCOUNT, REGION), (OTHER, EU)):
            k = key(account=account, region=region)
            tx.insert_key(k)
            tx.put_tag(k, "t", "v")
            tx.insert_alias(AliasRecord(account, region, "alias/x", "k1", 1.0, 1.0))
    store.append_audit(1.0, "CreateKey", "{}")
    with store.transaction() as tx:
        tx.wipe()
    with store.read() as tx:
        assert tx.key_count() == 0 and tx.list_aliases(None, None, "", 10) == [] and tx.audit_events() == []


def test_concurrent_read_modify_write_loses_no_update(engine):
    """Writers on two stores (on a file: two processes' connections) each add to one key's
    counter, read and written back in one transaction: every addition survives."""
    stores = [engine(), engine()] if engine.shared else [engine()]
    with stores[0].transaction() as tx:
        tx.insert_key(key(on_demand_rotations=0))
    per_writer, writers = 50, 4

    def add(store):
        for _ in range(per_writer):
            with store.transaction() as tx:
                k = tx.get_key(ACCOUNT, REGION, "k1")
                k.on_demand_rotations += 1
                tx.update_key(k)

    threads = [threading.Thread(target=add, args=(stores[n % len(stores)],)) for n in range(writers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    with stores[-1].read() as tx:
        assert tx.get_key(ACCOUNT, REGION, "k1").on_demand_rotations == per_writer * writers


def test_a_race_for_one_name_has_exactly_one_winner(engine):
    """Writers that each check a name is free, then take it: one of them gets each name."""
    stores = [engine(), engine()] if engine.shared else [engine()]
    names = [f"alias/n{n}" for n in range(30)]
    won: list[tuple[int, str]] = []
    barrier = threading.Barrier(4)

    def claim(writer: int):
        store = stores[writer % len(stores)]
        barrier.wait()
        for name in names:
            with store.transaction() as tx:
                if tx.get_alias(ACCOUNT, REGION, name) is None:
                    tx.insert_alias(AliasRecord(ACCOUNT, REGION, name, f"k{writer}", 1.0, 1.0))
                    won.append((writer, name))

    threads = [threading.Thread(target=claim, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(name for _, name in won) == sorted(names)
    with stores[0].read() as tx:
        for writer, name in won:
            assert tx.get_alias(ACCOUNT, REGION, name).key_id == f"k{writer}"


def test_no_due_key_at_all_reads_as_none_at_any_time(store):
    with store.read() as tx:
        assert tx.next_due_key(math.inf) is None
