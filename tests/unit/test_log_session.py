"""The LogSession's decisions, driven by a stand-in log source: when a run ends, what it saves.

The source here is a list of `LogItem`s (the tap's own interface, not an imitation of a
server); the real readers are tested on the real server in tests/integration and tests/e2e.
Resume tokens are recorded mongod tokens and SecantusDB-style tokens, in an order their text
does not follow: nothing in the session may depend on their layout.
"""

from __future__ import annotations

import dataclasses
import itertools
import logging
import typing as t

import pytest
from bson import Timestamp

from tap_mongodb.log_changes import Change, ChangeKind
from tap_mongodb.log_positions import (
    CHANGE_STREAMS,
    OPLOG,
    StartPlan,
    change_stream_position,
    oplog_position,
    plan_change_stream_start,
)
from tap_mongodb.log_session import LogBehindError, LogInvalidatedError, LogSession
from tap_mongodb.log_sources import LogItem, LogPositionLostError, ResumeRefusedError
from tests.support.recorded_log import load

MONGOD_TOKENS = [event["_id"] for event in load("change_events.json")]
# The layout the test server writes: a length prefix first, so the text order is not the log order.
SECANTUS_TOKENS = [
    {"_data": "380000001073000f000000117400060000000a1e0e6b026e001200000070322e24636d642e6167"},
    {"_data": "2b0000001073000a00000011740005000000091e0e6b026e000500000070322e6200036b0005"},
]


@dataclasses.dataclass
class Info:
    database: str
    collection: str


class Stream:
    def __init__(self, name: str, position: dict[str, t.Any] | None) -> None:
        self.name = name
        self.info = Info("shop", name)
        self.position = position
        self.emitted: list[Change] = []
        self.states_written = 0
        self.resynced = False

    @property
    def log_position(self) -> dict[str, t.Any] | None:
        return self.position

    @log_position.setter
    def log_position(self, position: dict[str, t.Any]) -> None:
        self.position = position

    @property
    def needs_resync(self) -> bool:
        return self.resynced

    def mark_for_resync(self) -> None:
        self.resynced = True
        self.position = None

    def emit_change(self, change: Change) -> None:
        self.emitted.append(change)

    def write_state_now(self) -> None:
        self.states_written += 1


class Source:
    def __init__(self, items: t.Iterable[LogItem], method: str = CHANGE_STREAMS, refuse_tokens: bool = False) -> None:
        self.method = method
        self._items = items
        self.plans: list[StartPlan] = []
        self._refuse_tokens = refuse_tokens

    def capture(self) -> dict[str, t.Any]:
        raise NotImplementedError

    def start_at(self, moment: Timestamp) -> dict[str, t.Any]:
        raise NotImplementedError

    def keeps_pre_images(self, namespace: tuple[str, str]) -> bool:  # noqa: ARG002 - the interface's
        return False

    def read(self, plan: StartPlan, *, bounded: bool) -> t.Iterator[LogItem]:  # noqa: ARG002 - the interface's
        self.plans.append(plan)
        if self._refuse_tokens and plan.resume_token is not None:
            raise ResumeRefusedError("Resume token namespace does not match the change-stream watch scope")
        return iter(self._items)


def upsert(collection: str, document_id: int, operation: str = "insert") -> Change:
    return Change(ChangeKind.UPSERT, "shop", collection, document_id, {"_id": document_id}, operation=operation)


def event(token: dict[str, t.Any], moment: Timestamp, change: Change | None, *, caught_up: bool = False) -> LogItem:
    return LogItem(change_stream_position(token, moment), change, moment, moment, caught_up)


def empty(token: dict[str, t.Any], *, reached: Timestamp | None = None) -> LogItem:
    return LogItem(change_stream_position(token, None), None, None, reached, reached is not None)


START = change_stream_position(SECANTUS_TOKENS[0], Timestamp(1721811400, 1))


def session(streams: list[Stream], source: Source, **config: t.Any) -> LogSession:
    return LogSession(streams, source, {"max_retries": 0, **config})


def test_empty_batches_alone_never_end_a_run() -> None:
    orders = Stream("orders", dict(START))
    items = [
        empty(SECANTUS_TOKENS[1]),
        empty(MONGOD_TOKENS[0]),
        event(MONGOD_TOKENS[1], Timestamp(1721811445, 1), upsert("orders", 1, "update")),
        empty(MONGOD_TOKENS[2]),
        event(MONGOD_TOKENS[3], Timestamp(1721811446, 1), upsert("orders", 2)),
        empty(MONGOD_TOKENS[4], reached=Timestamp(1721811500, 0)),
        event(MONGOD_TOKENS[0], Timestamp(1721811600, 1), upsert("orders", 3)),  # after the end: not read
    ]
    summary = session([orders], Source(items)).run()
    assert [c.document_id for c in orders.emitted] == [1, 2]
    assert summary.caught_up
    assert summary.counts.of_stream("orders") == {"insert": 1, "update": 1, "replace": 0, "delete": 0}
    # The position saved is the last token handed over, untouched, with the time known.
    assert orders.position == change_stream_position(MONGOD_TOKENS[4], Timestamp(1721811446, 1))


def test_tokens_are_never_ordered_positions_compare_by_cluster_time() -> None:
    """Two streams at different tokens: the cursor starts at the earlier cluster time."""
    earlier = change_stream_position(MONGOD_TOKENS[4], Timestamp(1721811440, 1))
    later = change_stream_position(SECANTUS_TOKENS[1], Timestamp(1721811446, 1))
    orders, customers = Stream("orders", earlier), Stream("customers", later)
    items = [
        event(SECANTUS_TOKENS[0], Timestamp(1721811441, 1), upsert("customers", 1)),  # customers had it
        event(MONGOD_TOKENS[0], Timestamp(1721811442, 1), upsert("orders", 2)),
        event(MONGOD_TOKENS[2], Timestamp(1721811446, 1), upsert("customers", 3)),  # at its bound: again
        event(MONGOD_TOKENS[1], Timestamp(1721811447, 1), upsert("customers", 4), caught_up=True),
    ]
    source = Source(items)
    session([orders, customers], source).run()
    assert source.plans[0].resume_token is None
    assert source.plans[0].start_time == Timestamp(1721811440, 1)
    assert [c.document_id for c in orders.emitted] == [2]
    assert [c.document_id for c in customers.emitted] == [3, 4]
    assert orders.position == customers.position == change_stream_position(MONGOD_TOKENS[1], Timestamp(1721811447, 1))


def test_streams_sharing_a_token_resume_after_it_exactly() -> None:
    plan = plan_change_stream_start({"a": START, "b": START})
    assert plan.resume_token == SECANTUS_TOKENS[0]
    assert not plan.already_emitted("a", Timestamp(1, 1))


def test_a_refused_token_falls_back_to_the_cluster_time() -> None:
    orders = Stream("orders", dict(START))
    source = Source([empty(SECANTUS_TOKENS[1], reached=Timestamp(1721811500, 0))], refuse_tokens=True)
    assert session([orders], source).run().caught_up
    assert [(p.resume_token, p.start_time) for p in source.plans] == [
        (SECANTUS_TOKENS[0], None),
        (None, Timestamp(1721811400, 1)),
    ]


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        self.now += 1.0
        return self.now


def endless_quiet_batches() -> t.Iterator[LogItem]:
    for n in itertools.count():
        yield empty(SECANTUS_TOKENS[n % 2])


def test_a_run_that_cannot_reach_its_start_time_fails_with_the_lag_after_saving_state() -> None:
    orders = Stream("orders", dict(START))
    items = itertools.chain(
        [event(MONGOD_TOKENS[0], Timestamp(1721811440, 1), upsert("orders", 1))], endless_quiet_batches()
    )
    run = session([orders], Source(items), max_run_seconds=5)
    run._clock = Clock()
    with pytest.raises(LogBehindError, match=r"streams orders: .*max_run_seconds=5; the run ended \d+ s behind"):
        run.run()
    assert [c.document_id for c in orders.emitted] == [1]
    assert orders.states_written >= 1
    assert orders.position is not None
    assert orders.position["resume_token"] in SECANTUS_TOKENS


def test_a_continuous_run_ends_at_max_run_seconds_without_error() -> None:
    orders = Stream("orders", dict(START))
    run = session(
        [orders], Source(endless_quiet_batches()), continuous=True, max_run_seconds=5, state_interval_seconds=2
    )
    run._clock = Clock()
    summary = run.run()
    assert not summary.caught_up
    assert orders.states_written >= 2  # every state_interval_seconds, and at the end


def test_oplog_positions_skip_what_a_stream_already_handled() -> None:
    orders = Stream("orders", oplog_position(Timestamp(100, 1)))
    customers = Stream("customers", oplog_position(Timestamp(100, 3)))
    items = [
        LogItem(oplog_position(Timestamp(100, 1)), upsert("customers", 1), Timestamp(100, 2)),
        LogItem(oplog_position(Timestamp(100, 2)), None, Timestamp(100, 2)),
        LogItem(oplog_position(Timestamp(100, 3)), upsert("customers", 2), Timestamp(100, 3)),
        LogItem(oplog_position(Timestamp(100, 3)), upsert("orders", 3), Timestamp(100, 3)),
        LogItem(oplog_position(Timestamp(100, 4)), None, Timestamp(100, 4), caught_up=True),
    ]
    source = Source(items, method=OPLOG)
    session([orders, customers], source).run()
    assert source.plans[0].start_time == Timestamp(100, 1)
    assert customers.emitted == []
    assert [c.document_id for c in orders.emitted] == [3]
    assert orders.position == customers.position == oplog_position(Timestamp(100, 4))


def test_changes_are_counted_as_record_count_metrics_by_operation_type(caplog: pytest.LogCaptureFixture) -> None:
    orders = Stream("orders", dict(START))
    delete = Change(ChangeKind.DELETE, "shop", "orders", 9, operation="delete")
    items = [
        event(MONGOD_TOKENS[0], Timestamp(1721811440, 1), upsert("orders", 1)),
        event(MONGOD_TOKENS[1], Timestamp(1721811441, 1), upsert("orders", 1, "replace")),
        event(MONGOD_TOKENS[2], Timestamp(1721811442, 1), delete, caught_up=True),
    ]
    with caplog.at_level(logging.INFO):
        session([orders], Source(items)).run()
    points = [r.args[0] for r in caplog.records if r.name == "singer_sdk.metrics" and r.args]  # type: ignore[index]
    counted = {(p.tags.get("operation_type"), p.value) for p in points if p.metric.value == "record_count"}
    assert counted == {("insert", 1), ("replace", 1), ("delete", 1)}
    assert any(p.metric.value == "replication_lag_seconds" for p in points)
    assert "3 changes emitted (insert 1, update 0, replace 1, delete 1)" in caplog.text


@pytest.mark.parametrize("policy", ["resync", "fail"])
def test_invalidation_follows_its_policy(policy: str) -> None:
    orders, customers = Stream("orders", dict(START)), Stream("customers", dict(START))
    drop = Change(ChangeKind.INVALIDATE, "shop", "orders", reason="drop of shop.orders")
    items = [
        event(MONGOD_TOKENS[0], Timestamp(1721811440, 1), drop),
        event(MONGOD_TOKENS[1], Timestamp(1721811441, 1), upsert("customers", 1), caught_up=True),
    ]
    run = session([orders, customers], Source(items), log_invalidation=policy)
    if policy == "fail":
        with pytest.raises(LogInvalidatedError, match=r"stream 'orders': the log reports drop of shop\.orders"):
            run.run()
        return
    run.run()
    assert orders.resynced
    assert not customers.resynced
    assert [c.document_id for c in customers.emitted] == [1]


@pytest.mark.parametrize("policy", ["resync", "fail"])
def test_a_lost_position_follows_its_policy(policy: str) -> None:
    orders = Stream("orders", dict(START))

    def lost() -> t.Iterator[LogItem]:
        raise LogPositionLostError("the change stream cannot resume: ChangeStreamHistoryLost")
        yield  # pragma: no cover

    run = session([orders], Source(lost()), lost_log_position=policy)
    if policy == "fail":
        with pytest.raises(LogPositionLostError, match=r"streams 'orders'.*set lost_log_position"):
            run.run()
        return
    run.run()
    assert orders.resynced


def test_a_run_that_cannot_prove_progress_on_a_busy_deployment_stops_instead_of_running_forever() -> None:
    orders = Stream("orders", dict(START))
    source = Source(endless_quiet_batches())
    source.proves_progress_while_busy = False  # type: ignore[attr-defined]
    run = session([orders], source)  # max_run_seconds 0: no limit asked for
    clock = Clock()
    run._clock = clock
    with pytest.raises(LogBehindError, match="grant the changeStream action on the cluster"):
        run.run()
    assert clock.now >= 3600
