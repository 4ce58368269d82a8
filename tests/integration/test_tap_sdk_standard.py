"""The Singer SDK's standard tap tests, on a database holding every BSON type.

No standard test is excluded. The deployment is this test process's server, or the one
MONGODB_URI names (seeded into a database of its own, dropped at the end of the session).
"""

from __future__ import annotations

import datetime
import typing as t

from bson import Int64, ObjectId
from singer_sdk.testing import get_tap_test_class

from mongodb_common.client_factory import create_client
from tap_mongodb.tap import TapMongoDB
from tests.support.bson_samples import every_type_document, storable_on_test_server
from tests.support.deployment import SHARED_DATABASE_PREFIX, connector_config
from tests.support.server import shared_uri

UTC = datetime.timezone.utc
DATABASE = f"{SHARED_DATABASE_PREFIX}tap"  # dropped by conftest at the end of the run


def _seeded_uri() -> str:
    uri = shared_uri()  # the suite's config is needed at collection time, before fixtures
    with create_client({"mongodb_uri": uri}) as client:
        _seed(client[DATABASE])
    return uri


def _seed(database: t.Any) -> None:
    # Upserts of fixed ids: every xdist worker seeds, and they all get the same data.
    for n in range(3):
        document = storable_on_test_server(every_type_document(ObjectId(f"{n:024x}")))
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


CONFIG: dict[str, t.Any] = connector_config(_seeded_uri(), database_includes=[DATABASE])

TestTapMongoDB = get_tap_test_class(tap_class=TapMongoDB, config=CONFIG)
