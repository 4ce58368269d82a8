"""Recorded change events and oplog entries translate to the right changes."""

from __future__ import annotations

import pytest
from bson import ObjectId

from tap_mongodb.change_events import translate_event
from tap_mongodb.log_changes import ChangeKind
from tap_mongodb.log_sources import LogItem, resolve_refetches
from tap_mongodb.oplog_entries import translate_entry
from tests.support.recorded_log import load


def test_change_events_of_each_kind() -> None:
    insert, update, replace, update_of_deleted, delete = (translate_event(e) for e in load("change_events.json"))
    assert insert is not None
    assert (insert.kind, insert.database, insert.collection) == (ChangeKind.UPSERT, "shop", "orders")
    assert insert.document is not None
    assert insert.document["status"] == "open"
    assert update is not None
    assert update.kind is ChangeKind.UPSERT
    assert update.document is not None
    assert update.document["status"] == "paid"  # the looked-up full document, not the delta
    assert replace is not None
    assert replace.document == {
        "_id": ObjectId("66a0c1f0a1b2c3d4e5f60719"),
        "status": "replaced",
        "total": replace.document["total"],
    }
    # updateLookup found nothing: the document was deleted since, and its delete follows.
    assert update_of_deleted is None
    assert [c.operation for c in (insert, update, replace, delete) if c] == ["insert", "update", "replace", "delete"]
    assert delete is not None
    assert (delete.kind, delete.document_id) == (ChangeKind.DELETE, ObjectId("66a0c1f0a1b2c3d4e5f60720"))
    assert delete.wall_time is not None


@pytest.mark.parametrize(
    ("name", "collection"),
    [("drop", "orders"), ("rename", "orders"), ("dropDatabase", None), ("invalidate", None)],
)
def test_invalidating_events(name: str, collection: str | None) -> None:
    change = translate_event(load("invalidating_events.json")[name])
    assert change is not None
    assert change.kind is ChangeKind.INVALIDATE
    assert change.collection == collection
    assert name in change.reason


def test_events_that_change_no_document_are_ignored() -> None:
    assert translate_event({"operationType": "createIndexes", "ns": {"db": "shop", "coll": "orders"}}) is None


def test_oplog_entries_of_each_kind() -> None:
    entries = load("oplog_entries.json")
    kinds = [[(c.kind, c.document_id) for c in translate_entry(entry)] for entry in entries]
    o718, o719, o720, o721 = (ObjectId(f"66a0c1f0a1b2c3d4e5f607{n}") for n in ("18", "19", "20", "21"))
    assert kinds == [
        [(ChangeKind.UPSERT, o720)],
        [(ChangeKind.REFETCH, o718)],  # $v: 2 diff
        [(ChangeKind.REFETCH, o719)],  # $set / $unset
        [],  # no-op
        [(ChangeKind.UPSERT, o721), (ChangeKind.REFETCH, o718), (ChangeKind.DELETE, o720)],  # applyOps
        [(ChangeKind.UPSERT, o719)],  # replacement
    ]


@pytest.mark.parametrize(
    ("name", "collection"), [("drop", "orders"), ("renameCollection", "orders"), ("dropDatabase", None)]
)
def test_oplog_commands_invalidate(name: str, collection: str | None) -> None:
    (change,) = translate_entry(load("oplog_commands.json")[name])
    assert change.kind is ChangeKind.INVALIDATE
    assert (change.database, change.collection) == ("shop", collection)


def test_refetches_become_current_documents_or_nothing_when_deleted_since() -> None:
    entries = load("oplog_entries.json")
    items = [LogItem({"oplog_ts": e["ts"]}, change) for e in entries for change in translate_entry(e)]
    queries: list[tuple[str, str, list[object]]] = []

    def fetch(database: str, collection: str, ids: list[object]) -> dict[object, dict[str, object]]:
        queries.append((database, collection, ids))
        return {
            ("ObjectId", ObjectId("66a0c1f0a1b2c3d4e5f60718")): {"_id": ObjectId("66a0c1f0a1b2c3d4e5f60718"), "v": 2}
        }

    resolved = list(resolve_refetches(items, fetch))
    assert len(queries) == 1  # one query for the whole batch
    # 719 no longer exists: nothing to emit (its delete follows in the log), the position still moves.
    assert [item.position for item in resolved] == [item.position for item in items]
    emitted = [item.change for item in resolved if item.change is not None]
    assert len(emitted) == len(items) - 1
    assert all(change.kind is not ChangeKind.REFETCH for change in emitted)
    assert {change.operation for change in emitted if change.document_id == ObjectId("66a0c1f0a1b2c3d4e5f60718")} == {
        "update"
    }


def test_oplog_operation_types() -> None:
    operations = [[c.operation for c in translate_entry(entry)] for entry in load("oplog_entries.json")]
    assert operations == [["insert"], ["update"], ["update"], [], ["insert", "update", "delete"], ["replace"]]


def test_a_rename_onto_another_collection_invalidates_both() -> None:
    change = translate_event(load("invalidating_events.json")["rename"])
    assert change is not None
    assert change.concerns("shop", "orders")
    assert change.concerns("shop", "orders_archive")
    assert not change.concerns("shop", "customers")
    (entry,) = translate_entry(load("oplog_commands.json")["renameCollection"])
    assert entry.concerns("shop", "orders_archive")


def test_events_through_mongos_in_a_transaction_with_a_pre_image() -> None:
    insert, delete = (translate_event(e) for e in load("sharded_and_transaction_events.json"))
    assert insert is not None
    assert (insert.kind, insert.document_id) == (ChangeKind.UPSERT, ObjectId("66a0c300a1b2c3d4e5f60730"))
    assert delete is not None
    assert delete.document_id == ObjectId("66a0c1f0a1b2c3d4e5f60719")  # the _id, not the shard key
    assert delete.document is not None
    assert delete.document["status"] == "replaced"  # the last state, from fullDocumentBeforeChange


def test_target_removes_rows_of_older_emissions_and_of_deleted_parents() -> None:
    import bson
    import pymongo
    from bson.raw_bson import RawBSONDocument

    from target_mongodb.array_rows import stale_row_filters

    upsert = pymongo.ReplaceOne(
        {"_id": 1}, RawBSONDocument(bson.encode({"_id": 1, "_sdc_denest_version": 42})), upsert=True
    )
    delete = pymongo.DeleteOne({"_id": 2})
    assert stale_row_filters([(upsert, {"_id": 1}), (delete, {"_id": 2})]) == [
        {"_sdc_source_key__id": 1, "_sdc_denest_version": {"$lt": 42}},
        {"_sdc_source_key__id": 2},
    ]


def test_a_document_with_top_level_ref_and_id_is_read_again_as_stored() -> None:
    """A driver decodes such a document inside an event or an oplog entry as a DBRef (its
    fields reordered); the tap refetches it, in stored order, instead of emitting that."""
    import bson
    from bson import DBRef

    stored = {"_id": 7, "$ref": "orders", "$id": 5}
    event = bson.decode(
        bson.encode(
            {
                "_id": {"_data": "82"},
                "operationType": "insert",
                "ns": {"db": "shop", "coll": "links"},
                "documentKey": {"_id": 7},
                "fullDocument": stored,
            }
        )
    )
    assert isinstance(event["fullDocument"], DBRef)  # what the driver hands out
    change = translate_event(event)
    assert change is not None
    assert (change.kind, change.document_id) == (ChangeKind.REFETCH, 7)

    entry = bson.decode(bson.encode({"op": "i", "ns": "shop.links", "o": stored, "ts": bson.Timestamp(1, 1)}))
    (inserted,) = translate_entry(entry)
    assert (inserted.kind, inserted.document_id) == (ChangeKind.REFETCH, 7)
    deleted = translate_event({**event, "operationType": "delete", "fullDocumentBeforeChange": event["fullDocument"]})
    assert deleted is not None
    assert deleted.document == {"$ref": "orders", "$id": 5, "_id": 7}
