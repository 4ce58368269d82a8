"""A cursor read one batch ahead by a thread, so the server works while the tap encodes.

A driver cursor asks for the next batch only once the current one is used up: the server
then waits for the tap, and the tap for the server, and a sync costs the sum of both. Here a
thread fetches the raw batches (the driver releases the GIL while it waits on the socket and
decodes nothing in raw-batch mode) and hands each over through a one-slot queue, so a sync
costs about the larger of the two. At most three batches exist at once (one being decoded,
one waiting, one being received), each bounded by the `cursor_batch_size` setting and the
server's 16 MB batch limit. The setting's default, 1,000 documents, keeps the tap's memory
the same for a collection of any size (with the server's own batches, a sync of 20,000
documents of 1.6 KB peaked 90% higher than one of 2,000); a round trip per 1,000 documents
costs little, since the next batch is fetched while the current one is encoded.

Documents are decoded one at a time from the batch bytes, each as a top-level document in
its stored field order (see raw_documents.py). From a read's second batch on, the batches can
instead go to record processes (record_processes.py), which hand back each document already
converted, or its raw bytes where the tap must convert it itself (decoded here then); a batch
of more than `POOLED_BATCH_BYTES` (documents near 16 MB) is always converted here, so that no
more than one such batch and its records exist at once.
"""

from __future__ import annotations

import collections
import queue
import threading
import typing as t

import bson

from tap_mongodb.batch_conversion import EncodedRecord
from tap_mongodb.raw_documents import split_batch
from tap_mongodb.record_processes import RecordProcesses

if t.TYPE_CHECKING:
    from bson.codec_options import CodecOptions

DEFAULT_BATCH_DOCUMENTS = 1000
POOLED_BATCH_BYTES = 8 << 20
_END = object()
_POLL_SECONDS = 0.2


class _Failure:
    """An exception raised by the fetching thread, re-raised where the documents are read."""

    def __init__(self, error: BaseException) -> None:
        self.error = error


def _fetch(batches: t.Iterator[bytes], handover: queue.Queue[t.Any], stop: threading.Event) -> None:
    try:
        for batch in batches:
            while not stop.is_set():
                try:
                    handover.put(batch, timeout=_POLL_SECONDS)
                    break
                except queue.Full:
                    continue
            del batch  # handed over: not held here while the next one is received
            if stop.is_set():
                return
        handover.put(_END)
    except BaseException as error:  # every failure is handed to the reader
        handover.put(_Failure(error))
    finally:
        close = getattr(batches, "close", None)
        if close is not None:
            close()


def _documents(batch: bytes, codec_options: CodecOptions) -> t.Iterator[dict[str, t.Any]]:
    """Each document of a batch, decoded in place (`bson.decode_iter` copies each one first).

    The batch is freed as its last document is handed out: with documents near 16 MB, one
    batch is one document, and keeping its bytes beside the decoded document and its record
    cost 16 MB more at the peak.
    """
    documents = split_batch(batch)
    del batch
    decode = bson.decode
    for raw in documents:
        document = decode(raw, codec_options)
        del raw
        yield document


def _documents_of(item: t.Any, codec_options: CodecOptions) -> t.Iterator[t.Any]:
    """What comes of one waiting item: a batch's documents, a pool's converted batch, or a failure raised."""
    if isinstance(item, _Failure):
        raise item.error
    if isinstance(item, RecordProcesses):
        for converted in item.take():
            yield bson.decode(converted, codec_options) if type(converted) is bytes else EncodedRecord(*converted)
        return
    documents = _documents(item, codec_options)
    del item
    yield from documents


def read_ahead(
    batches: t.Iterator[bytes],
    codec_options: CodecOptions,
    processes: t.Callable[[], RecordProcesses | None] | None = None,
) -> t.Iterator[t.Any]:
    """The documents of a raw-batch cursor, decoded, while a thread fetches the next batch.

    With `processes` (asked again at every batch from the second on, since the caller may
    retire them or start new ones), batches go to record processes, and what they hand back
    for each document is yielded in its place. A failure of the cursor (network, server
    error) is raised here, at the document where the reader would have met it. Stopping early
    (closing this generator) stops the thread and closes the cursor.
    """
    handover: queue.Queue[t.Any] = queue.Queue(maxsize=1)
    stop = threading.Event()
    fetcher = threading.Thread(target=_fetch, args=(batches, handover, stop), name="cursor-read-ahead", daemon=True)
    fetcher.start()
    # What comes next, in order: a batch to decode here, a pool holding a batch, or the end.
    # Batches are fetched ahead only into processes: never past a batch decoded here, after
    # which `pool` is None until `waiting` is empty.
    waiting: collections.deque[t.Any] = collections.deque()
    received, ended = 0, False
    pool: RecordProcesses | None = None
    try:
        while True:
            if pool is not None and processes is not None:
                pool = processes()  # the same, new ones after a schema change, or none for now
            while not ended and (not waiting or (pool is not None and pool.has_room)):
                batch = handover.get()
                received += 1
                ended = batch is _END or isinstance(batch, _Failure)
                # A read of one batch starts no process: only a second batch, in hand, asks for them.
                pooled = not ended and received > 1 and 0 < len(batch) <= POOLED_BATCH_BYTES
                pool = processes() if pooled and processes is not None else None
                if pool is None:
                    waiting.append(batch)
                    break
                pool.submit(batch)
                waiting.append(pool)
                del batch
            item = waiting.popleft()
            if item is _END:
                return
            documents = _documents_of(item, codec_options)
            del item  # the generator alone holds it, and lets go of a batch before its last document
            yield from documents
    finally:
        for item in waiting:  # a read given up: what its processes still hold is never taken
            if isinstance(item, RecordProcesses):
                item.close()
        stop.set()
        while fetcher.is_alive():
            try:
                handover.get(timeout=_POLL_SECONDS)
            except queue.Empty:
                continue
