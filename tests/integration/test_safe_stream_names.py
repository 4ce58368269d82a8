"""`safe_stream_names` through discovery, a catalog round trip and a sync."""

from __future__ import annotations

import re
import typing as t

from tap_mongodb.stream_naming import digest
from tests.support.singer_io import discover, last_state, records, run_tap, select_streams

if t.TYPE_CHECKING:
    from tests.support.deployment import Deployment

SAFE_STREAM = re.compile(r"[a-z_][a-z0-9_]{0,62}-[a-z_][a-z0-9_]{0,62}")
SETTINGS = {"safe_stream_names": True, "denest_arrays": True, "bson_encoding": "plain"}


def _seed(deployment: Deployment) -> None:
    database = deployment.database("shop")
    database["Shipments.EU"].insert_many([{"_id": 1, "Legs": [{"to": "Oslo"}], "n": 1}, {"_id": 2, "Legs": [], "n": 2}])
    database["shipments_eu"].insert_one({"_id": 1, "n": 10})


def test_discovery_names_streams_safely_and_keeps_the_namespace_in_metadata(deployment: Deployment) -> None:
    _seed(deployment)
    catalog = discover(deployment.config(**SETTINGS))
    schema = f"{deployment.prefix}shop"
    shipments = f"{schema}-shipments_eu_{digest('Shipments.EU')}"
    legs = f"{schema}-shipments_eu_{digest('Shipments.EU' + chr(0) + 'Legs')}__legs"
    by_id = {stream["tap_stream_id"]: stream for stream in catalog["streams"]}
    assert set(by_id) == {shipments, legs, f"{schema}-shipments_eu"}
    assert all(SAFE_STREAM.fullmatch(name) for name in by_id)
    root = next(m["metadata"] for m in by_id[shipments]["metadata"] if m["breadcrumb"] == [])
    assert (root["database-name"], root["collection-name"]) == (deployment.db_name("shop"), "Shipments.EU")
    assert by_id[shipments]["table_name"] == "Shipments.EU"
    child_root = next(m["metadata"] for m in by_id[legs]["metadata"] if m["breadcrumb"] == [])
    assert child_root["parent-tap-stream-id"] == shipments


def test_a_run_with_the_catalog_reads_each_collection_under_its_safe_name(deployment: Deployment) -> None:
    _seed(deployment)
    config = deployment.config(**SETTINGS)
    catalog = discover(config)
    shipments = f"{deployment.prefix}shop-shipments_eu_{digest('Shipments.EU')}"
    legs = next(s["tap_stream_id"] for s in catalog["streams"] if s["tap_stream_id"].endswith("__legs"))
    messages = run_tap(
        config, catalog=select_streams(catalog, [shipments, legs, f"{deployment.prefix}shop-shipments_eu"])
    )
    assert sorted(r["n"] for r in records(messages, shipments)) == [1, 2]
    assert [r["n"] for r in records(messages, f"{deployment.prefix}shop-shipments_eu")] == [10]
    assert [(r["_sdc_source_key__id"], r["to"]) for r in records(messages, legs)] == [(1, "Oslo")]
    assert {m["stream"] for m in messages if m["type"] == "SCHEMA"} == {
        shipments,
        legs,
        f"{deployment.prefix}shop-shipments_eu",
    }
    assert shipments in last_state(messages)["bookmarks"]


def test_replication_keys_may_name_the_stream_by_its_namespace(deployment: Deployment) -> None:
    _seed(deployment)
    original = f"{deployment.db_name('shop')}-Shipments.EU"
    config = deployment.config(**SETTINGS, replication_keys={original: "n"})
    messages = run_tap(config)
    shipments = f"{deployment.prefix}shop-shipments_eu_{digest('Shipments.EU')}"
    state = last_state(messages)["bookmarks"][shipments]
    assert (state["replication_key"], state["replication_key_value"]) == ("n", 2)
