"""LOG_BASED end to end on the real server, into target-mongodb: nothing lost, nothing left behind.

Initial syncs with writes interleaved; live changes of every kind while another database is
busy; a continuous run with a concurrent writer, counting every change; the tap killed with
SIGKILL mid-run and resumed; a saved position that has left a small oplog. Both log methods.
"""

from __future__ import annotations

import collections
import json
import logging
import os
import signal
import subprocess
import sys
import threading
import typing as t
from pathlib import Path

import pytest

from tap_mongodb.log_sources import LogPositionLostError
from tap_mongodb.streams import CollectionStream
from tests.support.busy_writer import BusyWriter
from tests.support.deployment import Deployment
from tests.support.server import MONGODB_URI_SET, SecantusServer
from tests.support.singer_io import discover, last_state, parse_messages, records, run_tap, run_target, select_streams

pytestmark = [pytest.mark.replica_set, pytest.mark.e2e]

METHODS = ["change_streams", "oplog"]
TAP = str(Path(sys.executable).parent / "tap-mongodb")
DELETED_AT = "_sdc_deleted_at"


class Pipeline:
    """tap-mongodb (LOG_BASED, extended JSON) into target-mongodb, run after run, state carried over."""

    def __init__(self, deployment: Deployment, log_method: str, **settings: t.Any) -> None:
        self.deployment = deployment
        self.source = deployment.database("src").orders
        self.stream = f"{deployment.prefix}src-orders"
        self.tap_config = deployment.config(
            database_includes=[deployment.db_name("src")],
            bson_encoding="extended_json",
            log_method=log_method,
            **settings,
        )
        self.target_config = deployment.config(
            database=deployment.db_name("dst"), collection_naming="strip_database_prefix"
        )
        self.catalog: dict[str, t.Any] = {}
        self.state: dict[str, t.Any] = {}

    def select(self) -> None:
        self.catalog = select_streams(discover(self.tap_config), [self.stream], replication_method="LOG_BASED")

    def run(self, **overrides: t.Any) -> list[dict[str, t.Any]]:
        messages = run_tap({**self.tap_config, **overrides}, catalog=self.catalog, state=self.state or None)
        self.load(messages)
        return messages

    def load(self, messages: list[dict[str, t.Any]]) -> None:
        confirmed: list[dict[str, t.Any]] = []
        run_target(self.target_config, messages, states_out=confirmed)
        if confirmed:
            self.state = confirmed[-1]

    def copy_equals_source(self) -> bool:
        source = {d["_id"]: d for d in self.source.find()}
        copied = {d["_id"]: d for d in self.deployment.database("dst").orders.find()}
        return source == copied


def live_changes_of_every_kind(orders: t.Any, start: int, count: int) -> None:
    """Inserts, nested updates, array pushes, replaces, deletes and documents that live briefly."""
    for n in range(start, start + count):
        orders.insert_one({"_id": n, "v": n, "nested": {"a": n, "list": [n]}})
        orders.update_one({"_id": n - 1}, {"$set": {"nested.a": -n, "nested.b.c": n}, "$push": {"nested.list": n}})
        if n % 3 == 0:
            orders.replace_one({"_id": n - 2}, {"v": n, "replaced": True})
        if n % 4 == 0:
            orders.delete_one({"_id": n - 3})
        if n % 5 == 0:
            brief = 100_000 + n  # a document that lives between two runs only
            orders.insert_one({"_id": brief, "v": n})
            orders.update_one({"_id": brief}, {"$set": {"v": -n}})
            orders.delete_one({"_id": brief})
        if n % 7 == 0:
            orders.update_one({"_id": n - 5}, {"$unset": {"nested": ""}})


@pytest.mark.parametrize("log_method", METHODS)
def test_writes_during_and_after_the_initial_sync_all_arrive(
    deployment: Deployment, monkeypatch: pytest.MonkeyPatch, log_method: str
) -> None:
    pipeline = Pipeline(deployment, log_method)
    orders = pipeline.source
    orders.insert_many([{"_id": i, "v": 0} for i in range(50)])
    pipeline.select()
    original = CollectionStream._read_full_table

    def read_with_interleaved_writes(self: CollectionStream) -> t.Iterator[dict[str, t.Any]]:
        for n, record in enumerate(original(self)):
            if n == 10:  # writes the scan has passed, and writes it has not reached yet
                orders.update_one({"_id": 1}, {"$set": {"v": 11}})
                orders.delete_one({"_id": 40})
                orders.insert_one({"_id": 100, "v": 12})
            yield record

    monkeypatch.setattr(CollectionStream, "_read_full_table", read_with_interleaved_writes)
    pipeline.run()
    assert pipeline.copy_equals_source()

    monkeypatch.setattr(CollectionStream, "_read_full_table", original)
    orders.update_one({"_id": 2}, {"$set": {"v": 13}})
    orders.replace_one({"_id": 3}, {"v": 14, "replaced": True})
    orders.delete_one({"_id": 4})
    pipeline.run()
    assert pipeline.copy_equals_source()
    assert records(pipeline.run()) == []


@pytest.mark.parametrize("log_method", METHODS)
def test_live_changes_while_another_database_is_busy_leave_an_identical_copy(
    deployment: Deployment, log_method: str
) -> None:
    pipeline = Pipeline(deployment, log_method)
    pipeline.source.insert_many([{"_id": i, "v": i, "nested": {"a": i, "list": []}} for i in range(1, 60)])
    pipeline.select()
    pipeline.run()
    with BusyWriter(deployment):
        live_changes_of_every_kind(pipeline.source, 60, 40)
        pipeline.run()
        live_changes_of_every_kind(pipeline.source, 100, 30)
        pipeline.run()
    assert pipeline.copy_equals_source()


@pytest.mark.parametrize("log_method", METHODS)
def test_a_continuous_run_with_a_concurrent_writer_emits_every_change_once(
    deployment: Deployment, log_method: str
) -> None:
    pipeline = Pipeline(deployment, log_method)
    pipeline.source.insert_one({"_id": -1, "v": 0})
    pipeline.select()
    pipeline.run()
    count = 90
    updated = {n for n in range(count) if n % 2 == 0}
    deleted = {n for n in range(count) if n % 2 == 1 and n % 3 == 0}

    def write() -> None:
        for n in range(count):
            pipeline.source.insert_one({"_id": n, "v": 0})
        for n in sorted(updated):
            pipeline.source.update_one({"_id": n}, {"$set": {"v": 1}})
        for n in sorted(deleted):
            pipeline.source.delete_one({"_id": n})

    writer = threading.Thread(target=write)
    writer.start()
    during = pipeline.run(continuous=True, max_run_seconds=8, state_interval_seconds=1)
    writer.join()
    after = pipeline.run()  # whatever the continuous run had not reached yet
    seen = collections.Counter()
    for row in records(during, pipeline.stream) + records(after, pipeline.stream):
        kind = "delete" if DELETED_AT in row else ("update" if row.get("v") == 1 else "insert")
        seen[(row["_id"], kind)] += 1
    expected = (
        {(n, "insert") for n in range(count)} | {(n, "update") for n in updated} | {(n, "delete") for n in deleted}
    )
    assert set(seen) == expected
    assert [key for key, times in seen.items() if times > 1] == []  # each exactly once
    assert pipeline.copy_equals_source()


@pytest.mark.parametrize("log_method", METHODS)
def test_the_tap_killed_mid_run_resumes_with_nothing_lost(
    deployment: Deployment, tmp_path: Path, log_method: str
) -> None:
    pipeline = Pipeline(deployment, log_method, state_interval_seconds=0)
    pipeline.source.insert_many([{"_id": i, "v": 0, "nested": {"a": i, "list": []}} for i in range(1, 40)])
    pipeline.select()
    pipeline.run()
    live_changes_of_every_kind(pipeline.source, 40, 60)
    config, catalog = tmp_path / "tap.json", tmp_path / "catalog.json"
    config.write_text(json.dumps(pipeline.tap_config), encoding="utf-8")
    catalog.write_text(json.dumps(pipeline.catalog), encoding="utf-8")
    for attempt in range(5):
        state = tmp_path / "state.json"
        state.write_text(json.dumps(pipeline.state), encoding="utf-8")
        command = [TAP, "--config", str(config), "--catalog", str(catalog), "--state", str(state)]
        lines: list[str] = []
        with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True) as process:
            assert process.stdout is not None
            for line in process.stdout:
                lines.append(line)
                if attempt == 0 and sum('"type":"RECORD"' in seen for seen in lines) == 40:
                    os.kill(process.pid, signal.SIGKILL)
                    break
        pipeline.load(parse_messages("".join(lines)))
        if process.returncode == 0:
            break
    assert attempt > 0
    assert pipeline.copy_equals_source()


def _small_oplog_deployment(tmp_path: Path) -> t.Iterator[Deployment]:
    with SecantusServer(storage=tmp_path / "data", extra_args=["--oplog-max-entries", "200"]) as server:
        deployment = Deployment(server.uri)
        yield deployment
        deployment.cleanup()


@pytest.fixture
def small_oplog(tmp_path: Path) -> t.Iterator[Deployment]:
    if MONGODB_URI_SET:
        pytest.skip("starts a server of its own with a small oplog (--oplog-max-entries)")
    yield from _small_oplog_deployment(tmp_path)


@pytest.mark.parametrize("log_method", METHODS)
def test_a_position_that_left_the_oplog_resyncs_or_fails_naming_the_streams(
    small_oplog: Deployment, log_method: str, caplog: pytest.LogCaptureFixture
) -> None:
    pipeline = Pipeline(small_oplog, log_method)
    pipeline.source.insert_many([{"_id": i} for i in range(5)])
    pipeline.select()
    pipeline.run()
    pipeline.source.insert_one({"_id": 99})
    other = small_oplog.database("other").events
    for start in range(0, 1500, 100):  # the server trims its oplog to 200 entries
        other.insert_many([{"n": n} for n in range(start, start + 100)])

    with pytest.raises(LogPositionLostError, match=pipeline.stream):
        run_tap({**pipeline.tap_config, "lost_log_position": "fail"}, catalog=pipeline.catalog, state=pipeline.state)

    with caplog.at_level(logging.ERROR):
        messages = pipeline.run()
    assert f"streams '{pipeline.stream}'" in caplog.text
    assert "re-synced" in caplog.text
    assert "log_position" not in last_state(messages)["bookmarks"][pipeline.stream]
    resynced = pipeline.run()
    assert {r["_id"] for r in records(resynced)} == {0, 1, 2, 3, 4, 99}
    assert pipeline.copy_equals_source()
