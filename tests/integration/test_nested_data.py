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
