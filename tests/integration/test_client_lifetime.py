"""Every MongoClient the tap and target open is closed by the end of what they were asked to do.

A client left for the garbage collector keeps its monitor threads and sockets until then, and
warns (ResourceWarning) when collected. Here each client the connectors make is recorded, and
a recorded client still usable afterwards is one that was left open.
"""

from __future__ import annotations

import io
import typing as t

import pytest
from pymongo.errors import InvalidOperation

from tap_mongodb import tap as tap_module
from tap_mongodb.tap import TapMongoDB
from target_mongodb import target as target_module
from target_mongodb.target import TargetMongoDB
from tests.support.singer_io import record_message, schema_message, singer_lines, state_message

if t.TYPE_CHECKING:
    import pymongo

    from tests.support.deployment import Deployment


def _record_clients(monkeypatch: pytest.MonkeyPatch, module: t.Any) -> list[pymongo.MongoClient]:
    """The clients `module` makes from now on, through its `connect`."""
    made: list[pymongo.MongoClient] = []
    original = module.connect

    def connect(*args: t.Any, **kwargs: t.Any) -> pymongo.MongoClient:
        client = original(*args, **kwargs)
        made.append(client)
        return client

    monkeypatch.setattr(module, "connect", connect)
    return made


def _open(clients: list[pymongo.MongoClient]) -> list[pymongo.MongoClient]:
    still_open = []
    for client in clients:
        try:
            client.admin.command("ping")
        except InvalidOperation:  # "Cannot use MongoClient after close"
            continue
        still_open.append(client)
        client.close()  # (the test fails below; leave nothing behind)
    return still_open


def test_a_tap_made_only_to_discover_holds_no_open_client(
    deployment: Deployment, monkeypatch: pytest.MonkeyPatch
) -> None:
    deployment.database("shop").orders.insert_many([{"_id": i} for i in range(3)])
    clients = _record_clients(monkeypatch, tap_module)
    tap = TapMongoDB(config=deployment.config())  # discovers, as --about or a test suite would, then is dropped
    assert f"{deployment.prefix}shop-orders" in tap.streams
    assert clients, "discovery made no client"
    assert not _open(clients)


def test_a_tap_connects_again_for_a_dry_run_after_discovery_and_closes_that_client_too(
    deployment: Deployment, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    deployment.database("shop").orders.insert_many([{"_id": i} for i in range(3)])
    clients = _record_clients(monkeypatch, tap_module)
    tap = TapMongoDB(config=deployment.config())
    assert tap.run_sync_dry_run(dry_run_record_limit=2)
    assert '"type":"RECORD"' in capsys.readouterr().out
    assert len(clients) == 2, "the dry run did not connect anew after discovery closed its client"
    assert not _open(clients)


def test_a_target_fed_line_by_line_closes_its_client_at_the_end_of_the_input(
    deployment: Deployment, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    clients = _record_clients(monkeypatch, target_module)
    target = TargetMongoDB(config=deployment.config(database=deployment.db_name("dst")))
    lines = singer_lines(
        [
            schema_message("orders", {"_id": {"type": "integer"}}, ["_id"]),
            *[record_message("orders", {"_id": i}) for i in range(3)],
            state_message({"done": True}),
        ]
    )
    # As the SDK's test runner drives a target: no `listen`.
    target.process_lines(io.StringIO(lines))
    target.process_endofpipe()
    assert '{"done": true}' in capsys.readouterr().out
    assert deployment.database("dst").orders.count_documents({}) == 3
    assert len(clients) == 1
    assert not _open(clients)


def test_a_target_whose_input_fails_midway_closes_its_client(
    deployment: Deployment, monkeypatch: pytest.MonkeyPatch
) -> None:
    clients = _record_clients(monkeypatch, target_module)
    target = TargetMongoDB(config=deployment.config(database=deployment.db_name("dst")))
    lines = singer_lines(
        [
            # A key other than _id: the target connects at the SCHEMA, to create its unique index.
            schema_message("orders", {"k": {"type": "integer"}, "n": {"type": "integer"}}, ["k"]),
            record_message("orders", {"k": 1, "n": 1}),
            record_message("orders", {"n": 2}),  # no key
        ]
    )
    with pytest.raises(Exception, match="'k'"):
        target.process_lines(io.StringIO(lines))
    assert len(clients) == 1
    assert not _open(clients)
