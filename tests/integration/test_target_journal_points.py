"""A batch of upserts written with `w` alone, then made durable by its last write repeated with `j: true`."""

from __future__ import annotations

import typing as t

from tests.support import command_counting
from tests.support.singer_io import record_message, run_target, schema_message, state_message

if t.TYPE_CHECKING:
    import pytest

    from tests.support.deployment import Deployment

SCHEMA = schema_message("shop-orders", {"_id": {"type": "integer"}, "email": {"type": "string"}}, ["_id"])


def _config(deployment: Deployment, **settings: t.Any) -> dict[str, t.Any]:
    return deployment.config(database=deployment.db_name("dest"), **settings)


def _record_writes(counter: command_counting.CommandCounter, collection: str) -> list[tuple[str, t.Any, t.Any]]:
    """(command, its write concern, its operations) of every write to `collection`, in order."""
    writes = []
    for name, command in counter.commands:
        if name in {"insert", "update", "delete"} and command.get(name) == collection:
            operations = command.get("documents") or command.get("updates") or command.get("deletes")
            writes.append((name, command.get("writeConcern"), list(operations)))
    return writes


def test_an_upsert_batch_is_written_unjournaled_then_its_last_write_again_journaled(
    deployment: Deployment, monkeypatch: pytest.MonkeyPatch
) -> None:
    counter = command_counting.install(monkeypatch)
    records = [record_message("shop-orders", {"_id": i, "email": f"{i}@x"}) for i in range(6)]
    states = run_target(_config(deployment), [SCHEMA, *records, state_message({"n": 1})])
    writes = _record_writes(counter, "shop-orders")
    assert [(name, concern) for name, concern, _ops in writes] == [
        ("update", {"w": "majority"}),
        ("update", {"w": "majority", "j": True}),
    ]
    assert len(writes[0][2]) == 6
    assert writes[1][2] == [writes[0][2][-1]]  # the last upsert, the same again
    assert states == [{"n": 1}]
    stored = list(deployment.database("dest")["shop-orders"].find({}, sort=[("_id", 1)]))
    assert stored == [{"_id": i, "email": f"{i}@x"} for i in range(6)]


def test_inserts_and_unjournaled_settings_keep_one_write_per_batch(
    deployment: Deployment, monkeypatch: pytest.MonkeyPatch
) -> None:
    counter = command_counting.install(monkeypatch)
    records = [record_message("shop-orders", {"_id": i, "email": f"{i}@x"}) for i in range(4)]
    run_target(_config(deployment, load_method="append-only"), [SCHEMA, *records])
    assert [(n, c) for n, c, _ in _record_writes(counter, "shop-orders")] == [("insert", {"w": "majority", "j": True})]

    counter.clear()
    run_target(_config(deployment, write_concern_journal=False), [SCHEMA, *records])
    assert [(n, c) for n, c, _ in _record_writes(counter, "shop-orders")] == [("update", {"w": "majority", "j": False})]


def test_the_journaled_repeat_is_of_the_last_write_the_server_took(
    deployment: Deployment, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The batch's last upsert is refused (a unique index): the repeat is the one before it."""
    destination = deployment.database("dest")["shop-orders"]
    destination.create_index("email", unique=True)
    destination.insert_one({"_id": 100, "email": "taken@x"})
    counter = command_counting.install(monkeypatch)
    records = [
        record_message("shop-orders", {"_id": 1, "email": "1@x"}),
        record_message("shop-orders", {"_id": 2, "email": "2@x"}),
        record_message("shop-orders", {"_id": 3, "email": "taken@x"}),
    ]
    run_target(_config(deployment, on_invalid_record="dead_letter"), [SCHEMA, *records])
    writes = _record_writes(counter, "shop-orders")
    assert [(name, concern) for name, concern, _ops in writes] == [
        ("update", {"w": "majority"}),
        ("update", {"w": "majority", "j": True}),
    ]
    assert writes[1][2] == [writes[0][2][1]]  # _id 2's upsert, not the refused one
    rejected = list(deployment.database("dest")["_sdc_rejected_records"].find())
    assert len(rejected) == 1
    assert sorted(doc["_id"] for doc in destination.find()) == [1, 2, 100]
