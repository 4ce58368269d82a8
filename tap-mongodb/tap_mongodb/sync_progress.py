"""How far a FULL_TABLE or INCREMENTAL read is: documents done of a total, rate and ETA.

The Singer SDK logs a `METRIC: {... record_count ...}` line per stream every
`singer_sdk.metrics.DEFAULT_LOG_INTERVAL` seconds, counting records since its last line: no
total, no percentage. A read logs a progress line at the same interval (never one per
record) with what the SDK's counter cannot know:

    stream 'shop-orders': 120,000 of ~1,000,000 documents (12.0%, total estimated), 2,000 docs/s, ETA 7m20s

The total is asked for only when the first progress line is due, so a read shorter than
the interval asks for none (on a server that counts by scanning, SecantusDB for one, even the
metadata count cost 0.3 s for 20,000 documents). It is cheap by design. A FULL_TABLE read
from the start uses the collection's
metadata count (`estimated_document_count`, no scan: "estimated"). A resumed FULL_TABLE read
and an INCREMENTAL read count what their query still has to read, but the server stops that
count after `COUNT_TIME_LIMIT_MS`; a big collection then falls back to its metadata count as
an upper bound (again "estimated"), a view to no total at all. When the read ends after at
least one progress line, a last one shows the true total at 100%.
"""

from __future__ import annotations

import dataclasses
import time
import typing as t

import pymongo.errors
from singer_sdk import metrics

from tap_mongodb.run_summary import format_duration

if t.TYPE_CHECKING:
    import logging

    from pymongo.collection import Collection

    from tap_mongodb.run_summary import RunSummary

# The SDK's metric interval: a progress line goes with each METRIC line, not with each record.
PROGRESS_LOG_INTERVAL = metrics.DEFAULT_LOG_INTERVAL
# A count of the query's remainder may take this long on the server, then it gives up.
COUNT_TIME_LIMIT_MS = 2000


@dataclasses.dataclass(frozen=True)
class Total:
    documents: int
    estimated: bool


def estimate_total(
    collection: Collection,
    query: t.Mapping[str, t.Any],
    *,
    is_view: bool,
    logger: logging.Logger,
) -> Total | None:
    """The documents a read will return, as cheaply as the module docstring says; None if unknown."""
    try:
        if not query and not is_view:
            return Total(int(collection.estimated_document_count()), estimated=True)
        return Total(int(collection.count_documents(dict(query), maxTimeMS=COUNT_TIME_LIMIT_MS)), estimated=False)
    except pymongo.errors.PyMongoError as exc:
        logger.debug("Counting the documents of %s for progress logs failed: %s", collection.full_name, exc)
    if is_view:
        return None
    try:
        return Total(int(collection.estimated_document_count()), estimated=True)
    except pymongo.errors.PyMongoError:
        return None


class StreamProgress:
    """Counts one read's documents, logs progress every interval and feeds the run summary."""

    def __init__(
        self,
        stream: str,
        total: t.Callable[[], Total | None],
        logger: logging.Logger,
        summary: RunSummary,
        *,
        clock: t.Callable[[], float] = time.monotonic,
    ) -> None:
        self._stream = stream
        self._count_total = total
        self._total: Total | None = None
        self._total_counted = False
        self._logger = logger
        self._summary = summary
        self._clock = clock
        self._started = self._last_logged = clock()
        self._interval = PROGRESS_LOG_INTERVAL
        self.done = 0
        self._lines_logged = 0
        self._last_shown: tuple[int, int | None] = (-1, None)  # (done, total) of the last line

    def advance(self) -> None:
        """One document emitted (called after the SDK wrote its record)."""
        self.done += 1
        self._summary.add(self._stream)
        now = self._clock()
        if now - self._last_logged >= self._interval:
            self._last_logged = now
            self._log(now, self._estimated_total())

    def _estimated_total(self) -> Total | None:
        if not self._total_counted:
            self._total_counted = True
            self._total = self._count_total()
        return self._total

    def finish(self) -> None:
        """The read is complete: the true total at 100%, if progress was shown at all."""
        if self._lines_logged and self._last_shown != (self.done, self.done):
            self._log(self._clock(), Total(self.done, estimated=False))

    def _log(self, now: float, total: Total | None) -> None:
        self._lines_logged += 1
        self._last_shown = (self.done, None if total is None else total.documents)
        self._logger.info("%s", self.describe(now - self._started, total))

    def describe(self, elapsed: float, total: Total | None) -> str:
        rate = self.done / elapsed if elapsed > 0 else 0.0
        text = f"stream {self._stream!r}: {self.done:,}"
        if total is None:
            text += " documents (total unknown)"
        else:
            mark = "~" if total.estimated else ""
            share = 100.0 if total.documents <= self.done else 100.0 * self.done / total.documents
            text += f" of {mark}{total.documents:,} documents ({share:.1f}%"
            text += ", total estimated)" if total.estimated else ")"
        text += f", {rate:,.0f} docs/s"
        if total is not None and self.done < total.documents and rate > 0:
            text += f", ETA {format_duration((total.documents - self.done) / rate)}"
        return text
