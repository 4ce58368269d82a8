"""One line per stream at the end of a run: records, time, rate and where the bookmark stands.

    stream 'shop-orders': 12,345 records in 1m02s (199 records/s); bookmark updated_at = 2024-05-01T10:00:00+00:00

Records are what the tap wrote for the stream: documents of a FULL_TABLE or INCREMENTAL read
(an initial sync included), changes read from the log, rows of an array child stream. The
time runs from the stream's start to its last read, the log included for LOG_BASED streams
(which share one log reader). The bookmark is the stream's entry in the final STATE, short.
"""

from __future__ import annotations

import dataclasses
import datetime
import time
import typing as t

from bson import Timestamp

from tap_mongodb import bookmarks
from tap_mongodb.log_positions import CLUSTER_TIME, OPLOG_TS, RESUME_TOKEN

SHORT_VALUE_LENGTH = 40


def format_duration(seconds: float) -> str:
    """`45s`, `7m20s`, `3h05m`: short enough for a log line."""
    whole = round(seconds)
    if whole < 60:
        return f"{whole}s"
    minutes, secs = divmod(whole, 60)
    if minutes < 60:
        return f"{minutes}m{secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m"


@dataclasses.dataclass
class _StreamRun:
    started: float
    ended: float
    records: int = 0


class RunSummary:
    def __init__(self, clock: t.Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._streams: dict[str, _StreamRun] = {}

    def started(self, stream: str) -> None:
        now = self._clock()
        self._streams.setdefault(stream, _StreamRun(now, now))

    def ended(self, stream: str) -> None:
        run = self._streams.get(stream)
        if run is not None:
            run.ended = self._clock()

    def add(self, stream: str, records: int = 1) -> None:
        run = self._streams.get(stream)
        if run is None:
            self.started(stream)
            run = self._streams[stream]
        run.records += records

    def records(self, stream: str) -> int:
        run = self._streams.get(stream)
        return run.records if run is not None else 0

    def lines(self, states: t.Mapping[str, t.Mapping[str, t.Any] | None]) -> list[str]:
        """One line per stream that ran, in the order they started; `states`: each one's final STATE entry."""
        return [self._line(name, run, states.get(name)) for name, run in self._streams.items()]

    @staticmethod
    def _line(name: str, run: _StreamRun, state: t.Mapping[str, t.Any] | None) -> str:
        elapsed = max(run.ended - run.started, 0.0)
        rate = run.records / elapsed if elapsed > 0 else 0.0
        return (
            f"stream {name!r}: {run.records:,} records in {format_duration(elapsed)} ({rate:,.0f} records/s); "
            f"bookmark {describe_bookmark(state)}"
        )


def short_value(value: t.Any) -> str:
    """A bookmark value readable in one line: dates in ISO form, cluster times as `t:i`."""
    if isinstance(value, Timestamp):
        return f"{value.time}:{value.inc}"
    if isinstance(value, datetime.datetime):
        text = value.isoformat()
    elif isinstance(value, str):
        text = repr(value)
    else:
        text = str(value)
    return text if len(text) <= SHORT_VALUE_LENGTH else f"{text[: SHORT_VALUE_LENGTH - 3]}..."


def describe_bookmark(state: t.Mapping[str, t.Any] | None) -> str:
    """A stream's STATE entry in a few words (a resume token is opaque: only its presence is told)."""
    if not state:
        return "none"
    parts = []
    key = state.get(bookmarks.REPLICATION_KEY)
    if key is not None and bookmarks.REPLICATION_KEY_VALUE in state:
        parts.append(f"{key} = {short_value(bookmarks.read_replication_key_value(state, key))}")
    position = bookmarks.read_log_position(state)
    if position is not None:
        if OPLOG_TS in position:
            parts.append(f"oplog at {short_value(position[OPLOG_TS])}")
        elif CLUSTER_TIME in position:
            token = " and a resume token" if RESUME_TOKEN in position else ""
            parts.append(f"log at cluster time {short_value(position[CLUSTER_TIME])}{token}")
        else:
            parts.append("log at a resume token")
    _version, last_id = bookmarks.read_full_table_progress(state)
    if bookmarks.has_bookmark(last_id):
        parts.append(f"full-table read in progress after _id {short_value(last_id)}")
    elif bookmarks.initial_sync_in_progress(state):
        parts.append("full-table read in progress")
    return "; ".join(parts) or "none (full table complete)"
