"""Messages name the timeout that really applied, with the value the client really ran with."""

from __future__ import annotations

import pymongo
import pymongo.errors
import pytest

from mongodb_common.client_factory import client_options
from mongodb_common.failure_causes import explain
from mongodb_common.timeouts import Timeouts

# What pymongo says when its monitor gave up: the monitor's figures, not the user's settings.
MONITOR_TIMED_OUT = (
    "127.0.0.1:27017: timed out (configured timeouts: socketTimeoutMS: 20000.0ms, connectTimeoutMS: 20000.0ms), "
    "Timeout: 30s, Topology Description: <TopologyDescription ...>"
)


def test_a_server_selection_timeout_names_both_timeouts_with_their_values_and_no_driver_figures() -> None:
    timeouts = Timeouts(server_selection_ms=2000, connect_ms=1000, socket_ms=None)
    text = explain(pymongo.errors.ServerSelectionTimeoutError(MONITOR_TIMED_OUT), timeouts)
    assert text == (
        "no server could be selected within server_selection_timeout_ms = 2000 ms: "
        "127.0.0.1:27017: no answer within connect_timeout_ms = 1000 ms"
    )


@pytest.mark.parametrize(("socket_ms", "expected"), [(None, "socket_timeout_ms is not set"), (500, "= 500 ms")])
def test_a_connection_closed_by_the_heartbeat_says_so_and_what_the_socket_timeout_was(
    socket_ms: int | None, expected: str
) -> None:
    cancelled = pymongo.errors._OperationCancelled("operation cancelled")
    text = explain(cancelled, Timeouts(connect_ms=3000, socket_ms=socket_ms))
    assert "heartbeat got no answer within connect_timeout_ms = 3000 ms" in text
    assert expected in text


def test_a_read_timeout_names_the_socket_timeout_in_force() -> None:
    error = pymongo.errors.NetworkTimeout(
        "127.0.0.1:27017: timed out (configured timeouts: socketTimeoutMS: 1500.0ms, connectTimeoutMS: 1000.0ms)"
    )
    assert explain(error, Timeouts(socket_ms=1500)) == "127.0.0.1:27017: no reply within socket_timeout_ms = 1500 ms"


def test_a_server_error_names_its_code() -> None:
    reply = {"ok": 0, "code": 189, "codeName": "PrimarySteppedDown", "errmsg": "stepped down"}
    error = pymongo.errors.NotPrimaryError("stepped down", reply)
    assert explain(error, Timeouts()) == "server error 189 (PrimarySteppedDown): stepped down"


def test_timeouts_written_in_the_uri_win_and_are_the_ones_the_client_runs_with() -> None:
    config = {
        "mongodb_uri": "mongodb://h:1/?connectTimeoutMS=1234&socketTimeoutMS=0&serverSelectionTimeoutMS=4321",
        "connect_timeout_ms": 10_000,
        "server_selection_timeout_ms": 30_000,
        "socket_timeout_ms": 5000,
    }
    timeouts = Timeouts.from_config(config)
    assert timeouts == Timeouts(server_selection_ms=4321, connect_ms=1234, socket_ms=None)
    host, options = client_options(config)
    client: pymongo.MongoClient = pymongo.MongoClient(host, connect=False, **options)
    assert client.options.pool_options.connect_timeout == 1.234
    assert client.options.pool_options.socket_timeout is None
    assert client.options.server_selection_timeout == 4.321
    client.close()


def test_settings_apply_when_the_uri_names_no_timeout() -> None:
    config = {"mongodb_uri": "mongodb://h:1/", "connect_timeout_ms": 700, "socket_timeout_ms": 900}
    host, options = client_options(config)
    client: pymongo.MongoClient = pymongo.MongoClient(host, connect=False, **options)
    assert client.options.pool_options.connect_timeout == 0.7
    assert client.options.pool_options.socket_timeout == 0.9
    assert Timeouts.from_config(config) == Timeouts(connect_ms=700, socket_ms=900)
    client.close()
