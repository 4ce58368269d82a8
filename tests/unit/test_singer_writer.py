"""The tap's output buffer: records wait in it, every other message writes them all out first."""

from __future__ import annotations

import contextlib
import sys
import typing as t

import orjson
import pytest
from singer_sdk.singerlib.messages import RecordMessage, SchemaMessage, StateMessage

from tap_mongodb.singer_writer import OrjsonSingerWriter

if t.TYPE_CHECKING:
    from pathlib import Path


def _record(n: int) -> RecordMessage:
    return RecordMessage(stream="s", record={"_id": n, "pad": "x" * 100})  # about 130 bytes a line


@contextlib.contextmanager
def _stdout_on(path: Path) -> t.Iterator[None]:
    """stdout on a real file descriptor and unbuffered, as with PYTHONUNBUFFERED=1.

    Entered in the test's body: pytest installs its own capture on sys.stdout after fixtures.
    """
    with (
        open(path, "wb", buffering=0) as raw,
        open(raw.fileno(), "w", closefd=False) as text,
        pytest.MonkeyPatch.context() as patch,
    ):
        patch.setattr(sys, "stdout", text)
        yield


def _lines(path: Path) -> list[dict[str, t.Any]]:
    return [orjson.loads(line) for line in path.read_bytes().splitlines()]


def test_records_wait_in_the_buffer_and_a_state_writes_them_all_before_itself(tmp_path: Path) -> None:
    out = tmp_path / "out.jsonl"
    writer = OrjsonSingerWriter()
    with _stdout_on(out):
        writer.write_message(SchemaMessage(stream="s", schema={"type": "object"}, key_properties=["_id"]))
        assert [m["type"] for m in _lines(out)] == ["SCHEMA"]  # not a record: at once
        for n in range(100):
            writer.write_message(_record(n))
        assert _lines(out)[-1]["type"] == "SCHEMA", "records were written one by one, unbuffered"
        writer.write_message(StateMessage(value={"bookmarks": {"s": {"last_id": 99}}}))
        lines = _lines(out)
    assert [m["record"]["_id"] for m in lines[1:-1]] == list(range(100))
    assert lines[-1] == {"type": "STATE", "value": {"bookmarks": {"s": {"last_id": 99}}}}


def test_records_pending_when_stdout_is_replaced_go_to_the_stdout_they_were_written_for(tmp_path: Path) -> None:
    first, other = tmp_path / "first.jsonl", tmp_path / "other.jsonl"
    writer = OrjsonSingerWriter()
    with _stdout_on(first):
        writer.write_message(_record(1))
        with _stdout_on(other):
            writer.write_message(StateMessage(value={"n": 2}))
        assert [m["type"] for m in _lines(first)] == ["RECORD"]
        assert [m["type"] for m in _lines(other)] == ["STATE"]


def test_a_full_buffer_is_written_without_waiting_for_a_state(tmp_path: Path) -> None:
    out = tmp_path / "out.jsonl"
    writer = OrjsonSingerWriter()
    with _stdout_on(out):
        for n in range(2000):  # about 260 KB: several buffers' worth
            writer.write_message(_record(n))
        assert len(_lines(out)) > 1000
        writer.write_message(StateMessage(value={}))
        assert len(_lines(out)) == 2001
