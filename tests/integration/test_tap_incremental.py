"""INCREMENTAL: `>=` the typed bookmark, in key order, never silently skipping a document."""

from __future__ import annotations

import datetime
import typing as t

import pytest
from bson import Binary, Code, Decimal128, Int64, MaxKey, ObjectId, Regex, Timestamp

from tap_mongodb.streams import CatalogValidationError, ReplicationKeyMismatchError
from tests.support.singer_io import discover, last_state, records, run_tap, select_streams

if t.TYPE_CHECKING:
    from tests.support.deployment import Deployment

UTC = datetime.timezone.utc


def day(n: int) -> datetime.datetime:
    return datetime.datetime(2024, 1, n, tzinfo=UTC)


def _setup(deployment: Deployment, documents: list[dict[str, t.Any]], key: str = "updated_at") -> tuple[dict, str]:
    collection = deployment.database("shop").orders
    collection.insert_many(documents)
    collection.create_index(key)
    stream_id = f"{deployment.prefix}shop-orders"
    catalog = select_streams(
        discover(deployment.config()), [stream_id], replication_method="INCREMENTAL", replication_key=key
    )
    return catalog, stream_id


def test_second_run_emits_only_changes_and_ties(deployment: Deployment) -> None:
    catalog, stream_id = _setup(deployment, [{"_id": i, "updated_at": day(i)} for i in range(1, 5)])
    config = deployment.config()
    first = run_tap(config, catalog=catalog)
    assert [r["_id"] for r in records(first)] == [1, 2, 3, 4]
    state = last_state(first)
    bookmark = state["bookmarks"][stream_id]
    assert bookmark["replication_key"] == "updated_at"
    assert bookmark["replication_key_value"] == {"$date": "2024-01-04T00:00:00.000Z"}

    orders = deployment.database("shop").orders
    orders.insert_one({"_id": 5, "updated_at": day(4)})  # a tie with the bookmark
    orders.update_one({"_id": 1}, {"$set": {"updated_at": day(9)}})
    second = run_tap(config, catalog=catalog, state=state)
    assert [r["_id"] for r in records(second)] == [4, 5, 1]
    assert last_state(second)["bookmarks"][stream_id]["replication_key_value"] == {"$date": "2024-01-09T00:00:00.000Z"}


@pytest.mark.parametrize(
    ("values", "later"),
    [
        (
            [ObjectId("6630c2f0a1b2c3d4e5f60701"), ObjectId("6630c2f0a1b2c3d4e5f60702")],
            ObjectId("6630c2f0a1b2c3d4e5f60703"),
        ),
        ([Int64(2**40), Int64(2**40 + 1)], Int64(2**41)),
        ([1, 2], 3),
        ([Decimal128("1.10"), Decimal128("1.20")], Decimal128("1.30")),
        (["2024-01-01", "2024-01-02"], "2024-01-03"),
        ([Timestamp(100, 1), Timestamp(100, 2)], Timestamp(101, 0)),
        ([1.5, 2.5], 3.5),
    ],
    ids=["objectid", "int64", "int", "decimal128", "string", "timestamp", "double"],
)
def test_bookmark_of_each_key_type_finds_exactly_the_newer_documents(
    deployment: Deployment, values: list[t.Any], later: t.Any
) -> None:
    catalog, _ = _setup(deployment, [{"_id": n, "k": v} for n, v in enumerate(values)], key="k")
    first = run_tap(deployment.config(), catalog=catalog)
    deployment.database("shop").orders.insert_one({"_id": 99, "k": later})
    second = run_tap(deployment.config(), catalog=catalog, state=last_state(first))
    assert [r["_id"] for r in records(second)] == [len(values) - 1, 99]


LATER_THAN_NUMBERS = {
    "string": "text",
    "object": {"a": 1},
    "binary": Binary(b"x"),
    "objectid": ObjectId("6630c2f0a1b2c3d4e5f60701"),
    "bool": False,
    "date": day(1),
    "timestamp": Timestamp(1, 1),
    "regex": Regex("a"),
    "code": Code("x"),
    "maxkey": MaxKey(),
}


@pytest.mark.parametrize("later", [*LATER_THAN_NUMBERS, "all"])
def test_keys_of_every_later_type_are_found_after_a_number_bookmark(deployment: Deployment, later: str) -> None:
    """Whichever brackets the key holds after the bookmark's, each of their documents comes."""
    catalog, _ = _setup(deployment, [{"_id": 1, "k": 1}, {"_id": 2, "k": 2}], key="k")
    state = last_state(run_tap(deployment.config(), catalog=catalog))
    values = LATER_THAN_NUMBERS if later == "all" else {later: LATER_THAN_NUMBERS[later]}
    orders = deployment.database("shop").orders
    orders.insert_many([{"_id": name, "k": value} for name, value in values.items()])
    orders.insert_many([{"_id": 0, "k": 0}, {"_id": 3, "k": 3}])  # an older number, a newer one
    rows = records(run_tap(deployment.config(), catalog=catalog, state=state))
    assert sorted(map(str, (r["_id"] for r in rows))) == sorted(["2", "3", *values])


def _mixed_key_setup(deployment: Deployment) -> tuple[dict, dict]:
    catalog, _ = _setup(deployment, [{"_id": 1, "updated_at": day(1)}, {"_id": 2, "updated_at": day(2)}])
    state = last_state(run_tap(deployment.config(), catalog=catalog))
    orders = deployment.database("shop").orders
    orders.insert_many(
        [
            {"_id": 3, "updated_at": "2024-01-03"},  # string sorts before dates: unreachable by >=
            {"_id": 4},  # no key at all
            {"_id": 5, "updated_at": None},
            {"_id": 6, "updated_at": Timestamp(1, 1)},  # sorts after dates: must be found
            {"_id": 7, "updated_at": day(3)},
        ]
    )
    return catalog, state


def test_mismatched_key_types_are_emitted_by_default_and_logged(
    deployment: Deployment, caplog: pytest.LogCaptureFixture
) -> None:
    catalog, state = _mixed_key_setup(deployment)
    rows = records(run_tap(deployment.config(), catalog=catalog, state=state))
    assert sorted(r["_id"] for r in rows) == [2, 3, 4, 5, 6, 7]
    assert "3 documents have replication key 'updated_at' missing, null or of a type" in caplog.text


def test_mismatched_key_types_can_be_skipped_with_a_warning(
    deployment: Deployment, caplog: pytest.LogCaptureFixture
) -> None:
    catalog, state = _mixed_key_setup(deployment)
    config = deployment.config(incremental_key_type_mismatch="skip")
    rows = records(run_tap(config, catalog=catalog, state=state))
    assert sorted(r["_id"] for r in rows) == [2, 6, 7]
    assert "skipping them" in caplog.text


def test_mismatched_key_types_can_fail_the_run(deployment: Deployment) -> None:
    catalog, state = _mixed_key_setup(deployment)
    config = deployment.config(incremental_key_type_mismatch="fail")
    with pytest.raises(ReplicationKeyMismatchError, match="orders"):
        run_tap(config, catalog=catalog, state=state)


def test_bookmark_never_moves_backwards_to_a_straggler(deployment: Deployment) -> None:
    catalog, state = _mixed_key_setup(deployment)
    messages = run_tap(deployment.config(), catalog=catalog, state=state)
    stream_id = f"{deployment.prefix}shop-orders"
    assert last_state(messages)["bookmarks"][stream_id]["replication_key_value"] == {"$timestamp": {"t": 1, "i": 1}}


def test_interrupted_incremental_resumes_from_the_last_emitted_key(deployment: Deployment) -> None:
    catalog, stream_id = _setup(deployment, [{"_id": i, "updated_at": day(i)} for i in range(1, 8)])
    first = run_tap(deployment.config(state_interval_records=2), catalog=catalog, stop_after_records=5)
    state = last_state(first)
    assert state["bookmarks"][stream_id]["replication_key_value"] == {"$date": "2024-01-04T00:00:00.000Z"}
    second = run_tap(deployment.config(), catalog=catalog, state=state)
    assert [r["_id"] for r in records(second)] == [4, 5, 6, 7]


def test_replication_key_from_settings_makes_the_stream_incremental(deployment: Deployment) -> None:
    deployment.database("shop").orders.insert_many([{"_id": i, "seq": i} for i in range(3)])
    stream_id = f"{deployment.prefix}shop-orders"
    config = deployment.config(replication_keys={stream_id: "seq"})
    messages = run_tap(config)
    assert last_state(messages)["bookmarks"][stream_id]["replication_key_value"] == 2
    assert not [m for m in messages if m["type"] == "ACTIVATE_VERSION"]


def test_incremental_without_a_key_is_a_clear_error(deployment: Deployment) -> None:
    catalog, _ = _setup(deployment, [{"_id": 1, "updated_at": day(1)}])
    for stream in catalog["streams"]:
        for entry in stream["metadata"]:
            entry["metadata"].pop("replication-key", None)
    with pytest.raises(CatalogValidationError, match="has no replication key"):
        run_tap(deployment.config(), catalog=catalog)


def test_log_based_on_a_view_is_refused_at_catalog_validation(deployment: Deployment) -> None:
    catalog, stream_id = _setup(deployment, [{"_id": 1, "updated_at": day(1)}])
    for stream in catalog["streams"]:
        if stream["tap_stream_id"] == stream_id:
            stream["is_view"] = True
            for entry in stream["metadata"]:
                if entry["breadcrumb"] == []:
                    entry["metadata"]["forced-replication-method"] = "LOG_BASED"
    with pytest.raises(CatalogValidationError, match="is a view"):
        run_tap(deployment.config(), catalog=catalog)


def test_streams_whose_documents_lack_the_key_are_skipped_with_a_warning(
    deployment: Deployment, caplog: pytest.LogCaptureFixture
) -> None:
    """As Meltano's `'*': {replication-key: updated_at}` asks of every collection."""
    shop = deployment.database("shop")
    shop.orders.insert_many([{"_id": i, "updated_at": day(i)} for i in range(1, 4)])
    shop.leads.insert_many([{"_id": i, "score": i} for i in range(3)])
    orders, leads = f"{deployment.prefix}shop-orders", f"{deployment.prefix}shop-leads"
    catalog = select_streams(
        discover(deployment.config()), [orders, leads], replication_method="INCREMENTAL", replication_key="updated_at"
    )
    messages = run_tap(deployment.config(), catalog=catalog)
    assert [r["_id"] for r in records(messages, orders)] == [1, 2, 3]
    assert not [m for m in messages if m.get("stream") == leads]
    assert last_state(messages)["bookmarks"].get(leads, {}) == {}  # nothing recorded for it
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING" and "Skipping" in r.getMessage()]
    assert warnings == [
        f"Skipping stream {leads!r}: none of its documents has the replication key 'updated_at'; give it a key "
        "it has (catalog metadata replication-key, or the replication_keys setting) or FULL_TABLE"
    ]


def test_a_nested_replication_key_is_followed_along_its_path(deployment: Deployment) -> None:
    catalog, stream_id = _setup(deployment, [{"_id": i, "meta": {"at": day(i)}} for i in range(1, 4)], key="meta.at")
    first = run_tap(deployment.config(), catalog=catalog)
    assert [r["_id"] for r in records(first)] == [1, 2, 3]
    deployment.database("shop").orders.insert_one({"_id": 4, "meta": {"at": day(9)}})
    second = run_tap(deployment.config(), catalog=catalog, state=last_state(first))
    assert [r["_id"] for r in records(second)] == [3, 4]
    assert last_state(second)["bookmarks"][stream_id]["replication_key_value"] == {"$date": "2024-01-09T00:00:00.000Z"}


def test_envelope_records_sync_incrementally_by_a_key_their_schema_does_not_name(deployment: Deployment) -> None:
    """The envelope schema declares only `_id` and `document`: the server says the key exists."""
    config = deployment.config(schema_mode="envelope")
    deployment.database("shop").orders.insert_many([{"_id": i, "updated_at": day(i)} for i in range(1, 4)])
    stream_id = f"{deployment.prefix}shop-orders"
    catalog = select_streams(
        discover(config), [stream_id], replication_method="INCREMENTAL", replication_key="updated_at"
    )
    messages = run_tap(config, catalog=catalog)
    assert [r["_id"] for r in records(messages)] == [1, 2, 3]
    bookmark = last_state(messages)["bookmarks"][stream_id]
    assert bookmark["replication_key_value"] == {"$date": "2024-01-03T00:00:00.000Z"}
