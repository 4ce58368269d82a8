"""The tap's message writer when stdout has no buffer of its own (PYTHONUNBUFFERED=1).

It buffers RECORD lines itself; these tests check what that must never change: every
record reaches the output before the next non-RECORD message, in order, and records still
held when the process ends (a sync that failed) are written at exit, without closing stdout.
"""

from __future__ import annotations

import io
import json
import typing as t

import pytest
from singer_sdk.singerlib.messages import RecordMessage, StateMessage

from tap_mongodb import singer_writer
from tap_mongodb.singer_writer import OrjsonSingerWriter

if t.TYPE_CHECKING:
    from pathlib import Path


class _UnbufferedStdout:
    """What `sys.stdout` is under PYTHONUNBUFFERED=1: its `buffer` is the raw file itself."""

    def __init__(self, raw: io.FileIO) -> None:
        self.buffer = raw


@pytest.fixture
def unbuffered_file(tmp_path: Path) -> t.Iterator[tuple[io.FileIO, Path]]:
    path = tmp_path / "stdout.jsonl"
    raw = io.FileIO(path, "w")
    yield raw, path
    singer_writer._flush_buffers()
    raw.close()


def _use_as_stdout(raw: io.FileIO, monkeypatch: pytest.MonkeyPatch) -> None:
    # In the test body: pytest installs its own capture after fixtures are set up.
    monkeypatch.setattr("sys.stdout", _UnbufferedStdout(raw))


def _lines(path: Path) -> list[dict[str, t.Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def _record(number: int) -> RecordMessage:
    return RecordMessage(stream="s", record={"n": number})


def test_records_are_all_written_before_the_next_state_in_order(
    unbuffered_file: tuple[io.FileIO, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    raw, path = unbuffered_file
    _use_as_stdout(raw, monkeypatch)
    writer = OrjsonSingerWriter()
    for number in range(100):
        writer.write_message(_record(number))
    writer.write_message(StateMessage(value={"done": 100}))
    lines = _lines(path)
    assert [line["record"]["n"] for line in lines[:-1]] == list(range(100))
    assert lines[-1] == {"type": "STATE", "value": {"done": 100}}


def test_records_held_at_exit_are_written_and_stdout_stays_open(
    unbuffered_file: tuple[io.FileIO, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    raw, path = unbuffered_file
    _use_as_stdout(raw, monkeypatch)
    writer = OrjsonSingerWriter()
    writer.write_message(StateMessage(value={}))
    for number in range(3):
        writer.write_message(_record(number))
    singer_writer._flush_buffers()  # what the interpreter runs at exit (atexit)
    assert [line.get("record", {}).get("n") for line in _lines(path)] == [None, 0, 1, 2]
    assert not raw.closed
    raw.write(b"still open\n")
