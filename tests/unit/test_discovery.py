"""Discovery rules, fed with listCollections results in the shapes a real server returns."""

from __future__ import annotations

import typing as t

import pytest

from tap_mongodb.discovery import describe_collection, is_selected

# Recorded from the `listCollections` command of MongoDB 7.0 (documented output shape).
VIEW_SPEC = {
    "name": "recent_orders",
    "type": "view",
    "options": {"viewOn": "orders", "pipeline": [{"$match": {"status": "open"}}]},
    "info": {"readOnly": True},
}
TIMESERIES_SPEC = {
    "name": "weather",
    "type": "timeseries",
    "options": {
        "timeseries": {"timeField": "ts", "metaField": "sensor", "granularity": "seconds", "bucketMaxSpanSeconds": 3600}
    },
    "info": {"readOnly": False},
}


class _RecordingDatabase:
    """Answers what describe_collection asks; any index lookup on a view would be a bug."""

    name = "shop"

    def __init__(self) -> None:
        self.index_lookups: list[str] = []

    def __getitem__(self, name: str) -> t.Any:
        database = self

        class _Collection:
            def list_indexes(self) -> list[dict[str, t.Any]]:
                database.index_lookups.append(name)
                return [{"v": 2, "key": {"_id": 1}, "name": "_id_"}]

            def estimated_document_count(self) -> int:
                return 12

        return _Collection()


@pytest.mark.parametrize(("spec", "kind"), [(VIEW_SPEC, "view"), (TIMESERIES_SPEC, "timeseries")])
def test_views_and_timeseries_are_described_without_index_lookups(spec: dict[str, t.Any], kind: str) -> None:
    database = _RecordingDatabase()
    info = describe_collection(database, spec)  # type: ignore[arg-type]
    assert info.kind == kind
    assert info.is_view is (kind == "view")
    assert not info.supports_change_streams
    assert info.stream_id == f"shop-{spec['name']}"
    assert info.row_count == 12
    assert database.index_lookups == []


@pytest.mark.parametrize(
    ("names", "includes", "excludes", "expected"),
    [
        (["orders", "shop.orders"], [], [], True),
        (["orders", "shop.orders"], ["shop.*"], [], True),
        (["orders", "shop.orders"], ["ord*"], ["shop.orders"], False),
        (["orders", "shop.orders"], ["customers"], [], False),
        (["Orders", "shop.Orders"], ["orders"], [], False),
    ],
)
def test_include_and_exclude_patterns(
    names: list[str], includes: list[str], excludes: list[str], expected: bool
) -> None:
    assert is_selected(names, includes, excludes) is expected
