"""Does a document fit the schema a stream declared? Asked of every document, so it must be cheap.

The exact answer for one value is "observing it into the declared node would not change the
schema" (same observer as sampling, so never a second opinion on types). That is costly, so
the answer is remembered per node and per *kind* of value: the Python type for types whose
encoding never depends on the value, plus what does matter for the others (a float's
finiteness, a Decimal128's range, a binary subtype, a code scope). Documents and arrays are
walked; for a document that fits, the walk costs a few dictionary lookups per value.
"""

from __future__ import annotations

import typing as t

from bson import Binary, Code, DBRef, Decimal128

from mongodb_common.bson_codec.decimal128 import decimal_from
from mongodb_common.bson_codec.singer_encoding import is_lookalike
from tap_mongodb.schema_tree import MIXED, SchemaNode, render

if t.TYPE_CHECKING:
    from tap_mongodb.schema_inference import ValueObserver

_UNCACHEABLE = object()  # values whose fit depends on their content (DBRef, code scope)


def _kind(value: t.Any) -> t.Any:
    """What decides how a scalar is encoded: usually its type alone."""
    kind = type(value)
    if kind is float:
        return (float, value - value == 0.0, value != value)  # noqa: PLR0124 - finite, NaN
    if kind is Decimal128:
        number = decimal_from(value)
        return (Decimal128, number.is_finite() and (not number or -308 <= number.adjusted() <= 308))
    if kind is Binary:
        return (Binary, value.subtype, len(value) == 16)
    if kind is Code:
        return (Code, True) if value.scope is None else _UNCACHEABLE
    if kind is DBRef:
        return _UNCACHEABLE
    return kind


def holds_object_like_scalars(node: SchemaNode) -> bool:
    """An object schema that came from Timestamps, DBRefs or scoped code, not documents.

    A document of the same shape fits it as JSON, but would lose the `x-bson-*` annotation
    that makes target-mongodb restore those types; it takes the exact path.
    """
    bson_types = node.bson_types
    return bool(bson_types) and "object" not in bson_types and MIXED not in bson_types


class ConformanceChecker:
    """Answers "does this document fit the declared node?" for one stream."""

    def __init__(self, observer: ValueObserver) -> None:
        self._observer = observer

    def document_fits(self, document: t.Mapping[str, t.Any], node: SchemaNode) -> bool:
        if node.accepts_any or node.any_type:
            return True
        if "object" not in node.types:
            return False
        properties = node.properties
        fits = self.value_fits
        for key, value in document.items():
            child = properties.get(key)
            if child is None or not fits(value, child):
                return False
        return True

    def value_fits(self, value: t.Any, node: SchemaNode) -> bool:
        if node.accepts_any or node.any_type:
            return True
        kind = type(value)
        if kind is dict:
            return self._subdocument_fits(value, node)
        if kind is list:
            return self._array_fits(value, node)
        key = _kind(value)
        if key is _UNCACHEABLE:
            return self.exactly_fits(value, node)
        verdict = node.memo.get(key)
        if verdict is None:
            verdict = node.memo[key] = self.exactly_fits(value, node)
        return verdict

    def _subdocument_fits(self, value: dict[str, t.Any], node: SchemaNode) -> bool:
        if (value and next(iter(value)).startswith("$") and is_lookalike(value)) or holds_object_like_scalars(node):
            return self.exactly_fits(value, node)
        return self.document_fits(value, node)

    def _array_fits(self, value: list[t.Any], node: SchemaNode) -> bool:
        if "array" not in node.types:
            return False
        if not value:
            return True
        items = node.items
        if items is None:
            return False
        fits = self.value_fits
        return all(fits(item, items) for item in value)

    def exactly_fits(self, value: t.Any, node: SchemaNode) -> bool:
        """Observing the value would leave the declared schema as it is."""
        widened = node.copy()
        self._observer.observe(widened, value)
        return render(widened) == render(node)
