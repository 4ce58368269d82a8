"""The deployment an integration test works in: a real server, in databases of its own.

Every test works in databases named with a unique prefix and drops them afterwards, so the
same tests can run against a shared real deployment (MONGODB_URI).
"""

from __future__ import annotations

import datetime
import os
import typing as t
import uuid

from bson.codec_options import CodecOptions, DatetimeConversion

from mongodb_common.client_factory import create_client

if t.TYPE_CHECKING:
    import pymongo

# Shared by every pytest-xdist worker of one run (test ids must not differ between workers).
RUN_ID = os.environ.get("PYTEST_XDIST_TESTRUNUID", "solo")[:8]
SHARED_DATABASE_PREFIX = f"sdk_suite_{RUN_ID}_"

# How tests read documents back to compare them with what was written: every year, aware UTC.
CODEC_OPTIONS: CodecOptions = CodecOptions(
    tz_aware=True,
    tzinfo=datetime.timezone.utc,
    datetime_conversion=DatetimeConversion.DATETIME_AUTO,
)


def connector_config(uri: str, **settings: t.Any) -> dict[str, t.Any]:
    return {"mongodb_uri": uri, "server_selection_timeout_ms": 5000, **settings}


class Deployment:
    """A MongoDB to test against, plus the databases a test created in it."""

    def __init__(self, uri: str) -> None:
        self.uri = uri
        self.client: pymongo.MongoClient = create_client({"mongodb_uri": uri})
        self.prefix = f"t{uuid.uuid4().hex[:8]}_"

    def db_name(self, name: str) -> str:
        return f"{self.prefix}{name}"

    def database(self, name: str) -> pymongo.database.Database:
        return self.client[self.db_name(name)]

    def config(self, **settings: t.Any) -> dict[str, t.Any]:
        """Tap or target settings limited to this test's databases."""
        settings.setdefault("database_includes", [f"{self.prefix}*"])
        return connector_config(self.uri, **settings)

    def cleanup(self) -> None:
        for name in self.client.list_database_names():
            if name.startswith(self.prefix):
                self.client.drop_database(name)
        self.client.close()
