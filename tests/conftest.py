"""Fixtures for all suites: the deployment under test (stand-in unless MONGODB_URI is set)."""

from __future__ import annotations

import typing as t

import pytest

from tests.support.deployment import REAL_URI, Deployment


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
