"""Does a document fit the schema a stream declared? Asked of every document, so it must be cheap.

The exact answer for one value is "observing it into the declared node would not change the
schema" (the same observer as sampling, so never a second opinion on types). That is costly,
so each node works out once which Python types always fit it (their encoding never depends
on the value: a string, an ObjectId, an Int64 ...) and whether finite floats do. Values whose
encoding depends on them (a Decimal128's range, a binary subtype, a pre-1970 date in Extended
JSON) are decided once per kind and remembered. The node's answers are forgotten whenever
the declared schema widens.

The check is made by the walk that encodes the record (`encode_if_fits`): a separate walk
before the codec cost 10-50% of the tap's whole record path, the codec's own walk about
nothing (benchmarks/schema_conformance.py, docs/schema-evolution.md). Each node keeps a table
from type to what a value of that type needs there, so a field costs two dictionary lookups
on top of its encoding; scalars are converted by the codec's own functions
(`scalar_encoders`), documents and arrays exactly as the codec builds them, so a record that
fits is the codec's record, value for value.
"""

from __future__ import annotations

import datetime
import decimal
import re
import typing as t
import uuid

import orjson
from bson import Binary, Code, DBRef, Decimal128, Int64, MaxKey, MinKey, ObjectId, Regex, Timestamp
from bson.datetime_ms import DatetimeMS

from mongodb_common.bson_codec import EXTENDED_JSON, PLAIN, get_encoder
from mongodb_common.bson_codec.decimal128 import in_double_range, plain_number_text
from mongodb_common.bson_codec.singer_encoding import AS_IS, is_lookalike, scalar_encoders
from tap_mongodb.schema_tree import MIXED, SchemaNode, render

if t.TYPE_CHECKING:
    from tap_mongodb.schema_inference import ValueObserver

_UNCACHEABLE = object()  # values whose fit depends on their content (DBRef, code scope)
_FINITE = object()  # in a node's table: a float fits when it is finite
_EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc)
_RECENT = datetime.datetime(2000, 1, 1, tzinfo=datetime.timezone.utc)  # a date from 1970 on

# One value of each type whose encoding never depends on the value, per encoding.
_COMMON_SAMPLES: tuple[t.Any, ...] = (
    "x",
    1,
    True,
    None,
    Int64(1),
    ObjectId("000000000000000000000000"),
    DatetimeMS(-(2**62)),
    Regex("x", ""),
    re.compile("x"),
    MinKey(),
    MaxKey(),
    b"x",
    uuid.UUID(int=1),
    Timestamp(1, 1),
)
_PLAIN_SAMPLES = (*_COMMON_SAMPLES, datetime.datetime(2000, 1, 1, tzinfo=datetime.timezone.utc))
# Not Code: one with a scope is an object of another shape (decided per value by `_kind`).
_EXTENDED_SAMPLES = (*_COMMON_SAMPLES, Decimal128("1"), Binary(b"x", 0))


def holds_object_like_scalars(node: SchemaNode) -> bool:
    """An object schema that came from Timestamps, DBRefs or scoped code, not documents.

    A document of the same shape fits it as JSON, but would lose the `x-bson-*` annotation
    that makes target-mongodb restore those types; it takes the exact path.
    """
    bson_types = node.bson_types
    return bool(bson_types) and "object" not in bson_types and MIXED not in bson_types


class _MisfitError(Exception):
    """A value does not fit its node: the walk stops, and the document takes the exact path."""


def _misfit() -> t.NoReturn:
    raise _MisfitError


class _AnyTable(dict[type, t.Any]):
    """The codecs of a node every value fits: the encoder for types without their own."""

    __slots__ = ("encode",)

    def __missing__(self, kind: type) -> t.Any:
        return self.encode


class _DollarFields(dict[str, dict[type, t.Any]]):
    """The field table of a node declaring a `$`-prefixed field: its documents are looked at for wrappers."""

    __slots__ = ()


class ConformanceChecker:
    """Answers "does this document fit the declared node?" for one stream, encoding it as it goes."""

    def __init__(self, observer: ValueObserver, *, decimals_as_text: bool = False) -> None:
        """`decimals_as_text`: plain Decimal128 values become their JSON number text
        (`orjson.Fragment`) instead of Decimals, for records that only orjson writes (no
        stream maps, no shaping): the same bytes out, without a Decimal per value. Extended
        JSON writes a Decimal128 as its wrapper whatever the caller asks."""
        self._observer = observer
        self._decimals_as_text = decimals_as_text and not observer.extended
        self._samples = _EXTENDED_SAMPLES if observer.extended else _PLAIN_SAMPLES
        encoding = EXTENDED_JSON if observer.extended else PLAIN
        self.encode = get_encoder(encoding)  # the codec: the drift path encodes what it admits with it too
        self._scalars = scalar_encoders(encoding)

    def encode_if_fits(self, document: t.Mapping[str, t.Any], node: SchemaNode) -> dict[str, t.Any] | None:
        """The document's record (exactly what the codec makes of it) if it fits the node, else None."""
        codecs = node.codecs
        if codecs is None:
            codecs = self._learn(node)
        try:
            return t.cast("dict[str, t.Any]", codecs[dict](document if type(document) is dict else dict(document)))
        except (_MisfitError, KeyError):  # KeyError: a field the node does not declare, or a type no table has
            return None

    def document_fits(self, document: t.Mapping[str, t.Any], node: SchemaNode) -> bool:
        return self.encode_if_fits(document, node) is not None

    def value_fits(self, value: t.Any, node: SchemaNode) -> bool:
        if node.accepts_any or node.any_type:
            return True
        if node.fast is None:
            self._learn(node)
        kind = type(value)
        if kind in t.cast("frozenset[type]", node.fast):
            return True
        if kind is dict or kind is list:
            return self._container_fits(value, node)
        key = self._kind(value)
        if key is _UNCACHEABLE:
            return self.exactly_fits(value, node)
        verdict = node.memo.get(key)
        if verdict is None:
            verdict = node.memo[key] = self.exactly_fits(value, node)
        return verdict

    def _container_fits(self, value: dict[str, t.Any] | list[t.Any], node: SchemaNode) -> bool:
        try:
            self._walk(value, node)
        except _MisfitError:
            return False
        except KeyError:  # an undeclared field, or a type no table has: the exact answer
            return self.exactly_fits(value, node)
        return True

    # -- the walk: each value encoded as the codec does, and checked, in one visit ---------
    #
    # Every node has a table from each type the codec knows to what a value of that type
    # needs there: None (it fits, and is handed on as it is), the codec's converter (it fits),
    # `_FINITE` (a float: it fits when finite), or a function that encodes the value once it
    # has checked it (documents, arrays, types whose fit depends on the value). A document's
    # fields cost two dict lookups each (the field's table, then its value's type) on top of
    # the encoding; whatever does not fit raises `_MisfitError` (or KeyError: an undeclared
    # field), and the document is then admitted by the exact path.

    def _walk(self, value: t.Any, node: SchemaNode) -> t.Any:
        codecs = node.codecs
        if codecs is None:
            codecs = self._learn(node)
        return codecs[type(value)](value)

    def _checked(self, value: t.Any, node: SchemaNode) -> t.Any:
        """A value its node's table cannot settle by type: the exact answer, remembered per kind."""
        if self.value_fits(value, node):
            return self.encode(value)
        return _misfit()

    def _document_codec(self, node: SchemaNode) -> t.Callable[[dict[str, t.Any]], t.Any]:
        encode, exactly_fits, checked, field_table = self.encode, self.exactly_fits, self._checked, self._field_table

        def encode_document(value: dict[str, t.Any]) -> t.Any:
            table = node.field_codecs
            if table is None:
                table = field_table(node)
            # A document looking like an Extended JSON wrapper is escaped by the codec. Its first
            # key starts with "$": where no declared field does, that key is undeclared anyway.
            if type(table) is _DollarFields and value and next(iter(value)).startswith("$") and is_lookalike(value):
                return encode(value) if exactly_fits(value, node) else _misfit()
            properties = node.properties
            return {
                key: item
                if (codec := table[key][type(item)]) is None
                else (item if item - item == 0.0 else checked(item, properties[key]))
                if codec is _FINITE
                else codec(item)
                for key, item in value.items()
            }

        return encode_document

    def _array_codec(self, node: SchemaNode) -> t.Callable[[list[t.Any]], t.Any]:
        checked, learn = self._checked, self._learn

        def encode_array(value: list[t.Any]) -> t.Any:
            items = node.items
            if items is None:
                return _misfit() if value else []
            table = items.codecs
            if table is None:
                table = learn(items)
            return [
                item
                if (codec := table[type(item)]) is None
                else (item if item - item == 0.0 else checked(item, items))
                if codec is _FINITE
                else codec(item)
                for item in value
            ]

        return encode_array

    def _exact_codec(self, node: SchemaNode) -> t.Callable[[t.Any], t.Any]:
        """Documents at a node of Timestamps, DBRefs or scoped code, or of no documents at all."""
        encode, exactly_fits = self.encode, self.exactly_fits

        def encode_exactly(value: t.Any) -> t.Any:
            return encode(value) if exactly_fits(value, node) else _misfit()

        return encode_exactly

    def _value_codec(self, kind: type, node: SchemaNode) -> t.Callable[[t.Any], t.Any]:
        """Values of a type whose fit depends on the value: checked, then converted."""
        convert, checked, kind_of, memo = self._scalars[kind], self._checked, self._kind, node.memo
        if kind is Decimal128 and node.decimals:  # plain encoding: in the double range, a JSON number

            def encode_decimal(value: Decimal128) -> t.Any:
                # The converter gives a Decimal exactly for values in the double range.
                encoded = convert(value)
                return encoded if type(encoded) is decimal.Decimal else checked(value, node)

            if not self._decimals_as_text:
                return encode_decimal

            def encode_decimal_text(value: Decimal128) -> t.Any:
                text = plain_number_text(value)
                return orjson.Fragment(text) if text is not None else encode_decimal(value)

            return encode_decimal_text
        if kind is datetime.datetime and self._observer.extended and self.exactly_fits(_RECENT, node):

            def encode_recent(value: datetime.datetime) -> t.Any:
                return convert(value) if value >= _EPOCH else checked(value, node)

            return encode_recent

        def encode_remembered(value: t.Any) -> t.Any:
            return convert(value) if memo.get(kind_of(value)) else checked(value, node)

        return encode_remembered

    # -- what each node needs per type, worked out once ----------------------------------

    def _field_table(self, node: SchemaNode) -> dict[str, dict[type, t.Any]]:
        table = {}
        for key, child in node.properties.items():
            codecs = child.codecs
            table[key] = codecs if codecs is not None else self._learn(child)
        if any(key.startswith("$") for key in table):
            table = _DollarFields(table)
        node.field_codecs = table
        return table

    def _learn(self, node: SchemaNode) -> dict[type, t.Any]:
        """What the node needs per type: the types that always fit it, and the table of codecs."""
        anything = node.accepts_any or node.any_type
        if anything:
            node.fast = frozenset({dict, list, float, *(type(sample) for sample in self._samples)})
        else:
            node.fast = frozenset(type(sample) for sample in self._samples if self.exactly_fits(sample, node))
        node.finite_floats = anything or self.exactly_fits(1.5, node)
        # A Decimal128 in the double range is a JSON number in plain encoding (text beyond it).
        node.decimals = anything or self.exactly_fits(Decimal128("1.5"), node)
        node.object_like = holds_object_like_scalars(node)
        scalars, encode = self._scalars, self.encode
        codecs: dict[type, t.Any]
        if anything:
            anything_table = _AnyTable(dict.fromkeys(AS_IS))
            anything_table.encode = encode
            node.codecs = anything_table
            return anything_table
        codecs = node.codecs = {kind: None if kind in AS_IS else scalars[kind] for kind in node.fast}
        if "object" in node.types and not node.object_like:
            codecs[dict] = self._document_codec(node)
        else:
            codecs[dict] = self._exact_codec(node)
        codecs[list] = self._array_codec(node) if "array" in node.types else self._exact_codec(node)
        if node.finite_floats:
            codecs[float] = _FINITE
        for kind in scalars:
            if kind not in codecs:
                codecs[kind] = self._value_codec(kind, node)
        return codecs

    def _kind(self, value: t.Any) -> t.Any:  # noqa: PLR0911 - one branch per value-dependent type
        """What decides how a value of a type outside the node's fast set is encoded."""
        kind = type(value)
        if kind is float:
            return (float, value - value == 0.0, value != value)  # noqa: PLR0124 - finite, NaN
        if kind is Decimal128:
            return (Decimal128, self._observer.extended or in_double_range(value))
        if kind is Binary:
            return (Binary, value.subtype, len(value) == 16)
        if kind is datetime.datetime:
            return (datetime.datetime, self._observer.extended and value >= _EPOCH)
        if kind is Code and value.scope is None:
            return (Code, None)
        if kind in {Code, DBRef}:
            return _UNCACHEABLE
        return kind

    def exactly_fits(self, value: t.Any, node: SchemaNode) -> bool:
        """Observing the value would leave the declared schema as it is."""
        if isinstance(value, (dict, list, tuple)):
            widened = node.copy()
            self._observer.observe(widened, value)
            return render(widened) == render(node)
        # A scalar changes at most this node and the children its encoded object names.
        keys = tuple(self._observer.object_keys(value))
        widened = node.level_copy(keys)
        self._observer.observe(widened, value)
        return render(widened) == render(node.level_copy(keys))
