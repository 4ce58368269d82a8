"""Where a stream's schema sample comes from: a `$sample`, or the first documents its sync reads.

Discovery (and a sync given no catalog, for streams that do not read the whole collection
from its start) samples with `$sample`: random documents, the best picture of a collection.
A sync run without a catalog that reads a collection from its start (FULL_TABLE, or
INCREMENTAL with no bookmark yet) samples the first `schema_sample_size` documents of that
read instead. On MongoDB a `$sample` is cheap, but a server that prepares a query's whole
result before its first batch (SecantusDB does) pays a second full read for it, which
doubled such a run. The sample is then the oldest documents (in `_id` or key order) rather
than random ones; documents that do not fit it arrive later and are handled by the
stream's drift policy (schema_drift.py), as a rare type missed by a random sample would be.
"""

from __future__ import annotations

import collections
import typing as t

import orjson
from bson import Decimal128

from mongodb_common.bson_codec import PLAIN
from mongodb_common.privileges import explained_privileges
from mongodb_common.retries import RetryPolicy, call_with_retries
from tap_mongodb.raw_documents import decoded, raw_view
from tap_mongodb.record_shaping import shaping_requested
from tap_mongodb.schema_inference import SchemaInferrer, envelope_schema

if t.TYPE_CHECKING:
    import logging

    import pymongo

    from tap_mongodb.discovery import CollectionInfo

ENVELOPE = "envelope"
DEFAULT_SAMPLE_SIZE = 1000
# What a sample from a sync's own read may hold, as JSON text (decoded, several times that).
HELD_BYTES = 8 * 1024 * 1024

# A stream's declaration until the sync samples it: only the `_id` every document has.
SAMPLED_LATER: dict[str, t.Any] = {"type": "object", "properties": {"_id": {}}, "required": ["_id"]}


def sample_size(config: t.Mapping[str, t.Any]) -> int:
    return int(config.get("schema_sample_size", DEFAULT_SAMPLE_SIZE))


def can_sample_at_sync(config: t.Mapping[str, t.Any]) -> bool:
    """Whether a sync without a catalog may leave sampling to each stream's own sync.

    Not when the streams' shapes come from the schema before any sync: child streams and
    columns (de-nesting, flattening, safe names), stream maps, the envelope's fixed schema.
    """
    return (
        sample_size(config) > 0
        and config.get("schema_mode") != ENVELOPE
        and not shaping_requested(config)
        and not config.get("stream_maps")
    )


def sampled_schema(
    collection: pymongo.collection.Collection,
    info: CollectionInfo,
    config: t.Mapping[str, t.Any],
    logger: logging.Logger | logging.LoggerAdapter[t.Any],
) -> dict[str, t.Any]:
    """The schema of `schema_sample_size` random documents (`$sample`), with retries."""
    size = sample_size(config)
    namespace = f"{info.database}.{info.collection}"
    envelope = config.get("schema_mode") == ENVELOPE

    def read_sample() -> SchemaInferrer:
        inferrer = SchemaInferrer(str(config.get("bson_encoding") or PLAIN))
        if size <= 0:
            return inferrer
        # A plain cursor: its first reply holds the whole sample of a small collection, where
        # a raw-batch cursor always asks again with a getMore.
        sampled = raw_view(collection).aggregate([{"$sample": {"size": size}}])
        for document in decoded(sampled, collection.codec_options):
            inferrer.observe({"_id": document["_id"]} if envelope else document)
        return inferrer

    with explained_privileges("sample documents ($sample)", namespace, f"the `read` role on {info.database!r}"):
        inferrer = call_with_retries(read_sample, RetryPolicy.from_config(config), f"sampling {namespace}", logger)
    schema = inferrer.schema()
    logger.info("Inferred schema of %s from %d sampled documents", info.stream_id, inferrer.document_count)
    return envelope_schema(schema["properties"]["_id"]) if envelope else schema


def schema_of_head(
    documents: t.Iterator[dict[str, t.Any]], config: t.Mapping[str, t.Any]
) -> tuple[dict[str, t.Any], int, t.Iterator[dict[str, t.Any]]]:
    """The schema of the first `schema_sample_size` documents, their count, and every document again.

    The documents read for the sample are held, decoded, and come first in the returned
    iterator, followed by the rest of `documents`. So the sample also stops at `HELD_BYTES`
    of documents: 300 documents of 0.9 MB, held whole, took the tap to 1.5 GB.
    """
    limit = sample_size(config)
    inferrer = SchemaInferrer(str(config.get("bson_encoding") or PLAIN))
    head: list[dict[str, t.Any]] = []
    held = 0
    for document in documents:
        head.append(document)
        inferrer.observe(document)
        held += _json_size(document)
        if len(head) >= limit or held >= HELD_BYTES:
            break
    return inferrer.schema(), len(head), _replayed(head, documents)


def _json_size(document: dict[str, t.Any]) -> int:
    """About the document's size (its JSON text, BSON values as text); huge when unmeasurable."""
    try:
        return len(orjson.dumps(document, default=_as_text))
    except (TypeError, orjson.JSONEncodeError):  # nested too deep for orjson, say
        return HELD_BYTES


def _as_text(value: t.Any) -> str:
    """Text about as long as the value's, made cheaply.

    A Decimal128 is its 16 bytes in hex (32 characters, about its longest number text): `str`
    builds a Decimal first, which made measuring a medium document (nine prices) cost two
    thirds of its whole conversion to a record.
    """
    if type(value) is Decimal128:
        return value.bid.hex()
    return str(value)


def _replayed(head: list[dict[str, t.Any]], rest: t.Iterator[dict[str, t.Any]]) -> t.Generator[dict[str, t.Any]]:
    """`head`, then `rest`; closing it closes `rest` (its cursor) too."""
    held = collections.deque(head)  # each let go once emitted
    try:
        while held:
            yield held.popleft()
        yield from rest
    finally:
        close = getattr(rest, "close", None)
        if close is not None:
            close()
