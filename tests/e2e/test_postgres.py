"""`meltano run tap-mongodb--flattened target-postgres` into a real PostgreSQL, value by value.

MeltanoLabs target-postgres (the version pinned in meltano.yml) is installed once per module
in a copy of this repository's Meltano project; each test points the tap at its own MongoDB
databases (`<prefix>shop`) and the target at the test's PostgreSQL through environment
variables. As meltano.yml configures it, each MongoDB database becomes a schema of the same
name and each collection a table, so a test's tables are in `<prefix>shop`, dropped
afterwards. Tests read back with psycopg. Every value loaded is compared with the source
document it came from: the column's type, the exact value (no rounding, dates to the
millisecond), NULL only where the source had no value.

Expected values are what `bson_encoding: plain` writes (docs/bson-types.md) as target-postgres
stores it: ObjectId as text, Int32/Int64 as bigint, Decimal128 and doubles as numeric,
dates as `timestamp` (UTC, no zone), UUIDs as uuid, binary as base64 text.
"""

from __future__ import annotations

import base64
import datetime
import json
import typing as t
import uuid
from decimal import Decimal
from pathlib import Path

import pytest
from bson import Binary, Decimal128, Int64, ObjectId
from psycopg import sql

from tests.support.meltano_project import MeltanoProject, install
from tests.support.postgres import PostgresScratch, connection_settings

if t.TYPE_CHECKING:
    import pymongo

    from tests.support.deployment import Deployment

# One test process runs the whole module, so its Meltano plugins are installed once, not once
# per process (scripts/test.sh distributes with --dist loadgroup).
pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("meltano-postgres")]

FLATTENED = "tap-mongodb--flattened"
LOG_BASED = "tap-mongodb--log-based"
# tap-mongodb--flattened's settings, for the LOG_BASED variant (which inherits tap-mongodb's).
FLATTENED_SETTINGS = {
    "TAP_MONGODB_BSON_ENCODING": "plain",
    "TAP_MONGODB_FLATTENING_ENABLED": "true",
    "TAP_MONGODB_FLATTENING_MAX_DEPTH": "3",
    "TAP_MONGODB_DENEST_ARRAYS": "true",
    "TAP_MONGODB_SAFE_COLUMN_NAMES": "true",
    "TAP_MONGODB_SAFE_STREAM_NAMES": "true",
}
NESTED_DATA_DOC = Path(__file__).resolve().parents[2] / "docs" / "nested-data.md"
CLEANUP_MARKER = "<!-- child-row-cleanup"
UTC = datetime.timezone.utc
# tap-mongodb--flattened: objects flattened to `a__b__c__d` (levels 0-3), deeper ones as JSON text.
FLATTENING_MAX_DEPTH = 3
SEPARATOR = "__"
METADATA_PREFIX = "_sdc_"


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> MeltanoProject:
    current = MeltanoProject.copy_of_repository(tmp_path_factory.mktemp("meltano-postgres"))
    # The variants share tap-mongodb's venv.
    install(current, [("extractor", "tap-mongodb"), ("loader", "target-postgres")])
    return current


class Pipeline:
    """One test's source databases, destination schema and Meltano state."""

    def __init__(self, project: MeltanoProject, deployment: Deployment, postgres_uri: str) -> None:
        self.project = project
        self.source: pymongo.database.Database = deployment.database("shop")
        self.postgres = PostgresScratch(postgres_uri, prefix=deployment.prefix)
        self.schema = self.source.name
        pg = connection_settings(postgres_uri)
        project.env.update(
            TAP_MONGODB_MONGODB_URI=deployment.uri,
            TAP_MONGODB_DATABASE_INCLUDES=json.dumps([deployment.db_name("shop")]),
            PGHOST=pg["host"],
            PGPORT=pg["port"],
            PGUSER=pg["user"],
            PGPASSWORD=pg["password"],
            PGDATABASE=pg["dbname"],
        )
        for leftover in ("TAP_MONGODB_REPLICATION_KEYS", "TARGET_POSTGRES_DEFAULT_TARGET_SCHEMA"):
            project.env.pop(leftover, None)
        self.state_suffix = self.postgres.prefix.rstrip("_")

    def stream(self, collection: str) -> str:
        return f"{self.source.name}-{collection}"

    def run(self, extractor: str = FLATTENED) -> None:
        self.project.meltano("run", f"--state-id-suffix={self.state_suffix}", extractor, "target-postgres")

    def table(self, name: str, schema: str | None = None) -> sql.Composed:
        return sql.SQL("{}.{}").format(sql.Identifier(schema or self.schema), sql.Identifier(name))

    def column_types(self, table: str) -> dict[str, str]:
        rows = self.postgres.query(
            "SELECT column_name, data_type FROM information_schema.columns WHERE table_schema = %s AND table_name = %s",
            (self.schema, table),
        )
        return {name: kind for name, kind in rows if not name.startswith(METADATA_PREFIX)}

    def tables(self) -> set[str]:
        rows = self.postgres.query(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = %s", (self.schema,)
        )
        return {name for (name,) in rows}

    def rows(self, table: str, key: str = "_id", schema: str | None = None) -> dict[t.Any, dict[str, t.Any]]:
        """Every row of a table by its key, without the target's _sdc_* bookkeeping columns."""
        with self.postgres.connection.cursor() as cursor:
            cursor.execute(sql.SQL("SELECT * FROM {}").format(self.table(table, schema)))
            assert cursor.description is not None
            names = [column.name for column in cursor.description]
            found = [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
        return {
            row[key]: {name: value for name, value in row.items() if not name.startswith(METADATA_PREFIX)}
            for row in found
        }


@pytest.fixture
def pipeline(project: MeltanoProject, deployment: Deployment, postgres_uri: str) -> t.Iterator[Pipeline]:
    current = Pipeline(project, deployment, postgres_uri)
    yield current
    current.postgres.cleanup()


# --- what each source value must be in PostgreSQL ---------------------------------------------


def _utc_naive(value: datetime.datetime) -> datetime.datetime:
    return value.astimezone(UTC).replace(tzinfo=None) if value.tzinfo else value


# How psycopg reads back each BSON value from target-postgres's column.
_STORED: tuple[tuple[type, t.Callable[[t.Any], t.Any]], ...] = (
    (ObjectId, str),
    (Decimal128, Decimal128.to_decimal),
    (float, lambda value: Decimal(repr(value))),  # the shortest text that reads back as the same double
    (datetime.datetime, _utc_naive),
    (bytes, lambda value: base64.b64encode(value).decode()),  # pymongo reads binary subtype 0 as bytes
    (Int64, int),
)


def stored_value(value: t.Any) -> t.Any:
    if isinstance(value, Binary) and value.subtype == 4:
        return value.as_uuid()
    for kind, convert in _STORED:
        if isinstance(value, kind):
            return convert(value)
    return value


def flattened_columns(document: dict[str, t.Any]) -> dict[str, t.Any]:
    """The parent row's columns: objects flattened, deeper objects as JSON, arrays left to child tables."""
    columns: dict[str, t.Any] = {}

    def walk(value: dict[str, t.Any], prefix: str, level: int) -> None:
        for name, inner in value.items():
            column = f"{prefix}{name}".lower()
            if isinstance(inner, list):
                continue
            if isinstance(inner, dict) and level < FLATTENING_MAX_DEPTH:
                walk(inner, f"{column}{SEPARATOR}", level + 1)
            elif isinstance(inner, dict):
                columns[column] = inner  # compared as parsed JSON
            else:
                columns[column] = stored_value(inner)

    walk(document, "", 0)
    return columns


def comparable(row: dict[str, t.Any]) -> dict[str, t.Any]:
    """JSON text columns parsed, so a nested object compares by content, not by spacing."""
    return {
        name: json.loads(value) if isinstance(value, str) and value.startswith("{") else value
        for name, value in row.items()
    }


def expected_rows(documents: t.Iterable[dict[str, t.Any]], columns: t.Iterable[str]) -> dict[t.Any, dict[str, t.Any]]:
    """Rows as they must be: every column the table has, NULL where the document has no value."""
    names = list(columns)
    rows = {}
    for document in documents:
        values = flattened_columns(document)
        unknown = set(values) - set(names)
        assert not unknown, f"source fields without a column in PostgreSQL: {sorted(unknown)}"
        rows[stored_value(document["_id"])] = {name: values.get(name) for name in names}
    return rows


def differences(actual: dict[t.Any, dict[str, t.Any]], expected: dict[t.Any, dict[str, t.Any]]) -> list[str]:
    """Each row missing or extra, and each value that differs, as `key.column: expected != loaded`."""
    found = [f"row {key!r} missing" for key in expected.keys() - actual.keys()]
    found += [f"row {key!r} should not be there" for key in actual.keys() - expected.keys()]
    for key in expected.keys() & actual.keys():
        loaded = comparable(actual[key])
        for column, value in expected[key].items():
            if loaded.get(column) != value or type(loaded.get(column)) is not type(value):
                found.append(f"{key}.{column}: {value!r} != {loaded.get(column)!r}")
    return found


def assert_parent_table_matches(pipeline: Pipeline, collection: str) -> None:
    actual = pipeline.rows(collection)
    columns = pipeline.column_types(collection)
    assert not differences(actual, expected_rows(pipeline.source[collection].find(), columns))


def child_rows(documents: t.Iterable[dict[str, t.Any]], array: str) -> set[tuple[t.Any, ...]]:
    """(parent _id, position, sorted element columns) of every element of a top-level array."""
    rows = set()
    for document in documents:
        for position, element in enumerate(document.get(array) or []):
            values = flattened_columns(element) if isinstance(element, dict) else {"value": stored_value(element)}
            rows.add((stored_value(document["_id"]), position, tuple(sorted(values.items()))))
    return rows


def loaded_child_rows(pipeline: Pipeline, table: str) -> set[tuple[t.Any, ...]]:
    with pipeline.postgres.connection.cursor() as cursor:
        cursor.execute(sql.SQL("SELECT * FROM {}").format(pipeline.table(table)))
        assert cursor.description is not None
        names = [column.name for column in cursor.description]
        found = [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
    rows = set()
    for row in found:
        values = {
            name: value for name, value in row.items() if not name.startswith(METADATA_PREFIX) and value is not None
        }
        rows.add((row["_sdc_source_key__id"], row["_sdc_level_0_id"], tuple(sorted(values.items()))))
    return rows


# --- the source ---------------------------------------------------------------------------------


def varied_orders() -> list[dict[str, t.Any]]:
    """Every BSON type a warehouse column holds, at the edges of its range."""
    return [
        {
            "_id": ObjectId("65f000000000000000000001"),
            "n": 7,
            "big": Int64(2**62 + 1),  # beyond a double's 53 bits
            "price": Decimal128("1234567890123456789012.345678901234"),  # 34 digits
            "ratio": 0.1 + 0.2,
            "when": datetime.datetime(2024, 5, 1, 10, 0, 0, 123000, tzinfo=UTC),
            "ok": True,
            "note": None,
            "uid": Binary.from_uuid(uuid.UUID("12345678-1234-5678-1234-567812345678")),
            "blob": Binary(b"\x00\xff binary", 0),
            "label": "Zoë ✓ 日本 \"quoted\" 'single'",
            "customer": {"name": "Ada", "address": {"city": "Oslo", "geo": {"lat": 59.913868, "pin": {"z": 3}}}},
            "items": [{"sku": "a", "qty": 2}, {"sku": "b", "qty": Int64(1)}],
            "tags": ["x", "y"],
            "updated_at": 1,
        },
        {
            "_id": ObjectId("65f000000000000000000002"),
            "n": -2147483648,
            "big": Int64(-(2**63)),
            "price": Decimal128("-0.000000000000000000000000000000001"),
            "ratio": 1e300,
            "when": datetime.datetime(1960, 2, 29, 23, 59, 59, 999000, tzinfo=UTC),
            "ok": False,
            "note": "set",
            "uid": Binary.from_uuid(uuid.UUID("00000000-0000-4000-8000-000000000000")),
            "blob": Binary(b"", 0),
            "label": "",
            "customer": {"name": "Bo"},
            "items": [],
            "tags": [],
            "updated_at": 2,
        },
        {
            "_id": ObjectId("65f000000000000000000003"),
            "n": 0,
            "big": Int64(2**63 - 1),
            "price": Decimal128("9999999999999999999999999999999999E+10"),
            "ratio": -2.5e-300,
            "when": datetime.datetime(9999, 12, 31, 23, 59, 59, 999000, tzinfo=UTC),
            "ok": True,
            "label": "no optional fields",
            "updated_at": 3,
        },
    ]


VARIED_ORDER_TYPES = {
    "_id": "text",
    "n": "bigint",
    "big": "bigint",
    "price": "numeric",
    "ratio": "numeric",
    "when": "timestamp without time zone",
    "ok": "boolean",
    "note": "text",
    "uid": "uuid",
    "blob": "text",
    "label": "text",
    "customer__name": "text",
    "customer__address__city": "text",
    "customer__address__geo__lat": "numeric",
    "customer__address__geo__pin": "text",
    "updated_at": "bigint",
}


def test_every_bson_value_lands_exactly_and_full_table_resyncs_remove_deleted_rows(pipeline: Pipeline) -> None:
    orders = pipeline.source.orders
    orders.insert_many(varied_orders())
    pipeline.run()

    assert pipeline.column_types("orders") == VARIED_ORDER_TYPES
    assert_parent_table_matches(pipeline, "orders")
    assert loaded_child_rows(pipeline, "orders__items") == child_rows(orders.find(), "items")
    assert loaded_child_rows(pipeline, "orders__tags") == child_rows(orders.find(), "tags")

    # Second FULL_TABLE run: an insert, updates (values, a shrunken array), a delete.
    orders.insert_one(
        {
            "_id": ObjectId("65f000000000000000000004"),
            "n": 4,
            "big": Int64(4),
            "price": Decimal128("4.40"),
            "ratio": 4.5,
            "when": datetime.datetime(2025, 1, 1, tzinfo=UTC),
            "ok": False,
            "label": "inserted",
            "customer": {"name": "Cy", "address": {"city": "Rome"}},
            "items": [{"sku": "c", "qty": 9}],
            "tags": ["z"],
            "updated_at": 4,
        }
    )
    orders.update_one(
        {"_id": ObjectId("65f000000000000000000001")},
        {"$set": {"price": Decimal128("0.10"), "note": "now set", "items": [{"sku": "a", "qty": 3}], "tags": []}},
    )
    orders.update_one({"_id": ObjectId("65f000000000000000000002")}, {"$set": {"note": None, "ratio": 5e-324}})
    orders.delete_one({"_id": ObjectId("65f000000000000000000003")})
    pipeline.run()

    assert_parent_table_matches(pipeline, "orders")
    assert set(pipeline.rows("orders")) == {str(document["_id"]) for document in orders.find()}
    assert loaded_child_rows(pipeline, "orders__items") == child_rows(orders.find(), "items")
    assert loaded_child_rows(pipeline, "orders__tags") == child_rows(orders.find(), "tags")


def test_incremental_runs_load_inserts_and_updates_and_the_documented_cleanup_drops_stale_child_rows(
    pipeline: Pipeline,
) -> None:
    orders = pipeline.source.orders
    orders.insert_many(
        [
            {
                "_id": i,
                "total": Decimal128(f"{i}.{i}1"),
                "placed": datetime.datetime(2024, 1, i + 1, 8, 30, 0, i * 1000, tzinfo=UTC),
                "items": [{"sku": f"s{i}-{n}", "qty": Int64(n)} for n in range(i + 1)],
                "updated_at": i,
            }
            for i in range(4)
        ]
    )
    pipeline.project.env["TAP_MONGODB_REPLICATION_KEYS"] = json.dumps({pipeline.stream("orders"): "updated_at"})
    pipeline.run()
    assert_parent_table_matches(pipeline, "orders")
    extracted_first = extracted_at(pipeline, "orders")

    orders.insert_one({"_id": 10, "total": Decimal128("10.01"), "placed": None, "items": [], "updated_at": 10})
    orders.update_one(
        {"_id": 3},
        {"$set": {"total": Decimal128("-3.333"), "items": [{"sku": "only", "qty": Int64(1)}], "updated_at": 11}},
    )
    pipeline.run()

    assert_parent_table_matches(pipeline, "orders")
    extracted_second = extracted_at(pipeline, "orders")
    assert {key for key in extracted_first if extracted_first[key] == extracted_second[key]} == {0, 1, 2}, (
        "the second run should read only the changed documents"
    )
    # An INCREMENTAL run sends no ACTIVATE_VERSION: the rows of array elements removed from
    # document 3 are stale until the statement docs/nested-data.md gives is run.
    assert loaded_child_rows(pipeline, "orders__items") > child_rows(orders.find(), "items")
    pipeline.postgres.connection.execute(documented_cleanup(pipeline, "orders__items", "orders"))
    assert loaded_child_rows(pipeline, "orders__items") == child_rows(orders.find(), "items")


def documented_cleanup(pipeline: Pipeline, child: str, parent: str) -> sql.Composed:
    """The stale-child-row DELETE of docs/nested-data.md, as written there, for these tables."""
    text = NESTED_DATA_DOC.read_text(encoding="utf-8")
    block = text[text.index(CLEANUP_MARKER) :].split("```sql\n", 1)[1].split("```", 1)[0]
    assert block.count('shop."orders__items"') == 1, block
    assert block.count("shop.orders ") == 1, block
    template = block.replace('shop."orders__items"', "{child}").replace("shop.orders ", "{parent} ")
    return sql.SQL(template.strip()).format(child=pipeline.table(child), parent=pipeline.table(parent))


def test_log_based_deletes_and_shrunken_arrays_leave_no_child_rows_after_the_documented_cleanup(
    pipeline: Pipeline,
) -> None:
    orders = pipeline.source.orders
    orders.insert_many(
        [{"_id": i, "items": [{"sku": f"s{i}-{n}", "tags": [f"t{n}"] * n} for n in range(3)], "v": i} for i in range(4)]
    )
    pipeline.project.env.update(FLATTENED_SETTINGS)
    pipeline.run(LOG_BASED)  # the initial sync, and the log position for the next run
    assert loaded_child_rows(pipeline, "orders__items") == child_rows(orders.find(), "items")

    orders.update_one({"_id": 1}, {"$set": {"items": [{"sku": "only"}], "v": 10}})  # shrinks
    orders.delete_one({"_id": 2})
    orders.update_one({"_id": 3}, {"$set": {"v": 30}})  # re-written, same elements
    pipeline.run(LOG_BASED)

    parents = pipeline.postgres.query(
        sql.SQL("SELECT _id, _sdc_deleted_at IS NOT NULL FROM {}").format(pipeline.table("orders"))
    )
    assert dict(parents) == {0: False, 1: False, 2: True, 3: False}  # target-postgres keeps the deleted row
    live = list(orders.find())
    assert loaded_child_rows(pipeline, "orders__items") > child_rows(live, "items")
    for child in ("orders__items", "orders__items__tags"):
        pipeline.postgres.connection.execute(documented_cleanup(pipeline, child, "orders"))
    assert loaded_child_rows(pipeline, "orders__items") == child_rows(live, "items")
    tags = pipeline.postgres.query(
        sql.SQL("SELECT _sdc_source_key__id, _sdc_level_0_id, _sdc_level_1_id, value FROM {}").format(
            pipeline.table("orders__items__tags")
        )
    )
    assert set(tags) == {
        (document["_id"], position, index, tag)
        for document in live
        for position, item in enumerate(document["items"])
        for index, tag in enumerate(item.get("tags", []))
    }


def test_a_full_table_resync_after_a_parent_delete_needs_no_cleanup_and_the_cleanup_keeps_it(
    pipeline: Pipeline,
) -> None:
    """ACTIVATE_VERSION removes the deleted parent's child rows; the documented DELETE changes nothing."""
    orders = pipeline.source.orders
    orders.insert_many([{"_id": i, "items": [{"sku": f"s{i}-{n}"} for n in range(i + 1)]} for i in range(3)])
    pipeline.run()
    orders.delete_one({"_id": 1})
    orders.update_one({"_id": 2}, {"$set": {"items": [{"sku": "z"}]}})
    pipeline.run()
    expected = child_rows(orders.find(), "items")
    assert loaded_child_rows(pipeline, "orders__items") == expected
    assert set(pipeline.rows("orders")) == {0, 2}
    pipeline.postgres.connection.execute(documented_cleanup(pipeline, "orders__items", "orders"))
    assert loaded_child_rows(pipeline, "orders__items") == expected


def extracted_at(pipeline: Pipeline, table: str) -> dict[t.Any, datetime.datetime]:
    rows = pipeline.postgres.query(sql.SQL("SELECT _id, _sdc_extracted_at FROM {}").format(pipeline.table(table)))
    return dict(rows)  # type: ignore[arg-type]


def test_denested_arrays_join_back_to_their_parents_in_postgres(pipeline: Pipeline) -> None:
    source = [
        {
            "_id": "a",
            "items": [{"sku": "x", "qty": 2, "marks": ["new", "gift"]}, {"sku": "y", "qty": 1, "marks": []}],
            "grid": [[1, 2], [3]],
        },
        {"_id": "b", "items": [{"sku": "z", "qty": 5, "marks": ["sale"]}], "grid": []},
        {"_id": "c", "items": [], "grid": [[]]},
    ]
    pipeline.source.orders.insert_many(source)
    pipeline.run()

    assert {"orders", "orders__items", "orders__items__marks", "orders__grid", "orders__grid__value"} <= (
        pipeline.tables()
    )
    items = pipeline.postgres.query(
        sql.SQL(
            "SELECT p._id, i._sdc_level_0_id, i.sku, i.qty, m._sdc_level_1_id, m.value"
            " FROM {orders} p JOIN {items} i ON i._sdc_source_key__id = p._id"
            " LEFT JOIN {marks} m ON m._sdc_source_key__id = i._sdc_source_key__id"
            " AND m._sdc_level_0_id = i._sdc_level_0_id"
            " ORDER BY p._id, i._sdc_level_0_id, m._sdc_level_1_id"
        ).format(
            orders=pipeline.table("orders"),
            items=pipeline.table("orders__items"),
            marks=pipeline.table("orders__items__marks"),
        )
    )
    rebuilt: dict[str, list[dict[str, t.Any]]] = {document["_id"]: [] for document in source}
    for parent, position, sku, qty, _mark_position, mark in items:
        elements = rebuilt[parent]
        if len(elements) == position:
            elements.append({"sku": sku, "qty": qty, "marks": []})
        if mark is not None:
            elements[position]["marks"].append(mark)
    assert rebuilt == {document["_id"]: document["items"] for document in source}

    grid = pipeline.postgres.query(
        sql.SQL(
            "SELECT p._id, r._sdc_level_0_id, v.value FROM {orders} p"
            " JOIN {rows} r ON r._sdc_source_key__id = p._id"
            " LEFT JOIN {cells} v ON v._sdc_source_key__id = r._sdc_source_key__id"
            " AND v._sdc_level_0_id = r._sdc_level_0_id"
            " ORDER BY p._id, r._sdc_level_0_id, v._sdc_level_1_id"
        ).format(
            orders=pipeline.table("orders"),
            rows=pipeline.table("orders__grid"),
            cells=pipeline.table("orders__grid__value"),
        )
    )
    rebuilt_grid: dict[str, list[list[t.Any]]] = {document["_id"]: [] for document in source}
    for parent, row, cell in grid:
        if len(rebuilt_grid[parent]) == row:
            rebuilt_grid[parent].append([])
        if cell is not None:
            rebuilt_grid[parent][row].append(cell)
    assert rebuilt_grid == {document["_id"]: document["grid"] for document in source}


def test_same_named_collections_of_two_databases_stay_apart(pipeline: Pipeline, deployment: Deployment) -> None:
    """One schema per database: a FULL_TABLE sync of one `orders` must not delete the other's rows."""
    crm = deployment.database("crm")
    pipeline.source.orders.insert_many([{"_id": 1, "from": "shop 1"}, {"_id": 2, "from": "shop 2"}])
    crm.orders.insert_many([{"_id": 2, "from": "crm 2"}, {"_id": 3, "from": "crm 3"}])
    pipeline.project.env["TAP_MONGODB_DATABASE_INCLUDES"] = json.dumps([pipeline.source.name, crm.name])
    pipeline.run()

    for database in (pipeline.source, crm):
        loaded = pipeline.rows("orders", schema=database.name)
        assert {key: row["from"] for key, row in loaded.items()} == {
            d["_id"]: d["from"] for d in database.orders.find()
        }


# --- type drift between runs ----------------------------------------------------------------------


def holds(row: dict[str, t.Any], field: str, value: t.Any) -> bool:
    """Whether a loaded row carries a source value: in its column, as JSON, or flattened below it,
    or in a sibling column named after the value's type (the tap's `split` drift policy)."""
    siblings = [name for name in row if name.startswith(f"{field}{SEPARATOR}") and name.count(SEPARATOR) == 1]
    return any(_holds_in(row, name, value) for name in [field, *siblings]) or (
        isinstance(value, dict) and _holds_in(row, f"{field}{SEPARATOR}object", value)
    )


def _holds_in(row: dict[str, t.Any], field: str, value: t.Any) -> bool:
    loaded = row.get(field)
    if isinstance(value, dict):
        if loaded is not None:
            return (json.loads(loaded) if isinstance(loaded, str) else loaded) == value
        return all(_holds_in(row, f"{field}{SEPARATOR}{name}", inner) for name, inner in value.items())
    return same_value(loaded, value)


def same_value(loaded: t.Any, value: t.Any) -> bool:
    """Equal whatever column type drift led to: a number in bigint, numeric or text; a date in timestamp or text."""
    if value is None or loaded is None:
        return value is loaded
    expected = stored_value(value)
    if isinstance(value, datetime.datetime):
        if isinstance(loaded, str):
            loaded = _utc_naive(datetime.datetime.fromisoformat(loaded))
        return loaded == expected
    if isinstance(value, bool) or isinstance(loaded, bool):
        return loaded is value
    if isinstance(expected, int | Decimal):
        try:
            return Decimal(str(loaded)) == Decimal(expected)
        except ArithmeticError:
            return False
    return loaded == expected


def missing_values(pipeline: Pipeline, collection: str) -> list[str]:
    rows = pipeline.rows(collection)
    missing = []
    for document in pipeline.source[collection].find():
        row = rows.get(stored_value(document["_id"]))
        if row is None:
            missing.append(f"document {document['_id']!r}: no row")
            continue
        missing += [
            f"document {document['_id']!r}.{field}: {value!r} not loaded (row: {row})"
            for field, value in document.items()
            if not holds(row, field, value)
        ]
    return missing


def test_type_drift_between_runs_loads_every_value(pipeline: Pipeline) -> None:
    drift = pipeline.source.drift
    drift.insert_many(
        [
            {
                "_id": i,
                "count": i,
                "due": datetime.datetime(2024, 1, i + 1, 12, 0, 0, 250000, tzinfo=UTC),
                "status": f"state {i}",
                "score": i * 10,
            }
            for i in range(5)
        ]
    )
    pipeline.run()
    assert not missing_values(pipeline, "drift")

    drift.insert_many(
        [
            # An int field now a string, a date now "pending", a string now a document, a float
            # in a field sampled as integers.
            {"_id": 10, "count": "12", "due": "pending", "status": {"code": 3, "text": "late"}, "score": 2.5},
            {"_id": 11, "count": 7, "due": datetime.datetime(2025, 6, 1, tzinfo=UTC), "status": "ok", "score": 0.1},
        ]
    )
    pipeline.run()
    assert not missing_values(pipeline, "drift")


# --- names PostgreSQL cannot hold -----------------------------------------------------------------

POSTGRES_MAX_IDENTIFIER = 63


def test_collection_name_longer_than_postgres_identifiers_loads(pipeline: Pipeline) -> None:
    collection = "shipment_events_" + "x" * 54
    assert len(collection) == 70
    pipeline.source[collection].insert_many([{"_id": 1, "v": "a", "legs": [1, 2]}, {"_id": 2, "v": "b", "legs": []}])
    pipeline.run()

    tables = pipeline.tables()
    assert all(len(name) <= POSTGRES_MAX_IDENTIFIER for name in tables)
    parents = [name for name in tables if name.startswith(collection[:40]) and SEPARATOR + "legs" not in name]
    assert len(parents) == 1, tables
    assert {key: row["v"] for key, row in pipeline.rows(parents[0]).items()} == {1: "a", 2: "b"}
