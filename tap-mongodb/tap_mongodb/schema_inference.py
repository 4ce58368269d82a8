"""JSON Schemas inferred from sampled documents.

The schema describes the *encoded* records the tap will emit (see mongodb_common's
bson_codec), so SCHEMA and RECORD messages always agree: in plain encoding a datetime is a
``date-time`` string and a Timestamp an object ``{t, i}``; in extended_json encoding an
ObjectId is the object ``{"$oid": ...}``. In plain encoding, a field whose sampled values all
share one BSON type that JSON cannot show (ObjectId, Int64, Decimal128 ...) gets a
``format`` naming it (``x-bson-objectid`` ...; see mongodb_common.bson_codec.type_names).

Every field is nullable, because a field missing from one document is as normal in MongoDB
as a null, and objects keep JSON Schema's default of allowing properties the sample never
saw, so such fields are still emitted.
"""

from __future__ import annotations

import datetime
import math
import re
import typing as t
import uuid

from bson import Binary, Code, DBRef, Decimal128, Int64, MaxKey, MinKey, ObjectId, Regex, Timestamp
from bson.datetime_ms import DatetimeMS

from mongodb_common.bson_codec import EXTENDED_JSON, encode_extended_json
from mongodb_common.bson_codec.decimal128 import in_double_range
from mongodb_common.bson_codec.singer_encoding import LITERAL, is_lookalike
from mongodb_common.bson_codec.type_names import binary_subtype, bson_type_name
from tap_mongodb.schema_tree import SchemaNode, render_document

# Elements of one array read for the schema: long arrays of alike subdocuments (histories,
# line items) would otherwise dominate discovery time without telling anything new.
ITEMS_OBSERVED_PER_ARRAY = 50

_SCALAR_STRING_TYPES = (str, ObjectId, Regex, re.Pattern, MinKey, MaxKey, bytes, uuid.UUID)


def _plain_scalar(value: t.Any) -> tuple[str, str | None]:  # noqa: PLR0911 - one branch per BSON type
    """JSON type and format of a scalar in plain encoding (mirrors encode_plain)."""
    if isinstance(value, bool):
        return "boolean", None
    if isinstance(value, (int, Int64)):
        return "integer", None
    if isinstance(value, float):
        return ("number", None) if math.isfinite(value) else ("string", None)
    if isinstance(value, Decimal128):
        return ("number", None) if in_double_range(value) else ("string", None)
    if isinstance(value, datetime.datetime):
        return "string", "date-time"
    if isinstance(value, DatetimeMS):
        return "string", None  # expanded-year text that date-time validators reject
    if isinstance(value, Binary) and value.subtype == 4 and len(value) == 16:
        return "string", "uuid"
    if isinstance(value, uuid.UUID):
        return "string", "uuid"
    if isinstance(value, Code):
        return ("string", None) if value.scope is None else ("object", None)
    if isinstance(value, (*_SCALAR_STRING_TYPES, Binary)):
        return "string", None
    if isinstance(value, Timestamp):
        return "object", None
    msg = f"no schema mapping for Python type {type(value).__name__}"
    raise TypeError(msg)


def _plain_object(value: t.Any) -> dict[str, t.Any] | None:
    """The object a BSON value becomes in plain encoding, if it becomes one."""
    if isinstance(value, DBRef):
        return dict(value.as_doc())
    if isinstance(value, Timestamp):
        return {"t": value.time, "i": value.inc}
    if isinstance(value, Code) and value.scope is not None:
        return {"$code": str(value), "$scope": value.scope}
    return None


# Scalar types whose plain encoding does not depend on the value: (BSON type name, JSON type,
# format), worked out once from the two functions above, so a sampled value of one of these
# types (most of them) costs one lookup instead of the type walks.
_PLAIN_BY_TYPE: dict[type, tuple[str, str, str | None]] = {
    type(sample): (bson_type_name(sample), *_plain_scalar(sample))
    for sample in ("", True, 0, Int64(0), ObjectId(b"\x00" * 12), datetime.datetime(2000, 1, 1))
}


def _note_json(node: SchemaNode, json_type: str, json_format: str | None) -> None:
    node.types.add(json_type)
    if json_type == "string":
        node.formats.add(json_format)


def _noted_plain(node: SchemaNode, value: t.Any) -> bool:
    """Note the value's BSON type (plain encoding); True when that was all there was to note."""
    known = _PLAIN_BY_TYPE.get(type(value))
    if known is not None:
        node.bson_types.add(known[0])
        _note_json(node, known[1], known[2])
        return True
    node.bson_types.add(bson_type_name(value))
    if isinstance(value, (bytes, Binary, uuid.UUID)):
        node.subtypes.add(binary_subtype(value))
    return False


class ValueObserver:
    """Records what a BSON value becomes once encoded, into the node for its position.

    The one place that knows which JSON type and format each BSON value takes in each
    encoding; sampling and drift handling both go through it, so the schema declared and
    the records emitted cannot disagree.
    """

    def __init__(self, encoding: str, *, items_per_array: int | None = None) -> None:
        self.extended = encoding == EXTENDED_JSON
        # Sampling reads a few elements per array; drift handling must see every one.
        self._items_per_array = items_per_array

    def observe_document(self, node: SchemaNode, document: t.Mapping[str, t.Any]) -> None:
        node.types.add("object")
        for key, value in document.items():
            self.observe(node.child(key), value)

    def note_document(self, node: SchemaNode) -> None:
        """What a subdocument adds at its own position, before its fields are looked at."""
        node.types.add("object")
        if not self.extended:
            node.bson_types.add("object")

    def object_keys(self, value: t.Any) -> t.Iterable[str]:
        """The keys of the object a scalar BSON value is encoded as (none for a plain scalar)."""
        encoded = encode_extended_json(value) if self.extended else _plain_object(value)
        return encoded.keys() if isinstance(encoded, dict) else ()

    def observe(self, node: SchemaNode, value: t.Any) -> None:
        if node.accepts_any or node.any_type:
            return
        if not self.extended and _noted_plain(node, value):
            return
        if value is None:
            node.types.add("null")
        elif isinstance(value, dict) and is_lookalike(value):
            # The codec escapes a document looking like an Extended JSON wrapper.
            node.types.add("object")
            self.observe_document(node.child(LITERAL), value)
        elif isinstance(value, dict):
            self.observe_document(node, value)
        elif isinstance(value, (list, tuple)):
            node.types.add("array")
            items = node.item_node()
            for item in value[: self._items_per_array]:
                self.observe(items, item)
        elif self.extended:
            self._observe_json(node, encode_extended_json(value))
        elif (as_object := _plain_object(value)) is not None:
            self.observe_document(node, as_object)
        else:
            _note_json(node, *_plain_scalar(value))

    def _observe_json(self, node: SchemaNode, value: t.Any) -> None:
        """Observe an already-encoded Extended JSON value (wrappers become objects)."""
        if node.accepts_any or node.any_type:
            return
        if isinstance(value, dict):
            node.types.add("object")
            for key, item in value.items():
                self._observe_json(node.child(key), item)
        elif isinstance(value, bool):
            node.types.add("boolean")
        elif isinstance(value, int):
            node.types.add("integer")
        elif isinstance(value, float):
            node.types.add("number")
        elif isinstance(value, str):
            node.types.add("string")
            node.formats.add(None)
        else:
            self.observe(node, value)


class SchemaInferrer:
    """Accumulates sampled documents, then renders one JSON Schema for all of them."""

    def __init__(self, encoding: str) -> None:
        self._observer = ValueObserver(encoding, items_per_array=ITEMS_OBSERVED_PER_ARRAY)
        self._root = SchemaNode()
        self.document_count = 0

    def observe(self, document: t.Mapping[str, t.Any]) -> None:
        self.document_count += 1
        self._observer.observe_document(self._root, document)

    def schema(self) -> dict[str, t.Any]:
        """The stream schema; `_id` is never null, every other field may be."""
        return render_document(self._root, self._observer.extended)


def infer_schema(documents: t.Iterable[t.Mapping[str, t.Any]], encoding: str) -> dict[str, t.Any]:
    inferrer = SchemaInferrer(encoding)
    for document in documents:
        inferrer.observe(document)
    return inferrer.schema()


def envelope_schema(id_schema: dict[str, t.Any]) -> dict[str, t.Any]:
    """Schema of the envelope form: the `_id` plus the whole document as one object."""
    return {
        "type": "object",
        "properties": {
            "_id": id_schema,
            "document": {"type": ["object", "null"], "properties": {}},
        },
        "required": ["_id"],
    }
