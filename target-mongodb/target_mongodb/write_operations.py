"""The MongoDB write each Singer record turns into: upsert, delete, soft delete or insert.

An upsert is a replacement (`ReplaceOne`), the cheapest form, except for a document with a
top-level field name starting with `$`: MongoDB (5.0+) stores such names on insert, but a
replacement cannot carry them. Such a document is written by a pipeline update that builds
it from literals: `$mergeObjects` of the runs of ordinary fields (as `$literal`) and of each
`$`-prefixed field (set with `$setField`), in the document's own field order, so the stored
document is the same, byte for byte, as an insert would store. Like a replacement, it
replaces the whole document, so running it again changes nothing.
"""

from __future__ import annotations

import datetime
import typing as t

import bson
from bson.codec_options import CodecOptions, DatetimeConversion
from pymongo import DeleteOne, InsertOne, ReplaceOne, UpdateOne

if t.TYPE_CHECKING:
    from bson.raw_bson import RawBSONDocument


from mongodb_common.singer_fields import DELETED_AT

# Aware UTC dates of any year, so a decoded key matches the stored value it came from.
_KEY_OPTIONS: CodecOptions = CodecOptions(
    tz_aware=True, tzinfo=datetime.timezone.utc, datetime_conversion=DatetimeConversion.DATETIME_AUTO
)


def key_filter(document: t.Mapping[str, t.Any], key_properties: t.Sequence[str]) -> dict[str, t.Any]:
    """The filter matching the document's destination twin: `_id`, or the composite key."""
    return {name: document[name] for name in key_properties}


def identity(filter_: t.Mapping[str, t.Any]) -> bytes:
    """A hashable identity of a key, equal exactly when the key values are the same BSON.

    Used to keep only the last write per document within a batch, so an unordered bulk
    write can never apply an older version of a document after a newer one.
    """
    return identity_of_values(list(filter_.values()))


def identity_of_values(values: list[t.Any]) -> bytes:
    """`identity` of a key given as its values, in key order."""
    return bson.encode({"k": values})


def key_values(identity_: bytes) -> list[t.Any]:
    """The key values an `identity` was made of, in key order."""
    return bson.decode(identity_, codec_options=_KEY_OPTIONS)["k"]


class PipelineUpsert(UpdateOne):
    """An upsert by update pipeline, remembering the document it writes."""

    def __init__(self, filter_: dict[str, t.Any], document: RawBSONDocument) -> None:
        super().__init__(filter_, [{"$replaceWith": _document_expression(document)}], upsert=True)
        self.document = document


def has_dollar_field_names(document: t.Mapping[str, t.Any]) -> bool:
    """A top-level field name a replacement cannot carry (nested ones it can)."""
    return any(key[:1] == "$" for key in document)


def _document_expression(document: RawBSONDocument) -> dict[str, t.Any]:
    """An expression evaluating to `document` exactly, field order included."""
    parts: list[dict[str, t.Any]] = []
    run: dict[str, t.Any] = {}
    for key, value in document.items():
        if key[:1] != "$":
            run[key] = value
            continue
        if run:
            parts.append({"$literal": run})
            run = {}
        field = {"field": {"$literal": key}, "input": {"$literal": {}}, "value": {"$literal": value}}
        parts.append({"$setField": field})
    if run:
        parts.append({"$literal": run})
    return {"$mergeObjects": parts}


def upsert(
    filter_: dict[str, t.Any], document: RawBSONDocument, *, dollar_names: bool = False
) -> ReplaceOne | UpdateOne:
    """Replace (or insert) the document matching `filter_`; `dollar_names` from `has_dollar_field_names`."""
    if dollar_names:
        return PipelineUpsert(filter_, document)
    return ReplaceOne(filter_, document, upsert=True)


def written_document(operation: t.Any) -> t.Mapping[str, t.Any] | None:
    """The document an insert or upsert writes (None for deletes and soft deletes)."""
    if isinstance(operation, PipelineUpsert):
        return operation.document
    if isinstance(operation, (ReplaceOne, InsertOne)):
        return operation._doc  # pymongo keeps no public accessor
    return None


def insert(document: RawBSONDocument) -> InsertOne:
    return InsertOne(document)


def hard_delete(filter_: dict[str, t.Any]) -> DeleteOne:
    return DeleteOne(filter_)


def soft_delete(filter_: dict[str, t.Any], deleted_at: t.Any) -> UpdateOne:
    return UpdateOne(filter_, {"$set": {DELETED_AT: deleted_at}})
