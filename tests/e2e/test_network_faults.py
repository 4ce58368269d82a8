"""Real network faults between the tap and the server, through a loopback TCP proxy.

Every test runs on a server of its own (never the shared one, never MONGODB_URI) reached
through tests/support/tcp_proxy.py, which resets connections, refuses them, or silently
stops forwarding, while the tap reads with a small cursor batch size.
"""

from __future__ import annotations

import json
import logging
import re
import subprocess
import sys
import time
import typing as t
from pathlib import Path

import pymongo
import pytest

from tests.support.server import SecantusServer
from tests.support.singer_io import last_state, parse_messages, records, run_tap
from tests.support.tcp_proxy import TcpProxy

pytestmark = pytest.mark.e2e

TAP = str(Path(sys.executable).with_name("tap-mongodb"))
STREAM = "shop-orders"
DOCUMENTS = 3000
# Only catches a hang; the runs themselves take seconds.
HANG_SECONDS = 120


@pytest.fixture(scope="module")
def server() -> t.Iterator[SecantusServer]:
    with SecantusServer() as running:
        client: pymongo.MongoClient = pymongo.MongoClient(running.uri)
        client.shop.orders.insert_many([{"_id": i, "pad": "x" * 100} for i in range(DOCUMENTS)])
        client.close()
        yield running


@pytest.fixture
def proxy(server: SecantusServer) -> t.Iterator[TcpProxy]:
    with TcpProxy(server.port) as running:
        yield running


def _config(proxy: TcpProxy, **settings: t.Any) -> dict[str, t.Any]:
    return {
        "mongodb_uri": proxy.uri(),
        "database_includes": ["shop"],
        "cursor_batch_size": 5,
        "server_selection_timeout_ms": 5000,
        "retry_backoff_seconds": 0.1,
        **settings,
    }


def test_connections_cut_mid_cursor_are_retried_resuming_after_the_last_id(
    proxy: TcpProxy, caplog: pytest.LogCaptureFixture
) -> None:
    # Each fault resets the connection carrying the tap's next read, whenever the tap sends it:
    # the tap reads a batch ahead, so a cut of whatever is open at record N could land between
    # two reads and hit nothing. At 250 the reopened read fails too, twice, which is once more
    # than the driver's own read retry absorbs; at 2950 a read is still to come (3000 documents
    # in batches of 5; with two record processes, at most six batches are fetched ahead: two
    # with each process, one waiting for them, one being received).
    faults = {
        250: (("getMore", 1), ("find", 2)),
        1400: (("getMore", 1),),
        2950: (("getMore", 1),),
    }

    def cut(written: int) -> None:
        for command, replies in faults.get(written, ()):
            proxy.lose_replies([command], replies)

    with caplog.at_level(logging.WARNING):
        messages = run_tap(_config(proxy, max_retries=3, record_processes=2), after_record=cut)
    ids = [record["_id"] for record in records(messages)]
    assert ids == list(range(DOCUMENTS))  # nothing lost, nothing sent twice, in order
    assert proxy.replies_lost == 5
    retries = [r.getMessage() for r in caplog.records if "; retry " in r.getMessage()]
    assert [re.search(r"retry \d of 3", message)[0] for message in retries] == [  # type: ignore[index]
        "retry 1 of 3",
        "retry 2 of 3",  # the failed reopening counts on; a record read resets the count
        "retry 1 of 3",
        "retry 1 of 3",
    ], retries
    assert all(f"stream '{STREAM}', full-table read after _id" in message for message in retries)
    assert last_state(messages)["bookmarks"][STREAM].get("last_id") is None  # finished


def _run_tap_until(
    config: dict[str, t.Any], tmp_path: Path, after_records: int, fault: t.Callable[[], None]
) -> tuple[int, list[dict[str, t.Any]], str]:
    """The installed tap; `fault()` once `after_records` records came out. Status, messages, stderr."""
    path = tmp_path / "tap.json"
    path.write_text(json.dumps(config))
    started = time.monotonic()
    lines: list[str] = []
    seen = 0
    with subprocess.Popen(
        [TAP, "--config", str(path)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    ) as process:
        assert process.stdout is not None
        for line in process.stdout:
            lines.append(line)
            if '"type":"RECORD"' in line:
                seen += 1
                if seen == after_records:
                    fault()
        _out, stderr = process.communicate(timeout=HANG_SECONDS)
    assert time.monotonic() - started < HANG_SECONDS, "the tap hung instead of giving up"
    return process.returncode, parse_messages("".join(lines)), stderr


def test_connections_cut_again_and_again_end_in_one_clear_line_and_the_next_run_resumes(
    proxy: TcpProxy, tmp_path: Path
) -> None:
    config = _config(proxy, max_retries=2, server_selection_timeout_ms=1500, state_interval_records=100)
    status, messages, stderr = _run_tap_until(config, tmp_path, 700, proxy.refuse)
    assert status == 1, stderr
    emitted = [record["_id"] for record in records(messages)]
    last = stderr.strip().splitlines()[-1]
    assert last.startswith(
        f"tap-mongodb: error: stream '{STREAM}', full-table read after _id {emitted[-1]}: gave up after 2 retries: "
    ), last
    assert "Traceback" not in stderr

    state = last_state(messages)
    resume_after = state["bookmarks"][STREAM]["last_id"]
    assert resume_after <= emitted[-1]
    proxy.heal()
    resumed = [record["_id"] for record in records(run_tap(config, state=state))]
    assert resumed == list(range(resume_after + 1, DOCUMENTS))  # re-sent only what followed the last STATE


@pytest.mark.parametrize("socket_timeout_ms", [None, 1500])
def test_a_black_holed_server_ends_the_run_naming_the_timeout_that_fired(
    proxy: TcpProxy, tmp_path: Path, socket_timeout_ms: int | None
) -> None:
    timeouts = {"connect_timeout_ms": 1000, "server_selection_timeout_ms": 2000}
    if socket_timeout_ms is not None:
        timeouts["socket_timeout_ms"] = socket_timeout_ms
    config = _config(proxy, max_retries=1, **timeouts)
    status, messages, stderr = _run_tap_until(config, tmp_path, 300, proxy.black_hole)
    assert status == 1, stderr
    emitted = [record["_id"] for record in records(messages)]
    last = stderr.strip().splitlines()[-1]
    assert last.startswith(
        f"tap-mongodb: error: stream '{STREAM}', full-table read after _id {emitted[-1]}: gave up after 1 retries: "
    ), last
    # Every timeout the message quotes is one that was configured, with its value ...
    quoted = dict(re.findall(r"(\w+_timeout_ms) = (\d+) ms", last))
    assert quoted, last
    assert {name: int(value) for name, value in quoted.items()}.items() <= timeouts.items(), last
    # ... the first failure says which one fired (or that no socket timeout was set) ...
    if socket_timeout_ms is None:
        assert "the server stopped answering" in last
        assert "socket_timeout_ms is not set" in last
    else:
        assert f"no reply within socket_timeout_ms = {socket_timeout_ms} ms" in last
    # ... and nothing quotes the driver's own figures.
    assert "socketTimeoutMS" not in stderr
    assert "Traceback" not in stderr
