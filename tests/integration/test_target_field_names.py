"""Any document MongoDB stores survives target-mongodb: `$`-prefixed and dotted names, every BSON type.

Since MongoDB 5.0 a top-level field name may start with `$` or hold `.`. An insert stores
such names; a replacement cannot carry a `$`-prefixed one, so the target upserts those
documents with a pipeline update, and every other document with the cheaper replacement.
"""

from __future__ import annotations

import re
import typing as t

import bson
import pytest
from bson import Int64, ObjectId
from bson.codec_options import CodecOptions
from bson.raw_bson import RawBSONDocument

from mongodb_common.bson_codec import encode_extended_json
from target_mongodb.errors import KeyPropertyNameError, RecordRejectedError
from tests.support import command_counting
from tests.support.bson_samples import every_type_document, storable_on_test_server
from tests.support.deployment import CODEC_OPTIONS
from tests.support.singer_io import run_target, state_message

if t.TYPE_CHECKING:
    from tests.support.deployment import Deployment

STREAM = "shop-things"
RAW = CodecOptions(document_class=RawBSONDocument)
OPEN_SCHEMA = {"type": "object", "properties": {"_id": {}}}


def _odd_documents() -> list[dict[str, t.Any]]:
    every_type = storable_on_test_server(every_type_document(_id=1))
    del every_type["_id"]
    return [
        {
            "_id": 1,
            "$ref": "orders",  # with `$id`: what a DBRef looks like, at the top level
            "$id": ObjectId("6630c2f0a1b2c3d4e5f60719"),
            **every_type,
            "$x": {"$y": [1, {"$z": Int64(2)}], "a.b": {"$ref": "r", "$id": 3}},
            "a.b": 1,
            "$": "a lone dollar",
            "$.": "dollar and dot",
            "Ωμέγα.$": "unicode",
        },
        {"_id": 2, "$ref": "only a ref"},
        {"_id": 3, "$id": 7, "$db": "x", "plain": 1},
        {"_id": 4, "$date": "no wrapper: _id comes first", "$numberLong": "x"},
        {"_id": 5, "ordinary": "document", "with.dot": 1, "": 2, "nested": {"$ok": "nested names never needed more"}},
    ]


def _messages(documents: list[dict[str, t.Any]], key_properties: list[str] | None = None) -> list[dict[str, t.Any]]:
    return [
        {"type": "SCHEMA", "stream": STREAM, "schema": OPEN_SCHEMA, "key_properties": key_properties or ["_id"]},
        *[{"type": "RECORD", "stream": STREAM, "record": encode_extended_json(d)} for d in documents],
        state_message({"done": len(documents)}),
    ]


def _stored(deployment: Deployment) -> dict[t.Any, bytes]:
    collection = deployment.database("dest").get_collection(STREAM, codec_options=RAW)
    return {bson.decode(d.raw)["_id"]: d.raw for d in collection.find({}, sort=[("_id", 1)])}


def _expected(documents: list[dict[str, t.Any]]) -> dict[t.Any, bytes]:
    return {d["_id"]: bson.encode(d, codec_options=CODEC_OPTIONS) for d in documents}


def _update_statements(counter: command_counting.CommandCounter) -> list[t.Any]:
    """The batches' statements, without the journaled repeat of each batch's last (journal_points.py)."""
    return [
        statement
        for command in counter.named("update")
        if not command.get("writeConcern", {}).get("j")
        for statement in command["updates"]
    ]


def test_documents_with_dollar_and_dotted_names_are_upserted_byte_identical(
    deployment: Deployment, monkeypatch: pytest.MonkeyPatch
) -> None:
    counter = command_counting.install(monkeypatch)
    config = deployment.config(database=deployment.db_name("dest"))
    documents = _odd_documents()

    assert run_target(config, _messages(documents)) == [{"done": 5}]
    assert _stored(deployment) == _expected(documents)
    # The cheapest write that can carry each document: a pipeline only where a replacement cannot.
    pipelines = [isinstance(statement["u"], list) for statement in _update_statements(counter)]
    assert sorted(pipelines) == [False, True, True, True, True]

    # Again: idempotent.
    run_target(config, _messages(documents))
    assert _stored(deployment) == _expected(documents)

    # Changed at the source: each document is replaced as a whole (a field gone is gone).
    changed = [
        {"_id": 2, "$ref": "another ref", "$new": {"$deep": None}},
        {"_id": 3, "$id": 8, "plain": 1},
        {"_id": 5, "ordinary": "changed"},
    ]
    run_target(config, _messages(changed))
    assert _stored(deployment) == {**_expected(documents), **_expected(changed)}


def test_documents_with_dollar_names_are_inserted_byte_identical_without_keys(deployment: Deployment) -> None:
    config = deployment.config(database=deployment.db_name("dest"), load_method="append-only")
    documents = _odd_documents()
    run_target(config, _messages(documents))
    assert _stored(deployment) == _expected(documents)


def test_what_mongodb_refuses_is_still_refused_naming_the_line(deployment: Deployment) -> None:
    """MongoDB refuses an array or a regular expression as `_id`, whatever the field names."""
    config = deployment.config(database=deployment.db_name("dest"))
    documents = [{"_id": 1, "$x": 1}, {"_id": [2], "$x": 2}, {"_id": bson.Regex("^a"), "$x": 3}]
    with pytest.raises(RecordRejectedError, match=r"input line 3, key \{'_id': \[2\]\}: _id is an array"):
        run_target(config, _messages(documents))

    dead_letter = deployment.config(database=deployment.db_name("dest"), on_invalid_record="dead_letter")
    run_target(dead_letter, _messages(documents))
    rejected = list(deployment.database("dest")["_sdc_rejected_records"].find({}, sort=[("line_number", 1)]))
    assert [(r["stream"], r["line_number"]) for r in rejected] == [(STREAM, 3), (STREAM, 4)]
    assert list(deployment.database("dest")[STREAM].find()) == [{"_id": 1, "$x": 1}]


@pytest.mark.parametrize("key", ["a.b", "$k"])
def test_a_key_property_mongodb_cannot_query_by_is_refused_naming_it(deployment: Deployment, key: str) -> None:
    config = deployment.config(database=deployment.db_name("dest"))
    with pytest.raises(
        KeyPropertyNameError, match=rf"stream '{STREAM}': key property '{re.escape(key)}' cannot identify"
    ):
        run_target(config, _messages([{"_id": 1, key: 1}], key_properties=[key]))
