"""SIGKILL of the server mid-run, then a restart on the same storage: nothing lost, nothing doubled.

Each test starts a server of its own (never the shared one) and kills it while the
installed tap reads (small cursor batches) or the installed target loads. With a retry
budget longer than the outage the run rides it out and the destination equals the source;
with none it fails in one line naming the stream, and the next run, from the last STATE,
completes the copy.
"""

from __future__ import annotations

import json
import sys
import typing as t
from pathlib import Path

import pymongo
import pytest

from tests.support.processes import RunningCommand
from tests.support.server import SecantusServer
from tests.support.singer_io import (
    last_state,
    parse_messages,
    record_message,
    records,
    run_tap,
    schema_message,
    select_streams,
    singer_lines,
    state_message,
)

pytestmark = pytest.mark.e2e

BIN = Path(sys.executable).parent
TAP, TARGET = str(BIN / "tap-mongodb"), str(BIN / "target-mongodb")
STREAM = "shop-orders"
DOCUMENTS = 3000
KILL_AFTER_RECORDS = 300
# Long enough to outlast the restart; short enough that the retries show in seconds.
RIDE_OUT = {"max_retries": 20, "retry_backoff_seconds": 0.5, "server_selection_timeout_ms": 2000}
NO_RETRIES = {"max_retries": 0, "server_selection_timeout_ms": 2000}


@pytest.fixture
def server() -> t.Iterator[SecantusServer]:
    with SecantusServer() as running:
        client: pymongo.MongoClient = pymongo.MongoClient(running.uri)
        client.shop.orders.insert_many([{"_id": i, "k": i // 3, "pad": "x" * 150} for i in range(DOCUMENTS)])
        client.close()
        yield running


def _write(path: Path, data: t.Any) -> str:
    path.write_text(json.dumps(data), encoding="utf-8")
    return str(path)


def _record_count(lines: list[str]) -> int:
    return sum('"type":"RECORD"' in line for line in lines)


def _tap_with_server_killed(
    server: SecantusServer, tmp_path: Path, config: dict[str, t.Any], catalog: dict[str, t.Any] | None, ride_out: bool
) -> tuple[int, list[dict[str, t.Any]], RunningCommand]:
    """The installed tap; the server killed mid-read, restarted once the tap retried (or gave up)."""
    args = [TAP, "--config", _write(tmp_path / "tap.json", config)]
    if catalog is not None:
        args += ["--catalog", _write(tmp_path / "catalog.json", catalog)]
    with RunningCommand(args) as tap:
        tap.read_stdout_until(lambda lines: _record_count(lines) >= KILL_AFTER_RECORDS)
        server.kill()
        tap.drain_stdout()
        if ride_out:
            tap.wait_for(lambda command: command.logged("; retry 1 of"), "retry after the kill")
            server.restart()
            status = tap.wait()
        else:
            status = tap.wait()
            server.restart()
    return status, parse_messages("".join(tap.stdout)), tap


def _incremental_catalog(config: dict[str, t.Any]) -> dict[str, t.Any]:
    from tests.support.singer_io import discover

    return select_streams(discover(config), [STREAM], replication_method="INCREMENTAL", replication_key="k")


@pytest.mark.parametrize("method", ["FULL_TABLE", "INCREMENTAL"])
def test_the_tap_rides_out_a_server_killed_and_restarted_mid_read(
    server: SecantusServer, tmp_path: Path, method: str
) -> None:
    config = {"mongodb_uri": server.uri, "database_includes": ["shop"], "cursor_batch_size": 5, **RIDE_OUT}
    catalog = _incremental_catalog(config) if method == "INCREMENTAL" else None
    status, messages, tap = _tap_with_server_killed(server, tmp_path, config, catalog, ride_out=True)
    assert status == 0, tap.errors()
    emitted = records(messages)
    if method == "FULL_TABLE":
        assert [r["_id"] for r in emitted] == list(range(DOCUMENTS)), "lost or repeated documents"
    else:
        assert {r["_id"] for r in emitted} == set(range(DOCUMENTS))
        assert [r["k"] for r in emitted] == sorted(r["k"] for r in emitted)
        assert len(emitted) - DOCUMENTS <= 3, "re-sent more than the documents sharing the key at the fault"
        assert last_state(messages)["bookmarks"][STREAM]["replication_key_value"] == (DOCUMENTS - 1) // 3


@pytest.mark.parametrize("method", ["FULL_TABLE", "INCREMENTAL"])
def test_without_retries_the_tap_fails_clearly_and_the_next_run_resumes_from_the_last_state(
    server: SecantusServer, tmp_path: Path, method: str
) -> None:
    config = {
        "mongodb_uri": server.uri,
        "database_includes": ["shop"],
        "cursor_batch_size": 5,
        "state_interval_records": 50,
        **NO_RETRIES,
    }
    catalog = _incremental_catalog(config) if method == "INCREMENTAL" else None
    status, messages, tap = _tap_with_server_killed(server, tmp_path, config, catalog, ride_out=False)
    assert status == 1
    read = "full-table read after _id" if method == "FULL_TABLE" else "incremental read from k ="
    assert tap.last_error_line().startswith(f"tap-mongodb: error: stream '{STREAM}', {read} "), tap.errors()
    assert "gave up after 0 retries" in tap.last_error_line()
    assert "Traceback" not in tap.errors()

    state = last_state(messages)
    first = records(messages)
    second = records(run_tap(config, catalog=catalog, state=state))
    assert {r["_id"] for r in first} | {r["_id"] for r in second} == set(range(DOCUMENTS)), "documents lost"
    if method == "FULL_TABLE":
        resume_after = state["bookmarks"][STREAM]["last_id"]
        assert [r["_id"] for r in second] == list(range(resume_after + 1, DOCUMENTS))


def _orders(start: int, stop: int) -> list[dict[str, t.Any]]:
    return [record_message("orders", {"_id": n % 25, "v": n}) for n in range(start, stop)]


def _events(start: int, stop: int) -> list[dict[str, t.Any]]:
    return [record_message("events", {"n": n}) for n in range(start, stop)]


KEYED = schema_message("orders", {"_id": {"type": "integer"}, "v": {"type": "integer"}}, ["_id"])
UNKEYED = schema_message("events", {"n": {"type": "integer"}}, [])


def _confirmed(target: RunningCommand, position: int) -> bool:
    return any(json.loads(line).get("position") == position for line in target.stdout if line.strip())


def _target_config(server: SecantusServer, tmp_path: Path, **settings: t.Any) -> str:
    """Every STATE confirmed as soon as it arrives (max_state_age_seconds 0), so the test can wait for it."""
    return _write(
        tmp_path / "target.json",
        {"mongodb_uri": server.uri, "database": "copy", "batch_size_rows": 25, "max_state_age_seconds": 0, **settings},
    )


def test_the_target_rides_out_a_server_killed_and_restarted_mid_load(server: SecantusServer, tmp_path: Path) -> None:
    with RunningCommand([TARGET, "--config", _target_config(server, tmp_path, **RIDE_OUT)], stdin=True) as target:
        target.drain_stdout()
        target.write(singer_lines([KEYED, UNKEYED, *_orders(0, 60), *_events(0, 60), state_message({"position": 60})]))
        target.wait_for(lambda command: _confirmed(command, 60), "STATE confirming the first records")
        server.kill()
        target.write(singer_lines([*_orders(60, 120), *_events(60, 120), state_message({"position": 120})]))
        target.wait_for(lambda command: command.logged("; retry 1 of"), "retry after the kill")
        server.restart()
        target.write(singer_lines([*_orders(120, 180), *_events(120, 180), state_message({"position": 180})]))
        target.close_stdin()
        assert target.wait() == 0, target.errors()
    assert _confirmed(target, 180)
    client: pymongo.MongoClient = pymongo.MongoClient(server.uri)
    try:
        assert {d["_id"]: d["v"] for d in client.copy.orders.find()} == {n % 25: n for n in range(180)}
        assert sorted(d["n"] for d in client.copy.events.find()) == list(range(180)), "inserts lost or doubled"
    finally:
        client.close()


def test_without_retries_the_target_fails_clearly_and_a_resumed_load_loses_nothing(
    server: SecantusServer, tmp_path: Path
) -> None:
    config = _target_config(server, tmp_path, **NO_RETRIES)
    with RunningCommand([TARGET, "--config", config], stdin=True) as target:
        target.drain_stdout()
        target.write(singer_lines([KEYED, *_orders(0, 60), state_message({"position": 60})]))
        target.wait_for(lambda command: _confirmed(command, 60), "STATE confirming the first records")
        server.kill()
        target.write(singer_lines([*_orders(60, 120), state_message({"position": 120})]))
        target.close_stdin()
        assert target.wait() == 1
    assert not _confirmed(target, 120)
    last = target.last_error_line()
    assert last.startswith("target-mongodb: error: "), target.errors()
    assert "stream 'orders'" in last
    assert "gave up after 0 retries" in last
    assert "Traceback" not in target.errors()

    server.restart()
    # The next run gets what followed the last confirmed STATE (as a tap resuming from it would send).
    with RunningCommand([TARGET, "--config", config], stdin=True) as resumed:
        resumed.drain_stdout()
        resumed.write(singer_lines([KEYED, *_orders(60, 120), state_message({"position": 120})]))
        resumed.close_stdin()
        assert resumed.wait() == 0, resumed.errors()
    client: pymongo.MongoClient = pymongo.MongoClient(server.uri)
    try:
        assert {d["_id"]: d["v"] for d in client.copy.orders.find()} == {n % 25: n for n in range(120)}
    finally:
        client.close()
