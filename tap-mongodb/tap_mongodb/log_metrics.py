"""What a log-reading run tells the user: changes by stream and operation type, and the lag.

Changes are written by the LogSession, outside the SDK's per-stream record loop, so the
SDK's `record_count` metric would say 0; these counters emit the same `record_count`
metric (tagged with the operation type) for what was really written, plus the lag behind
the cluster as a metric of its own. The SDK's own counter of a LOG_BASED stream counts its
initial sync only, and is silent at the end when that read had nothing (`InitialSyncCounter`),
so no `record_count` 0 is logged for a stream that emitted changes; a stream that emitted
nothing at all in the log gets one `record_count` 0. Summed per stream, the `record_count`
points are the records the run wrote for it.
"""

from __future__ import annotations

import collections
import enum
import time
import typing as t

from singer_sdk import metrics

from tap_mongodb.log_changes import OPERATION_TYPES

if t.TYPE_CHECKING:
    from bson import Timestamp

OPERATION_TAG = "operation_type"


class LogMetric(str, enum.Enum):
    REPLICATION_LAG = "replication_lag_seconds"


class ChangeCounts:
    """Changes emitted per stream and operation type, reported as SDK metrics."""

    def __init__(self, streams: t.Iterable[str]) -> None:
        self._counts: dict[str, collections.Counter[str]] = {name: collections.Counter() for name in streams}
        self._counters: dict[tuple[str, str], metrics.Counter] = {}

    def add(self, stream: str, operation: str) -> None:
        self._counts.setdefault(stream, collections.Counter())[operation] += 1
        key = (stream, operation)
        counter = self._counters.get(key)
        if counter is None:
            counter = metrics.record_counter(stream, **{OPERATION_TAG: operation})
            counter.__enter__()
            self._counters[key] = counter
        counter.increment()

    def close(self) -> None:
        """Log the final counts (the SDK logs a counter when its context ends); 0 for a stream without changes."""
        for counter in self._counters.values():
            counter.exit()
        self._counters.clear()
        for stream, counts in self._counts.items():
            if not sum(counts.values()):
                metrics.record_counter(stream).exit()

    @property
    def total(self) -> int:
        return sum(sum(counts.values()) for counts in self._counts.values())

    def by_operation(self) -> dict[str, int]:
        totals: collections.Counter[str] = collections.Counter()
        for counts in self._counts.values():
            totals.update(counts)
        return {operation: totals[operation] for operation in OPERATION_TYPES}

    def of_stream(self, stream: str) -> dict[str, int]:
        counts = self._counts.get(stream, collections.Counter())
        return {operation: counts[operation] for operation in OPERATION_TYPES}

    def describe(self) -> str:
        parts = ", ".join(f"{operation} {count}" for operation, count in self.by_operation().items())
        return f"{self.total} changes emitted ({parts})"


class InitialSyncCounter(metrics.Counter):
    """The SDK's record counter of a LOG_BASED stream, counting its initial sync: no final 0.

    The stream's changes are counted by ChangeCounts, after this counter has ended (the log
    is read once for all streams); a final `record_count` 0 from it would read as "nothing
    emitted". Array child streams use it too: their rows are counted where the parent writes
    them (ArrayChildStream.write_rows), never in the SDK's loop.
    """

    def exit(self) -> None:
        if self.value:
            super().exit()


def initial_sync_counter(stream: str) -> metrics.Counter:
    return InitialSyncCounter(metrics.Metric.RECORD_COUNT, {metrics.Tag.STREAM: stream})


def lag_seconds(reached: Timestamp, now: float | None = None) -> float:
    """How far behind the cluster a reader is that has passed cluster time `reached`."""
    return max(0.0, (time.time() if now is None else now) - reached.time)


def report_lag(streams: t.Iterable[str], lag: float) -> None:
    logger = metrics.get_metrics_logger()
    for stream in streams:
        point = metrics.Point("gauge", LogMetric.REPLICATION_LAG, round(lag, 3), {metrics.Tag.STREAM: stream})
        metrics.log(logger, point)  # type: ignore[arg-type]
