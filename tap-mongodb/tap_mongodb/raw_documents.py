"""Documents exactly as stored: read as raw BSON, decoded here one document at a time.

A document whose own top-level fields are `$ref` and `$id` (allowed since MongoDB 5.0)
would come out of a driver cursor as a `DBRef`, with its fields reordered: the driver
decodes every document of a reply as a sub-document of the reply, where `$ref`/`$id` mean a
reference. Decoding each raw document on its own keeps it a plain document in its stored
field order, which an exact copy needs. A cursor's raw batch is split here into its
documents' bytes (`split_batch`), for the tap to decode or a record process to convert.
"""

from __future__ import annotations

import struct
import typing as t

import bson
from bson.raw_bson import RawBSONDocument

if t.TYPE_CHECKING:
    import pymongo
    from bson.codec_options import CodecOptions

_SIZE = struct.Struct("<i")  # a BSON document's first field: its length in bytes


def raw_view(collection: pymongo.collection.Collection) -> pymongo.collection.Collection:
    """The same collection, handing out undecoded documents."""
    return collection.with_options(codec_options=collection.codec_options.with_options(document_class=RawBSONDocument))


def decoded(documents: t.Iterable[RawBSONDocument], codec_options: CodecOptions) -> t.Iterator[dict[str, t.Any]]:
    """Each raw document as a plain dict, decoded with the client's options (dates, time zones)."""
    decode = bson.decode
    for document in documents:
        yield decode(document.raw, codec_options=codec_options)


def split_batch(batch: bytes | memoryview) -> t.Iterator[memoryview]:
    """Each document of a batch, as a view of its bytes (nothing copied).

    Once the last document is handed out, only its view holds the batch: the reader frees
    the batch by letting go of that view.
    """
    view = memoryview(batch)
    del batch
    size_at = _SIZE.unpack_from
    start, end = 0, len(view)
    while start < end:
        (size,) = size_at(view, start)
        stop = start + size
        if stop >= end:
            last = [view[start:stop]]
            del view
            yield last.pop()  # not kept in this frame while the reader works on it
            return
        yield view[start:stop]
        start = stop
