"""Bookmarks keep the BSON type of the key through a JSON STATE round trip."""

from __future__ import annotations

import datetime
import json

import pytest
from bson import Decimal128, Int64, MaxKey, MinKey, ObjectId, Timestamp
from bson.datetime_ms import DatetimeMS

from tap_mongodb import bookmarks

UTC = datetime.timezone.utc

KEY_VALUES = [
    ObjectId("6630c2f0a1b2c3d4e5f60718"),
    datetime.datetime(2024, 5, 1, 10, 0, 0, 123000, tzinfo=UTC),
    datetime.datetime(1950, 5, 1, tzinfo=UTC),
    DatetimeMS(253_402_300_800_000),
    7,
    Int64(7),
    Int64(2**63 - 1),
    1.5,
    Decimal128("10.000000000000000000000000000001"),
    "2024-05-01",
    Timestamp(1_700_000_000, 3),
    True,
    None,
    MinKey(),
    MaxKey(),
]


@pytest.mark.parametrize("value", KEY_VALUES, ids=[f"{type(v).__name__}:{v!r}"[:40] for v in KEY_VALUES])
def test_replication_key_value_round_trips_with_its_type(value: object) -> None:
    state: dict[str, object] = {}
    bookmarks.write_replication_key_value(state, "updated_at", value)
    restored_state = json.loads(json.dumps(state))  # what the next run reads from Meltano
    restored = bookmarks.read_replication_key_value(restored_state, "updated_at")
    assert type(restored) is type(value)
    assert restored == value or (isinstance(value, Decimal128) and str(restored) == str(value))


def test_bookmark_of_another_replication_key_is_ignored() -> None:
    state: dict[str, object] = {}
    bookmarks.write_replication_key_value(state, "updated_at", 5)
    assert not bookmarks.has_bookmark(bookmarks.read_replication_key_value(state, "created_at"))


def test_null_key_value_is_a_bookmark_not_an_absent_one() -> None:
    state: dict[str, object] = {}
    bookmarks.write_replication_key_value(state, "k", None)
    assert bookmarks.has_bookmark(bookmarks.read_replication_key_value(state, "k"))


def test_full_table_progress_round_trips_and_clears_when_finished() -> None:
    state: dict[str, object] = {}
    bookmarks.start_full_table(state, 1000)
    bookmarks.write_full_table_progress(state, 1000, Int64(42))
    version, last_id = bookmarks.read_full_table_progress(json.loads(json.dumps(state)))
    assert version == 1000
    assert type(last_id) is Int64
    assert last_id == 42
    bookmarks.finish_full_table(state)
    assert bookmarks.read_full_table_progress(state) == (None, bookmarks.NO_BOOKMARK)
