"""tap-mongodb -> target-mongodb reproduces every source document, byte for byte in BSON."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

import bson
import pytest
from bson import Int64, ObjectId
from bson.raw_bson import RawBSONDocument

from tests.support.bson_samples import storable_on_test_server
from tests.support.deployment import CODEC_OPTIONS
from tests.support.nasty_documents import nasty_documents
from tests.support.singer_io import discover, last_state, run_tap, run_target, select_streams

if TYPE_CHECKING:
    from tests.support.deployment import Deployment

RAW_CODEC_OPTIONS = CODEC_OPTIONS.with_options(document_class=RawBSONDocument)


def _by_id(collection: object) -> dict[bytes, bytes]:
    """Each document's stored bytes, by its _id's: read raw, as a `$ref`/`$id` document is no DBRef."""
    raw = collection.with_options(codec_options=RAW_CODEC_OPTIONS)  # type: ignore[attr-defined]
    return {bson.encode({"k": d["_id"]}, codec_options=CODEC_OPTIONS): d.raw for d in raw.find({})}


@pytest.mark.parametrize("naming", ["strip_database_prefix"])
def test_every_nasty_document_survives_tap_then_target(deployment: Deployment, naming: str) -> None:
    source = deployment.database("src").things
    for document in nasty_documents():
        source.insert_one(storable_on_test_server(document))
    messages = run_tap(deployment.config(database_includes=[deployment.db_name("src")], bson_encoding="extended_json"))
    run_target(deployment.config(database=deployment.db_name("dst"), collection_naming=naming), messages)
    copied = deployment.database("dst").things
    assert _by_id(copied) == _by_id(source)


def test_second_full_sync_removes_documents_deleted_at_the_source(deployment: Deployment) -> None:
    source = deployment.database("src").things
    source.insert_many([{"_id": i, "v": i} for i in range(10)])
    tap_config = deployment.config(database_includes=[deployment.db_name("src")], bson_encoding="extended_json")
    target_config = deployment.config(database=deployment.db_name("dst"), collection_naming="strip_database_prefix")
    run_target(target_config, run_tap(tap_config))
    source.delete_many({"_id": {"$in": [2, 5]}})
    source.update_one({"_id": 3}, {"$set": {"v": "changed"}})
    run_target(target_config, run_tap(tap_config))
    assert _by_id(deployment.database("dst").things) == _by_id(source)


def test_plain_encoding_restores_dates_and_numbers(deployment: Deployment) -> None:
    import datetime

    from bson import Int64

    source = deployment.database("src").things
    when = datetime.datetime(2024, 5, 1, 12, 30, tzinfo=datetime.timezone.utc)
    source.insert_one({"_id": 1, "when": when, "nested": [{"at": when}], "n": Int64(2**40), "f": 1.5, "i": 3})
    run_target(
        deployment.config(database=deployment.db_name("dst"), collection_naming="strip_database_prefix"),
        run_tap(deployment.config(database_includes=[deployment.db_name("src")])),
    )
    (copied,) = list(deployment.database("dst").things.find())
    assert copied == {"_id": 1, "when": when, "nested": [{"at": when}], "n": 2**40, "f": 1.5, "i": 3}
    assert type(copied["n"]) is Int64


def test_plain_encoding_restores_every_homogeneous_field_exactly(deployment: Deployment) -> None:
    """With x-bson-* formats, plain JSON round-trips fields that hold one BSON type."""
    from tests.support.bson_samples import every_type_document

    source = deployment.database("src").things
    document = every_type_document()
    # Plain JSON cannot carry the types inside a mixed-type array, a DBRef's $id or a code
    # scope; those need extended_json (test above), as docs/bson-types.md says.
    for lossy in ("dbref", "dbref_db", "regex_python", "array_mixed", "code_with_scope"):
        document.pop(lossy)
    source.insert_one(storable_on_test_server(document))
    run_target(
        deployment.config(database=deployment.db_name("dst"), collection_naming="strip_database_prefix"),
        run_tap(deployment.config(database_includes=[deployment.db_name("src")])),
    )
    assert _by_id(deployment.database("dst").things) == _by_id(source)


def _odd_name_documents() -> list[dict[str, object]]:
    """Top-level names MongoDB stores since 5.0: `$`-prefixed, dotted, empty; some look like BSON."""
    from tests.support.bson_samples import every_type_document

    return [
        {"_id": 1, "$ref": "orders", "$id": 5},  # a driver reads this as a DBRef
        {"_id": 2, "$ref": "orders", "$id": ObjectId("6630c2f0a1b2c3d4e5f60718"), "$db": "shop", "extra": [1]},
        {"_id": 3, "$price": 5, "a.b": {"c.d": 1, "$in": [1]}, "": "empty name", "$oid": "not hex"},
        {**storable_on_test_server(every_type_document(4)), "$odd": Int64(1), "dotted.name": "x"},
        {"_id": 5, "$numberLong": "12", "$date": 1},
    ]


def test_any_document_mongodb_stores_is_extracted_within_its_schema_and_copied_exactly(
    deployment: Deployment,
) -> None:
    source = deployment.database("src").things
    source.insert_many(_odd_name_documents())
    messages = run_tap(deployment.config(database_includes=[deployment.db_name("src")], bson_encoding="extended_json"))
    assert sorted(m["record"]["_id"] for m in messages if m["type"] == "RECORD") == [1, 2, 3, 4, 5]
    target = deployment.config(database=deployment.db_name("dst"), collection_naming="strip_database_prefix")
    run_target(target, messages)
    assert _by_id(deployment.database("dst").things) == _by_id(source)


@pytest.mark.parametrize("log_method", ["change_streams", "oplog"])
def test_documents_with_odd_top_level_names_arrive_through_the_log_exactly(
    deployment: Deployment, log_method: str
) -> None:
    source = deployment.database("src").things
    source.insert_one({"_id": 0})
    config = deployment.config(
        database_includes=[deployment.db_name("src")], bson_encoding="extended_json", log_method=log_method
    )
    stream = f"{deployment.prefix}src-things"
    catalog = select_streams(discover(config), [stream], replication_method="LOG_BASED")
    target = deployment.config(database=deployment.db_name("dst"), collection_naming="strip_database_prefix")
    first = run_tap(config, catalog=catalog)
    run_target(target, first)
    documents = _odd_name_documents()
    if log_method == "change_streams" and not os.environ.get("MONGODB_URI"):
        # The test server's own change streams fail (InternalError) on a document whose top-level
        # fields are `$ref`/`$id`; mongod serves them. tests/unit/test_log_translation.py covers
        # how the tap reads such an event, from mongod's documented event shape.
        documents = [document for document in documents if "$ref" not in document]
    source.insert_many(documents)
    source.update_one({"_id": 3}, {"$set": {"touched": True}})
    run_target(target, run_tap(config, catalog=catalog, state=last_state(first)))
    assert _by_id(deployment.database("dst").things) == _by_id(source)
