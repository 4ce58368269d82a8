"""Does a document fit the schema a stream declared? Asked of every document, so it must be cheap.

The exact answer for one value is "observing it into the declared node would not change the
schema" (the same observer as sampling, so never a second opinion on types). That is costly,
so each node works out once which Python types always fit it (their encoding never depends
on the value: a string, an ObjectId, an Int64 ...) and whether finite floats do; the walk
then costs one set lookup per scalar. Values whose encoding depends on them (a Decimal128's
range, a binary subtype, a pre-1970 date in Extended JSON) are decided once per kind and
remembered; documents and arrays are walked. The node's answers are forgotten whenever the
declared schema widens.
"""

from __future__ import annotations

import datetime
import re
import typing as t
import uuid

from bson import Binary, Code, DBRef, Decimal128, Int64, MaxKey, MinKey, ObjectId, Regex, Timestamp
from bson.datetime_ms import DatetimeMS

from mongodb_common.bson_codec.decimal128 import in_double_range
from mongodb_common.bson_codec.singer_encoding import is_lookalike
from tap_mongodb.schema_tree import MIXED, SchemaNode, render

if t.TYPE_CHECKING:
    from tap_mongodb.schema_inference import ValueObserver

_UNCACHEABLE = object()  # values whose fit depends on their content (DBRef, code scope)
_EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc)

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


class ConformanceChecker:
    """Answers "does this document fit the declared node?" for one stream."""

    def __init__(self, observer: ValueObserver) -> None:
        self._observer = observer
        self._samples = _EXTENDED_SAMPLES if observer.extended else _PLAIN_SAMPLES

    def document_fits(self, document: t.Mapping[str, t.Any], node: SchemaNode) -> bool:  # noqa: PLR0911
        if node.accepts_any or node.any_type:
            return True
        if "object" not in node.types:
            return False
        properties = node.properties
        for key, value in document.items():
            child = properties.get(key)
            if child is None:
                return False
            fast = child.fast
            if fast is None:
                fast = self._learn(child)
            kind = type(value)
            if kind in fast:
                continue
            # The common containers inline: a call per value would cost more than the check.
            if kind is dict:
                if not self._subdocument_fits(value, child):
                    return False
            elif kind is list:
                if not self._array_fits(value, child):
                    return False
            elif (kind is float and child.finite_floats and value - value == 0.0) or (
                kind is Decimal128 and child.decimals and in_double_range(value)
            ):
                continue
            elif not self.value_fits(value, child):
                return False
        return True

    def value_fits(self, value: t.Any, node: SchemaNode) -> bool:
        if node.accepts_any or node.any_type:
            return True
        fast = node.fast
        if fast is None:
            fast = self._learn(node)
        kind = type(value)
        if kind in fast:
            return True
        if kind is dict:
            return self._subdocument_fits(value, node)
        if kind is list:
            return self._array_fits(value, node)
        key = self._kind(value)
        if key is _UNCACHEABLE:
            return self.exactly_fits(value, node)
        verdict = node.memo.get(key)
        if verdict is None:
            verdict = node.memo[key] = self.exactly_fits(value, node)
        return verdict

    def _subdocument_fits(self, value: dict[str, t.Any], node: SchemaNode) -> bool:
        if (value and next(iter(value)).startswith("$") and is_lookalike(value)) or node.object_like:
            return self.exactly_fits(value, node)
        return self.document_fits(value, node)

    def _array_fits(self, value: list[t.Any], node: SchemaNode) -> bool:
        if "array" not in node.types:
            return False
        items = node.items
        if items is None:
            return not value
        fast = items.fast
        if fast is None:
            fast = self._learn(items)
        floats = items.finite_floats
        fits = self.value_fits
        if dict in fast:
            return True  # items of any shape
        document_fits = self.document_fits
        plain_items = not items.object_like
        for item in value:
            kind = type(item)
            if kind in fast or (kind is float and floats and item - item == 0.0):
                continue
            if kind is dict and plain_items and not (item and next(iter(item)).startswith("$")):
                if not document_fits(item, items):
                    return False
            elif not fits(item, items):
                return False
        return True

    def _learn(self, node: SchemaNode) -> frozenset[type]:
        """The types that always fit the node, and whether finite floats do."""
        if node.accepts_any or node.any_type:
            node.fast = frozenset({dict, list, float, *(type(sample) for sample in self._samples)})
        else:
            node.fast = frozenset(type(sample) for sample in self._samples if self.exactly_fits(sample, node))
        node.finite_floats = node.accepts_any or node.any_type or self.exactly_fits(1.5, node)
        # A Decimal128 in the double range is a JSON number in plain encoding (text beyond it).
        node.decimals = node.accepts_any or node.any_type or self.exactly_fits(Decimal128("1.5"), node)
        node.object_like = holds_object_like_scalars(node)
        return node.fast

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
