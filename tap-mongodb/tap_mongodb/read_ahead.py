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
its stored field order (see raw_documents.py).
"""

from __future__ import annotations

import queue
import struct
import threading
import typing as t

import bson

if t.TYPE_CHECKING:
    from bson.codec_options import CodecOptions

DEFAULT_BATCH_DOCUMENTS = 1000
_SIZE = struct.Struct("<i")  # a BSON document's first field: its length in bytes
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
    view = memoryview(batch)
    del batch
    decode, size_at = bson.decode, _SIZE.unpack_from
    start, end = 0, len(view)
    while start < end:
        (size,) = size_at(view, start)
        document = decode(view[start : start + size], codec_options)
        start += size
        if start >= end:
            del view
        yield document


def read_ahead(batches: t.Iterator[bytes], codec_options: CodecOptions) -> t.Iterator[dict[str, t.Any]]:
    """The documents of a raw-batch cursor, decoded, while a thread fetches the next batch.

    A failure of the cursor (network, server error) is raised here, at the document where
    the reader would have met it. Stopping early (closing this generator) stops the thread
    and closes the cursor.
    """
    handover: queue.Queue[t.Any] = queue.Queue(maxsize=1)
    stop = threading.Event()
    fetcher = threading.Thread(target=_fetch, args=(batches, handover, stop), name="cursor-read-ahead", daemon=True)
    fetcher.start()
    try:
        while True:
            batch = handover.get()
            if batch is _END:
                return
            if isinstance(batch, _Failure):
                raise batch.error
            documents = _documents(batch, codec_options)
            del batch  # the generator alone holds it, and lets go of it before its last document
            yield from documents
    finally:
        stop.set()
        while fetcher.is_alive():
            try:
                handover.get(timeout=_POLL_SECONDS)
            except queue.Empty:
                continue
