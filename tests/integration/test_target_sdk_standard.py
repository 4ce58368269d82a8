"""The Singer SDK's standard target tests; test_target_*.py read back what was written.

No standard test is excluded. The destination is this test process's server, or the one
MONGODB_URI names (a database of its own, dropped at the end).
"""

from __future__ import annotations

import typing as t

from singer_sdk.testing import get_target_test_class

from target_mongodb.target import TargetMongoDB
from tests.support.deployment import SHARED_DATABASE_PREFIX, connector_config
from tests.support.server import shared_uri

DATABASE = f"{SHARED_DATABASE_PREFIX}target"  # dropped by conftest at the end of the run

# Needed at collection time, before fixtures: the process's server starts here.
CONFIG: dict[str, t.Any] = connector_config(shared_uri(), database=DATABASE)

TestTargetMongoDB = get_target_test_class(target_class=TargetMongoDB, config=CONFIG)
