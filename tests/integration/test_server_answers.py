"""The server calls the connectors rely on answer as MongoDB documents them.

On the stand-in these pin down what `mongodb_common/standin.py` adds or corrects (streaming
cursors, `_id`-ordered reads, `$sample`, upsert results, `$setIntersection`, dates in
filters); with MONGODB_URI the same assertions run against the real server, so the
stand-in cannot drift from it unnoticed.
"""

from __future__ import annotations

import datetime
import typing as t

import bson
import pymongo
from bson.raw_bson import RawBSONDocument

if t.TYPE_CHECKING:
    from tests.support.deployment import Deployment

UTC = datetime.timezone.utc
RAW = bson.codec_options.CodecOptions(document_class=RawBSONDocument)


def _collection(deployment: Deployment) -> pymongo.collection.Collection:
    return deployment.database("answers")["things"]


def test_id_ordered_reads_filter_project_and_run_both_ways(deployment: Deployment) -> None:
    things = _collection(deployment)
    things.insert_many([{"_id": i if i % 3 else str(i), "n": i, "big": "x" * 100} for i in range(12)])
    ascending = [d["_id"] for d in things.find({}, sort=[("_id", 1)])]
    assert ascending == [1, 2, 4, 5, 7, 8, 10, 11, "0", "3", "6", "9"]  # numbers sort before strings
    assert [d["_id"] for d in things.find({"_id": {"$gt": 5}}, sort=[("_id", 1)])] == [7, 8, 10, 11]
    descending = list(things.find({"n": {"$gte": 9}}, {"big": 0}, sort=[("_id", -1)]))
    assert descending == [{"_id": "9", "n": 9}, {"_id": 11, "n": 11}, {"_id": 10, "n": 10}]


def test_a_cursor_is_alive_until_it_is_exhausted(deployment: Deployment) -> None:
    things = _collection(deployment)
    things.insert_many([{"_id": i} for i in range(3)])
    cursor = things.find({}, sort=[("_id", 1)])
    assert next(cursor) == {"_id": 0}
    assert cursor.alive
    assert [d["_id"] for d in cursor] == [1, 2]
    assert not cursor.alive


def test_sample_draws_distinct_documents_and_never_more_than_exist(deployment: Deployment) -> None:
    things = _collection(deployment)
    things.insert_many([{"_id": i} for i in range(50)])
    drawn = [d["_id"] for d in things.aggregate([{"$sample": {"size": 10}}])]
    assert len(drawn) == len(set(drawn)) == 10
    assert sorted(d["_id"] for d in things.aggregate([{"$sample": {"size": 500}}])) == list(range(50))


def test_replace_upserts_report_what_they_inserted_and_replaced(deployment: Deployment) -> None:
    things = _collection(deployment)
    things.insert_one({"_id": 1, "v": "old"})
    raw = RawBSONDocument(bson.encode({"_id": 2, "v": "raw"}), codec_options=RAW)
    result = things.bulk_write(
        [
            pymongo.ReplaceOne({"_id": 1}, {"v": "new"}, upsert=True),
            pymongo.ReplaceOne({"_id": 2}, raw, upsert=True),
            pymongo.ReplaceOne({"_id": 3}, {"v": "three"}, upsert=True),
            pymongo.ReplaceOne({"_id": 3}, {"v": "three again"}, upsert=True),
        ],
        ordered=True,
    )
    assert (result.matched_count, result.upserted_count) == (2, 2)
    assert result.upserted_ids == {1: 2, 2: 3}
    assert list(things.find({}, sort=[("_id", 1)])) == [
        {"_id": 1, "v": "new"},
        {"_id": 2, "v": "raw"},
        {"_id": 3, "v": "three again"},
    ]


def test_insert_many_takes_raw_bson(deployment: Deployment) -> None:
    things = _collection(deployment)
    things.insert_many([RawBSONDocument(bson.encode({"_id": i, "v": i}), codec_options=RAW) for i in range(3)])
    assert things.count_documents({"v": {"$gte": 1}}) == 2


def test_set_intersection_keeps_the_first_arrays_order(deployment: Deployment) -> None:
    things = _collection(deployment)
    things.insert_one({"_id": 1, "ids": [b"c", b"a", b"b", b"a"]})
    pipeline = [{"$project": {"_id": 0, "common": {"$setIntersection": ["$ids", {"$literal": [b"a", b"c", b"z"]}]}}}]
    (answer,) = list(things.aggregate(pipeline))
    assert sorted(answer["common"]) == [b"a", b"c"]  # a set: the server promises no order


def test_dates_match_by_equality_whatever_their_time_zone_form(deployment: Deployment) -> None:
    things = _collection(deployment)
    day = datetime.datetime(2024, 5, 1, tzinfo=UTC)
    things.insert_one({"_id": 1, "day": day})
    assert things.count_documents({"day": day}) == 1
    assert things.count_documents({"day": datetime.datetime(2024, 5, 1)}) == 1  # naive means UTC
    assert things.count_documents({"day": day.astimezone(datetime.timezone(datetime.timedelta(hours=2)))}) == 1
    assert things.delete_one({"day": day, "_id": 1}).deleted_count == 1
