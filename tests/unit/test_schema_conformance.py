"""The conformance walk that encodes as it checks: exact, however many documents it has accepted.

Its tables (per node, what each type needs) are worked out once and reused for every
document; these tests let them settle on many fitting documents first, then send the one
that does not fit, deep inside, where a shortcut would miss it.
"""

from __future__ import annotations

import datetime
import typing as t

import jsonschema
import pytest
from bson import Binary, Decimal128, Int64, ObjectId
from bson.son import SON
from hypothesis import HealthCheck, given, settings

from mongodb_common.bson_codec import encode_extended_json, encode_plain
from tap_mongodb.schema_conformance import ConformanceChecker
from tap_mongodb.schema_drift import SPLIT, WIDEN, DriftGuard
from tap_mongodb.schema_inference import ValueObserver, infer_schema
from tap_mongodb.schema_tree import parse, render
from tap_mongodb.singer_writer import serialize
from tests.unit.test_schema_drift import documents

UTC = datetime.timezone.utc
ENCODERS = {"plain": encode_plain, "extended_json": encode_extended_json}
SETTLING_DOCUMENTS = 2000


def _order(n: int, **line_overrides: t.Any) -> dict[str, t.Any]:
    """An order whose 20 lines are documents; the overrides go into line 17."""
    lines = [
        {
            "sku": f"s-{i}",
            "qty": i,
            "price": Decimal128(f"{i}.25"),
            "weight": i / 3,
            "at": datetime.datetime(2024, 1, 1, tzinfo=UTC) + datetime.timedelta(minutes=i),
            "ref": Binary(bytes(16), 4),
            "tags": ["a", "b"],
            "dims": [[1.5, 2.5], [3.5]],
        }
        for i in range(20)
    ]
    lines[17].update(line_overrides)
    return {"_id": ObjectId(), "seq": Int64(n), "lines": lines, "meta": {"by": "x", "n": n}}


DRIFT = {
    "a string where integers were": {"qty": "7"},
    "an undeclared field": {"discount": 5},
    "a float that is not finite": {"weight": float("nan")},
    "a Decimal128 beyond the double range": {"price": Decimal128("1E+400")},
    "a date before 1970": {"at": datetime.datetime(1969, 7, 20, tzinfo=UTC)},
    "a binary of another subtype": {"ref": Binary(b"\x01\x02", 0)},
    "an integer among the tags": {"tags": ["a", 3]},
    "a string in an array of arrays": {"dims": [[1.5], ["x"]]},
    "an infinite float in an array of arrays": {"dims": [[1.5], [2.5, float("inf")]]},
    "a document where an array was": {"tags": {"a": 1}},
    "a document looking like an ObjectId": {"sku": {"$oid": "0" * 24}},
}


# Drift that these encodings render the same way: the schema rightly stays (Extended JSON
# carries these as text in the same wrapper; plain dates are date-time text on both sides).
UNCHANGED = {
    ("extended_json", "a Decimal128 beyond the double range"),
    ("extended_json", "a binary of another subtype"),
    ("plain", "a date before 1970"),
}


@pytest.mark.parametrize("encoding", ["plain", "extended_json"])
@pytest.mark.parametrize("drift", list(DRIFT), ids=list(DRIFT))
def test_a_new_type_deep_in_an_array_of_documents_is_caught_after_thousands_that_fit(encoding: str, drift: str) -> None:
    sample = [_order(n) for n in range(5)]
    guard = DriftGuard("orders", parse(infer_schema(sample, encoding)), ValueObserver(encoding), WIDEN)
    encode = ENCODERS[encoding]
    for n in range(SETTLING_DOCUMENTS):
        document = _order(n)
        assert guard.admit_encoded(document) == (encode(document), False)
    schema_before = guard.schema
    drifted = _order(SETTLING_DOCUMENTS, **DRIFT[drift])
    record, changed = guard.admit_encoded(drifted)
    if (encoding, drift) in UNCHANGED:
        assert (changed, guard.schema) == (False, schema_before)
    else:
        assert changed, "the drifted document passed as fitting"
        assert guard.schema != schema_before
    assert record == encode(drifted)  # WIDEN keeps the document as it is
    jsonschema.validate(record, guard.schema)
    # Once widened, the same drift fits, and the tables that were forgotten are rebuilt.
    again = _order(SETTLING_DOCUMENTS + 1, **DRIFT[drift])
    assert guard.admit_encoded(again) == (encode(again), False)


def test_a_wrapper_lookalike_is_caught_where_the_node_declares_dollar_fields() -> None:
    """The one case where the lookalike's keys may all be declared: they were, by a plain document."""
    sample = [{"_id": 1, "a": {"$oid": 1, "b": 2}}]
    guard = DriftGuard("s", parse(infer_schema(sample, "plain")), ValueObserver("plain"), SPLIT)
    for n in range(100):
        assert guard.admit_encoded({"_id": n, "a": {"$oid": n, "b": 2}})[1] is False
    record, changed = guard.admit_encoded({"_id": 200, "a": {"$oid": 5}})
    assert record == {"_id": 200, "a": {"$literal": {"$oid": 5}}}
    assert changed
    jsonschema.validate(record, guard.schema)


def test_a_mapping_that_is_not_a_dict_gives_the_codecs_record() -> None:
    guard = DriftGuard("s", parse(infer_schema([{"_id": 1, "a": "x"}], "plain")), ValueObserver("plain"), SPLIT)
    document = SON([("_id", 2), ("a", "y")])
    assert guard.admit_encoded(document) == ({"_id": 2, "a": "y"}, False)


def test_a_field_declared_only_as_null_takes_any_value_without_a_change() -> None:
    guard = DriftGuard("s", parse(infer_schema([{"_id": 1, "a": None}], "plain")), ValueObserver("plain"), SPLIT)
    guard.admit_encoded({"_id": 1, "a": None})  # settles "a" as "any type"
    for value in ({"deep": [1, {"x": float("inf")}]}, SON([("k", 1)]), Decimal128("NaN"), [[]]):
        document = {"_id": 2, "a": value}
        assert guard.admit_encoded(document) == (encode_plain(document), False)


@pytest.mark.parametrize("encoding", ["plain", "extended_json"])
@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(sample=documents, later=documents)
def test_the_walk_agrees_with_observing_the_document_and_with_the_codec(
    encoding: str, sample: list[dict[str, t.Any]], later: list[dict[str, t.Any]]
) -> None:
    """A record comes back exactly when observing the document would not change the schema,
    and it is then what the codec makes of the document; asked twice, the same answer."""
    observer = ValueObserver(encoding)
    root = parse(infer_schema([{"_id": n, **d} for n, d in enumerate(sample)], encoding))
    checker = ConformanceChecker(observer)
    for document in [{"_id": n, **d} for n, d in enumerate([*sample, *later])]:
        record = checker.encode_if_fits(document, root)
        assert checker.encode_if_fits(document, root) == record
        widened = root.copy()
        observer.observe_document(widened, document)
        assert (record is not None) == (render(widened) == render(root))
        if record is not None:
            assert record == ENCODERS[encoding](document)


@pytest.mark.parametrize("encoding", ["plain", "extended_json"])
def test_decimals_as_text_writes_the_bytes_the_codec_would_in_either_encoding(encoding: str) -> None:
    """Number text is a plain-encoding shortcut: Extended JSON keeps its `$numberDecimal` wrapper."""
    document = {"_id": 1, "price": Decimal128("19.99"), "tiny": Decimal128("-0E+3"), "prices": [Decimal128("1E+5")]}
    # `anything` was only ever null: declared as any type, so a decimal fits it by any route.
    sample = {**document, "anything": None}
    checker = ConformanceChecker(ValueObserver(encoding), decimals_as_text=True)
    root = parse(infer_schema([sample], encoding))
    for later in (document, {**document, "anything": Decimal128("2.5")}):
        record = checker.encode_if_fits(later, root)
        assert record is not None
        assert serialize(record) == serialize(ENCODERS[encoding](later))
