"""LOG_BASED against a real replica set (MONGODB_URI): initial sync with interleaved writes, then the log.

Skipped on the stand-in, which has neither change streams nor an oplog; the same flow runs
there with recorded server documents (tests/integration/test_tap_log_based.py).
"""

from __future__ import annotations

import typing as t

import pytest

from tap_mongodb.streams import CollectionStream
from tests.support.singer_io import discover, last_state, run_tap, run_target, select_streams

if t.TYPE_CHECKING:
    from tests.support.deployment import Deployment

pytestmark = [pytest.mark.replica_set, pytest.mark.e2e]


def _copy_equals_source(deployment: Deployment) -> bool:
    source = {d["_id"]: d for d in deployment.database("src").orders.find()}
    copied = {d["_id"]: d for d in deployment.database("dst").orders.find()}
    return source == copied


@pytest.mark.parametrize("log_method", ["change_streams", "oplog"])
def test_writes_during_and_after_the_initial_sync_all_arrive(
    deployment: Deployment, monkeypatch: pytest.MonkeyPatch, log_method: str
) -> None:
    orders = deployment.database("src").orders
    orders.insert_many([{"_id": i, "v": 0} for i in range(50)])
    tap_config = deployment.config(
        database_includes=[deployment.db_name("src")], bson_encoding="extended_json", log_method=log_method
    )
    target_config = deployment.config(database=deployment.db_name("dst"), collection_naming="strip_database_prefix")
    stream = f"{deployment.prefix}src-orders"
    catalog = select_streams(discover(tap_config), [stream], replication_method="LOG_BASED")

    original = CollectionStream._read_full_table

    def read_with_interleaved_writes(self: CollectionStream) -> t.Iterator[dict[str, t.Any]]:
        for n, record in enumerate(original(self)):
            if n == 10:  # writes the scan has passed, and writes it has not reached yet
                orders.update_one({"_id": 1}, {"$set": {"v": "during"}})
                orders.delete_one({"_id": 40})
                orders.insert_one({"_id": 100, "v": "during"})
            yield record

    monkeypatch.setattr(CollectionStream, "_read_full_table", read_with_interleaved_writes)
    first = run_tap(tap_config, catalog=catalog)
    run_target(target_config, first)
    assert _copy_equals_source(deployment)

    monkeypatch.setattr(CollectionStream, "_read_full_table", original)
    orders.update_one({"_id": 2}, {"$set": {"v": "after"}})
    orders.replace_one({"_id": 3}, {"replaced": True})
    orders.delete_one({"_id": 4})
    second = run_tap(tap_config, catalog=catalog, state=last_state(first))
    run_target(target_config, second)
    assert _copy_equals_source(deployment)

    third = run_tap(tap_config, catalog=catalog, state=last_state(second))
    assert [m for m in third if m["type"] == "RECORD"] == []
    assert last_state(third)["bookmarks"][stream]["log_position"] != {}
