"""The tap's output: records wait in a buffer, every other message writes them all out first,
every byte gets out, and a signal handler never writes from inside a write."""

from __future__ import annotations

import contextlib
import os
import sys
import threading
import time
import typing as t

import orjson
import pytest
from singer_sdk.singerlib.messages import RecordMessage, SchemaMessage, StateMessage

from tap_mongodb import singer_writer
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


def test_a_full_buffer_is_written_without_waiting_for_a_state_and_flush_writes_the_rest(tmp_path: Path) -> None:
    out = tmp_path / "out.jsonl"
    writer = OrjsonSingerWriter()
    with _stdout_on(out):
        for n in range(2001):  # about 260 KB: several buffers' worth
            writer.write_message(_record(n))
        assert 1000 < len(_lines(out)) < 2001
        writer.flush()  # the end of a run
        assert [m["record"]["_id"] for m in _lines(out)] == list(range(2001))


def test_records_pending_when_stdout_is_replaced_go_to_the_stdout_they_were_written_for(tmp_path: Path) -> None:
    first, other = tmp_path / "first.jsonl", tmp_path / "other.jsonl"
    writer = OrjsonSingerWriter()
    with _stdout_on(first):
        writer.write_message(_record(1))
        with _stdout_on(other):
            writer.write_message(StateMessage(value={"n": 2}))
        assert [m["type"] for m in _lines(first)] == ["RECORD"]
        assert [m["type"] for m in _lines(other)] == ["STATE"]


class _ShortWrites:
    """A descriptor that takes at most 7 bytes a write, as one does when a signal cuts a write short."""

    def __init__(self) -> None:
        self.received = bytearray()
        self.writes = 0

    def write(self, data: memoryview) -> int:
        self.writes += 1
        self.received += data[:7]
        return min(7, len(data))


def test_a_write_cut_short_is_carried_on_until_every_byte_is_out() -> None:
    output = singer_writer._Output(target=sys.stdout, raw=_ShortWrites())  # type: ignore[arg-type]
    lines = [orjson.dumps({"type": "RECORD", "n": n}) + b"\n" for n in range(3)]
    for line in lines:
        output.add(line, at_once=False)
    output.add(b'{"type":"STATE"}\n', at_once=True)
    raw = t.cast("_ShortWrites", output._raw)
    assert bytes(raw.received) == b"".join(lines) + b'{"type":"STATE"}\n'
    assert raw.writes > 4


def test_a_termination_handler_called_during_a_write_runs_once_the_write_is_out(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """As the SDK's SIGTERM handler does: a final STATE, written after everything before it."""
    out = tmp_path / "out.jsonl"
    writer = OrjsonSingerWriter()
    ran: list[list[str]] = []

    def final_state() -> None:
        ran.append([m["type"] for m in _lines(out)])  # what was out when the handler ran
        writer.write_message(StateMessage(value={"final": True}))

    original_flush = singer_writer._Output.flush

    def flush_with_a_signal(self: singer_writer._Output) -> None:
        if not ran:  # the signal arrives in the middle of the first write to the descriptor
            writer.run_when_idle(final_state)
            assert not ran, "the handler ran inside the write"
        original_flush(self)

    monkeypatch.setattr(singer_writer._Output, "flush", flush_with_a_signal)
    with _stdout_on(out):
        for n in range(3):
            writer.write_message(_record(n))
        writer.write_message(StateMessage(value={"n": 3}))
        writer.run_when_idle(lambda: ran.append(["idle"]))  # between writes: at once
        lines = _lines(out)
    assert ran == [["RECORD", "RECORD", "RECORD", "STATE"], ["idle"]]
    assert [m["type"] for m in lines] == ["RECORD", "RECORD", "RECORD", "STATE", "STATE"]
    assert lines[-1]["value"] == {"final": True}


def test_a_full_non_blocking_pipe_is_waited_for_not_given_up_on() -> None:
    """Some process managers hand over a non-blocking stdout: a full pipe then takes nothing."""
    read_end, write_end = os.pipe()
    os.set_blocking(write_end, False)
    received = bytearray()

    def drain() -> None:
        with open(read_end, "rb", buffering=0) as pipe:
            while chunk := pipe.read(4096):
                received.extend(chunk)
                time.sleep(0.001)  # slower than the writer: the pipe fills up

    reader = threading.Thread(target=drain)
    reader.start()
    with open(write_end, "wb", buffering=0) as raw:
        output = singer_writer._Output(target=sys.stdout, raw=raw)  # type: ignore[arg-type]
        lines = [orjson.dumps({"type": "RECORD", "n": n, "pad": "x" * 200}) + b"\n" for n in range(2000)]
        for line in lines:
            output.add(line, at_once=False)
        output.add(b'{"type":"STATE"}\n', at_once=True)
    reader.join(timeout=60)
    assert bytes(received) == b"".join(lines) + b'{"type":"STATE"}\n'
