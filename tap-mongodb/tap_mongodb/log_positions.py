"""Log positions: how far a stream has read the log, and where one shared cursor starts.

A change-stream position is ``{"resume_token": <token>, "cluster_time": <Timestamp>}``. The
token is the server's, stored and handed back untouched: its layout differs between servers
and versions, so it is never parsed or ordered (two tokens are only ever tested for being the
same token). ``cluster_time`` is what the tap knows about time: every change of the stream
with an earlier cluster time has been emitted. It is a lower bound, often below the token's
own (unknowable) time, so starting from it re-reads a little and never skips.

An oplog position is ``{"oplog_ts": <Timestamp>}``: every entry with that `ts` or earlier
has been handled (a transaction's entries share one `ts`; the position passes it only when
all of them are handled).
"""

from __future__ import annotations

import dataclasses
import typing as t

from bson import Timestamp

RESUME_TOKEN = "resume_token"
CLUSTER_TIME = "cluster_time"
OPLOG_TS = "oplog_ts"

CHANGE_STREAMS = "change_streams"
OPLOG = "oplog"

# No write older than this is still uncommitted when a cluster time is sampled: MongoDB
# aborts transactions older than transactionLifetimeLimitSeconds (60 by default). Lower
# bounds taken from a sampled time (not from an event) keep this margin, so a write that
# committed late with an earlier time is never skipped.
IN_FLIGHT_MARGIN_SECONDS = 60


def change_stream_position(token: t.Mapping[str, t.Any] | None, lower_bound: Timestamp | None) -> dict[str, t.Any]:
    position: dict[str, t.Any] = {}
    if token is not None:
        position[RESUME_TOKEN] = dict(token)
    if lower_bound is not None:
        position[CLUSTER_TIME] = lower_bound
    return position


def oplog_position(ts: Timestamp) -> dict[str, t.Any]:
    return {OPLOG_TS: ts}


def method_of(position: t.Mapping[str, t.Any]) -> str:
    """Which `log_method` wrote a saved position."""
    return OPLOG if OPLOG_TS in position else CHANGE_STREAMS


def with_margin(sampled: Timestamp) -> Timestamp:
    """A lower bound from a sampled cluster time, safe against writes still in flight at it."""
    return Timestamp(max(0, sampled.time - IN_FLIGHT_MARGIN_SECONDS), 0)


def later(first: Timestamp | None, second: Timestamp | None) -> Timestamp | None:
    if first is None:
        return second
    if second is None:
        return first
    return max(first, second)


class MissingLowerBoundError(ValueError):
    """Streams whose positions differ and cannot be ordered (no cluster time saved)."""

    def __init__(self, streams: list[str]) -> None:
        super().__init__(", ".join(streams))
        self.streams = streams


@dataclasses.dataclass(frozen=True)
class StartPlan:
    """Where the shared cursor starts, and what each stream had already emitted before it.

    Change streams: `resume_token` when every stream holds that same token (the server then
    knows the exact place, inside a transaction too); otherwise `start_time` (inclusive),
    the earliest lower bound, and each stream skips changes before its own lower bound.
    Oplog: entries after `start_time`; each stream skips entries at or before its own `ts`.
    """

    method: str
    resume_token: dict[str, t.Any] | None = None
    start_time: Timestamp | None = None
    covered: dict[str, Timestamp] = dataclasses.field(default_factory=dict)
    # Every followed change before it was emitted by every stream (None: unknown).
    lower_bound: Timestamp | None = None

    def already_emitted(self, stream: str, cluster_time: Timestamp | None) -> bool:
        bound = self.covered.get(stream)
        if bound is None or cluster_time is None:
            return False
        return cluster_time <= bound if self.method == OPLOG else cluster_time < bound

    def by_time(self, positions: t.Mapping[str, t.Mapping[str, t.Any]]) -> StartPlan:
        """The same start from cluster times only (when the server refuses the token)."""
        return _by_lower_bounds(positions)


def plan_change_stream_start(positions: t.Mapping[str, t.Mapping[str, t.Any]]) -> StartPlan:
    tokens = [position.get(RESUME_TOKEN) for position in positions.values()]
    first = tokens[0] if tokens else None
    if first is not None and all(token == first for token in tokens):
        bounds = [position.get(CLUSTER_TIME) for position in positions.values()]
        lower_bound = None if None in bounds else min(t.cast("list[Timestamp]", bounds))
        return StartPlan(CHANGE_STREAMS, resume_token=dict(first), lower_bound=lower_bound)
    return _by_lower_bounds(positions)


def _by_lower_bounds(positions: t.Mapping[str, t.Mapping[str, t.Any]]) -> StartPlan:
    missing = sorted(name for name, position in positions.items() if position.get(CLUSTER_TIME) is None)
    if missing:
        raise MissingLowerBoundError(missing)
    covered = {name: t.cast("Timestamp", position[CLUSTER_TIME]) for name, position in positions.items()}
    start = min(covered.values())
    return StartPlan(CHANGE_STREAMS, start_time=start, covered=covered, lower_bound=start)


def plan_oplog_start(positions: t.Mapping[str, t.Mapping[str, t.Any]]) -> StartPlan:
    covered = {name: t.cast("Timestamp", position[OPLOG_TS]) for name, position in positions.items()}
    start = min(covered.values())
    return StartPlan(OPLOG, start_time=start, covered=covered, lower_bound=start)
