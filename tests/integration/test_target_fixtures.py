"""Each Singer file of tests/fixtures/singer into target-mongodb: exactly what is stored, and the STATE.

Documents are compared as BSON bytes (read back raw), so a type (Int64 for int32, a double
for Decimal128) or a field order that differs fails the test.
"""

from __future__ import annotations

import dataclasses
import datetime
import typing as t
import uuid
from pathlib import Path

import bson
import pytest
from bson import Binary, Code, Decimal128, Int64, MaxKey, MinKey, ObjectId, Regex, Timestamp
from bson.codec_options import CodecOptions
from bson.raw_bson import RawBSONDocument

from tests.support.bson_samples import every_type_document
from tests.support.deployment import CODEC_OPTIONS
from tests.support.singer_io import run_target

if t.TYPE_CHECKING:
    from tests.support.deployment import Deployment

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "singer"
UTC = datetime.timezone.utc
WHEN = datetime.datetime(2024, 5, 1, 10, tzinfo=UTC)
RAW = CodecOptions(document_class=RawBSONDocument)


@dataclasses.dataclass
class Expected:
    collection: str
    documents: list[dict[str, t.Any]]  # in `_id` order, fields in stored order
    states: list[dict[str, t.Any]]


def _oid(last: str) -> ObjectId:
    return ObjectId("6630c2f0a1b2c3d4e5f607" + last)


def _plain_typed(i: int) -> dict[str, t.Any]:
    """The source documents of plain_encoded_records.singer (tap-mongodb `plain` encoding)."""
    return {
        "_id": _oid(f"1{i}"),
        "count": Int64(2**40 + i),
        "small": i,
        "ratio": 0.5 + i,
        "odd_double": float("nan") if i else 1.25,
        "amount": Decimal128(f"1234567890.12345678901234567890123{i}"),
        "created": datetime.datetime(2024, 5, 1, 10, i, tzinfo=UTC),
        "blob": Binary(b"\x00\x01" + bytes([i]), 5),
        "raw": b"\xff" + bytes([i]),
        "uid": Binary(uuid.UUID(f"12345678-1234-5678-1234-56781234567{i}").bytes, 4),
        "ts": Timestamp(1_700_000_000 + i, 1),
        "pattern": Regex("^a.*b$", "i"),
        "code": Code("function() { return 1; }"),
        "low": MinKey(),
        "high": MaxKey(),
        "nested": {"at": datetime.datetime(2024, 1, 1, tzinfo=UTC), "ids": [_oid(f"2{i}")]},
        "history": [{"at": datetime.datetime(2023, 12, 31, 23, 59, 59, 999000, tzinfo=UTC), "n": Int64(1)}],
    }


def _every_type(_id: t.Any = None) -> dict[str, t.Any]:
    """The source documents of extended_json_records.singer: every BSON type this server stores."""
    document = every_type_document(_id)
    for field in ("date_before_year_1", "date_after_9999"):  # outside the test server's years
        document.pop(field)
    return document


EXPECTED: dict[str, Expected] = {
    "type_widened_mid_stream": Expected(
        "shop-orders",
        [{"_id": 1, "qty": 10}, {"_id": 2, "qty": 21}, {"_id": 3, "qty": "a dozen"}, {"_id": 4, "qty": None}],
        [{"bookmarks": {"shop-orders": {"last_id": 4}}}],
    ),
    "new_property_mid_stream": Expected(
        "shop-orders",
        [
            {"_id": _oid("01"), "name": "first"},
            {"_id": _oid("02"), "name": "second", "shipped_at": WHEN, "weight": Int64(1200)},
            {"_id": _oid("03"), "name": "third", "shipped_at": None},
        ],
        [{"bookmarks": {"shop-orders": {"replication_key_value": "6630c2f0a1b2c3d4e5f60703"}}}],
    ),
    "new_nested_key_mid_stream": Expected(
        "shop-customers",
        [
            {"_id": 1, "address": {"city": "Lyon", "verified_at": None}},
            {
                "_id": 2,
                "address": {"city": "Oslo", "verified_at": WHEN, "geo": {"lat": Decimal128("59.9138688")}},
            },
        ],
        [{"bookmarks": {"shop-customers": {"last_id": 2}}}],
    ),
    "union_type_lists": Expected(
        "events",
        [
            {"_id": 1, "at": WHEN, "count": Int64(5), "ref": ObjectId("6630c2f0a1b2c3d4e5f60718"), "payload": {"n": 1}},
            {"_id": 2, "at": 1714557600, "count": "many", "ref": 42, "payload": "text"},
            {"_id": 3, "at": None, "count": None, "ref": 7, "payload": None},
        ],
        [{"events": "done"}],
    ),
    "union_any_of_one_of": Expected(
        "events",
        [
            # `label` has a plain string branch beside a date-time one: it stays a string.
            {"_id": 1, "at": WHEN, "label": "2024-05-01T10:00:00.000Z", "amount": 0.25, "tags": [WHEN]},
            {"_id": 2, "at": 7, "label": "plain", "amount": "n/a", "tags": None},
        ],
        [{"events": "done"}],
    ),
    "multiple_of_fraction": Expected(
        "prices",
        [
            {"_id": 1, "price": 19.99, "rate": 0.0725},
            {"_id": 2, "price": 0.01, "rate": 1},
            {"_id": 3, "price": 99999999.99, "rate": None},
            {"_id": 4, "price": 12, "rate": 0.1},
        ],
        [{"prices": "done"}],
    ),
    "open_property_schemas": Expected(
        "blobs",
        [
            {
                "_id": 1,
                "anything": {"a": [1, 2.5, "x", None, True]},
                "everything": "text",
                "list": [Int64(9), {"k": WHEN}],
                "list_true": [1, "two", [3]],
            },
            {
                "_id": 2,
                "anything": Decimal128("12345678901234567890"),
                "everything": ObjectId("6630c2f0a1b2c3d4e5f60718"),
                "list": None,
                "list_true": [],
            },
        ],
        [{"blobs": "done"}],
    ),
    "split_sibling_property": Expected(
        "shop-products",
        [
            {"_id": 1, "price": 110},
            {"_id": 2, "price": 250},
            {"_id": 3, "price__string": "call us"},
            {"_id": 4, "price__datetime": WHEN},
        ],
        [{"bookmarks": {"shop-products": {"last_id": 4}}}],
    ),
    "plain_encoded_records": Expected(
        "shop-typed", [_plain_typed(0), _plain_typed(1)], [{"bookmarks": {"shop-typed": {"done": True}}}]
    ),
    "extended_json_records": Expected(
        # Int64 2 sorts before the ObjectId of the first document.
        "shop-everything",
        [_every_type(Int64(2)), _every_type()],
        [{"bookmarks": {"shop-everything": {"done": True}}}],
    ),
    "extended_json_widened_mid_stream": Expected(
        "shop-ledger",
        [
            {"_id": 7, "n": Int64(9007199254740993), "at": "not a date, a string"},
            {"_id": _oid("31"), "n": 1, "at": WHEN},
            {"_id": _oid("32"), "n": 2, "at": datetime.datetime(1969, 12, 31, 23, 59, 59, tzinfo=UTC)},
        ],
        [{"bookmarks": {"shop-ledger": {"seen": 3}}}],
    ),
}


def test_every_fixture_file_has_an_expectation() -> None:
    assert sorted(path.stem for path in FIXTURES.glob("*.singer")) == sorted(EXPECTED)


def _stored(deployment: Deployment, collection: str) -> list[RawBSONDocument]:
    raw = deployment.database("dest").get_collection(collection, codec_options=RAW)
    return list(raw.find({}, sort=[("_id", 1)]))


@pytest.mark.parametrize("batch_size_rows", [10_000, 1], ids=["one-batch", "batch-per-record"])
@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_fixture_is_stored_exactly(deployment: Deployment, name: str, batch_size_rows: int) -> None:
    expected = EXPECTED[name]
    # Lines end at "\n" only: str.splitlines would also split inside strings holding U+2028.
    lines = [line for line in (FIXTURES / f"{name}.singer").read_text(encoding="utf-8").split("\n") if line]
    config = deployment.config(database=deployment.db_name("dest"), batch_size_rows=batch_size_rows)
    states = run_target(config, lines)

    stored = _stored(deployment, expected.collection)
    decoded = [bson.decode(document.raw, codec_options=CODEC_OPTIONS) for document in stored]
    assert [d["_id"] for d in decoded] == [d["_id"] for d in expected.documents]
    for got, want in zip(stored, expected.documents, strict=True):
        assert bson.decode(got.raw, codec_options=CODEC_OPTIONS).keys() == want.keys()
        assert got.raw == bson.encode(want), f"stored {bson.decode(got.raw, codec_options=CODEC_OPTIONS)!r}"
    assert states == expected.states

    # Loading the same input again leaves the destination as it was (idempotent upserts).
    assert run_target(config, lines) == expected.states
    assert [document.raw for document in _stored(deployment, expected.collection)] == [d.raw for d in stored]
