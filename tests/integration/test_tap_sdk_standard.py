"""The Singer SDK's standard tap tests, on a database holding every BSON type.

No standard test is excluded. The deployment is the stand-in, or the server MONGODB_URI names
(seeded into a database of its own, dropped at the end of the session).
"""

from __future__ import annotations

import atexit
import datetime
import shutil
import tempfile
import typing as t

from bson import Int64, ObjectId
from singer_sdk.testing import get_tap_test_class

from mongodb_common.client_factory import create_client
from tap_mongodb.tap import TapMongoDB
from tests.support.bson_samples import every_type_document
from tests.support.deployment import REAL_URI, SHARED_DATABASE_PREFIX, connector_config

UTC = datetime.timezone.utc
DATABASE = f"{SHARED_DATABASE_PREFIX}tap"  # dropped by conftest at the end of the run


def _seeded_uri() -> str:
    if REAL_URI:
        uri = REAL_URI
    else:
        directory = tempfile.mkdtemp(prefix="tap-mongodb-sdk-")
        atexit.register(shutil.rmtree, directory, ignore_errors=True)
        uri = f"litemongo://{directory}"
    database = create_client({"mongodb_uri": uri})[DATABASE]
    # Upserts of fixed ids: every xdist worker seeds, and they all get the same data.
    for n in range(3):
        document = every_type_document(ObjectId(f"{n:024x}"))
        database.every_type.replace_one({"_id": document["_id"]}, document, upsert=True)
    for order in [
        {
            "_id": ObjectId(f"{100 + i:024x}"),
            "customer": {"name": f"c{i}", "tier": i % 3},
            "lines": [{"sku": f"s{j}", "qty": Int64(j)} for j in range(i % 4)],
            "paid": i % 2 == 0,
            "created_at": datetime.datetime(2024, 1, 1 + i, tzinfo=UTC),
            "total": 10.5 * i,
        }
        for i in range(20)
    ]:
        database.orders.replace_one({"_id": order["_id"]}, order, upsert=True)
    return uri


CONFIG: dict[str, t.Any] = connector_config(_seeded_uri(), database_includes=[DATABASE])

TestTapMongoDB = get_tap_test_class(tap_class=TapMongoDB, config=CONFIG)
