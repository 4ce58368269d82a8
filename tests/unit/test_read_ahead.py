"""The read-ahead thread hands over every document in order, its failures, and stops when told."""

from __future__ import annotations

import threading
import typing as t

import bson
import pytest
from bson.codec_options import CodecOptions

from tap_mongodb import read_ahead as read_ahead_module
from tap_mongodb.batch_conversion import EncodedRecord
from tap_mongodb.raw_documents import split_batch
from tap_mongodb.read_ahead import read_ahead
from tap_mongodb.record_processes import RecordProcesses, can_fork

OPTIONS = CodecOptions(tz_aware=True)


def _batches(sizes: list[int]) -> list[bytes]:
    counter = iter(range(10_000))
    return [b"".join(bson.encode({"n": next(counter)}) for _ in range(size)) for size in sizes]


class _Cursor:
    """Raw batches as a driver's raw-batch cursor yields them; remembers being closed."""

    def __init__(self, batches: list[bytes], failure: Exception | None = None) -> None:
        self._batches = iter(batches)
        self._failure = failure
        self.closed = threading.Event()
        self.taken = 0

    def __iter__(self) -> t.Iterator[bytes]:
        return self

    def __next__(self) -> bytes:
        self.taken += 1
        batch = next(self._batches, None)
        if batch is None:
            if self._failure is not None:
                raise self._failure
            raise StopIteration
        return batch

    def close(self) -> None:
        self.closed.set()


def test_every_document_of_every_batch_comes_in_order() -> None:
    cursor = _Cursor(_batches([3, 0, 5, 1]))
    assert [document["n"] for document in read_ahead(cursor, OPTIONS)] == list(range(9))
    assert cursor.closed.wait(5)


def test_a_failing_cursor_raises_where_the_documents_are_read() -> None:
    cursor = _Cursor(_batches([2]), failure=ConnectionError("reset by peer"))
    documents = read_ahead(cursor, OPTIONS)
    assert [next(documents)["n"], next(documents)["n"]] == [0, 1]
    with pytest.raises(ConnectionError, match="reset by peer"):
        next(documents)


def test_stopping_early_stops_the_thread_and_closes_the_cursor() -> None:
    cursor = _Cursor(_batches([1] * 50))
    documents = read_ahead(cursor, OPTIONS)
    assert next(documents)["n"] == 0
    documents.close()
    assert cursor.closed.wait(5)
    assert not any(thread.name == "cursor-read-ahead" for thread in threading.enumerate())


def test_top_level_ref_and_id_stay_a_plain_document_in_stored_order() -> None:
    cursor = _Cursor([bson.encode({"$ref": "x", "$id": 1, "a": 2})])
    assert list(next(read_ahead(cursor, OPTIONS))) == ["$ref", "$id", "a"]


def _converted(batch: bytes) -> list[t.Any]:
    """A record process's answer: each document's (line, position), or its raw bytes to decode."""
    out: list[t.Any] = []
    for raw in split_batch(batch):
        document = bson.decode(raw)
        out.append(bytes(raw) if document.get("misfit") else (f"line {document['n']}".encode(), document["n"]))
    return out


@pytest.mark.skipif(not can_fork(), reason="record processes fork: Linux only")
def test_with_record_processes_every_document_comes_in_order_and_misfits_decoded_here() -> None:
    documents = [{"n": n, "misfit": n % 7 == 0} for n in range(40)]
    batches = [b"".join(bson.encode(d) for d in documents[i : i + 4]) for i in range(0, 40, 4)]
    processes = RecordProcesses(2, _converted, "db-things")
    try:
        out = list(read_ahead(_Cursor([*batches[:5], b"", *batches[5:]]), OPTIONS, lambda: processes))
    finally:
        processes.close()
    assert [_n(item) for item in out] == list(range(40))
    assert [type(item).__name__ for item in out[:4]] == ["dict"] * 4  # the first batch: decoded here
    assert all(type(item) is dict for item in out if _n(item) % 7 == 0)  # misfits: decoded here
    assert sum(type(item) is EncodedRecord for item in out) > 20
    assert all(item.lines == f"line {item.position}".encode() for item in out if type(item) is EncodedRecord)


def _n(item: t.Any) -> int:
    return int(item.position) if type(item) is EncodedRecord else int(item["n"])


@pytest.mark.skipif(not can_fork(), reason="record processes fork: Linux only")
def test_nothing_is_fetched_ahead_of_a_batch_too_large_for_the_processes(monkeypatch: pytest.MonkeyPatch) -> None:
    """A batch the tap converts itself (documents near 16 MB) is not joined by more of them."""
    monkeypatch.setattr(read_ahead_module, "POOLED_BATCH_BYTES", 200)
    small = [b"".join(bson.encode({"n": n, "big": False}) for _ in range(2)) for n in range(5)]
    large = [bson.encode({"n": n, "big": True, "pad": "x" * 300}) for n in range(5, 11)]
    cursor = _Cursor([*small, *large])
    processes = RecordProcesses(2, _converted, "db-things")
    try:
        for item in read_ahead(cursor, OPTIONS, lambda: processes):
            if type(item) is dict and item["big"]:
                # Read so far: 5 small batches and this one; one more waits in the hand-over
                # queue and one is being received. Fetching on while the processes have room
                # would hold several large batches at once.
                assert cursor.taken <= 8
                break
    finally:
        processes.close()
