"""A batch made durable by one journaled write at its end, instead of journaling every write.

With `write_concern_journal` (the default) every write must be in the server's on-disk
journal before a STATE message follows it. `j: true` on a write makes MongoDB sync its journal
files for it, and the journal is one sequential log per server: the sync covers every write
the server made before, so a batch written with `w` alone and then one write with `w` and
`j: true` is as durable as the batch written with `j: true` throughout. Servers that
journal each operation of a `j: true` bulk write one by one (SecantusDB does, at about twice
the cost of an unjournaled upsert) then pay for one sync per batch.

The journaled write repeats the batch's last write that arrived, so it adds nothing: only
batches whose every write can be repeated (upserts, replacements, deletes, soft deletes; not
inserts) are written so. Both writes are one unit: whatever fails in between, the retry
writes the whole batch again, so the journaled write never follows a lost one. On a sharded
cluster a batch spans shards, and one shard's journal says nothing of another's: there every
write keeps `j: true` (`unjournaled`).
"""

from __future__ import annotations

import typing as t

import pymongo
import pymongo.errors
from pymongo.topology_description import TOPOLOGY_TYPE
from pymongo.write_concern import WriteConcern

if t.TYPE_CHECKING:
    from pymongo.collection import Collection


class JournalPointError(pymongo.errors.PyMongoError):
    """The journaled repeat of a write that had arrived was refused: the batch is not known durable."""


def unjournaled(concern: WriteConcern, topology_type: int) -> WriteConcern | None:
    """`w` alone, where a batch's journaled last write can make the batch durable; else None.

    None without `j: true` (nothing to wait for) and on a sharded cluster (`mongos`).
    """
    if not concern.document.get("j") or topology_type == TOPOLOGY_TYPE.Sharded:
        return None
    return WriteConcern(w=concern.document["w"])


def repeatable(operations: t.Sequence[t.Any]) -> bool:
    """Every write of the batch can be written again with the same result (no insert)."""
    return len(operations) > 1 and not any(isinstance(operation, pymongo.InsertOne) for operation in operations)


def write_journal_point(
    journaled: Collection, operations: t.Sequence[t.Any], failure: pymongo.errors.BulkWriteError | None
) -> None:
    """Repeat the batch's last write that arrived (none refused by `failure`), with `j: true`."""
    refused = {error["index"] for error in (failure.details.get("writeErrors", []) if failure else [])}
    last = next((index for index in reversed(range(len(operations))) if index not in refused), None)
    if last is None:
        return  # nothing arrived: nothing to make durable
    try:
        journaled.bulk_write([operations[last]], ordered=False)
    except pymongo.errors.BulkWriteError as exc:
        errors = exc.details.get("writeErrors") or exc.details.get("writeConcernErrors") or [{}]
        msg = f"the journaled repeat of a batch's write {last + 1} failed: {errors[0].get('errmsg', exc)}"
        raise JournalPointError(msg) from None
