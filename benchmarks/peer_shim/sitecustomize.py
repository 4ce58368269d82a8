"""Benchmark-only shim: lets the peer tap (meltanolabs-tap-mongodb) open the embedded stand-in.

Put on PYTHONPATH for the peer's process only. The peer builds `pymongo.MongoClient` from its
connection string; for `litemongo://` strings this returns the stand-in's client instead,
and accepts the listCollections options the peer passes. Nothing of ours uses this file.
"""

from urllib import parse

import pymongo

_RealClient = pymongo.MongoClient


def _client(host=None, *args, **kwargs):
    if isinstance(host, str) and host.startswith("litemongo://"):
        import litemongo

        parsed = parse.urlparse(host)
        client = litemongo.connect(parse.unquote(parsed.netloc + parsed.path))
        client.server_info = lambda: {"version": "7.0.0", "versionArray": [7, 0, 0, 0]}
        return client
    return _RealClient(host, *args, **kwargs)


pymongo.MongoClient = _client

from litemongo._vendor.mongomock import database as _database  # noqa: E402

_names = _database.Database.list_collection_names
_database.Database.list_collection_names = lambda self, filter=None, session=None, **_options: _names(
    self, filter=filter, session=session
)
