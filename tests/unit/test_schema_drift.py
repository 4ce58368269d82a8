"""Schemas follow the data: the node tree, the conformance check, and the three drift policies."""

from __future__ import annotations

import datetime
import typing as t

import jsonschema
import pytest
from bson import Binary, Code, DBRef, Decimal128, Int64, ObjectId, Timestamp
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mongodb_common.bson_codec import encode_extended_json, encode_plain
from tap_mongodb.schema_conformance import ConformanceChecker
from tap_mongodb.schema_drift import FAIL, SPLIT, WIDEN, DriftGuard, SchemaDriftError
from tap_mongodb.schema_inference import ValueObserver, infer_schema
from tap_mongodb.schema_tree import SchemaNode, merge_into, parse, render, render_document
from tests.support.bson_samples import every_type_document
from tests.support.schema_invariant import assert_records_fit_their_schemas, declares_at_least

UTC = datetime.timezone.utc
ENCODINGS = ["plain", "extended_json"]
ENCODERS = {"plain": encode_plain, "extended_json": encode_extended_json}

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**31), 2**31 - 1),
    st.integers(-(2**63), 2**63 - 1).map(Int64),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=5),
    st.datetimes(timezones=st.just(UTC)).map(lambda d: d.replace(microsecond=d.microsecond // 1000 * 1000)),
    st.builds(ObjectId),
    st.sampled_from([Decimal128("1.5"), Decimal128("NaN"), Decimal128("1E+400")]),
    st.sampled_from([Binary(b"\x01" * 16, 4), Binary(b"ab", 0), b"xy", Binary(b"\x00", 5)]),
    st.sampled_from([Timestamp(5, 1), Code("f()"), Code("g()", {"a": 1}), DBRef("c", 1)]),
)
values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.sampled_from("abc"), inner, max_size=3),
    max_leaves=6,
)
documents = st.lists(st.dictionaries(st.sampled_from(["a", "b", "c", "d"]), values, max_size=4), min_size=1, max_size=4)


def _record_messages(stream: str, schema: dict[str, t.Any], records: list[dict[str, t.Any]]) -> list[dict[str, t.Any]]:
    import json

    from tap_mongodb.singer_writer import serialize
    from tests.support.singer_io import parse_messages

    lines = [{"type": "SCHEMA", "stream": stream, "schema": schema, "key_properties": ["_id"]}]
    lines += [{"type": "RECORD", "stream": stream, "record": record} for record in records]
    text = "".join(serialize(line).decode() for line in lines)
    json.loads(text.splitlines()[0])
    return parse_messages(text)


@pytest.mark.parametrize("encoding", ENCODINGS)
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(sample=documents)
def test_a_declared_schema_reads_back_as_itself(encoding: str, sample: list[dict[str, t.Any]]) -> None:
    docs = [{"_id": n, **document} for n, document in enumerate(sample)]
    schema = infer_schema(docs, encoding)
    assert render_document(parse(schema), encoding == "extended_json") == schema


@pytest.mark.parametrize("encoding", ENCODINGS)
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(first=documents, later=documents, policy=st.sampled_from([WIDEN, SPLIT]))
def test_admitted_records_always_fit_the_schema_declared_before_them(
    encoding: str, first: list[dict[str, t.Any]], later: list[dict[str, t.Any]], policy: str
) -> None:
    """The invariant, on random drift: whatever arrives, the record fits the schema it follows.

    Through `admit_encoded`, as the tap emits records (the check and the codec in one walk),
    and it agrees with `admit` followed by the codec, on a twin guard.
    """
    docs = [{"_id": n, **document} for n, document in enumerate(first)]
    guard = DriftGuard("s", parse(infer_schema(docs, encoding)), ValueObserver(encoding), policy)
    twin = DriftGuard("s", parse(infer_schema(docs, encoding)), ValueObserver(encoding), policy)
    messages = []
    for document in [*docs, *({"_id": 100 + n, **d} for n, d in enumerate(later))]:
        before = guard.schema
        record, changed = guard.admit_encoded(document)
        assert changed == (guard.schema != before)
        assert declares_at_least(guard.schema, before)
        admitted, twin_changed = twin.admit(document)
        assert (record, changed, guard.schema) == (ENCODERS[encoding](admitted), twin_changed, twin.schema)
        messages += _record_messages("s", guard.schema, [record])
    assert assert_records_fit_their_schemas(messages) == len(docs) + len(later)


@pytest.mark.parametrize("encoding", ENCODINGS)
@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(sample=documents, value=values)
def test_the_fast_check_agrees_with_observing_the_value(
    encoding: str, sample: list[dict[str, t.Any]], value: t.Any
) -> None:
    observer = ValueObserver(encoding)
    root = parse(infer_schema([{"_id": 1, **d} for d in sample], encoding))
    node = root.properties.get("a") or SchemaNode()
    checker = ConformanceChecker(observer)
    fast = checker.value_fits(value, node)
    assert checker.value_fits(value, node) == fast  # remembered verdicts agree with themselves
    widened = node.copy()
    observer.observe(widened, value)
    assert fast == (render(widened) == render(node))


def _guard(schema_docs: list[dict[str, t.Any]], policy: str, encoding: str = "plain") -> DriftGuard:
    return DriftGuard("shop-orders", parse(infer_schema(schema_docs, encoding)), ValueObserver(encoding), policy)


def test_split_sends_a_new_type_to_a_sibling_named_after_it_and_keeps_the_original_type() -> None:
    guard = _guard([{"_id": 1, "price": 5, "shipped": datetime.datetime(2024, 1, 1, tzinfo=UTC), "v": 1}], SPLIT)
    admitted, changed = guard.admit({"_id": 2, "price": "12", "shipped": "pending", "v": 1.5})
    assert changed
    assert admitted == {"_id": 2, "price__string": "12", "shipped__string": "pending", "v__number": 1.5}
    properties = guard.schema["properties"]
    assert properties["price"] == {"type": ["integer", "null"]}
    assert properties["shipped"] == {"type": ["string", "null"], "format": "date-time"}
    assert properties["price__string"]["type"] == ["string", "null"]
    assert properties["v__number"]["type"] == ["number", "null"]
    # Once split, the same drift fits without changing anything again.
    assert guard.admit({"_id": 3, "price": "13", "shipped": "late"}) == (
        {"_id": 3, "price__string": "13", "shipped__string": "late"},
        False,
    )


def test_split_goes_inside_documents_and_widens_bson_annotations_in_place() -> None:
    guard = _guard([{"_id": 1, "customer": {"tier": 1, "id": ObjectId()}, "n": Int64(5)}], SPLIT)
    admitted, _ = guard.admit({"_id": 2, "customer": {"tier": "gold", "id": "legacy-7", "vip": True}, "n": 7})
    assert admitted == {"_id": 2, "customer": {"tier__string": "gold", "id": "legacy-7", "vip": True}, "n": 7}
    customer = guard.schema["properties"]["customer"]["properties"]
    assert customer["id"] == {"type": ["string", "null"]}  # the ObjectId annotation no longer holds
    assert customer["vip"] == {"type": ["boolean", "null"]}
    assert guard.schema["properties"]["n"] == {"type": ["integer", "null"]}


def test_split_never_renames_the_key() -> None:
    guard = _guard([{"_id": ObjectId()}], SPLIT)
    admitted, changed = guard.admit({"_id": "legacy"})
    assert admitted == {"_id": "legacy"}
    assert changed
    assert guard.schema["properties"]["_id"] == {"type": "string"}
    assert guard.schema["required"] == ["_id"]


def test_widen_makes_a_union_of_what_was_seen() -> None:
    guard = _guard([{"_id": 1, "address": "Main St 1", "when": datetime.datetime(2024, 1, 1, tzinfo=UTC)}], WIDEN)
    admitted, _ = guard.admit({"_id": 2, "address": {"city": "Oslo"}, "when": "pending"})
    assert admitted == {"_id": 2, "address": {"city": "Oslo"}, "when": "pending"}
    properties = guard.schema["properties"]
    assert properties["address"] == {
        "type": ["object", "string", "null"],
        "properties": {"city": {"type": ["string", "null"]}},
    }
    assert properties["when"] == {"type": ["string", "null"]}


def test_fail_names_stream_field_id_and_both_types() -> None:
    guard = _guard([{"_id": 1, "customer": {"tier": 1}}], FAIL)
    with pytest.raises(SchemaDriftError) as raised:
        guard.admit({"_id": 7, "customer": {"tier": "gold"}})
    message = str(raised.value)
    for part in ("'shop-orders'", "'customer.tier'", "_id 7", "is string", "declares integer"):
        assert part in message, message


def test_fail_still_declares_new_fields() -> None:
    guard = _guard([{"_id": 1, "a": 1}], FAIL)
    assert guard.admit({"_id": 2, "a": 2, "b": "new"}) == ({"_id": 2, "a": 2, "b": "new"}, True)
    assert guard.schema["properties"]["b"] == {"type": ["string", "null"]}


def test_an_array_field_widens_its_items() -> None:
    guard = _guard([{"_id": 1, "tags": ["a"], "lines": [{"sku": "x"}]}], SPLIT)
    admitted, changed = guard.admit({"_id": 2, "tags": ["b", 3], "lines": [{"sku": "y", "qty": 2}]})
    assert changed
    assert admitted["tags"] == ["b", 3]
    assert guard.schema["properties"]["tags"]["items"]["type"] == ["integer", "string", "null"]
    assert "qty" in guard.schema["properties"]["lines"]["items"]["properties"]


def test_extended_json_split_names_siblings_after_the_bson_wrapper() -> None:
    guard = _guard([{"_id": 1, "price": 5}], SPLIT, "extended_json")
    admitted, _ = guard.admit({"_id": 2, "price": Decimal128("5.25")})
    assert admitted == {"_id": 2, "price__numberDecimal": Decimal128("5.25")}


def test_merging_an_earlier_declaration_only_widens() -> None:
    run1 = infer_schema([{"_id": 1, "a": 1, "b": None}], "plain")
    run2 = infer_schema([{"_id": 1, "a": "x", "c": True, "b": "now typed"}], "plain")
    root = parse(run2)
    merge_into(root, parse(run1))
    merged = render_document(root, extended=False)
    assert merged["properties"]["a"]["type"] == ["integer", "string", "null"]
    assert merged["properties"]["b"] == run1["properties"]["b"]  # "anything" stays anything
    assert set(merged["properties"]) == {"_id", "a", "b", "c"}


def test_a_declared_timestamp_does_not_pass_a_plain_document_of_the_same_shape() -> None:
    guard = _guard([{"_id": 1, "ts": Timestamp(5, 1)}], SPLIT)
    _, changed = guard.admit({"_id": 2, "ts": {"t": 5, "i": 1}})
    assert changed
    assert "format" not in guard.schema["properties"]["ts"]  # no longer restored as a Timestamp


def test_every_bson_type_fits_the_schema_its_own_sample_declared() -> None:
    for encoding in ENCODINGS:
        document = every_type_document()
        guard = DriftGuard("s", parse(infer_schema([document], encoding)), ValueObserver(encoding), SPLIT)
        assert guard.admit(document) == (document, False)
        jsonschema.validate(ENCODERS[encoding](document), guard.schema)
