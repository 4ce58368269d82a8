"""Arrays to child rows: keys, positions at every level, and the parent without its arrays."""

from __future__ import annotations

import jsonschema

from mongodb_common.singer_fields import DENEST_VERSION, SOURCE_KEY
from tap_mongodb.array_denesting import DenestPlan
from tap_mongodb.schema_inference import infer_schema

DOCUMENT = {
    "_id": 7,
    "name": "order",
    "items": [{"sku": "a", "tags": ["x", "y"]}, {"sku": "b", "tags": []}],
    "meta": {"history": [1, 2], "note": "n"},
    "matrix": [[1, 2], [3]],
    "empty": [],
    "mixed": [1, {"a": 2}, "s"],
}


def _plan(*documents: dict) -> DenestPlan:
    return DenestPlan(infer_schema(list(documents), "plain"))


def _without_versions(rows: list[dict]) -> list[dict]:
    return [{k: v for k, v in row.items() if k != DENEST_VERSION} for row in rows]


def test_child_streams_for_every_array_at_every_level() -> None:
    plan = _plan(DOCUMENT)
    assert sorted(spec.suffix for spec in plan.children) == [
        "empty",
        "items",
        "items__tags",
        "matrix",
        "matrix__value",
        "meta__history",
        "mixed",
    ]
    keys = {spec.suffix: spec.key_properties for spec in plan.children}
    assert keys["items__tags"] == [SOURCE_KEY, "_sdc_level_0_id", "_sdc_level_1_id"]
    assert keys["meta__history"] == [SOURCE_KEY, "_sdc_level_0_id"]


def test_split_rows_join_back_and_rebuild_the_order() -> None:
    parent, rows = _plan(DOCUMENT).split(DOCUMENT)
    assert set(parent) == {"_id", "name", "meta", DENEST_VERSION}
    assert parent["meta"] == {"note": "n"}
    assert _without_versions(rows["items"]) == [
        {SOURCE_KEY: 7, "_sdc_level_0_id": 0, "sku": "a"},
        {SOURCE_KEY: 7, "_sdc_level_0_id": 1, "sku": "b"},
    ]
    assert _without_versions(rows["items__tags"]) == [
        {SOURCE_KEY: 7, "_sdc_level_0_id": 0, "_sdc_level_1_id": 0, "value": "x"},
        {SOURCE_KEY: 7, "_sdc_level_0_id": 0, "_sdc_level_1_id": 1, "value": "y"},
    ]
    assert _without_versions(rows["matrix__value"]) == [
        {SOURCE_KEY: 7, "_sdc_level_0_id": 0, "_sdc_level_1_id": 0, "value": 1},
        {SOURCE_KEY: 7, "_sdc_level_0_id": 0, "_sdc_level_1_id": 1, "value": 2},
        {SOURCE_KEY: 7, "_sdc_level_0_id": 1, "_sdc_level_1_id": 0, "value": 3},
    ]
    assert _without_versions(rows["mixed"]) == [
        {SOURCE_KEY: 7, "_sdc_level_0_id": 0, "value": 1},
        {SOURCE_KEY: 7, "_sdc_level_0_id": 1, "a": 2},
        {SOURCE_KEY: 7, "_sdc_level_0_id": 2, "value": "s"},
    ]
    assert rows.get("empty", []) == []
    versions = {row[DENEST_VERSION] for items in rows.values() for row in items}
    assert versions == {parent[DENEST_VERSION]}


def test_rows_and_parent_match_their_schemas() -> None:
    plan = _plan(DOCUMENT)
    parent, rows = plan.split(DOCUMENT)
    jsonschema.validate(parent, plan.parent_schema)
    for spec in plan.children:
        for row in rows.get(spec.suffix, []):
            jsonschema.validate(row, spec.schema)


def test_each_emission_gets_a_newer_version() -> None:
    plan = _plan(DOCUMENT)
    first, _ = plan.split(DOCUMENT)
    second, _ = plan.split(DOCUMENT)
    assert second[DENEST_VERSION] > first[DENEST_VERSION]


def test_deep_arrays_stop_at_the_level_limit_without_error() -> None:
    value: object = 1
    for _ in range(25):
        value = [value]
    document = {"_id": 1, "deep": value}
    plan = _plan(document)
    assert len(plan.children) == 20
    _, rows = plan.split(document)
    deepest = max(plan.children, key=lambda spec: len(spec.key_properties))
    assert len(rows[deepest.suffix]) == 1


def test_documents_without_arrays_are_untouched() -> None:
    plan = _plan({"_id": 1, "a": {"b": 2}})
    record = {"_id": 1, "a": {"b": 2}}
    assert plan.split(record) == (record, {})
