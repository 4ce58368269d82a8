"""The read-ahead thread hands over every document in order, its failures, and stops when told."""

from __future__ import annotations

import threading
import typing as t

import bson
import pytest
from bson.codec_options import CodecOptions

from tap_mongodb.read_ahead import read_ahead

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

    def __iter__(self) -> t.Iterator[bytes]:
        return self

    def __next__(self) -> bytes:
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
