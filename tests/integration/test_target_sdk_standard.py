"""The Singer SDK's standard target tests; test_target_*.py read back what was written.

No standard test is excluded. The destination is the stand-in, or the server MONGODB_URI
names (a database of its own per worker, dropped at the end).
"""

from __future__ import annotations

import atexit
import shutil
import tempfile
import typing as t

from singer_sdk.testing import get_target_test_class

from target_mongodb.target import TargetMongoDB
from tests.support.deployment import REAL_URI, SHARED_DATABASE_PREFIX, connector_config

DATABASE = f"{SHARED_DATABASE_PREFIX}target"  # dropped by conftest at the end of the run


def _destination_uri() -> str:
    if REAL_URI:
        return REAL_URI
    directory = tempfile.mkdtemp(prefix="target-mongodb-sdk-")
    atexit.register(shutil.rmtree, directory, ignore_errors=True)
    return f"litemongo://{directory}"


CONFIG: dict[str, t.Any] = connector_config(_destination_uri(), database=DATABASE)

TestTargetMongoDB = get_target_test_class(target_class=TargetMongoDB, config=CONFIG)
