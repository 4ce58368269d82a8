"""ACTIVATE_VERSION costs work linear in the number of documents, and survives being cut short.

The daily case: a second FULL_TABLE sync into a destination that already holds the data.
No time is measured (the machine is shared); what activation asks of the server is counted
instead, through a CommandListener: commands, documents they return, the largest array any
command carries. Linear means: a bounded number of commands and returned documents per
thousand documents, however many there are.
"""

from __future__ import annotations

import typing as t

import pymongo
import pytest

from target_mongodb import version_ledger, write_operations
from tests.support import command_counting
from tests.support.singer_io import record_message, run_target, schema_message

if t.TYPE_CHECKING:
    from tests.support.deployment import Deployment

SCHEMA_PROPERTIES = {"_id": {"type": "integer"}, "name": {"type": "string"}}


def _sync(stream: str, version: int, ids: t.Iterable[int], *, activate: bool = True) -> t.Iterator[dict[str, t.Any]]:
    yield schema_message(stream, SCHEMA_PROPERTIES, ["_id"])
    for i in ids:
        yield record_message(stream, {"_id": i, "name": f"document {i} of version {version}"}, version=version)
    if activate:
        yield {"type": "ACTIVATE_VERSION", "stream": stream, "version": version}


def _activate(stream: str, version: int) -> list[dict[str, t.Any]]:
    return [
        schema_message(stream, SCHEMA_PROPERTIES, ["_id"]),
        {"type": "ACTIVATE_VERSION", "stream": stream, "version": version},
    ]


def _largest_array(value: t.Any) -> int:
    if isinstance(value, dict):
        return max((_largest_array(item) for item in value.values()), default=0)
    if isinstance(value, (list, tuple)):
        return max([len(value), *(_largest_array(item) for item in value)])
    return 0


def _check_second_sync(deployment: Deployment, stream: str, count: int) -> None:
    collection = deployment.database("dest")[stream]
    assert collection.count_documents({}) == count - count // 10
    assert collection.count_documents({"_id": {"$mod": [10, 0]}}) == 0
    assert collection.count_documents({"name": {"$regex": "of version 1$"}}) == 0
    ledger = deployment.database("dest")[version_ledger.LEDGER_COLLECTION]
    entries = ledger.count_documents({"_id": {"$gt": stream + "\x00", "$lt": stream + "\x01"}})
    assert entries == count - count // 10  # only version 2's


def _activation_through_the_target(
    deployment: Deployment, monkeypatch: pytest.MonkeyPatch, stream: str, count: int
) -> command_counting.CommandCounter:
    """Load `count` documents, re-sync without every tenth, count what the activation sends."""
    config = deployment.config(database=deployment.db_name("dest"))
    run_target(config, _sync(stream, 1, range(count)))
    run_target(config, _sync(stream, 2, (i for i in range(count) if i % 10), activate=False))
    counter = command_counting.install(monkeypatch)
    run_target(config, _activate(stream, 2))
    monkeypatch.undo()
    _check_second_sync(deployment, stream, count)
    return counter


def _activation_of_a_seeded_destination(
    deployment: Deployment, monkeypatch: pytest.MonkeyPatch, stream: str, count: int
) -> command_counting.CommandCounter:
    """The same state, written directly (documents, and ledger entries as the target writes them)."""
    database = deployment.database("dest")
    ids = range(count)
    database[stream].insert_many(
        [{"_id": i, "name": f"document {i} of version {1 if i % 10 == 0 else 2}"} for i in ids]
    )
    ledger = database[version_ledger.LEDGER_COLLECTION]
    identity = write_operations.identity_of_values
    for version, written in ((1, ids), (2, [i for i in ids if i % 10])):
        entries = version_ledger.ledger_entries(stream, [(version, identity([i])) for i in written])
        for start in range(0, len(entries), 10_000):
            version_ledger.write_entries(ledger, entries[start : start + 10_000])
    counter = command_counting.install(monkeypatch)
    run_target(deployment.config(database=deployment.db_name("dest")), _activate(stream, 2))
    monkeypatch.undo()
    _check_second_sync(deployment, stream, count)
    return counter


def test_activation_after_a_second_full_sync_is_linear_in_the_documents(
    deployment: Deployment, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Ten thousand, and no more: the test server takes about a millisecond a delete. Ten times
    # the documents shows the growth: quadratic work would be a hundred times, not ten.
    small = _activation_through_the_target(deployment, monkeypatch, "small", 1_000)
    large = _activation_of_a_seeded_destination(deployment, monkeypatch, "large", 10_000)

    for counter, count in ((small, 1_000), (large, 10_000)):
        names = counter.by_name()
        assert "aggregate" not in names  # no server-side set operations
        assert max(_largest_array(command) for _name, command in counter.commands) <= 1_000
        # The ledger holds 1.9 entries per document (both versions); each is read once.
        assert counter.documents_returned <= 2 * count + 100
        # Deletes of documents and of ledger entries, a thousand a command, plus cursor batches.
        assert len(counter.commands) <= 3 * count / 1_000 + 20, names

    # Ten times the documents: about ten times the work, never a hundred.
    assert len(large.commands) <= 10 * len(small.commands)
    assert large.documents_returned <= 11 * small.documents_returned


class _CrashError(RuntimeError):
    """Stands for the target process dying (not a transient fault: it is not retried)."""


def test_activation_cut_short_is_completed_by_the_next_run(
    deployment: Deployment, monkeypatch: pytest.MonkeyPatch
) -> None:
    stream = "orders"
    config = deployment.config(database=deployment.db_name("dest"))
    run_target(config, _sync(stream, 1, range(2_500)))
    run_target(config, _sync(stream, 2, range(2_000, 2_500), activate=False))

    # Die after the first thousand documents are removed, before their ledger entries go.
    original = pymongo.collection.Collection.bulk_write

    def bulk_write(self: pymongo.collection.Collection, *args: t.Any, **kwargs: t.Any) -> t.Any:
        if self.name == version_ledger.LEDGER_COLLECTION:
            raise _CrashError
        return original(self, *args, **kwargs)

    monkeypatch.setattr(pymongo.collection.Collection, "bulk_write", bulk_write)
    with pytest.raises(_CrashError):
        run_target(config, _activate(stream, 2))
    monkeypatch.undo()
    collection = deployment.database("dest")[stream]
    assert 0 < collection.count_documents({"_id": {"$lt": 2_000}}) < 2_000  # cut short midway

    run_target(config, _activate(stream, 2))
    assert sorted(d["_id"] for d in collection.find({}, {"_id": 1})) == list(range(2_000, 2_500))
    ledger = deployment.database("dest")[version_ledger.LEDGER_COLLECTION]
    assert sorted(entry["_id"].rsplit("\x00", 1)[1] for entry in ledger.find()) == ["2"] * 500
