"""Following the log for every LOG_BASED stream at once, with one cursor.

A session starts where its streams' positions say (see log_positions), hands each change to
the streams it concerns (skipping what a stream had already emitted), and moves every
stream's position forward after each item, so quiet collections advance too. A bounded run
ends when the reader reports it has passed the cluster time the run started at; if
`max_run_seconds` comes first, the run saves its progress and fails with the lag (exit
status 1). With `continuous`, it follows the log until `max_run_seconds` (or forever).
STATE and the lag are written every `state_interval_seconds` and at the end.

The session knows streams only through `FollowedStream`, so it imports nothing of the
Singer stream classes (which import the tap that creates sessions).
"""

from __future__ import annotations

import dataclasses
import logging
import time
import typing as t

from mongodb_common.cli_errors import ConnectorError
from mongodb_common.retries import RetryPolicy, iterate_with_retries
from tap_mongodb.log_changes import ChangeKind
from tap_mongodb.log_metrics import ChangeCounts, lag_seconds, report_lag
from tap_mongodb.log_positions import (
    CHANGE_STREAMS,
    MissingLowerBoundError,
    StartPlan,
    plan_change_stream_start,
    plan_oplog_start,
)
from tap_mongodb.log_sources import LogItem, LogPositionLostError, ResumeRefusedError

if t.TYPE_CHECKING:
    from bson import Timestamp

    from tap_mongodb.log_changes import Change

logger = logging.getLogger(__name__)

RESYNC = "resync"
FAIL = "fail"
# A bounded run that has no way to show it caught up on a never-idle deployment (see
# ChangeStreamSource._witness) stops after this long even with max_run_seconds 0, rather
# than run forever; it then fails like a run that hit max_run_seconds.
UNPROVABLE_RUN_SECONDS = 3600.0


class LogInvalidatedError(ConnectorError):
    """A followed collection was dropped or renamed, with the policy set to fail."""


class LogBehindError(ConnectorError):
    """A bounded run could not read the log up to its start time within max_run_seconds."""


class CollectionName(t.Protocol):
    @property
    def database(self) -> str: ...

    @property
    def collection(self) -> str: ...


class FollowedStream(t.Protocol):
    """What the session needs of a LOG_BASED stream."""

    @property
    def name(self) -> str: ...

    @property
    def info(self) -> CollectionName: ...

    @property
    def log_position(self) -> dict[str, t.Any] | None: ...

    @log_position.setter
    def log_position(self, position: dict[str, t.Any]) -> None: ...

    @property
    def needs_resync(self) -> bool: ...

    def mark_for_resync(self) -> None: ...

    def emit_change(self, change: Change) -> None: ...

    def write_state_now(self) -> None: ...


class LogSource(t.Protocol):
    method: str

    def capture(self) -> dict[str, t.Any]: ...

    def start_at(self, moment: Timestamp) -> dict[str, t.Any]: ...

    def keeps_pre_images(self, namespace: tuple[str, str]) -> bool: ...

    def read(self, plan: StartPlan, *, bounded: bool) -> t.Iterator[LogItem]: ...


@dataclasses.dataclass
class RunSummary:
    counts: ChangeCounts
    lag: float | None = None
    caught_up: bool = False


class LogSession:
    def __init__(self, streams: t.Sequence[FollowedStream], source: LogSource, config: t.Mapping[str, t.Any]) -> None:
        self._streams = list(streams)
        self._source = source
        self._continuous = bool(config.get("continuous", False))
        self._max_run_seconds = float(config.get("max_run_seconds") or 0)
        self._state_interval = float(config.get("state_interval_seconds", 30))
        self._on_lost = config.get("lost_log_position", RESYNC)
        self._on_invalidated = config.get("log_invalidation", RESYNC)
        self._clock = time.monotonic
        self._retry_policy = RetryPolicy.from_config(config)
        self._plan = StartPlan(source.method)

    def run(self) -> RunSummary:
        """Follow the log; returns what was emitted and how far behind the cluster it ended."""
        followed = [stream for stream in self._streams if stream.log_position is not None]
        summary = RunSummary(ChangeCounts(stream.name for stream in followed))
        followed = self._orderable(followed)
        if not followed:
            return summary
        names = ", ".join(stream.name for stream in followed)
        self._note_missing_pre_images(followed)
        bounded = not self._continuous
        started_at = last_state = self._clock()
        stopped_by_time = False

        def open_log() -> t.Iterator[LogItem]:
            # After a fault too: from what every stream has emitted so far.
            positions = self._positions(followed)
            self._plan = self._start_plan(positions)
            try:
                return self._source.read(self._plan, bounded=bounded)
            except ResumeRefusedError as exc:
                logger.info("The server refused the saved resume token (%s); starting from cluster time instead", exc)
                self._plan = self._plan.by_time(positions)
                return self._source.read(self._plan, bounded=bounded)

        def describe() -> str:
            return f"streams {names}, log reading"

        logger.info("Following the log for %s", names)
        try:
            for item in iterate_with_retries(open_log, self._retry_policy, describe, logger):
                if item.change is not None:
                    self._dispatch(item, followed, summary.counts)
                self._advance(followed, item.position)
                if item.reached is not None:
                    summary.lag = lag_seconds(item.reached)
                now = self._clock()
                if now - last_state >= self._state_interval:
                    self._checkpoint(followed, summary)
                    last_state = now
                followed = [stream for stream in followed if not stream.needs_resync]
                if not followed:
                    break
                if bounded and item.caught_up:
                    summary.caught_up = True
                    break
                limit = self._time_limit(bounded=bounded)
                if limit and now - started_at >= limit:
                    stopped_by_time = True
                    break
        except LogPositionLostError as exc:
            self._position_lost(followed, exc)
        finally:
            summary.counts.close()
        self._checkpoint(followed or self._streams, summary)
        self._report_end(names, summary, bounded=bounded, stopped_by_time=stopped_by_time)
        if bounded and stopped_by_time and not summary.caught_up:
            raise self._behind(names, summary)
        return summary

    def _behind(self, names: str, summary: RunSummary) -> LogBehindError:
        lag = "an unknown time" if summary.lag is None else f"{summary.lag:.0f} s"
        limit = f"max_run_seconds={self._max_run_seconds:g}"
        remedy = "raise max_run_seconds (0: no limit) or run more often"
        if not self._max_run_seconds:
            limit = f"{UNPROVABLE_RUN_SECONDS:g} s"
            remedy = "grant the changeStream action on the cluster (see the warning above) or set max_run_seconds"
        msg = (
            f"streams {names}: the log could not be read up to this run's start time within {limit}; "
            f"the run ended {lag} behind the cluster. Its progress is saved in STATE and the next run "
            f"continues from there: {remedy}"
        )
        return LogBehindError(msg)

    def _time_limit(self, *, bounded: bool) -> float:
        if self._max_run_seconds or not bounded:
            return self._max_run_seconds
        proves = getattr(self._source, "proves_progress_while_busy", True)
        return 0.0 if proves else UNPROVABLE_RUN_SECONDS

    # -- positions ------------------------------------------------------------------------

    @staticmethod
    def _positions(streams: t.Sequence[FollowedStream]) -> dict[str, dict[str, t.Any]]:
        return {stream.name: t.cast("dict[str, t.Any]", stream.log_position) for stream in streams}

    def _start_plan(self, positions: dict[str, dict[str, t.Any]]) -> StartPlan:
        if self._source.method == CHANGE_STREAMS:
            return plan_change_stream_start(positions)
        return plan_oplog_start(positions)

    def _orderable(self, streams: list[FollowedStream]) -> list[FollowedStream]:
        """Streams whose positions can share one cursor; others (saved by older releases) re-sync."""
        if not streams:
            return streams
        try:
            self._start_plan(self._positions(streams))
        except MissingLowerBoundError as exc:
            for stream in streams:
                if stream.name in exc.streams:
                    logger.warning(
                        "stream %r: its saved log position differs from the other streams' and has no cluster "
                        "time to order it by (saved by an older release); it will be re-synced",
                        stream.name,
                    )
                    stream.mark_for_resync()
            return [stream for stream in streams if stream.name not in exc.streams]
        return streams

    def _advance(self, streams: list[FollowedStream], position: dict[str, t.Any]) -> None:
        for stream in streams:
            if stream.needs_resync:
                continue
            stream.log_position = _merged(t.cast("dict[str, t.Any]", stream.log_position), position)

    # -- changes --------------------------------------------------------------------------

    def _dispatch(self, item: LogItem, streams: list[FollowedStream], counts: ChangeCounts) -> None:
        change = t.cast("Change", item.change)
        for stream in streams:
            concerned = (change.kind is ChangeKind.INVALIDATE and not change.database) or change.concerns(
                stream.info.database, stream.info.collection
            )
            if not concerned or self._plan.already_emitted(stream.name, item.cluster_time):
                continue
            if change.kind is ChangeKind.INVALIDATE:
                self._invalidated(stream, change.reason or "invalidate")
            else:
                stream.emit_change(change)
                counts.add(stream.name, change.operation)

    def _invalidated(self, stream: FollowedStream, reason: str) -> None:
        message = f"stream {stream.name!r}: the log reports {reason}"
        if self._on_invalidated == FAIL:
            raise LogInvalidatedError(f"{message}; set log_invalidation to 'resync' to re-sync it instead")
        logger.warning("%s; it will be re-synced with a new initial sync on the next run", message)
        stream.mark_for_resync()

    def _position_lost(self, streams: list[FollowedStream], exc: LogPositionLostError) -> None:
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

    def _note_missing_pre_images(self, streams: list[FollowedStream]) -> None:
        for stream in streams:
            if not self._source.keeps_pre_images((stream.info.database, stream.info.collection)):
                logger.info(
                    "stream %r: no pre-images for this collection (%s), so deleted documents are "
                    "emitted as their _id and _sdc_deleted_at only",
                    stream.name,
                    "log_method oplog"
                    if self._source.method != CHANGE_STREAMS
                    else "enable changeStreamPreAndPostImages, MongoDB 6.0+, to keep their last values",
                )

    # -- reporting ------------------------------------------------------------------------

    def _checkpoint(self, streams: t.Sequence[FollowedStream], summary: RunSummary) -> None:
        if summary.lag is not None:
            logger.info(
                "Log replication lag %.1f s behind the cluster after %s", summary.lag, summary.counts.describe()
            )
            report_lag([stream.name for stream in streams], summary.lag)
        if streams:
            streams[0].write_state_now()

    def _report_end(self, names: str, summary: RunSummary, *, bounded: bool, stopped_by_time: bool) -> None:
        if summary.caught_up:
            how = "caught up with the cluster time of the run's start"
        elif stopped_by_time:
            how = f"stopped after {self._time_limit(bounded=bounded):g} s"
        elif not bounded:
            how = "stopped"
        else:
            how = "ended"
        lag = "unknown" if summary.lag is None else f"{summary.lag:.1f} s"
        logger.info("Log reading for %s %s: %s; lag %s behind the cluster", names, how, summary.counts.describe(), lag)
        for stream in self._streams:
            counts = summary.counts.of_stream(stream.name)
            if any(counts.values()):
                logger.info("stream %r: %s", stream.name, ", ".join(f"{op} {n}" for op, n in counts.items()))


def _merged(current: dict[str, t.Any], reached: dict[str, t.Any]) -> dict[str, t.Any]:
    """The cursor's new position for a stream, never moving a stream's own bound back."""
    merged = dict(reached)
    for key in ("cluster_time", "oplog_ts"):
        mine, theirs = current.get(key), reached.get(key)
        if mine is not None and (theirs is None or mine > theirs):
            merged[key] = mine
    return merged
