"""Fixtures for all suites: the deployment under test (stand-in unless MONGODB_URI is set)."""

from __future__ import annotations

import typing as t

import pytest

from mongodb_common.client_factory import create_client
from tests.support.deployment import REAL_URI, SHARED_DATABASE_PREFIX, Deployment


@pytest.fixture
def deployment(tmp_path: t.Any) -> t.Iterator[Deployment]:
    uri = REAL_URI or f"litemongo://{tmp_path / 'mongo'}"
    current = Deployment(uri)
    yield current
    current.cleanup()


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Tests that need a real replica set are skipped, with the reason, on the stand-in."""
    if REAL_URI:
        return
    skip = pytest.mark.skip(reason="needs a real MongoDB replica set: set MONGODB_URI")
    for item in items:
        if "replica_set" in item.keywords or "real_server" in item.keywords:
            item.add_marker(skip)


def pytest_sessionfinish(session: pytest.Session) -> None:
    """On a real server, drop the databases the SDK suites share, once all workers are done."""
    if not REAL_URI or hasattr(session.config, "workerinput"):
        return
    client = create_client({"mongodb_uri": REAL_URI})
    for name in client.list_database_names():
        if name.startswith(SHARED_DATABASE_PREFIX):
            client.drop_database(name)
