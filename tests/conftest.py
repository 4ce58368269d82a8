"""Fixtures for all suites: a real MongoDB wire-protocol server under every integration test.

By default each test process starts its own SecantusDB server (tests/support/server.py) on a
free loopback port; with MONGODB_URI set, every test runs against that deployment instead
(mongod, Atlas, DocumentDB). Tests work in databases of their own and drop them afterwards.
Tests that load into PostgreSQL get one server per test process likewise (tests/support/postgres.py),
or POSTGRES_URI.
"""

from __future__ import annotations

import signal
import typing as t

import pytest

from mongodb_common.client_factory import create_client
from tests.support import postgres, server
from tests.support.deployment import SHARED_DATABASE_PREFIX, Deployment


def pytest_configure(config: pytest.Config) -> None:
    """SIGTERM (a CI timeout, `kill`) unwinds like Ctrl-C, so servers stop and their data goes."""

    def interrupt(_signum: int, _frame: t.Any) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, interrupt)


@pytest.fixture(scope="session")
def mongodb_uri() -> t.Iterator[str]:
    """The server of this test process (started on first use), or MONGODB_URI; stopped at the end."""
    yield server.shared_uri()
    server.stop_shared()
    postgres.stop_shared()


@pytest.fixture(scope="session")
def postgres_uri() -> t.Iterator[str]:
    """This test process's PostgreSQL (started on first use), or POSTGRES_URI; stopped at the end."""
    yield postgres.shared_uri()
    postgres.stop_shared()


@pytest.fixture
def deployment(mongodb_uri: str) -> t.Iterator[Deployment]:
    current = Deployment(mongodb_uri)
    yield current
    current.cleanup()


def pytest_sessionfinish(session: pytest.Session) -> None:
    """Drop the databases the SDK suites share on MONGODB_URI; stop this process's server if running."""
    if server.MONGODB_URI_SET and not hasattr(session.config, "workerinput"):
        client = create_client({"mongodb_uri": server.shared_uri()})
        for name in client.list_database_names():
            if name.startswith(SHARED_DATABASE_PREFIX):
                client.drop_database(name)
        client.close()
    server.stop_shared()
    postgres.stop_shared()
