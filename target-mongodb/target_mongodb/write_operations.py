"""The MongoDB write each Singer record turns into: upsert, delete, soft delete or insert."""

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


def upsert(filter_: dict[str, t.Any], document: RawBSONDocument) -> ReplaceOne:
    return ReplaceOne(filter_, document, upsert=True)


def insert(document: RawBSONDocument) -> InsertOne:
    return InsertOne(document)


def hard_delete(filter_: dict[str, t.Any]) -> DeleteOne:
    return DeleteOne(filter_)


def soft_delete(filter_: dict[str, t.Any], deleted_at: t.Any) -> UpdateOne:
    return UpdateOne(filter_, {"$set": {DELETED_AT: deleted_at}})
