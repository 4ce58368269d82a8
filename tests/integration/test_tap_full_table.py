"""FULL_TABLE: every document once, in `_id` order, resumable, with projection pushdown."""

from __future__ import annotations

import logging
import typing as t

import pytest
from bson import Decimal128, Int64, MaxKey, MinKey, ObjectId

from tap_mongodb import streams
from tests.support import command_counting
from tests.support.singer_io import discover, last_state, records, run_tap, select_streams

if t.TYPE_CHECKING:
    from tests.support.deployment import Deployment

MIXED_IDS: list[t.Any] = [
    3,
    Int64(1),
    2.5,
    Decimal128("4.5"),
    "a",
    "b",
    {"compound": 1},
    ObjectId("6630c2f0a1b2c3d4e5f60718"),
    ObjectId("6630c2f0a1b2c3d4e5f60719"),
    True,
    MinKey(),
    MaxKey(),
]


def _stream_id(deployment: Deployment, name: str) -> str:
    return f"{deployment.prefix}shop-{name}"


def test_full_table_emits_every_document_with_mixed_id_types_in_server_order(deployment: Deployment) -> None:
    deployment.database("shop").things.insert_many([{"_id": i, "n": n} for n, i in enumerate(MIXED_IDS)])
    messages = run_tap(deployment.config())
    emitted = [r["n"] for r in records(messages)]
    assert sorted(emitted) == list(range(len(MIXED_IDS)))
    # Server order: MinKey, numbers by value, strings, objects, ObjectIds, booleans, MaxKey.
    assert emitted == [10, 1, 2, 0, 3, 4, 5, 6, 7, 8, 9, 11]


def test_activate_version_follows_the_last_record_and_progress_is_cleared(deployment: Deployment) -> None:
    deployment.database("shop").orders.insert_many([{"_id": i} for i in range(3)])
    messages = run_tap(deployment.config())
    kinds = [m["type"] for m in messages]
    last_record = max(i for i, kind in enumerate(kinds) if kind == "RECORD")
    activate = kinds.index("ACTIVATE_VERSION")
    assert activate == last_record + 1
    versions = {m["version"] for m in messages if m["type"] in {"RECORD", "ACTIVATE_VERSION"}}
    assert len(versions) == 1
    # A finished sync keeps no resume point and no version; only the declared schema stays,
    # so the next run's schema can only widen (docs/schema-evolution.md).
    bookmark = last_state(messages)["bookmarks"][_stream_id(deployment, "orders")]
    assert set(bookmark) == {"schema"}
    assert bookmark["schema"]["properties"]["_id"] == {"type": "integer"}


@pytest.mark.parametrize("stop_after", [2, 3, 6, 11])
def test_interrupted_full_table_resumes_after_the_last_id(deployment: Deployment, stop_after: int) -> None:
    deployment.database("shop").things.insert_many([{"_id": i, "n": n} for n, i in enumerate(MIXED_IDS)])
    config = deployment.config(state_interval_records=2)  # a resume point every 2 records
    first = run_tap(config, stop_after_records=stop_after)
    state = last_state(first)
    progress = state["bookmarks"][_stream_id(deployment, "things")]
    assert "last_id" in progress
    assert "version" in progress
    second = run_tap(config, state=state)
    delivered = [r["n"] for r in records(first)] + [r["n"] for r in records(second)]
    assert set(delivered) == set(range(len(MIXED_IDS)))
    # Nothing before the resume point is sent again: at most the records after the last STATE.
    assert len(delivered) - len(MIXED_IDS) < 2
    # The resumed run keeps the interrupted run's version, so the target sees one table version.
    assert {m["version"] for m in second if m["type"] == "RECORD"} == {progress["version"]}
    assert "last_id" not in last_state(second)["bookmarks"][_stream_id(deployment, "things")]


def test_deselected_fields_are_not_fetched_and_id_is_kept(
    deployment: Deployment, monkeypatch: pytest.MonkeyPatch
) -> None:
    deployment.database("shop").customers.insert_many(
        [{"_id": i, "name": f"n{i}", "secret": "x", "nested": {"a": 1}} for i in range(3)]
    )
    stream_id = _stream_id(deployment, "customers")
    catalog = select_streams(discover(deployment.config()), [stream_id], deselect_fields=["secret", "nested"])
    counter = command_counting.install(monkeypatch)
    rows = records(run_tap(deployment.config(), catalog=catalog))
    assert [find.get("projection") for find in counter.named("find")] == [{"secret": 0, "nested": 0}]
    assert rows == [{"_id": i, "name": f"n{i}"} for i in range(3)]


def test_collections_are_read_through_the_id_index_and_views_without_a_hint(
    deployment: Deployment, monkeypatch: pytest.MonkeyPatch
) -> None:
    shop = deployment.database("shop")
    shop.things.insert_many([{"_id": i, "n": n} for n, i in enumerate(MIXED_IDS)])
    shop.command("create", "things_view", viewOn="things", pipeline=[{"$match": {"n": {"$lt": 5}}}])
    counter = command_counting.install(monkeypatch)
    messages = run_tap(deployment.config())
    finds = {find["find"]: find for find in counter.named("find")}
    assert finds["things"]["hint"] == {"_id": 1}
    assert "hint" not in finds["things_view"]
    assert len(records(messages, _stream_id(deployment, "things_view"))) == 5

    # The index's order is the sort's, across types, also for a resumed read (a $or of type
    # brackets after the last _id).
    things = _stream_id(deployment, "things")
    catalog = select_streams(discover(deployment.config()), [things])
    config = deployment.config(state_interval_records=2)
    first = run_tap(config, catalog=catalog, stop_after_records=5)
    counter.clear()
    second = run_tap(config, catalog=catalog, state=last_state(first))
    assert [find.get("hint") for find in counter.named("find")] == [{"_id": 1}]
    assert "$or" in counter.named("find")[0]["filter"]
    delivered = [r["n"] for r in records(first, things)] + [r["n"] for r in records(second, things)]
    assert list(dict.fromkeys(delivered)) == [10, 1, 2, 0, 3, 4, 5, 6, 7, 8, 9, 11]


def test_a_refused_index_hint_is_dropped_and_the_read_goes_on(
    deployment: Deployment, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """The server's own refusal, as for a collection without the `_id` index: here a hint on no index."""
    deployment.database("shop").orders.insert_many([{"_id": i} for i in range(7)])
    monkeypatch.setattr(streams, "ID_INDEX", [("no_such_index", 1)])
    counter = command_counting.install(monkeypatch)
    with caplog.at_level(logging.INFO):
        messages = run_tap(deployment.config(cursor_batch_size=3))
    assert [r["_id"] for r in records(messages)] == list(range(7))
    assert [find.get("hint") for find in counter.named("find")] == [{"no_such_index": 1}, None]
    refused = [r.getMessage() for r in caplog.records if "refused the `_id` index hint" in r.getMessage()]
    assert len(refused) == 1
    assert f"stream '{_stream_id(deployment, 'orders')}'" in refused[0]


def test_fields_missing_from_the_sample_are_still_emitted(deployment: Deployment) -> None:
    collection = deployment.database("shop").events
    collection.insert_one({"_id": 1, "a": 1})
    catalog = discover(deployment.config())
    collection.insert_one({"_id": 2, "a": 2, "added_later": {"deep": True}})
    rows = records(run_tap(deployment.config(), catalog=catalog))
    assert rows[-1] == {"_id": 2, "a": 2, "added_later": {"deep": True}}


def test_only_selected_streams_are_synced(deployment: Deployment) -> None:
    shop = deployment.database("shop")
    shop.orders.insert_one({"_id": 1})
    shop.customers.insert_one({"_id": 1})
    catalog = select_streams(discover(deployment.config()), [_stream_id(deployment, "orders")])
    messages = run_tap(deployment.config(), catalog=catalog)
    assert {m["stream"] for m in messages if m["type"] == "RECORD"} == {_stream_id(deployment, "orders")}


def test_batches_hold_a_thousand_documents_unless_set_and_zero_means_the_servers(
    deployment: Deployment, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The tap's memory holds up to three batches: bounded by default, whatever the collection's size."""
    deployment.database("shop").orders.insert_many([{"_id": i} for i in range(2500)])
    catalog = discover(deployment.config())
    counter = command_counting.install(monkeypatch)
    assert len(records(run_tap(deployment.config(), catalog=catalog))) == 2500
    assert [c.get("batchSize") for c in counter.named("find")] == [1000]
    assert [c.get("batchSize") for c in counter.named("getMore")] == [1000, 1000]
    counter.clear()
    assert len(records(run_tap(deployment.config(cursor_batch_size=0), catalog=catalog))) == 2500
    assert [c.get("batchSize") for c in counter.named("find")] == [None]
