"""What a log-reading run tells the user: changes by stream and operation type, and the lag.

Changes are written by the LogSession, outside the SDK's per-stream record loop, so the
SDK's `record_count` metric would say 0; these counters emit the same `record_count`
metric (tagged with the operation type) for what was really written, plus the lag behind
the cluster as a metric of its own.
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
        """Log the final counts (the SDK logs a counter when its context ends)."""
        for counter in self._counters.values():
            counter.exit()
        self._counters.clear()

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


def lag_seconds(reached: Timestamp, now: float | None = None) -> float:
    """How far behind the cluster a reader is that has passed cluster time `reached`."""
    return max(0.0, (time.time() if now is None else now) - reached.time)


def report_lag(streams: t.Iterable[str], lag: float) -> None:
    logger = metrics.get_metrics_logger()
    for stream in streams:
        point = metrics.Point("gauge", LogMetric.REPLICATION_LAG, round(lag, 3), {metrics.Tag.STREAM: stream})
        metrics.log(logger, point)  # type: ignore[arg-type]
