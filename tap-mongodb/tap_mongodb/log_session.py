"""Following the log for every LOG_BASED stream at once, with one cursor.

A session starts at the oldest position among its streams, hands each change to the stream
it concerns (skipping changes a stream's own position already covers), and moves every
stream's position forward as it goes, so collections without changes advance too. It ends
when caught up with the time the run started (or after `max_run_seconds`), unless
`continuous` is set; it writes STATE every `state_interval_seconds` and at the end.
"""

from __future__ import annotations

import logging
import time
import typing as t

from mongodb_common.cli_errors import ConnectorError
from mongodb_common.retries import RetryPolicy, iterate_with_retries
from tap_mongodb.log_changes import ChangeKind
from tap_mongodb.log_sources import LogItem, LogPositionLostError, position_key

if t.TYPE_CHECKING:
    from tap_mongodb.streams import CollectionStream

logger = logging.getLogger(__name__)

RESYNC = "resync"
FAIL = "fail"


class LogInvalidatedError(ConnectorError):
    """A followed collection was dropped or renamed, with the policy set to fail."""


class LogSource(t.Protocol):
    kind: str

    def current_position(self) -> dict[str, t.Any]: ...

    def read(self, start: t.Mapping[str, t.Any]) -> t.Iterator[LogItem]: ...


class LogSession:
    def __init__(self, streams: t.Sequence[CollectionStream], source: LogSource, config: t.Mapping[str, t.Any]) -> None:
        self._streams = list(streams)
        self._source = source
        self._continuous = bool(config.get("continuous", False))
        self._max_run_seconds = float(config.get("max_run_seconds") or 0)
        self._state_interval = float(config.get("state_interval_seconds", 30))
        self._on_lost = config.get("lost_log_position", RESYNC)
        self._on_invalidated = config.get("log_invalidation", RESYNC)
        self._clock = time.monotonic
        self._retry_policy = RetryPolicy.from_config(config)

    def run(self) -> int:
        """Follow the log; returns how many changes were emitted."""
        positions = {stream.name: stream.log_position for stream in self._streams}
        followed = [stream for stream in self._streams if positions[stream.name] is not None]
        starts = dict(positions)  # what each stream's own state already covers
        if not followed:
            return 0
        start = min((positions[s.name] for s in followed), key=position_key)
        started_at, run_start_epoch = self._clock(), time.time()
        last_state, emitted, lag_seconds = started_at, 0, 0.0
        names = ", ".join(stream.name for stream in followed)
        logger.info("Following the log for %s from %s", names, start)

        def open_log() -> t.Iterator[LogItem]:
            # After a fault, from the furthest position every stream has reached.
            resume = min((positions[s.name] for s in followed), key=position_key)
            return self._source.read(resume)

        def describe() -> str:
            return f"streams {names}, log reading"

        try:
            for item in iterate_with_retries(open_log, self._retry_policy, describe, logger):
                if item.change is not None:
                    emitted += self._dispatch(item, followed, starts)
                    if item.cluster_time is not None:
                        lag_seconds = max(0.0, time.time() - item.cluster_time.time)
                self._advance(followed, positions, item.position)
                now = self._clock()
                if now - last_state >= self._state_interval:
                    logger.info("Log replication lag %.1f s after %d changes (%s)", lag_seconds, emitted, names)
                    followed[0].write_state_now()
                    last_state = now
                if self._finished(item, now - started_at, run_start_epoch):
                    break
                followed = [stream for stream in followed if not stream.needs_resync]
                if not followed:
                    break
        except LogPositionLostError as exc:
            self._position_lost(followed, exc)
        logger.info("Log reading ended: %d changes emitted, replication lag %.1f s", emitted, lag_seconds)
        return emitted

    def _finished(self, item: LogItem, elapsed: float, run_start_epoch: float) -> bool:
        if self._max_run_seconds and elapsed >= self._max_run_seconds:
            logger.info("Stopping the log reading after max_run_seconds=%s", self._max_run_seconds)
            return True
        if self._continuous:
            return False
        if item.change is None:
            return True  # caught up: the server had nothing more to give
        return item.cluster_time is not None and item.cluster_time.time > run_start_epoch

    def _dispatch(self, item: LogItem, streams: list[CollectionStream], starts: dict[str, t.Any]) -> int:
        change = item.change
        assert change is not None
        emitted = 0
        for stream in streams:
            concerned = (change.kind is ChangeKind.INVALIDATE and not change.database) or change.concerns(
                stream.info.database, stream.info.collection
            )
            if not concerned or position_key(item.source_position) <= position_key(starts[stream.name]):
                continue  # before where this stream's own state begins
            if change.kind is ChangeKind.INVALIDATE:
                self._invalidated(stream, change.reason or "invalidate")
            else:
                stream.emit_change(change)
                emitted += 1
        return emitted

    @staticmethod
    def _advance(streams: list[CollectionStream], positions: dict[str, t.Any], position: dict[str, t.Any]) -> None:
        for stream in streams:
            if stream.needs_resync:
                continue
            if position_key(position) > position_key(positions[stream.name]):
                positions[stream.name] = position
                stream.log_position = position

    def _invalidated(self, stream: CollectionStream, reason: str) -> None:
        message = f"stream {stream.name!r}: the log reports {reason}"
        if self._on_invalidated == FAIL:
            raise LogInvalidatedError(f"{message}; set log_invalidation to 'resync' to re-sync it instead")
        logger.warning("%s; it will be re-synced with a new initial sync on the next run", message)
        stream.mark_for_resync()

    def _position_lost(self, streams: list[CollectionStream], exc: LogPositionLostError) -> None:
        names = ", ".join(repr(stream.name) for stream in streams)
        message = f"streams {names}: {exc}"
        if self._on_lost == FAIL:
            raise LogPositionLostError(f"{message}; set lost_log_position to 'resync' to re-sync them") from None
        logger.error(
            "%s; changes since the bookmark cannot be read, so these streams will be re-synced "
            "with a new initial sync on the next run",
            message,
        )
        for stream in streams:
            stream.mark_for_resync()
