"""Type drift between runs, on the real server: run 1, change types, run 2, through target-mongodb.

Every RECORD fits its stream's latest SCHEMA (run_tap checks it), run 2 never declares less
than run 1, target-mongodb takes both runs, and the copy matches the source: identical, type
for type, with `extended_json`; every value present with `plain` (split siblings included).
"""

from __future__ import annotations

import datetime
import typing as t

import bson
import pytest
from bson import Decimal128, Int64, ObjectId

from mongodb_common.bson_codec import encode_plain
from tests.support.deployment import CODEC_OPTIONS
from tests.support.schema_invariant import declares_at_least
from tests.support.singer_io import discover, last_state, run_tap, run_target, select_streams

if t.TYPE_CHECKING:
    from tests.support.deployment import Deployment

UTC = datetime.timezone.utc
METHODS = [
    pytest.param("FULL_TABLE", {}, id="full_table"),
    pytest.param("INCREMENTAL", {}, id="incremental"),
    pytest.param("LOG_BASED", {"log_method": "change_streams"}, id="log_change_streams"),
    pytest.param("LOG_BASED", {"log_method": "oplog"}, id="log_oplog"),
]


def _orders() -> list[dict[str, t.Any]]:
    return [
        {
            "_id": n,
            "updated": n,
            "price": 10 * n,
            "shipped": datetime.datetime(2024, 1, n, tzinfo=UTC),
            "address": f"Street {n}",
            "meta": {"source": "web", "score": n},
            "owner": ObjectId(f"{n:024x}"),
        }
        for n in range(1, 10)
    ]


def _drift(orders: t.Any) -> None:
    """Type changes of every kind users meet, plus ordinary inserts, a replace and a delete."""
    orders.update_one({"_id": 1}, {"$set": {"price": "12", "updated": 101}})  # int -> string
    orders.update_one({"_id": 2}, {"$set": {"shipped": "pending", "updated": 102}})  # date -> string
    orders.update_one({"_id": 3}, {"$set": {"address": {"city": "Oslo", "zip": "0150"}, "updated": 103}})
    orders.update_one({"_id": 4}, {"$set": {"meta": [1, {"x": 2}], "updated": 104}})  # document -> array
    orders.update_one({"_id": 5}, {"$set": {"meta.extra": {"deep": True}, "updated": 105}})  # new nested key
    orders.update_one({"_id": 6}, {"$set": {"discount": Decimal128("1.10"), "updated": 106}})  # new field
    orders.update_one({"_id": 7}, {"$set": {"price": 1.5, "updated": 107}})  # a float where integers were
    orders.replace_one({"_id": 8}, {"updated": 108, "price": Int64(2**40), "owner": "legacy-8"})
    orders.insert_one({"_id": 100, "updated": 109, "price": None, "shipped": "n/a", "address": ["a", "b"]})


def _sync(
    deployment: Deployment, method: str, settings: dict[str, t.Any], encoding: str
) -> tuple[t.Callable[[dict | None], list[dict[str, t.Any]]], str]:
    stream = f"{deployment.prefix}src-orders"
    config = deployment.config(database_includes=[deployment.db_name("src")], bson_encoding=encoding, **settings)
    catalog = select_streams(
        discover(config),
        [stream],
        replication_method=method,
        replication_key="updated" if method == "INCREMENTAL" else None,
    )
    target = deployment.config(database=deployment.db_name("dst"), collection_naming="strip_database_prefix")

    def run(state: dict | None) -> list[dict[str, t.Any]]:
        messages = run_tap(config, catalog=catalog, state=state)
        run_target(target, messages)
        return messages

    return run, stream


def _schemas(messages: list[dict[str, t.Any]], stream: str) -> list[dict[str, t.Any]]:
    return [m["schema"] for m in messages if m["type"] == "SCHEMA" and m["stream"] == stream]


def _by_id(collection: t.Any) -> dict[t.Any, dict[str, t.Any]]:
    return {document["_id"]: document for document in collection.find()}


@pytest.mark.parametrize(("method", "settings"), METHODS)
@pytest.mark.parametrize("encoding", ["extended_json", "plain"])
def test_type_drift_between_runs_reaches_the_copy(
    deployment: Deployment, method: str, settings: dict[str, t.Any], encoding: str
) -> None:
    orders = deployment.database("src").orders
    orders.insert_many(_orders())
    orders.create_index("updated")
    run, stream = _sync(deployment, method, settings, encoding)
    first = run(None)
    _drift(orders)
    second = run(last_state(first))

    assert declares_at_least(_schemas(second, stream)[0], _schemas(first, stream)[-1])
    source = deployment.database("src").orders.with_options(codec_options=CODEC_OPTIONS)
    copy = deployment.database("dst").orders.with_options(codec_options=CODEC_OPTIONS)
    expected = _by_id(source)
    copied = _by_id(copy)
    assert set(copied) == set(expected)
    if encoding == "extended_json":
        for key, document in expected.items():
            assert bson.encode(copied[key], codec_options=CODEC_OPTIONS) == bson.encode(
                document, codec_options=CODEC_OPTIONS
            ), (key, copied[key], document)
    else:
        for key, document in expected.items():
            _assert_every_value_present(document, copied[key])


def _assert_every_value_present(source: dict[str, t.Any], copy: dict[str, t.Any]) -> None:
    """Each source field's value is in the copy: under its own name or a split sibling's."""
    for name, value in source.items():
        candidates = [copy[key] for key in copy if key == name or key.startswith(f"{name}__")]
        assert any(encode_plain(candidate) == encode_plain(value) for candidate in candidates), (
            name,
            value,
            copy,
        )


def test_run_two_declares_the_drift_run_one_saw_even_from_an_old_catalog(deployment: Deployment) -> None:
    """The widened schema is kept in STATE: the next run starts from it, not from the catalog."""
    orders = deployment.database("src").orders
    orders.insert_many(_orders())
    run, stream = _sync(deployment, "FULL_TABLE", {}, "plain")
    run(None)
    _drift(orders)
    second = run(None)
    widened = _schemas(second, stream)[-1]
    assert "price__string" in widened["properties"]
    state = last_state(second)
    assert state["bookmarks"][stream]["schema"]["properties"]["price"]["type"] == ["integer", "null"]
    orders.delete_many({"price": {"$type": "string"}})
    third = run(state)
    assert declares_at_least(_schemas(third, stream)[0], widened)
