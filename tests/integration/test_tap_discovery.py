"""Discovery against a deployment: several databases, filters, metadata, schemas."""

from __future__ import annotations

import datetime
from typing import TYPE_CHECKING

from bson import Int64, ObjectId

from tests.support.singer_io import discover

if TYPE_CHECKING:
    from tests.support.deployment import Deployment

UTC = datetime.timezone.utc


def _root_metadata(stream: dict) -> dict:
    return next(m["metadata"] for m in stream["metadata"] if m["breadcrumb"] == [])


def _seed(deployment: Deployment) -> None:
    shop = deployment.database("shop")
    shop.orders.insert_many(
        [
            {"_id": ObjectId(), "total": Int64(i), "updated_at": datetime.datetime(2024, 1, i + 1, tzinfo=UTC)}
            for i in range(5)
        ]
    )
    shop.orders.create_index("updated_at")
    shop.customers.insert_one({"_id": "c1", "name": "Ada", "address": {"city": "London"}})
    deployment.database("crm").leads.insert_one({"_id": 1, "source": "web"})


def test_discovers_every_collection_of_every_database(deployment: Deployment) -> None:
    _seed(deployment)
    catalog = discover(deployment.config())
    ids = sorted(s["tap_stream_id"] for s in catalog["streams"])
    prefix = deployment.prefix
    assert ids == [f"{prefix}crm-leads", f"{prefix}shop-customers", f"{prefix}shop-orders"]


def test_stream_metadata_names_database_count_keys_and_indexed_replication_keys(deployment: Deployment) -> None:
    _seed(deployment)
    catalog = discover(deployment.config())
    orders = next(s for s in catalog["streams"] if s["tap_stream_id"].endswith("shop-orders"))
    root = _root_metadata(orders)
    assert root["database-name"] == deployment.db_name("shop")
    assert root["is-view"] is False
    assert root["row-count"] == 5
    assert root["table-key-properties"] == ["_id"]
    assert set(root["valid-replication-keys"]) == {"_id", "updated_at"}
    assert "replication-key" not in root  # FULL_TABLE unless the user chooses a key
    assert orders["database_name"] == deployment.db_name("shop")
    assert orders["table_name"] == "orders"
    assert orders["schema"]["properties"]["updated_at"]["format"] == "date-time"
    assert orders["schema"]["properties"]["total"]["type"] == ["integer", "null"]


def test_include_and_exclude_patterns_for_databases_and_collections(deployment: Deployment) -> None:
    _seed(deployment)
    config = deployment.config(
        database_includes=[f"{deployment.prefix}shop"],
        collection_excludes=["cust*"],
    )
    ids = [s["tap_stream_id"] for s in discover(config)["streams"]]
    assert ids == [f"{deployment.prefix}shop-orders"]


def test_nested_objects_are_described(deployment: Deployment) -> None:
    _seed(deployment)
    catalog = discover(deployment.config())
    customers = next(s for s in catalog["streams"] if s["tap_stream_id"].endswith("shop-customers"))
    assert customers["schema"]["properties"]["address"]["properties"]["city"]["type"] == ["string", "null"]


def test_envelope_mode_has_id_and_document_only(deployment: Deployment) -> None:
    _seed(deployment)
    catalog = discover(deployment.config(schema_mode="envelope"))
    for stream in catalog["streams"]:
        assert set(stream["schema"]["properties"]) == {"_id", "document"}
