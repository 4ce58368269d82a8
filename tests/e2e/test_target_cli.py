"""The installed `target-mongodb` command: clear failures, and kill-and-resume without loss."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import typing as t
from pathlib import Path

import pytest

from tests.support.singer_io import record_message, schema_message, singer_lines, state_message

if t.TYPE_CHECKING:
    from tests.support.deployment import Deployment

pytestmark = pytest.mark.e2e

TARGET = str(Path(sys.executable).with_name("target-mongodb"))
SCHEMA = schema_message("shop-orders", {"_id": {"type": "integer"}, "v": {"type": "integer"}}, ["_id"])


def _config_file(tmp_path: Path, deployment: Deployment, **settings: t.Any) -> str:
    path = tmp_path / "target.json"
    path.write_text(json.dumps(deployment.config(database=deployment.db_name("dest"), **settings)))
    return str(path)


def test_bad_input_ends_with_one_clear_line_and_a_non_zero_exit(deployment: Deployment, tmp_path: Path) -> None:
    lines = singer_lines([SCHEMA, record_message("shop-orders", {"_id": 1, "v": 1}), state_message({"s": 1})])
    lines += '{"type": "RECORD", "stream": "shop-orders", "record": {"_id": 2, "v": "two"}}\n'
    result = subprocess.run(
        [TARGET, "--config", _config_file(tmp_path, deployment)],
        input=lines,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 1
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("target-mongodb: error: stream 'shop-orders', input line 4, key {'_id': 2}")
    assert "Traceback" not in result.stderr
    assert result.stdout == ""  # the state after record 1 was never confirmed past the failure


def _messages(total: int) -> list[dict[str, t.Any]]:
    """Records in rounds of updates, a STATE after every fifth record."""
    messages: list[dict[str, t.Any]] = [SCHEMA]
    for n in range(total):
        messages.append(record_message("shop-orders", {"_id": n % 12, "v": n}))
        if n % 5 == 4:
            messages.append(state_message({"position": n}))
    messages.append(state_message({"position": total}))
    return messages


def _start_target(config: str) -> subprocess.Popen[str]:
    """The installed target, reading from a pipe we write to, as a tap would feed it."""
    return subprocess.Popen(
        [TARGET, "--config", config],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )


def _expected(total: int) -> dict[int, int]:
    return {n % 12: n for n in range(total)}


@pytest.mark.parametrize("kill_after_lines", [4, 11, 23, 37, 50])
def test_sigkill_at_any_point_then_resume_from_the_last_state_loses_nothing(
    deployment: Deployment, tmp_path: Path, kill_after_lines: int
) -> None:
    messages = _messages(48)
    config = _config_file(tmp_path, deployment, max_state_age_seconds=0)
    with _start_target(config) as process:
        assert process.stdin is not None
        for message in messages[:kill_after_lines]:
            process.stdin.write(json.dumps(message) + "\n")
            process.stdin.flush()
        time.sleep(1.0)
        os.kill(process.pid, signal.SIGKILL)
        stdout, _ = process.communicate()
    states = [json.loads(line) for line in stdout.splitlines() if line.strip()]

    destination = deployment.database("dest")["shop-orders"]
    if states:
        confirmed = states[-1]
        position = messages.index(state_message(confirmed))
        written = {d["_id"]: d["v"] for d in destination.find()}
        # Everything before the confirmed state is durable, in its latest version or later.
        for message in messages[:position]:
            if message["type"] == "RECORD":
                record = message["record"]
                assert written.get(record["_id"], -1) >= record["v"]
        resume_from = position + 1
    else:
        resume_from = 1

    resumed = subprocess.run(
        [TARGET, "--config", config],
        input=singer_lines([SCHEMA, *messages[resume_from:]]),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert resumed.returncode == 0, resumed.stderr
    assert {d["_id"]: d["v"] for d in destination.find()} == _expected(48)
    assert destination.count_documents({}) == 12


def test_sigterm_flushes_and_confirms_state(deployment: Deployment, tmp_path: Path) -> None:
    config = _config_file(tmp_path, deployment)  # default max_state_age_seconds: nothing confirmed yet
    with _start_target(config) as process:
        assert process.stdin is not None
        # A last SCHEMA with a non-_id key makes the target create a unique index: once the index
        # exists, every line before it has been read, and nothing is flushed yet.
        sentinel = schema_message("sentinel", {"k": {"type": "integer"}}, ["k"])
        process.stdin.write(singer_lines([*_messages(10)[:-1], sentinel]))
        process.stdin.flush()
        deadline = time.monotonic() + 60
        sentinel_collection = deployment.database("dest")["sentinel"]
        while not any(index.get("unique") for index in sentinel_collection.list_indexes()):
            assert time.monotonic() < deadline, "the target never read its input"
            time.sleep(0.1)
        assert deployment.database("dest")["shop-orders"].count_documents({}) == 0  # still buffered
        process.send_signal(signal.SIGTERM)
        stdout, _ = process.communicate(timeout=60)
    assert process.returncode == 0
    assert [json.loads(line) for line in stdout.splitlines()][-1] == {"position": 9}
    assert deployment.database("dest")["shop-orders"].count_documents({}) == 10
