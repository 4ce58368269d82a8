"""Flattening, destination-safe column names and the column cap."""

from __future__ import annotations

import json

import pytest

from tap_mongodb.column_shaping import EXTRA_COLUMNS, ColumnPlan, safe_name, safe_names

SCHEMA = {
    "type": "object",
    "properties": {
        "_id": {"type": "string"},
        "Customer.Name": {"type": ["string", "null"]},
        "customer_name": {"type": ["string", "null"]},
        "$price": {"type": ["number", "null"]},
        "address": {
            "type": ["object", "null"],
            "properties": {
                "city": {"type": ["string", "null"]},
                "geo": {"type": ["object", "null"], "properties": {"lat": {"type": ["number", "null"]}}},
            },
        },
    },
}


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("CustomerName", "customername"),
        ("a.b", "a_b"),
        ("$price", "_price"),
        ("9lives", "_9lives"),
        ("ключ", "_"),
        ("_sdc_x", "_sdc_x"),
    ],
)
def test_safe_name(name: str, expected: str) -> None:
    assert safe_name(name, 63) == expected


def test_long_names_are_cut_with_a_hash_and_stay_distinct() -> None:
    a, b = "x" * 100 + "a", "x" * 100 + "b"
    mapping = safe_names([a, b], 63)
    assert len(mapping[a]) == 63
    assert mapping[a] != mapping[b]


def test_two_fields_never_share_a_column() -> None:
    mapping = safe_names(["Customer.Name", "customer_name", "customer.name"], 63)
    assert len(set(mapping.values())) == 3
    assert mapping == safe_names(["Customer.Name", "customer_name", "customer.name"], 63)  # deterministic


def test_flattening_with_the_sdk_settings_and_safe_names() -> None:
    config = {"flattening_enabled": True, "flattening_max_depth": 1, "safe_column_names": True}
    plan = ColumnPlan("s", SCHEMA, ["_id"], config)
    assert set(plan.schema["properties"]) >= {"_id", "address__city", "address__geo", "_price"}
    record = plan.shape({"_id": "1", "$price": 2.5, "address": {"city": "Oslo", "geo": {"lat": 1.5}}})
    assert record["address__city"] == "Oslo"
    assert json.loads(record["address__geo"]) == {"lat": 1.5}  # deeper than max depth: JSON text
    assert record["_price"] == 2.5


def test_column_cap_folds_the_rest_into_one_json_column(caplog: pytest.LogCaptureFixture) -> None:
    plan = ColumnPlan("shop-orders", SCHEMA, ["_id"], {"max_columns": 3})
    assert list(plan.schema["properties"]) == ["_id", "Customer.Name", EXTRA_COLUMNS]
    assert "shop-orders has 5 columns, over max_columns=3" in caplog.text
    assert "customer_name, $price, address" in caplog.text
    record = plan.shape({"_id": "1", "Customer.Name": "Ada", "$price": 3, "address": {"city": "Oslo"}})
    assert record["Customer.Name"] == "Ada"
    assert json.loads(record[EXTRA_COLUMNS]) == {"$price": 3, "address": {"city": "Oslo"}}


def test_unseen_fields_get_their_own_hashed_column() -> None:
    schema = {"type": "object", "properties": {"_id": {"type": "string"}, "customer_name": {"type": "string"}}}
    plan = ColumnPlan("s", schema, ["_id"], {"safe_column_names": True})
    record = plan.shape({"_id": "1", "customer_name": "a", "Customer_Name": "b"})
    assert record["customer_name"] == "a"  # the unseen field did not take its column
    assert sorted(record.values()) == ["1", "a", "b"]


def test_colliding_names_are_all_hashed_whatever_their_order() -> None:
    plan = ColumnPlan("s", SCHEMA, ["_id"], {"safe_column_names": True})
    names = [n for n in plan.schema["properties"] if n.startswith("customer_name")]
    assert len(names) == 2
    assert all(len(n) > len("customer_name") for n in names)
