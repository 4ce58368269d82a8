"""LOG_BASED: initial sync, then the log; recorded server documents through the real code path.

On the stand-in, change events and oplog entries are the recorded documents of
tests/fixtures/log. The replica-set test at the end runs the same flow against a real server.
"""

from __future__ import annotations

import logging
import typing as t

import pytest
from bson import Decimal128, ObjectId, Timestamp

from tap_mongodb.log_session import LogInvalidatedError
from tap_mongodb.log_sources import LogPositionLostError
from tests.support.recorded_log import (
    TOKEN_AFTER_EVENTS,
    TOKEN_BEFORE_EVENTS,
    TOKEN_LATER,
    in_database,
    load,
    replay_change_stream,
)
from tests.support.singer_io import discover, last_state, records, run_tap, run_target, select_streams

if t.TYPE_CHECKING:
    from tests.support.deployment import Deployment

pytestmark = pytest.mark.usefixtures("_stand_in_only")

ORDER_718 = ObjectId("66a0c1f0a1b2c3d4e5f60718")
ORDER_719 = ObjectId("66a0c1f0a1b2c3d4e5f60719")
ORDER_720 = ObjectId("66a0c1f0a1b2c3d4e5f60720")
ORDER_721 = ObjectId("66a0c1f0a1b2c3d4e5f60721")


@pytest.fixture
def _stand_in_only(deployment: Deployment) -> None:
    if deployment.is_real:
        pytest.skip("recorded-event tests replace the log cursor; the replica-set test covers real servers")


def _setup(deployment: Deployment, **settings: t.Any) -> tuple[dict[str, t.Any], str, str]:
    shop = deployment.database("shop")
    shop.orders.insert_many(
        [
            {"_id": ORDER_718, "status": "open", "total": Decimal128("5.00"), "coupon": "X"},
            {"_id": ORDER_719, "status": "open", "total": Decimal128("7.50")},
        ]
    )
    shop.customers.insert_one({"_id": "c1", "name": "Ada"})
    orders, customers = f"{deployment.prefix}shop-orders", f"{deployment.prefix}shop-customers"
    catalog = select_streams(
        discover(deployment.config(**settings)), [orders, customers], replication_method="LOG_BASED"
    )
    return catalog, orders, customers


def _events(deployment: Deployment) -> list[dict[str, t.Any]]:
    return [in_database(event, deployment.db_name("shop")) for event in load("change_events.json")]


def _stream_records(messages: list[dict[str, t.Any]], stream: str) -> list[dict[str, t.Any]]:
    return records(messages, stream)


def test_initial_sync_then_every_change_event_kind(deployment: Deployment, monkeypatch: pytest.MonkeyPatch) -> None:
    catalog, orders, customers = _setup(deployment)
    opened = replay_change_stream(monkeypatch, _events(deployment))
    messages = run_tap(deployment.config(), catalog=catalog)

    rows = _stream_records(messages, orders)
    # Initial sync (both documents), then: insert 720, update 718, replace 719,
    # update of 720 whose lookup found nothing (deleted since), delete 720.
    assert [r["_id"] for r in rows] == [
        str(ORDER_718),
        str(ORDER_719),
        str(ORDER_720),
        str(ORDER_718),
        str(ORDER_719),
        str(ORDER_720),
        str(ORDER_720),
    ]
    assert rows[3]["status"] == "paid"
    assert "coupon" not in rows[3]
    assert rows[4] == {"_id": str(ORDER_719), "status": "replaced", "total": Decimal128("7.50").to_decimal()}
    assert rows[5]["_sdc_deleted_at"] == "2024-07-24T08:57:27.000Z"
    assert rows[6] == {"_id": str(ORDER_720), "_sdc_deleted_at": "2024-07-24T08:57:28.000Z"}
    # Each stream captured its position before its full-table read; then ONE cursor read the
    # log for both, from that position.
    assert opened == [None, None, TOKEN_BEFORE_EVENTS]
    schema = next(m for m in messages if m["type"] == "SCHEMA" and m["stream"] == orders)["schema"]
    assert schema["properties"]["_sdc_deleted_at"]["format"] == "date-time"
    # Every stream's position advanced to the end of the log, the quiet one too.
    state = last_state(messages)["bookmarks"]
    assert state[orders]["log_position"] == {"resume_token": TOKEN_AFTER_EVENTS}
    assert state[customers]["log_position"] == {"resume_token": TOKEN_AFTER_EVENTS}
    assert "version" not in state[orders]
    assert _stream_records(messages, customers) == [{"_id": "c1", "name": "Ada"}]


def test_replayed_changes_load_into_target_mongodb_as_the_source_ended(
    deployment: Deployment, monkeypatch: pytest.MonkeyPatch
) -> None:
    catalog, _, _ = _setup(deployment, bson_encoding="extended_json")
    replay_change_stream(monkeypatch, _events(deployment))
    messages = run_tap(deployment.config(bson_encoding="extended_json"), catalog=catalog)
    run_target(
        deployment.config(database=deployment.db_name("dst"), collection_naming="strip_database_prefix"), messages
    )
    copied = {d["_id"]: d for d in deployment.database("dst").orders.find()}
    assert set(copied) == {ORDER_718, ORDER_719}
    assert copied[ORDER_718]["status"] == "paid"
    assert copied[ORDER_719] == {"_id": ORDER_719, "status": "replaced", "total": Decimal128("7.50")}


def test_a_run_without_changes_still_advances_every_position(
    deployment: Deployment, monkeypatch: pytest.MonkeyPatch
) -> None:
    catalog, orders, customers = _setup(deployment)
    replay_change_stream(monkeypatch, _events(deployment))
    first = last_state(run_tap(deployment.config(), catalog=catalog))
    replay_change_stream(monkeypatch, _events(deployment), final_token=TOKEN_LATER)
    second = run_tap(deployment.config(), catalog=catalog, state=first)
    assert records(second) == []
    state = last_state(second)["bookmarks"]
    assert state[orders]["log_position"] == {"resume_token": TOKEN_LATER}
    assert state[customers]["log_position"] == {"resume_token": TOKEN_LATER}


def test_lost_history_is_never_skipped_silently_and_resyncs_next_run(
    deployment: Deployment, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    catalog, orders, customers = _setup(deployment)
    replay_change_stream(monkeypatch, _events(deployment))
    first = last_state(run_tap(deployment.config(), catalog=catalog))
    replay_change_stream(monkeypatch, _events(deployment), error=load("change_stream_history_lost.json"))
    with caplog.at_level(logging.ERROR):
        second = run_tap(deployment.config(), catalog=catalog, state=first)
    assert "ChangeStreamHistoryLost" in caplog.text or "may no longer be in the oplog" in caplog.text
    assert orders in caplog.text
    state = last_state(second)["bookmarks"]
    assert "log_position" not in state[orders]
    assert "log_position" not in state[customers]
    # The next run starts over: a new initial sync of every document.
    replay_change_stream(monkeypatch, [])
    third = run_tap(deployment.config(), catalog=catalog, state=last_state(second))
    assert {r["_id"] for r in records(third, orders)} == {str(ORDER_718), str(ORDER_719)}
    assert any(m["type"] == "ACTIVATE_VERSION" and m["stream"] == orders for m in third)


def test_lost_history_can_fail_the_run_naming_the_streams(
    deployment: Deployment, monkeypatch: pytest.MonkeyPatch
) -> None:
    catalog, orders, _ = _setup(deployment)
    replay_change_stream(monkeypatch, _events(deployment))
    first = last_state(run_tap(deployment.config(), catalog=catalog))
    replay_change_stream(monkeypatch, _events(deployment), error=load("change_stream_history_lost.json"))
    with pytest.raises(LogPositionLostError, match=orders):
        run_tap(deployment.config(lost_log_position="fail"), catalog=catalog, state=first)


@pytest.mark.parametrize(
    ("event", "resynced"),
    [
        ("drop", {"orders"}),
        ("rename", {"orders"}),
        ("dropDatabase", {"orders", "customers"}),
        ("invalidate", {"orders", "customers"}),
    ],
)
def test_drop_rename_and_invalidate_mark_streams_for_a_fresh_sync(
    deployment: Deployment, monkeypatch: pytest.MonkeyPatch, event: str, resynced: set[str]
) -> None:
    catalog, orders, customers = _setup(deployment)
    invalidating = in_database(load("invalidating_events.json")[event], deployment.db_name("shop"))
    replay_change_stream(monkeypatch, [*_events(deployment), invalidating])
    messages = run_tap(deployment.config(), catalog=catalog)
    state = last_state(messages)["bookmarks"]
    for name, stream in (("orders", orders), ("customers", customers)):
        assert ("log_position" not in state[stream]) is (name in resynced), name


def test_invalidation_can_fail_the_run(deployment: Deployment, monkeypatch: pytest.MonkeyPatch) -> None:
    catalog, _, _ = _setup(deployment)
    drop = in_database(load("invalidating_events.json")["drop"], deployment.db_name("shop"))
    replay_change_stream(monkeypatch, [*_events(deployment), drop])
    with pytest.raises(LogInvalidatedError, match="drop of"):
        run_tap(deployment.config(log_invalidation="fail"), catalog=catalog)


# -- raw oplog tailing -------------------------------------------------------------------


def _oplog(deployment: Deployment) -> t.Any:
    return deployment.client["local"]["oplog.rs"]


def test_oplog_tailing_covers_both_update_formats_transactions_and_deletes(deployment: Deployment) -> None:
    catalog, orders, customers = _setup(deployment)
    oplog = _oplog(deployment)
    oplog.insert_one({"op": "n", "ns": "", "o": {"msg": "initiating set"}, "ts": Timestamp(1721811430, 1)})
    config = deployment.config(log_method="oplog")
    first = run_tap(config, catalog=catalog)
    assert last_state(first)["bookmarks"][orders]["log_position"] == {
        "oplog_ts": {"$timestamp": {"t": 1721811430, "i": 1}}
    }

    # The writes happen; the oplog records them (recorded entries) and the collection holds
    # the result, which the tap reads back for updates.
    shop = deployment.database("shop")
    shop.orders.insert_one({"_id": ORDER_721, "status": "open", "total": Decimal128("3.10")})
    shop.orders.update_one({"_id": ORDER_718}, {"$set": {"status": "merged"}, "$unset": {"coupon": 1}})
    shop.orders.replace_one({"_id": ORDER_719}, {"status": "replaced-in-oplog"})
    oplog.insert_many([in_database(entry, deployment.db_name("shop")) for entry in load("oplog_entries.json")])

    second = run_tap(config, catalog=catalog, state=last_state(first))
    rows = records(second, orders)
    assert [(r["_id"], r.get("status"), "_sdc_deleted_at" in r) for r in rows] == [
        (str(ORDER_720), "open", False),  # i
        (str(ORDER_718), "merged", False),  # u, $v: 2 diff: read back
        (str(ORDER_719), "replaced-in-oplog", False),  # u, $set/$unset: read back
        (str(ORDER_721), "open", False),  # applyOps: i
        (str(ORDER_718), "merged", False),  # applyOps: u
        (str(ORDER_720), None, True),  # applyOps: d
        (str(ORDER_719), "replaced-in-oplog", False),  # u, replacement
    ]
    state = last_state(second)["bookmarks"]
    assert state[orders]["log_position"] == {"oplog_ts": {"$timestamp": {"t": 1721811449, "i": 1}}}
    assert state[customers]["log_position"] == state[orders]["log_position"]


def test_oplog_position_older_than_the_oplog_resyncs(deployment: Deployment, caplog: pytest.LogCaptureFixture) -> None:
    catalog, orders, _ = _setup(deployment)
    oplog = _oplog(deployment)
    oplog.insert_one({"op": "n", "ns": "", "o": {"msg": "old"}, "ts": Timestamp(1721811430, 1)})
    config = deployment.config(log_method="oplog")
    first = last_state(run_tap(config, catalog=catalog))
    oplog.delete_many({})  # the oplog rolled over
    oplog.insert_one({"op": "n", "ns": "", "o": {"msg": "new"}, "ts": Timestamp(1721900000, 1)})
    with caplog.at_level(logging.ERROR):
        second = run_tap(config, catalog=catalog, state=first)
    assert "older than the oldest oplog entry" in caplog.text
    assert "log_position" not in last_state(second)["bookmarks"][orders]


def test_oplog_drop_command_marks_the_stream_for_resync(deployment: Deployment) -> None:
    catalog, orders, customers = _setup(deployment)
    oplog = _oplog(deployment)
    oplog.insert_one({"op": "n", "ns": "", "o": {}, "ts": Timestamp(1721811430, 1)})
    config = deployment.config(log_method="oplog")
    first = last_state(run_tap(config, catalog=catalog))
    oplog.insert_one(in_database(load("oplog_commands.json")["drop"], deployment.db_name("shop")))
    state = last_state(run_tap(config, catalog=catalog, state=first))["bookmarks"]
    assert "log_position" not in state[orders]
    assert "log_position" in state[customers]
