"""target-mongodb writes: upserts, keys, deletes, versions, naming, and types read back."""

from __future__ import annotations

import base64
import datetime
import typing as t

import bson
import pytest
from bson import Decimal128, Int64, ObjectId

from tests.support.singer_io import record_message, run_target, schema_message, state_message

if t.TYPE_CHECKING:
    from tests.support.deployment import Deployment

UTC = datetime.timezone.utc
ID_SCHEMA = {"_id": {"type": "integer"}, "name": {"type": ["string", "null"]}}


def _config(deployment: Deployment, **settings: t.Any) -> dict[str, t.Any]:
    return deployment.config(database=deployment.db_name("dest"), **settings)


def _docs(deployment: Deployment, collection: str = "shop-orders") -> list[dict[str, t.Any]]:
    return list(deployment.database("dest")[collection].find({}, sort=[("_id", 1)]))


def test_rerunning_the_same_input_leaves_the_destination_unchanged(deployment: Deployment) -> None:
    messages = [
        schema_message("shop-orders", ID_SCHEMA, ["_id"]),
        *[record_message("shop-orders", {"_id": i, "name": f"n{i}"}) for i in range(5)],
        record_message("shop-orders", {"_id": 2, "name": "updated"}),
        state_message({"bookmarks": {"shop-orders": {"x": 1}}}),
    ]
    run_target(_config(deployment), messages)
    first = _docs(deployment)
    run_target(_config(deployment), messages)
    assert _docs(deployment) == first
    assert first[2] == {"_id": 2, "name": "updated"}
    assert len(first) == 5


def test_upsert_replaces_the_whole_document(deployment: Deployment) -> None:
    run_target(
        _config(deployment),
        [
            schema_message("shop-orders", {"_id": {"type": "integer"}, "a": {}, "b": {}}, ["_id"]),
            record_message("shop-orders", {"_id": 1, "a": 1, "b": 2}),
        ],
    )
    run_target(
        _config(deployment),
        [schema_message("shop-orders", ID_SCHEMA, ["_id"]), record_message("shop-orders", {"_id": 1, "name": "x"})],
    )
    assert _docs(deployment) == [{"_id": 1, "name": "x"}]


def test_composite_keys_upsert_and_get_a_unique_index(deployment: Deployment) -> None:
    schema = {"region": {"type": "string"}, "sku": {"type": "string"}, "qty": {"type": "integer"}}
    run_target(
        _config(deployment),
        [
            schema_message("inventory", schema, ["region", "sku"]),
            record_message("inventory", {"region": "eu", "sku": "a", "qty": 1}),
            record_message("inventory", {"region": "us", "sku": "a", "qty": 2}),
            record_message("inventory", {"region": "eu", "sku": "a", "qty": 3}),
        ],
    )
    collection = deployment.database("dest")["inventory"]
    rows = sorted((d["region"], d["sku"], d["qty"]) for d in collection.find())
    assert rows == [("eu", "a", 3), ("us", "a", 2)]
    unique = [i for i in collection.list_indexes() if i.get("unique")]
    assert [list(i["key"]) for i in unique] == [["region", "sku"]]


def test_streams_without_keys_are_inserted(deployment: Deployment) -> None:
    run_target(
        _config(deployment),
        [schema_message("events", {"e": {"type": "string"}}, []), *[record_message("events", {"e": "x"})] * 3],
    )
    assert deployment.database("dest")["events"].count_documents({"e": "x"}) == 3


def test_deleted_records_are_deleted_by_default(deployment: Deployment) -> None:
    schema = {**ID_SCHEMA, "_sdc_deleted_at": {"type": ["string", "null"], "format": "date-time"}}
    run_target(
        _config(deployment),
        [
            schema_message("shop-orders", schema, ["_id"]),
            record_message("shop-orders", {"_id": 1, "name": "a"}),
            record_message("shop-orders", {"_id": 2, "name": "b", "_sdc_deleted_at": None}),
            record_message("shop-orders", {"_id": 1, "_sdc_deleted_at": "2024-05-01T00:00:00Z"}),
        ],
    )
    assert _docs(deployment) == [{"_id": 2, "name": "b"}]


def test_soft_delete_marks_instead(deployment: Deployment) -> None:
    schema = {**ID_SCHEMA, "_sdc_deleted_at": {"type": ["string", "null"], "format": "date-time"}}
    config = _config(deployment, hard_delete=False)
    run_target(
        config, [schema_message("shop-orders", schema, ["_id"]), record_message("shop-orders", {"_id": 1, "name": "a"})]
    )
    run_target(
        config,
        [
            schema_message("shop-orders", schema, ["_id"]),
            record_message("shop-orders", {"_id": 1, "_sdc_deleted_at": "2024-05-01T00:00:00Z"}),
        ],
    )
    assert _docs(deployment) == [{"_id": 1, "name": "a", "_sdc_deleted_at": datetime.datetime(2024, 5, 1, tzinfo=UTC)}]


def _versioned_sync(version: int, ids: list[int]) -> list[dict[str, t.Any]]:
    return [
        schema_message("shop-orders", ID_SCHEMA, ["_id"]),
        *[record_message("shop-orders", {"_id": i, "name": f"v{version}"}, version=version) for i in ids],
        {"type": "ACTIVATE_VERSION", "stream": "shop-orders", "version": version},
    ]


def test_activate_version_removes_documents_deleted_at_the_source(deployment: Deployment) -> None:
    config = _config(deployment)
    run_target(config, _versioned_sync(100, [1, 2, 3]))
    run_target(config, _versioned_sync(200, [1, 3]))
    assert _docs(deployment) == [{"_id": 1, "name": "v200"}, {"_id": 3, "name": "v200"}]


def test_activate_version_soft_marks_and_keeps_documents_free_of_version_fields(deployment: Deployment) -> None:
    config = _config(deployment, hard_delete=False)
    run_target(config, _versioned_sync(100, [1, 2]))
    run_target(config, _versioned_sync(200, [1]))
    docs = _docs(deployment)
    assert docs[0] == {"_id": 1, "name": "v200"}
    assert set(docs[1]) == {"_id", "name", "_sdc_deleted_at"}


def _entries(deployment: Deployment) -> list[tuple[str, int, t.Any]]:
    """(collection, version, key) of each ledger entry of this release."""
    found = []
    for entry in deployment.database("dest")["_sdc_table_versions"].find({"_id": {"$type": "string"}}):
        collection, identity, version = entry["_id"].split("\x00")
        found.append((collection, int(version), bson.decode(base64.b64decode(identity))["k"][0]))
    return sorted(found)


def test_version_ledger_keeps_one_entry_per_document_and_forgets_activated_versions(deployment: Deployment) -> None:
    config = _config(deployment, batch_size_rows=4)
    run_target(config, _versioned_sync(100, list(range(10))))
    run_target(config, _versioned_sync(100, [4, 5]))  # written again: no second entry
    assert _entries(deployment) == [("shop-orders", 100, i) for i in range(10)]
    # A re-sync whose batches group the keys differently: only 3 and 7 are gone at the source.
    run_target(config, _versioned_sync(200, [9, 8, 6, 5, 4, 2, 1, 0]))
    assert [d["_id"] for d in _docs(deployment)] == [0, 1, 2, 4, 5, 6, 8, 9]
    assert _entries(deployment) == [("shop-orders", 200, i) for i in (0, 1, 2, 4, 5, 6, 8, 9)]


def test_activation_honours_batch_ledger_entries_of_the_previous_release(deployment: Deployment) -> None:
    """A sync begun before the upgrade: batch entries (`ids`) of versions 100 and 200."""
    ledger = deployment.database("dest")["_sdc_table_versions"]
    ledger.create_index([("c", 1), ("v", 1), ("ids", 1)])  # as that release did
    documents = deployment.database("dest")["shop-orders"]
    documents.insert_many([{"_id": i, "name": "old"} for i in range(1, 7)])

    def ids(*keys: int) -> list[bytes]:
        return [bson.encode({"k": [key]}) for key in keys]

    ledger.insert_many(
        [
            {"c": "shop-orders", "v": 100, "ids": ids(1, 2, 3, 4)},
            {"c": "shop-orders", "v": 100, "ids": ids(5)},
            {"c": "shop-orders", "v": 200, "ids": ids(1, 2)},
            {"c": "other", "v": 100, "ids": ids(1)},
        ]
    )
    run_target(_config(deployment), _versioned_sync(200, [3]))
    assert [d["_id"] for d in _docs(deployment)] == [1, 2, 3, 6]  # 6: never written with a version
    assert _entries(deployment) == [("shop-orders", 200, 1), ("shop-orders", 200, 2), ("shop-orders", 200, 3)]
    assert [e["c"] for e in ledger.find({"ids": {"$exists": True}})] == ["other"]  # converted when activated
    assert len(ledger.index_information()) == 2  # still needed for it


def test_activation_honours_per_document_ledger_entries_of_earlier_releases(deployment: Deployment) -> None:
    """A sync begun before the upgrade to batch entries: 1 and 2 written by version 200 then."""
    ledger = deployment.database("dest")["_sdc_table_versions"]
    ledger.create_index([("c", 1), ("v", 1)])  # as those releases did
    documents = deployment.database("dest")["shop-orders"]
    documents.insert_many([{"_id": i, "name": "old"} for i in (1, 2, 3, 4)])
    ledger.insert_many(
        [{"_id": bson.encode({"c": "shop-orders", "k": [i]}), "c": "shop-orders", "k": [i], "v": 100} for i in (3, 4)]
        + [{"_id": bson.encode({"c": "shop-orders", "k": [i]}), "c": "shop-orders", "k": [i], "v": 200} for i in (1, 2)]
    )
    run_target(_config(deployment), _versioned_sync(200, [3]))
    assert [d["_id"] for d in _docs(deployment)] == [1, 2, 3]
    assert _entries(deployment) == [("shop-orders", 200, 1), ("shop-orders", 200, 2), ("shop-orders", 200, 3)]
    assert list(ledger.index_information()) == ["_id_"]  # no entry of an earlier release is left


def test_activating_an_older_version_spares_documents_a_newer_version_wrote(deployment: Deployment) -> None:
    config = _config(deployment)
    run_target(config, _versioned_sync(100, [1, 2]))
    run_target(
        config,
        [
            schema_message("shop-orders", ID_SCHEMA, ["_id"]),
            record_message("shop-orders", {"_id": 2, "name": "v300"}, version=300),
            {"type": "ACTIVATE_VERSION", "stream": "shop-orders", "version": 200},
        ],
    )
    assert _docs(deployment) == [{"_id": 2, "name": "v300"}]


def test_activation_deletes_by_composite_keys_of_any_bson_type(deployment: Deployment) -> None:
    schema = {
        "day": {"type": "string", "format": "date-time"},
        "sku": {"type": "string", "format": "x-bson-objectid"},
        "qty": {"type": "integer"},
    }
    skus = [str(ObjectId()) for _ in range(3)]

    def sync(version: int, rows: list[tuple[str, str]]) -> list[dict[str, t.Any]]:
        return [
            schema_message("shop-orders", schema, ["day", "sku"]),
            *[record_message("shop-orders", {"day": d, "sku": s, "qty": 1}, version=version) for d, s in rows],
            {"type": "ACTIVATE_VERSION", "stream": "shop-orders", "version": version},
        ]

    day = "2024-05-01T00:00:00.000Z"
    run_target(_config(deployment), sync(100, [(day, sku) for sku in skus]))
    run_target(_config(deployment), sync(200, [(day, skus[0])]))
    left = list(deployment.database("dest")["shop-orders"].find({}, {"_id": 0}))
    assert left == [{"day": datetime.datetime(2024, 5, 1, tzinfo=UTC), "sku": ObjectId(skus[0]), "qty": 1}]


def test_state_is_emitted_after_the_records_before_it_are_written(deployment: Deployment) -> None:
    states = run_target(
        _config(deployment, max_state_age_seconds=0),
        [
            schema_message("shop-orders", ID_SCHEMA, ["_id"]),
            record_message("shop-orders", {"_id": 1}),
            state_message({"position": 1}),
            record_message("shop-orders", {"_id": 2}),
            state_message({"position": 2}),
        ],
    )
    assert states[-1] == {"position": 2}
    assert [d["_id"] for d in _docs(deployment)] == [1, 2]


@pytest.mark.parametrize(
    ("mode", "database", "collection"),
    [
        ("stream_name", "dest", "shop-orders"),
        ("strip_database_prefix", "dest", "orders"),
        ("database_from_prefix", "shop", "orders"),
    ],
)
def test_collection_naming_modes(deployment: Deployment, mode: str, database: str, collection: str) -> None:
    stream = f"{deployment.prefix}shop-orders" if mode == "database_from_prefix" else "shop-orders"
    config = _config(deployment, collection_naming=mode)
    run_target(config, [schema_message(stream, ID_SCHEMA, ["_id"]), record_message(stream, {"_id": 1})])
    assert deployment.database(database)[collection].count_documents({}) == 1


def test_numbers_and_nested_dates_are_restored_to_bson_types(deployment: Deployment) -> None:
    schema = {
        "_id": {"type": "integer"},
        "small": {"type": "integer"},
        "big": {"type": "integer"},
        "huge": {"type": "integer"},
        "price": {"type": "number"},
        "exact": {"type": "number"},
        "events": {
            "type": "array",
            "items": {"type": "object", "properties": {"at": {"type": "string", "format": "date-time"}}},
        },
        "when": {"type": "string", "format": "date-time"},
    }
    line = (
        '{"type":"RECORD","stream":"shop-orders","record":{"_id":1,"small":5,"big":8589934592,'
        '"huge":123456789012345678901234567890,"price":19.99,"exact":1.100000000000000000000000000000001,'
        '"events":[{"at":"2024-05-01T10:00:00.123Z"}],"when":"2024-05-01T12:00:00+02:00"}}'
    )
    run_target(_config(deployment), [schema_message("shop-orders", schema, ["_id"]), line])
    (doc,) = _docs(deployment)
    assert type(doc["small"]) is int
    assert type(doc["big"]) is Int64
    assert doc["huge"] == Decimal128("123456789012345678901234567890")
    assert doc["price"] == 19.99
    assert isinstance(doc["price"], float)
    assert doc["exact"] == Decimal128("1.100000000000000000000000000000001")
    assert doc["events"][0]["at"] == datetime.datetime(2024, 5, 1, 10, 0, 0, 123000, tzinfo=UTC)
    assert doc["when"] == datetime.datetime(2024, 5, 1, 10, 0, tzinfo=UTC)


def test_extended_json_values_are_restored_exactly(deployment: Deployment) -> None:
    oid = ObjectId("6630c2f0a1b2c3d4e5f60718")
    record = {
        "_id": {"$oid": str(oid)},
        "n": {"$numberLong": "5"},
        "d": {"$numberDecimal": "0.10"},
        "nested": {"at": {"$date": "2024-05-01T00:00:00.000Z"}},
    }
    schema = {"_id": {"type": "object"}, "n": {"type": "object"}, "d": {"type": "object"}, "nested": {"type": "object"}}
    run_target(
        _config(deployment), [schema_message("shop-orders", schema, ["_id"]), record_message("shop-orders", record)]
    )
    (doc,) = _docs(deployment)
    assert doc == {
        "_id": oid,
        "n": Int64(5),
        "d": Decimal128("0.10"),
        "nested": {"at": datetime.datetime(2024, 5, 1, tzinfo=UTC)},
    }
    assert type(doc["n"]) is Int64


def test_load_method_append_only_inserts_even_with_keys(deployment: Deployment) -> None:
    schema = {"_id": {"type": "integer"}, "v": {"type": "integer"}}
    config = _config(deployment, load_method="append-only")
    run_target(config, [schema_message("events", schema, ["v"]), *[record_message("events", {"v": 1})] * 2])
    assert deployment.database("dest")["events"].count_documents({"v": 1}) == 2


def test_load_method_overwrite_empties_the_collection_once_per_run(deployment: Deployment) -> None:
    run_target(
        _config(deployment),
        [schema_message("shop-orders", ID_SCHEMA, ["_id"]), record_message("shop-orders", {"_id": 9})],
    )
    run_target(
        _config(deployment, load_method="overwrite"),
        [
            schema_message("shop-orders", ID_SCHEMA, ["_id"]),
            record_message("shop-orders", {"_id": 1}),
            schema_message("shop-orders", {**ID_SCHEMA, "extra": {"type": "string"}}, ["_id"]),  # new sink, same run
            record_message("shop-orders", {"_id": 2}),
        ],
    )
    assert [d["_id"] for d in _docs(deployment)] == [1, 2]
