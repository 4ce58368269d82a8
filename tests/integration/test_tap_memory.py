"""The tap holds one large document at a time: not the record before it, not the batch it came in."""

from __future__ import annotations

import datetime
import tracemalloc
import typing as t

import bson
import orjson
from bson import ObjectId

from mongodb_common.client_factory import close_cached_client
from tap_mongodb.tap import TapMongoDB
from tests.support.singer_io import discover, run_tap

if t.TYPE_CHECKING:
    from tests.support.deployment import Deployment

ENTRIES = 5_000  # small subdocuments per document: the shape that costs Python most


def _document(number: int) -> dict[str, t.Any]:
    start = datetime.datetime(2024, 1, 1, tzinfo=datetime.timezone.utc)
    history = [
        {"at": start + datetime.timedelta(seconds=i), "event": "shipped", "value": i / 7, "by": ObjectId()}
        for i in range(ENTRIES)
    ]
    return {"_id": number, "body": "word " * 12_500, "history": history}


def _decoded_bytes(document: dict[str, t.Any]) -> int:
    """What one document takes in Python, decoded as the tap decodes it."""
    raw = bson.encode(document)
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        decoded = bson.decode(raw)
        size = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert decoded["_id"] == document["_id"]  # alive until measured
    return size


def test_a_sync_of_large_documents_holds_about_one_document_and_its_record_at_a_time(deployment: Deployment) -> None:
    collection = deployment.database("archive").events
    for number in range(4):
        collection.insert_one(_document(number))
    one_document = _decoded_bytes(_document(0))
    config = deployment.config(cursor_batch_size=1)  # a document per batch, as a 16 MB document is
    catalog = discover(config)

    peaks: list[int] = []
    tracemalloc.start()
    try:
        baseline = tracemalloc.get_traced_memory()[0]

        def after_record(_count: int) -> None:
            peaks.append(tracemalloc.get_traced_memory()[1])
            tracemalloc.reset_peak()

        messages = run_tap(config, catalog=catalog, after_record=after_record)
    finally:
        tracemalloc.stop()

    lines = [len(orjson.dumps(m["record"], default=str)) for m in messages if m["type"] == "RECORD"]
    assert len(lines) == 4
    # Each peak, less what the test's own capture of the output holds by then, against one
    # decoded document. Measured: 2.0 (the document, its record while it is made, its batch
    # and its line); 4.3-4.5 when the record before stayed alive beside them, and the
    # document while its record was written.
    extra = [peak - baseline - sum(lines[:index]) for index, peak in enumerate(peaks)]
    assert max(extra) < 3 * one_document, [round(size / one_document, 2) for size in extra]


def test_records_handed_to_a_program_that_reads_the_stream_itself_stay_whole(deployment: Deployment) -> None:
    """Only a record the SDK has written is emptied: a library caller keeps what it is given."""
    deployment.database("archive").events.insert_many([{"_id": i, "tags": ["a", "b"], "n": i} for i in range(5)])
    tap = TapMongoDB(config=deployment.config(cursor_batch_size=2))
    stream = next(iter(tap.streams.values()))
    try:
        kept = list(stream.get_records(None))
    finally:
        close_cached_client(tap)  # the read outside a sync connected anew
    assert kept == [{"_id": i, "tags": ["a", "b"], "n": i} for i in range(5)]
