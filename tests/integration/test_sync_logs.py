"""What a run logs: progress of FULL_TABLE and INCREMENTAL reads, record counts, one summary per stream.

Progress lines come at the SDK's metric interval; the tests set it to 0 so every document
logs one, and check the numbers, never the time.
"""

from __future__ import annotations

import logging
import re
import typing as t

import pytest

from tap_mongodb import sync_progress
from tap_mongodb.run_summary import describe_bookmark
from tests.integration.test_tap_log_based import Shop
from tests.support.singer_io import discover, last_state, records, run_tap, select_streams

if t.TYPE_CHECKING:
    from singer_sdk.metrics import Point

    from tests.support.deployment import Deployment

PROGRESS = re.compile(
    r"stream '(?P<stream>[^']+)': (?P<done>[\d,]+) of (?P<mark>~?)(?P<total>[\d,]+) documents "
    r"\((?P<share>[\d.]+)%(?P<estimated>, total estimated)?\), [\d,]+ docs/s(?:, ETA \w+)?"
)
SUMMARY = re.compile(
    r"Run summary: stream '(?P<stream>[^']+)': (?P<records>[\d,]+) records in \S+ \([\d,]+ records/s\); "
    r"bookmark (?P<bookmark>.*)"
)


@pytest.fixture
def every_document_logs_progress(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sync_progress, "PROGRESS_LOG_INTERVAL", 0.0)


def progress_lines(caplog: pytest.LogCaptureFixture, stream: str) -> list[re.Match[str]]:
    found = (PROGRESS.fullmatch(record.getMessage()) for record in caplog.records)
    return [match for match in found if match and match["stream"] == stream]


def summaries(caplog: pytest.LogCaptureFixture) -> dict[str, re.Match[str]]:
    found = [SUMMARY.fullmatch(record.getMessage()) for record in caplog.records]
    lines = [match for match in found if match]
    by_stream = {match["stream"]: match for match in lines}
    assert len(by_stream) == len(lines), "one summary line per stream"
    return by_stream


def record_count_points(caplog: pytest.LogCaptureFixture, stream: str) -> list[Point[int]]:
    points = [r.args[0] for r in caplog.records if r.name == "singer_sdk.metrics" and r.args]  # type: ignore[index]
    return [
        p
        for p in points
        if getattr(p, "metric", None) == "record_count" and p.tags.get("stream") == stream  # type: ignore[union-attr]
    ]


def number(text: str) -> int:
    return int(text.replace(",", ""))


def test_full_table_progress_counts_to_100_percent_and_the_summary_matches_the_output(
    deployment: Deployment, caplog: pytest.LogCaptureFixture, every_document_logs_progress: None
) -> None:
    deployment.database("shop").orders.insert_many([{"_id": n, "items": list(range(n % 3))} for n in range(25)])
    orders = f"{deployment.prefix}shop-orders"
    config = deployment.config(denest_arrays=True, bson_encoding="plain")
    with caplog.at_level(logging.INFO):
        messages = run_tap(config)

    lines = progress_lines(caplog, orders)
    assert [number(line["done"]) for line in lines][:25] == list(range(1, 26))
    assert {(number(line["total"]), line["mark"], bool(line["estimated"])) for line in lines} == {(25, "~", True)}
    assert float(lines[-1]["share"]) == 100.0
    assert float(lines[11]["share"]) == pytest.approx(100 * 12 / 25, abs=0.05)

    summary = summaries(caplog)
    assert number(summary[orders]["records"]) == len(records(messages, orders)) == 25
    items = f"{orders}__items"
    assert number(summary[items]["records"]) == len(records(messages, items)) == sum(n % 3 for n in range(25))
    assert sum(p.value for p in record_count_points(caplog, items)) == len(records(messages, items))
    assert sum(p.value for p in record_count_points(caplog, orders)) == 25
    final = last_state(messages)["bookmarks"][orders]
    assert summary[orders]["bookmark"] == describe_bookmark(final) == "none (full table complete)"


def test_incremental_progress_counts_the_remainder_and_the_summary_shows_the_final_bookmark(
    deployment: Deployment, caplog: pytest.LogCaptureFixture, every_document_logs_progress: None
) -> None:
    orders = deployment.database("shop").orders
    orders.insert_many([{"_id": n, "updated_at": n} for n in range(10)])
    stream = f"{deployment.prefix}shop-orders"
    config = deployment.config(replication_keys={stream: "updated_at"})
    first = run_tap(config)
    orders.insert_many([{"_id": n, "updated_at": n} for n in range(10, 14)])
    caplog.clear()  # the first run logs too, whenever an earlier test left the logger at INFO
    with caplog.at_level(logging.INFO):
        second = run_tap(config, state=last_state(first))

    emitted = records(second, stream)
    assert [r["updated_at"] for r in emitted] == [9, 10, 11, 12, 13]  # the bookmark's own value again
    lines = progress_lines(caplog, stream)
    # Counted, not estimated: the documents with updated_at >= 9.
    assert [(number(line["done"]), number(line["total"]), line["mark"]) for line in lines] == [
        (n, 5, "") for n in range(1, 6)
    ]
    assert float(lines[-1]["share"]) == 100.0
    summary = summaries(caplog)[stream]
    assert number(summary["records"]) == len(emitted)
    final = last_state(second)["bookmarks"][stream]
    assert final["replication_key_value"] == 13
    assert summary["bookmark"] == "updated_at = 13"


def test_without_progress_lines_a_short_read_still_ends_with_its_summary(
    deployment: Deployment, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    """At the SDK's interval (an hour here), a short read logs no progress: never a line per record."""
    monkeypatch.setattr(sync_progress, "PROGRESS_LOG_INTERVAL", 3600.0)
    deployment.database("shop").orders.insert_many([{"_id": n} for n in range(30)])
    stream = f"{deployment.prefix}shop-orders"
    with caplog.at_level(logging.INFO):
        messages = run_tap(deployment.config())
    assert progress_lines(caplog, stream) == []
    assert number(summaries(caplog)[stream]["records"]) == len(records(messages, stream)) == 30


@pytest.mark.parametrize("log_method", ["change_streams", "oplog"])
def test_log_based_record_counts_add_up_to_the_changes_emitted(
    deployment: Deployment, log_method: str, caplog: pytest.LogCaptureFixture
) -> None:
    shop = Shop(deployment, log_method)
    with caplog.at_level(logging.INFO):
        initial = shop.run()
    assert sum(p.value for p in record_count_points(caplog, shop.orders_stream)) == len(
        records(initial, shop.orders_stream)
    )
    caplog.clear()
    shop.db.orders.insert_many([{"_id": 10}, {"_id": 11}])
    shop.db.orders.update_one({"_id": 10}, {"$set": {"v": 1}})
    shop.db.orders.delete_one({"_id": 2})
    with caplog.at_level(logging.INFO):
        changes = shop.run()

    emitted = records(changes, shop.orders_stream)
    assert len(emitted) == 4
    points = record_count_points(caplog, shop.orders_stream)
    assert sum(p.value for p in points) == len(emitted)
    assert all(p.value > 0 for p in points), "no record_count 0 for a stream that emitted changes"
    quiet = record_count_points(caplog, shop.customers_stream)
    assert [p.value for p in quiet] == [0]

    summary = summaries(caplog)
    assert number(summary[shop.orders_stream]["records"]) == len(emitted)
    assert number(summary[shop.customers_stream]["records"]) == 0
    final = last_state(changes)["bookmarks"][shop.orders_stream]
    position = final["log_position"]
    reached = position.get("oplog_ts") or position["cluster_time"]
    assert f"{reached['$timestamp']['t']}:{reached['$timestamp']['i']}" in summary[shop.orders_stream]["bookmark"]
    assert summary[shop.orders_stream]["bookmark"] == describe_bookmark(final)


def test_a_resumed_full_table_read_counts_what_is_left(
    deployment: Deployment, caplog: pytest.LogCaptureFixture, every_document_logs_progress: None
) -> None:
    deployment.database("shop").orders.insert_many([{"_id": n} for n in range(20)])
    stream = f"{deployment.prefix}shop-orders"
    config = deployment.config(state_interval_records=5)
    catalog = select_streams(discover(config), [stream])
    interrupted = run_tap(config, catalog=catalog, stop_after_records=10)
    state = last_state(interrupted)
    assert "last_id" in state["bookmarks"][stream]
    caplog.clear()  # only the resumed run's lines
    with caplog.at_level(logging.INFO):
        resumed = run_tap(config, catalog=catalog, state=state)
    left = 20 - (state["bookmarks"][stream]["last_id"] + 1)
    assert len(records(resumed, stream)) == left
    lines = progress_lines(caplog, stream)
    assert [(number(line["done"]), number(line["total"]), line["mark"]) for line in lines] == [
        (n, left, "") for n in range(1, left + 1)
    ]
