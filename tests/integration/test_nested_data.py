"""Flattening and array de-nesting end to end: schemas match records, rows join back, re-syncs replace rows."""

from __future__ import annotations

import datetime
import typing as t

import jsonschema
import pytest
from bson import Decimal128, ObjectId

from tests.support.singer_io import discover, last_state, run_tap, run_target, select_streams

if t.TYPE_CHECKING:
    from tests.support.deployment import Deployment

UTC = datetime.timezone.utc
SHAPING = {"denest_arrays": True, "flattening_enabled": True, "flattening_max_depth": 2, "safe_column_names": True}


def _deep(levels: int) -> dict[str, t.Any]:
    node: dict[str, t.Any] = {"leaf": levels}
    for level in range(levels):
        node = {f"L{level}": node}
    return node


def _seed(deployment: Deployment) -> None:
    deployment.database("shop").orders.insert_many(
        [
            {
                "_id": ObjectId(f"{n:024x}"),
                "Status.Code": "open",
                "customer": {"name": f"c{n}", "Address": {"city": "Oslo", "geo": {"lat": 1.5}}},
                "items": [{"sku": f"s{i}", "price": Decimal128(f"{i}.50"), "tags": ["x"] * i} for i in range(n % 4)],
                "history": [[n, n + 1], []],
                "deep": _deep(22),
                "updated_at": datetime.datetime(2024, 1, 1 + n, tzinfo=UTC),
            }
            for n in range(6)
        ]
    )


def test_every_record_matches_the_schema_of_its_stream_and_rows_join_back(deployment: Deployment) -> None:
    _seed(deployment)
    messages = run_tap(deployment.config(**SHAPING))
    schemas: dict[str, dict[str, t.Any]] = {}
    for message in messages:
        if message["type"] == "SCHEMA":
            schemas[message["stream"]] = message["schema"]
        elif message["type"] == "RECORD":
            assert message["stream"] in schemas, "a RECORD before its SCHEMA"
            jsonschema.validate(message["record"], schemas[message["stream"]])
    orders = f"{deployment.prefix}shop-orders"
    assert set(schemas) >= {
        orders,
        f"{orders}__items",
        f"{orders}__items__tags",
        f"{orders}__history",
        f"{orders}__history__value",
    }
    records = [m for m in messages if m["type"] == "RECORD"]
    parents = {m["record"]["_id"] for m in records if m["stream"] == orders}
    items = [m["record"] for m in records if m["stream"] == f"{orders}__items"]
    assert {row["_sdc_source_key__id"] for row in items} <= parents
    assert len(items) == sum(n % 4 for n in range(6))
    assert all("items" not in m["record"] for m in records if m["stream"] == orders)
    parent_columns = set(schemas[orders]["properties"])
    assert {
        "status_code",
        "customer__name",
        "customer__address__city",
        "customer__address__geo",
        "_sdc_denest_version",
    } <= parent_columns
    assert all(name == name.lower() for name in parent_columns)


def test_child_streams_are_in_discovery_and_can_be_deselected(deployment: Deployment) -> None:
    _seed(deployment)
    catalog = discover(deployment.config(**SHAPING))
    orders = f"{deployment.prefix}shop-orders"
    child = next(s for s in catalog["streams"] if s["tap_stream_id"] == f"{orders}__items")
    assert child["key_properties"] == ["_sdc_source_key__id", "_sdc_level_0_id"]
    root = next(m["metadata"] for m in child["metadata"] if m["breadcrumb"] == [])
    assert root["parent-tap-stream-id"] == orders
    selected = select_streams(catalog, [orders, f"{orders}__history"])
    messages = run_tap(deployment.config(**SHAPING), catalog=selected)
    assert {m["stream"] for m in messages if m["type"] == "RECORD"} == {orders, f"{orders}__history"}


@pytest.mark.parametrize("method", ["FULL_TABLE", "INCREMENTAL"])
def test_a_resynced_document_replaces_its_array_rows_in_target_mongodb(deployment: Deployment, method: str) -> None:
    _seed(deployment)
    orders_collection = deployment.database("shop").orders
    orders = f"{deployment.prefix}shop-orders"
    tap_config = deployment.config(**SHAPING)
    target_config = deployment.config(database=deployment.db_name("dst"))
    key = "updated_at" if method == "INCREMENTAL" else None
    catalog = select_streams(
        discover(tap_config),
        [orders, f"{orders}__items", f"{orders}__items__tags"],
        replication_method=method,
        replication_key=key,
    )
    first = run_tap(tap_config, catalog=catalog)
    run_target(target_config, first)
    items = deployment.database("dst")[f"{orders}__items"]
    parent_id = f"{3:024x}"
    assert items.count_documents({"_sdc_source_key__id": ObjectId(parent_id)}) == 3

    orders_collection.update_one(
        {"_id": ObjectId(parent_id)},
        {
            "$set": {
                "items": [{"sku": "only", "price": Decimal128("1.00"), "tags": []}],
                "updated_at": datetime.datetime(2025, 1, 1, tzinfo=UTC),
            }
        },
    )
    second = run_tap(tap_config, catalog=catalog, state=last_state(first))
    run_target(target_config, second)
    rows = list(items.find({"_sdc_source_key__id": ObjectId(parent_id)}))
    assert [(row["_sdc_level_0_id"], row["sku"]) for row in rows] == [(0, "only")]
    tags = deployment.database("dst")[f"{orders}__items__tags"]
    assert tags.count_documents({"_sdc_source_key__id": ObjectId(parent_id)}) == 0
    # Other parents' rows are untouched.
    assert items.count_documents({}) == 1 + sum(n % 4 for n in range(6) if n != 3)


def _rows(messages: list[dict[str, t.Any]], stream: str) -> list[dict[str, t.Any]]:
    return [m["record"] for m in messages if m["type"] == "RECORD" and m["stream"] == stream]


@pytest.mark.parametrize("policy", ["split", "widen"])
def test_flattening_keeps_a_field_that_is_a_document_in_one_record_and_text_in_another(
    deployment: Deployment, policy: str
) -> None:
    source = deployment.database("shop").people
    source.insert_many([{"_id": 1, "address": "Main St 1"}, {"_id": 2, "address": "Side St 2"}])
    config = deployment.config(flattening_enabled=True, flattening_max_depth=3, schema_drift=policy)
    catalog = discover(config)  # sampled before the drift: `address` is text
    source.insert_one({"_id": 3, "address": {"city": "Oslo", "zip": "0150"}})
    rows = {row["_id"]: row for row in _rows(run_tap(config, catalog=catalog), f"{deployment.prefix}shop-people")}
    assert rows[1]["address"] == "Main St 1"
    document_columns = "address__object__" if policy == "split" else "address__"
    assert rows[3][f"{document_columns}city"] == "Oslo"
    assert rows[3][f"{document_columns}zip"] == "0150"


def test_a_document_valued_id_stays_one_usable_key_column_and_array_rows_carry_it(deployment: Deployment) -> None:
    deployment.database("shop").lines.insert_many(
        [
            {"_id": {"order": 1, "line": 1}, "items": [{"sku": "a"}, {"sku": "b"}]},
            {"_id": {"order": 1, "line": 2}, "items": [{"sku": "c"}]},
            {"_id": "legacy", "items": []},
        ]
    )
    messages = run_tap(deployment.config(**SHAPING))
    stream = f"{deployment.prefix}shop-lines"
    schema = next(m for m in messages if m["type"] == "SCHEMA" and m["stream"] == stream)
    assert schema["key_properties"] == ["_id"]
    parents = _rows(messages, stream)
    # In _id order, as MongoDB sorts them: strings before documents.
    assert [row["_id"] for row in parents] == ["legacy", '{"order":1,"line":1}', '{"order":1,"line":2}']
    children = _rows(messages, f"{stream}__items")
    assert [(row["_sdc_source_key__id"], row["sku"]) for row in children] == [
        ('{"order":1,"line":1}', "a"),
        ('{"order":1,"line":1}', "b"),
        ('{"order":1,"line":2}', "c"),
    ]
    assert all(row["_sdc_source_key__id"] in {parent["_id"] for parent in parents} for row in children)


def test_array_rows_follow_drift_inside_elements_and_a_new_array_stays_in_the_parent(deployment: Deployment) -> None:
    source = deployment.database("shop").orders
    source.insert_many([{"_id": n, "items": [{"sku": f"s{n}", "qty": n}], "note": "x"} for n in range(3)])
    config = deployment.config(**SHAPING)
    catalog = discover(config)
    source.insert_one({"_id": 9, "items": [{"sku": "z", "qty": "two", "gift": True}], "note": ["not", "text"]})
    messages = run_tap(config, catalog=catalog)
    orders = f"{deployment.prefix}shop-orders"
    rows = [row for row in _rows(messages, f"{orders}__items") if row["_sdc_source_key__id"] == 9]
    assert rows == [
        {
            "_sdc_source_key__id": 9,
            "_sdc_level_0_id": 0,
            "_sdc_denest_version": rows[0]["_sdc_denest_version"],
            "sku": "z",
            "qty__string": "two",
            "gift": True,
        }
    ]
    parent = next(row for row in _rows(messages, orders) if row["_id"] == 9)
    assert parent["note__array"] == '["not","text"]'  # no child stream was discovered for it: JSON text
    assert not [m for m in messages if m["type"] == "SCHEMA" and m["stream"].endswith("__note__array")]
