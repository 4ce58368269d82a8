"""Resume filters take every later type bracket, never only the bookmark's own."""

from __future__ import annotations

from bson import ObjectId

from tap_mongodb.queries import after_filter, before_bracket_filter


def test_after_a_number_takes_greater_numbers_and_every_later_type() -> None:
    query = after_filter("_id", 5, inclusive=False)
    clauses = query["$or"]
    assert clauses[0] == {"_id": {"$gt": 5}}
    aliases = [c["_id"]["$type"] for c in clauses[1:]]
    assert aliases[:3] == ["string", "symbol", "object"]
    assert "objectId" in aliases
    assert "maxKey" in aliases
    assert "number" not in aliases
    assert "null" not in aliases


def test_inclusive_uses_gte() -> None:
    query = after_filter("k", ObjectId("6630c2f0a1b2c3d4e5f60718"), inclusive=True)
    assert query["$or"][0] == {"k": {"$gte": ObjectId("6630c2f0a1b2c3d4e5f60718")}}


def test_after_null_has_no_comparison_clause() -> None:
    query = after_filter("_id", None, inclusive=False)
    assert all("$type" in clause["_id"] for clause in query["$or"])


def test_before_bracket_includes_missing_fields_and_earlier_types_only() -> None:
    query = before_bracket_filter("k", "text")
    assert query["$or"][0] == {"k": {"$exists": False}}
    assert [c["k"]["$type"] for c in query["$or"][1:]] == ["minKey", "null", "undefined", "number"]


def test_a_known_highest_bracket_drops_the_clauses_of_later_ones() -> None:
    from mongodb_common.bson_codec.type_order import NUMBER, OBJECT_ID

    assert after_filter("k", 5, inclusive=True, highest_bracket=NUMBER) == {"k": {"$gte": 5}}
    clauses = after_filter("k", 5, inclusive=True, highest_bracket=OBJECT_ID)["$or"]
    assert [c["k"].get("$type") for c in clauses[1:]][-1] == "objectId"
    assert "bool" not in [c["k"].get("$type") for c in clauses[1:]]


def test_a_highest_bracket_below_the_bookmarks_keeps_the_range() -> None:
    from mongodb_common.bson_codec.type_order import NULL

    assert after_filter("k", "m", inclusive=False, highest_bracket=NULL) == {"k": {"$gt": "m"}}
