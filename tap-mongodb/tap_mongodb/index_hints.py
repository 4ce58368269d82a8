"""Naming the `_id` index for reads in `_id` order.

mongod's planner reads `_id` order from the `_id` index without being told. Other servers
speaking the protocol may not: SecantusDB, for one, plans a full-table read sorted on `_id`
as a collection scan and an in-memory sort, so the first batch waits for every document to
be sorted (20,000 documents of 1.6 KB: about 2 s of its 5 s). Naming the index costs nothing
where the planner would pick it anyway. Views and time-series collections are read without
a hint, and a server that refuses one (a collection without an `_id` index, such as a
capped collection created with `autoIndexId: false` before MongoDB 4.0) is read without it.
"""

from __future__ import annotations

import pymongo
import pymongo.errors

ID_INDEX = [("_id", pymongo.ASCENDING)]
_BAD_VALUE = 2  # mongod: "hint provided does not correspond to an existing index"


def refuses_hint(error: pymongo.errors.OperationFailure) -> bool:
    """True when the server rejected the query because of its index hint."""
    return error.code == _BAD_VALUE and "hint" in str(error).lower()
