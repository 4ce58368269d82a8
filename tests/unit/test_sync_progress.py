"""Progress lines (interval, percentage, rate, ETA) and the run summary, on a clock the test moves."""

from __future__ import annotations

import logging

import pytest
from bson import ObjectId, Timestamp

from tap_mongodb import bookmarks
from tap_mongodb.log_positions import change_stream_position, oplog_position
from tap_mongodb.run_summary import RunSummary, describe_bookmark, format_duration
from tap_mongodb.sync_progress import PROGRESS_LOG_INTERVAL, StreamProgress, Total


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def messages(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [record.getMessage() for record in caplog.records if record.name == "progress-test"]


def test_a_line_per_interval_with_percentage_rate_and_eta_and_100_percent_at_the_end(
    caplog: pytest.LogCaptureFixture,
) -> None:
    clock = Clock()
    summary = RunSummary(clock)
    progress = StreamProgress(
        "shop-orders", lambda: Total(1000, estimated=True), logging.getLogger("progress-test"), summary, clock=clock
    )
    with caplog.at_level(logging.INFO):
        for _ in range(200):  # 200 documents in 40 s: under one interval, no line
            clock.now += 0.2
            progress.advance()
        assert messages(caplog) == []
        clock.now += PROGRESS_LOG_INTERVAL - 40 + 0.2  # one interval since the start
        progress.advance()
        for _ in range(599):
            progress.advance()  # no time passes: no new line
        clock.now += 10
        progress.finish()
    assert messages(caplog) == [
        # 201 documents in 60.2 s: 3.3 docs/s, 799 left: 239 s.
        "stream 'shop-orders': 201 of ~1,000 documents (20.1%, total estimated), 3 docs/s, ETA 3m59s",
        "stream 'shop-orders': 800 of 800 documents (100.0%), 11 docs/s",
    ]
    assert summary.records("shop-orders") == 800


def test_no_total_and_a_low_estimate_never_show_more_than_100_percent(caplog: pytest.LogCaptureFixture) -> None:
    clock = Clock()
    logger = logging.getLogger("progress-test")
    unknown = StreamProgress("v", lambda: None, logger, RunSummary(clock), clock=clock)
    low = StreamProgress("c", lambda: Total(5, estimated=True), logger, RunSummary(clock), clock=clock)
    with caplog.at_level(logging.INFO):
        for _ in range(10):
            clock.now += PROGRESS_LOG_INTERVAL
            unknown.advance()
            low.advance()
    assert messages(caplog)[-2:] == [
        f"stream 'v': 10 documents (total unknown), {10 / (10 * PROGRESS_LOG_INTERVAL):.0f} docs/s",
        f"stream 'c': 10 of ~5 documents (100.0%, total estimated), {10 / (10 * PROGRESS_LOG_INTERVAL):.0f} docs/s",
    ]


def test_a_read_that_showed_no_progress_ends_without_a_line_or_a_count(caplog: pytest.LogCaptureFixture) -> None:
    """A read shorter than the interval never asks the server for its total."""
    clock = Clock()

    def counted_never() -> Total:
        raise AssertionError("a total was counted for a read that logged no progress")

    progress = StreamProgress("s", counted_never, logging.getLogger("progress-test"), RunSummary(clock), clock=clock)
    with caplog.at_level(logging.INFO):
        for _ in range(3):
            progress.advance()
        progress.finish()
    assert messages(caplog) == []


def test_the_summary_has_one_line_per_stream_in_start_order() -> None:
    clock = Clock()
    summary = RunSummary(clock)
    summary.started("b")
    summary.started("a")
    summary.add("b", 300)
    clock.now += 150
    summary.ended("b")
    summary.ended("a")
    summary.started("b")  # a stream started again keeps its first start
    state = {"replication_key": "n", "replication_key_value": 7}
    assert summary.lines({"b": state, "a": {}}) == [
        "stream 'b': 300 records in 2m30s (2 records/s); bookmark n = 7",
        "stream 'a': 0 records in 2m30s (0 records/s); bookmark none",
    ]


def test_bookmarks_in_short() -> None:
    incremental: dict = {}
    bookmarks.write_replication_key_value(incremental, "updated_at", "2024-05-01")
    assert describe_bookmark(incremental) == "updated_at = '2024-05-01'"
    log: dict = {}
    bookmarks.write_log_position(log, change_stream_position({"_data": "82"}, Timestamp(1714557600, 3)))
    assert describe_bookmark(log) == "log at cluster time 1714557600:3 and a resume token"
    oplog: dict = {}
    bookmarks.write_log_position(oplog, oplog_position(Timestamp(5, 1)))
    assert describe_bookmark(oplog) == "oplog at 5:1"
    partial: dict = {}
    bookmarks.write_full_table_progress(partial, 1, ObjectId("6630c2f0a1b2c3d4e5f60718"))
    assert describe_bookmark(partial) == "full-table read in progress after _id 6630c2f0a1b2c3d4e5f60718"
    assert describe_bookmark({"schema": {}}) == "none (full table complete)"


@pytest.mark.parametrize(("seconds", "text"), [(0.4, "0s"), (59.4, "59s"), (61, "1m01s"), (3725, "1h02m")])
def test_durations(seconds: float, text: str) -> None:
    assert format_duration(seconds) == text
