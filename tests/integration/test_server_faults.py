"""Faults the server itself produces, on request: reads and writes retried, resumed, never lost or doubled.

A one-member server never steps down, loses its primary or kills a cursor by itself, so a
server of our own started with test commands enabled fails chosen commands of the
connector under test (`configureFailPoint` `failCommand`, scoped to its application name),
exactly as mongod answers during an election, a shutdown or a killed cursor. Lost
acknowledgements (the write applied, the reply never delivered) come from a real TCP proxy.

After a "not primary" kind of error the driver takes the server for unusable until its
next heartbeat answers, since an injected error, unlike a real step-down, does not make the
server announce a new topology at once: these tests connect with the shortest heartbeat
the driver allows (500 ms; the default would cost 10 s a fault), keep server selection
timeouts of 15 s for slow machines, and inject one such fault per read.
"""

from __future__ import annotations

import logging
import typing as t
import uuid

import pymongo
import pytest

from mongodb_common.retries import RetriesExhaustedError
from tests.support.fail_points import (
    CURSOR_NOT_FOUND,
    NOT_WRITABLE_PRIMARY,
    PRIMARY_STEPPED_DOWN,
    SHUTDOWN_IN_PROGRESS,
    fail_command,
)
from tests.support.server import SecantusServer
from tests.support.singer_io import (
    discover,
    last_state,
    record_message,
    records,
    run_tap,
    run_target,
    schema_message,
    select_streams,
)
from tests.support.tcp_proxy import TcpProxy

TAP_APP, TARGET_APP = "tap-mongodb", "target-mongodb"

# How each fault reaches the driver: a server error code, the connection closed on it, or
# a reply slower than the socket timeout.
READ_FAULTS: dict[str, dict[str, t.Any]] = {
    "NotWritablePrimary": {"errorCode": NOT_WRITABLE_PRIMARY},
    "PrimarySteppedDown": {"errorCode": PRIMARY_STEPPED_DOWN},
    "CursorNotFound": {"errorCode": CURSOR_NOT_FOUND},
    "ShutdownInProgress": {"errorCode": SHUTDOWN_IN_PROGRESS},
    "connection closed": {"closeConnection": True},
    "network timeout": {"blockConnection": True, "blockTimeMS": 3000},
}
# Settings a fault needs to show: the socket timeout that the blocked reply outlasts.
FAULT_SETTINGS: dict[str, dict[str, t.Any]] = {"network timeout": {"socket_timeout_ms": 1000}}


@pytest.fixture(scope="module")
def server() -> t.Iterator[SecantusServer]:
    with SecantusServer(extra_args=["--enable-test-commands"]) as running:
        yield running


@pytest.fixture
def admin(server: SecantusServer) -> t.Iterator[pymongo.MongoClient]:
    client: pymongo.MongoClient = pymongo.MongoClient(server.uri)
    yield client
    client.close()


@pytest.fixture
def database(admin: pymongo.MongoClient) -> t.Iterator[str]:
    name = f"f{uuid.uuid4().hex[:8]}"
    yield name
    admin.drop_database(name)
    admin.drop_database(f"{name}_dst")


def _uri(server: SecantusServer) -> str:
    """The server's URI with the shortest heartbeat the driver allows, so a fault costs ~0.5 s, not 10."""
    return f"{server.uri}?heartbeatFrequencyMS=500"


def _tap_config(server: SecantusServer, database: str, **settings: t.Any) -> dict[str, t.Any]:
    return {
        "mongodb_uri": _uri(server),
        "database_includes": [database],
        "cursor_batch_size": 5,
        "server_selection_timeout_ms": 15_000,
        "retry_backoff_seconds": 0,
        "max_retries": 4,
        **settings,
    }


def _retry_warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if "; retry 1 of" in r.getMessage()]


@pytest.mark.parametrize("fault", list(READ_FAULTS))
def test_full_table_read_survives_server_faults_and_resumes_where_it_was(
    server: SecantusServer,
    admin: pymongo.MongoClient,
    database: str,
    caplog: pytest.LogCaptureFixture,
    fault: str,
) -> None:
    admin[database].orders.insert_many([{"_id": i} for i in range(200)])
    # The driver does not retry a getMore by itself: the fault reaches the tap's retries.
    with (
        caplog.at_level(logging.WARNING),
        fail_command(admin, ["getMore"], app_name=TAP_APP, mode={"skip": 10, "times": 1}, **READ_FAULTS[fault]),
    ):
        messages = run_tap(_tap_config(server, database, **FAULT_SETTINGS.get(fault, {})))
    ids = [record["_id"] for record in records(messages)]
    assert ids == list(range(200)), "a retry lost, repeated or reordered documents"
    warnings = _retry_warnings(caplog)
    assert warnings, "the fault never reached the tap's retries"
    assert f"stream '{database}-orders', full-table read after _id" in warnings[0]


@pytest.mark.parametrize("fault", ["NotWritablePrimary", "connection closed"])
def test_a_fault_on_the_first_query_is_retried_too(
    server: SecantusServer,
    admin: pymongo.MongoClient,
    database: str,
    caplog: pytest.LogCaptureFixture,
    fault: str,
) -> None:
    admin[database].orders.insert_many([{"_id": i} for i in range(40)])
    # Twice in a row: the driver retries a find once by itself; the second failure reaches ours.
    with (
        caplog.at_level(logging.WARNING),
        fail_command(admin, ["find"], app_name=TAP_APP, mode={"times": 2}, **READ_FAULTS[fault]),
    ):
        messages = run_tap(_tap_config(server, database))
    assert [record["_id"] for record in records(messages)] == list(range(40))
    assert [message for message in _retry_warnings(caplog) if "full-table read from the start" in message]


@pytest.mark.parametrize("fault", ["PrimarySteppedDown", "CursorNotFound", "connection closed", "network timeout"])
def test_incremental_read_survives_server(
    server: SecantusServer, admin: pymongo.MongoClient, database: str, fault: str
) -> None:
    admin[database].orders.insert_many([{"_id": i, "k": i // 3} for i in range(150)])
    config = _tap_config(server, database, **FAULT_SETTINGS.get(fault, {}))
    stream = f"{database}-orders"
    catalog = select_streams(discover(config), [stream], replication_method="INCREMENTAL", replication_key="k")
    with fail_command(admin, ["getMore"], app_name=TAP_APP, mode={"skip": 6, "times": 1}, **READ_FAULTS[fault]):
        messages = run_tap(config, catalog=catalog)
    emitted = records(messages)
    assert {r["_id"] for r in emitted} == set(range(150))
    keys = [r["k"] for r in emitted]
    assert keys == sorted(keys), "a retry went back before the last key sent"
    assert len(emitted) - 150 <= 3, "more re-sent than the documents sharing the key at the fault"
    assert last_state(messages)["bookmarks"][stream]["replication_key_value"] == 49


def test_when_retries_run_out_the_error_names_stream_position_and_cause_and_state_stays_valid(
    server: SecantusServer, admin: pymongo.MongoClient, database: str
) -> None:
    admin[database].orders.insert_many([{"_id": i} for i in range(30)])
    stream = f"{database}-orders"
    config = _tap_config(server, database, max_retries=2, state_interval_records=5)
    failed: list[dict[str, t.Any]] = []
    # The first find and two getMores answer (15 documents); from then on every cursor is lost.
    with (
        fail_command(admin, ["find", "getMore"], app_name=TAP_APP, mode={"skip": 3}, errorCode=CURSOR_NOT_FOUND),
        pytest.raises(
            RetriesExhaustedError,
            match=rf"^stream '{stream}', full-table read after _id 14: gave up after 2 retries: "
            r"server error 43 \(CursorNotFound\)",
        ),
    ):
        run_tap(config, messages_out=failed)
    assert [r["_id"] for r in records(failed)] == list(range(15))
    state = last_state(failed)
    resume_after = state["bookmarks"][stream]["last_id"]
    assert 9 <= resume_after <= 14  # a STATE every 5 records, never ahead of what was emitted

    resumed = records(run_tap(config, state=state))
    assert [r["_id"] for r in resumed] == list(range(resume_after + 1, 30))


def _target_messages(total: int) -> list[dict[str, t.Any]]:
    keyed = schema_message("orders", {"_id": {"type": "integer"}, "v": {"type": "integer"}}, ["_id"])
    unkeyed = schema_message("events", {"n": {"type": "integer"}}, [])
    messages = [keyed, unkeyed]
    for n in range(total):
        messages.append(record_message("orders", {"_id": n % 40, "v": n}))
        messages.append(record_message("events", {"n": n}))
    return messages


def _assert_loaded_exactly_once(admin: pymongo.MongoClient, database: str, total: int) -> None:
    destination = admin[f"{database}_dst"]
    assert {d["_id"]: d["v"] for d in destination.orders.find()} == {n % 40: n for n in range(total)}
    assert sorted(d["n"] for d in destination.events.find()) == list(range(total)), "lost or duplicated inserts"


@pytest.mark.parametrize("fault", ["NotWritablePrimary", "PrimarySteppedDown", "connection closed"])
def test_target_writes_refused_by_the_server_are_retried_without_loss_or_duplicates(
    server: SecantusServer,
    admin: pymongo.MongoClient,
    database: str,
    caplog: pytest.LogCaptureFixture,
    fault: str,
) -> None:
    config = {
        "mongodb_uri": _uri(server),
        "database": f"{database}_dst",
        "batch_size_rows": 25,
        "retry_backoff_seconds": 0,
        "max_retries": 4,
    }
    with (
        caplog.at_level(logging.WARNING),
        # Twice in a row: the driver retries a write once by itself; the second failure reaches ours.
        fail_command(
            admin, ["insert", "update"], app_name=TARGET_APP, mode={"skip": 3, "times": 2}, **READ_FAULTS[fault]
        ),
    ):
        run_target(config, _target_messages(300))
    _assert_loaded_exactly_once(admin, database, 300)
    assert _retry_warnings(caplog), "the faults never reached the target's retries"


def test_target_writes_whose_acknowledgement_is_lost_are_not_doubled(
    server: SecantusServer, admin: pymongo.MongoClient, database: str, caplog: pytest.LogCaptureFixture
) -> None:
    with TcpProxy(server.port) as proxy:
        config = {
            "mongodb_uri": proxy.uri(),
            "database": f"{database}_dst",
            "batch_size_rows": 25,
            "retry_backoff_seconds": 0,
            "max_retries": 4,
        }
        # The server applies the writes; the replies (also to the driver's own retry) never arrive.
        proxy.lose_replies(["insert", "update"], count=3)
        with caplog.at_level(logging.WARNING):
            run_target(config, _target_messages(300))
        assert proxy.replies_lost == 6  # three inserts, three upserts
    _assert_loaded_exactly_once(admin, database, 300)
    assert _retry_warnings(caplog), "the lost replies never reached the target's retries"
