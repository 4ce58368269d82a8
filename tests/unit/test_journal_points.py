"""Which write concern a batch's writes take before its journaled last write (journal_points.py)."""

from __future__ import annotations

import pymongo
from pymongo.topology_description import TOPOLOGY_TYPE
from pymongo.write_concern import WriteConcern

from target_mongodb.journal_points import repeatable, unjournaled


def test_journaled_concerns_lose_only_j_except_on_sharded_clusters() -> None:
    journaled = WriteConcern(w="majority", j=True)
    assert unjournaled(journaled, TOPOLOGY_TYPE.ReplicaSetWithPrimary) == WriteConcern(w="majority")
    assert unjournaled(WriteConcern(w=1, j=True), TOPOLOGY_TYPE.Single) == WriteConcern(w=1)
    assert unjournaled(journaled, TOPOLOGY_TYPE.Sharded) is None  # one shard's journal covers no other's
    assert unjournaled(WriteConcern(w="majority", j=False), TOPOLOGY_TYPE.ReplicaSetWithPrimary) is None


def test_only_batches_of_repeatable_writes_end_with_a_repeat() -> None:
    upsert = pymongo.ReplaceOne({"_id": 1}, {"_id": 1}, upsert=True)
    delete = pymongo.DeleteOne({"_id": 2})
    assert repeatable([upsert, delete])
    assert not repeatable([upsert])  # one write: journaled as it is, no repeat needed
    assert not repeatable([upsert, pymongo.InsertOne({"_id": 3})])
