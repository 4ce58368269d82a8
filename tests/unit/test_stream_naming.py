"""`safe_stream_names`: SQL-safe, length-limited, stable and collision-free stream names."""

from __future__ import annotations

import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tap_mongodb.stream_naming import (
    MAX_IDENTIFIER_LENGTH,
    StreamNameClashError,
    check_unique,
    child_stream_name,
    digest,
    stream_name,
)

SAFE_IDENTIFIER = re.compile(r"[a-z_][a-z0-9_]*")

# Names as MongoDB allows them, biased towards the ones that clash once lower-cased and cleaned.
tricky = st.text(alphabet="aAbB_-. 1$é日", min_size=1, max_size=8)
long = st.builds(lambda head, tail: head * 30 + tail, st.sampled_from(["x", "X", "_", "a-"]), tricky)
names = st.one_of(tricky, long, st.text(min_size=1, max_size=80).filter(lambda n: "\x00" not in n))
paths = st.lists(st.one_of(tricky, long), min_size=1, max_size=4).map("__".join)


def assert_safe(name: str) -> None:
    schema, separator, table = name.partition("-")
    assert separator, name
    for part in (schema, table):
        assert SAFE_IDENTIFIER.fullmatch(part), name
        assert len(part) <= MAX_IDENTIFIER_LENGTH, name


@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(st.tuples(names, names), min_size=1, max_size=12, unique=True),
    st.lists(st.tuples(st.integers(0, 11), paths), max_size=12, unique=True),
)
def test_every_collection_and_array_gets_its_own_safe_name(
    collections: list[tuple[str, str]], arrays: list[tuple[int, str]]
) -> None:
    sources: dict[str, tuple[str, ...]] = {}
    for database, collection in collections:
        sources.setdefault(stream_name(database, collection, safe=True), (database, collection))
    for index, suffix in arrays:
        database, collection = collections[index % len(collections)]
        sources.setdefault(child_stream_name(database, collection, suffix, safe=True), (database, collection, suffix))
    # Injective: as many names as sources (setdefault keeps the first; a clash would lose one).
    expected = set(collections) | {(*collections[index % len(collections)], suffix) for index, suffix in arrays}
    assert set(sources.values()) == expected
    for name in sources:
        assert_safe(name)


@given(names, names, paths)
def test_child_streams_land_in_their_parents_schema(database: str, collection: str, suffix: str) -> None:
    parent_schema = stream_name(database, collection, safe=True).partition("-")[0]
    assert child_stream_name(database, collection, suffix, safe=True).partition("-")[0] == parent_schema


@pytest.mark.parametrize(
    ("database", "collection", "expected"),
    [
        ("shop", "orders", "shop-orders"),  # already safe: unchanged
        ("shop", "Shipments.EU", "shop-shipments_eu_6ca81e12"),  # the example in docs/nested-data.md
        ("shop", "Orders", f"shop-orders_{digest('Orders')}"),
        ("Shop-EU", "order lines", f"shop_eu_{digest('Shop-EU')}-order_lines_{digest('order lines')}"),
        ("shop", "2024.sales", f"shop-n2024_sales_{digest('2024.sales')}"),
        ("shop", "orders__archive", f"shop-orders_archive_{digest('orders__archive')}"),
        ("shop", "日本", f"shop-_{digest('日本')}"),
        ("t1a2b3c4d_shop", "events_deadbeef_v2", "t1a2b3c4d_shop-events_deadbeef_v2"),
        ("shop", "events_deadbeef", f"shop-events_deadbeef_{digest('events_deadbeef')}"),  # looks hashed
    ],
)
def test_names_are_kept_when_safe_and_otherwise_cleaned_with_a_hash(
    database: str, collection: str, expected: str
) -> None:
    assert stream_name(database, collection, safe=True) == expected


def test_long_names_are_cut_to_63_and_child_streams_keep_their_array_path_readable() -> None:
    collection = "shipment_events_" + "x" * 54
    parent = stream_name("shop", collection, safe=True).partition("-")[2]
    child = child_stream_name("shop", collection, "legs", safe=True).partition("-")[2]
    assert len(parent) == len(child) == MAX_IDENTIFIER_LENGTH
    assert parent == f"{collection[:54]}_{digest(collection)}"
    assert child.startswith(collection[:40])
    assert child.endswith("__legs")
    assert child_stream_name("shop", "orders", "items__tags", safe=True) == "shop-orders__items__tags"


def test_without_the_setting_names_are_the_namespace() -> None:
    assert stream_name("Shop", "My Orders", safe=False) == "Shop-My Orders"
    assert child_stream_name("Shop", "My Orders", "Items", safe=False) == "Shop-My Orders__Items"


def test_a_clash_is_refused_naming_both_sources() -> None:
    check_unique([("a-b", "collection a.b"), ("a-c", "collection a.c"), ("a-b", "collection a.b")])
    with pytest.raises(StreamNameClashError, match=r"collection a\.b and collection A\.b would both be stream"):
        check_unique([("a-b", "collection a.b"), ("a-b", "collection A.b")])
