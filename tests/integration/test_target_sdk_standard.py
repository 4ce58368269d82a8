"""The Singer SDK's standard target tests; test_target_*.py read back what was written.

No standard test is excluded. The destination is the stand-in, or the server MONGODB_URI
names (a database of its own per worker, dropped at the end).
"""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
import typing as t

from singer_sdk.testing import get_target_test_class

from mongodb_common.client_factory import create_client
from target_mongodb.target import TargetMongoDB
from tests.support.deployment import REAL_URI, connector_config

DATABASE = f"sdk_target_tests_{os.getpid()}"


def _destination_uri() -> str:
    if REAL_URI:
        atexit.register(lambda: create_client({"mongodb_uri": REAL_URI}).drop_database(DATABASE))
        return REAL_URI
    directory = tempfile.mkdtemp(prefix="target-mongodb-sdk-")
    atexit.register(shutil.rmtree, directory, ignore_errors=True)
    return f"litemongo://{directory}"


CONFIG: dict[str, t.Any] = connector_config(_destination_uri(), database=DATABASE)

TestTargetMongoDB = get_target_test_class(target_class=TargetMongoDB, config=CONFIG)
