"""Documents exactly as stored: read as raw BSON, decoded here one document at a time.

A document whose own top-level fields are `$ref` and `$id` (allowed since MongoDB 5.0)
would come out of a driver cursor as a `DBRef`, with its fields reordered: the driver
decodes every document of a reply as a sub-document of the reply, where `$ref`/`$id` mean a
reference. Decoding each raw document on its own keeps it a plain document in its stored
field order, which an exact copy needs.
"""

from __future__ import annotations

import typing as t

import bson
from bson.raw_bson import RawBSONDocument

if t.TYPE_CHECKING:
    import pymongo
    from bson.codec_options import CodecOptions


def raw_view(collection: pymongo.collection.Collection) -> pymongo.collection.Collection:
    """The same collection, handing out undecoded documents."""
    return collection.with_options(codec_options=collection.codec_options.with_options(document_class=RawBSONDocument))


def decoded(documents: t.Iterable[RawBSONDocument], codec_options: CodecOptions) -> t.Iterator[dict[str, t.Any]]:
    """Each raw document as a plain dict, decoded with the client's options (dates, time zones)."""
    decode = bson.decode
    for document in documents:
        yield decode(document.raw, codec_options=codec_options)
