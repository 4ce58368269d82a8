"""The real `meltano` CLI on a copy of this repository's meltano.yml, against the test server.

Every plugin meltano.yml lists is installed once per module (`meltano install`: uv, from the
local packages and PyPI). Each test points the plugins at its own databases through Meltano's
environment variables, which take precedence over meltano.yml: the source is `<prefix>shop`,
the copy `<prefix>dst`.
"""

from __future__ import annotations

import csv
import importlib.util
import json
import shutil
import typing as t
from pathlib import Path

import pytest
import yaml
from psycopg import sql

from tests.support.meltano_project import MeltanoProject
from tests.support.meltano_runs import Command, environment_names, plan, plugin_names, setting
from tests.support.postgres import PostgresScratch, connection_settings

if t.TYPE_CHECKING:
    import subprocess

    import pymongo

    from tests.support.deployment import Deployment

# One test process runs the whole module, so its Meltano plugins are installed once, not once
# per process (scripts/test.sh distributes with --dist loadgroup).
pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("meltano-demo")]

ROOT = Path(__file__).resolve().parents[2]


class Project(MeltanoProject):
    """The repository's Meltano project, pointed at one test's databases at a time."""

    def __init__(self, root: Path) -> None:
        super().__init__(root)
        self.deployment: Deployment | None = None

    def use(self, deployment: Deployment) -> None:
        """Point the tap at the test's `<prefix>*` databases and the target at `<prefix>dst`."""
        self.deployment = deployment
        self.env.update(
            TAP_MONGODB_MONGODB_URI=deployment.uri,
            TAP_MONGODB_DATABASE_INCLUDES=json.dumps([deployment.db_name("shop")]),
            TARGET_MONGODB_MONGODB_URI=deployment.uri,
            TARGET_MONGODB_DATABASE=deployment.db_name("dst"),
            TARGET_MONGODB_COLLECTION_NAMING="strip_database_prefix",
        )

    @property
    def source(self) -> t.Any:
        assert self.deployment is not None
        return self.deployment.database("shop")

    @property
    def destination(self) -> t.Any:
        assert self.deployment is not None
        return self.deployment.database("dst")

    def meltano(
        self, *args: str, check: bool = True, env: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        return super().meltano("--log-level=warning", *args, check=check, env=env)

    def seed(self, documents: dict[str, list[dict[str, t.Any]]]) -> None:
        for collection, docs in documents.items():
            self.source[collection].insert_many(docs)


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Project:
    root = MeltanoProject.copy_of_repository(tmp_path_factory.mktemp("meltano-project")).root
    current = Project(root)
    current.meltano("install")  # every plugin; the tap-mongodb variants share tap-mongodb's venv
    return current


@pytest.fixture
def fresh(project: Project, deployment: Deployment) -> Project:
    shutil.rmtree(project.root / ".demo", ignore_errors=True)
    project.use(deployment)
    return project


def test_flattened_and_denested_data_loads_into_target_csv(fresh: Project) -> None:
    fresh.seed(
        {
            "orders": [
                {
                    "_id": 1,
                    "customer": {"name": "Ada", "address": {"city": "Oslo"}},
                    "items": [{"sku": "a", "qty": 2}, {"sku": "b", "qty": 1}],
                },
                {"_id": 2, "customer": {"name": "Bo", "address": {"city": "Lima"}}, "items": []},
            ]
        }
    )
    fresh.meltano("run", "tap-mongodb--flattened", "target-csv")
    output = fresh.root / ".demo" / "csv"
    stream = f"{fresh.source.name}-orders"
    with (output / f"{stream}.csv").open() as handle:
        parents = {row["_id"]: row for row in csv.DictReader(handle)}
    assert parents["1"]["customer__name"] == "Ada"
    assert parents["1"]["customer__address__city"] == "Oslo"
    with (output / f"{stream}__items.csv").open() as handle:
        items = list(csv.DictReader(handle))
    assert [(row["_sdc_source_key__id"], row["_sdc_level_0_id"], row["sku"], row["qty"]) for row in items] == [
        ("1", "0", "a", "2"),
        ("1", "1", "b", "1"),
    ]
    assert all(row["_sdc_source_key__id"] in parents for row in items)


def test_incremental_runs_pick_up_only_changes_and_state_resets_one_stream(fresh: Project) -> None:
    fresh.seed(
        {
            "orders": [{"_id": i, "updated_at": i} for i in range(5)],
            "customers": [{"_id": i, "updated_at": i} for i in range(3)],
            # No `updated_at`: meltano.yml's `'*'` key cannot apply; the tap skips it, saying so.
            "leads": [{"_id": i, "score": i} for i in range(2)],
        }
    )
    orders, customers = f"{fresh.source.name}-orders", f"{fresh.source.name}-customers"
    state_id = "demo:tap-mongodb--incremental-to-target-mongodb"
    fresh.meltano("state", "clear", "--force", state_id, check=False)
    first = fresh.meltano("run", "tap-mongodb--incremental", "target-mongodb")
    assert f"Skipping stream '{fresh.source.name}-leads'" in first.stderr
    assert "leads" not in fresh.destination.list_collection_names()
    state = json.loads(fresh.meltano("state", "get", state_id).stdout)
    assert state["singer_state"]["bookmarks"][orders]["replication_key_value"] == 4

    fresh.source.orders.insert_one({"_id": 10, "updated_at": 10})
    fresh.source.orders.update_one({"_id": 0}, {"$set": {"updated_at": 11, "changed": True}})
    second = fresh.meltano("run", "tap-mongodb--incremental", "target-mongodb")
    assert second.returncode == 0
    copied = fresh.destination.orders
    assert copied.count_documents({}) == 6
    assert copied.find_one({"_id": 0})["changed"] is True
    state = json.loads(fresh.meltano("state", "get", state_id).stdout)
    assert state["singer_state"]["bookmarks"][orders]["replication_key_value"] == 11

    # Table-level reset, as docs/replication.md describes it: drop one stream's bookmark.
    del state["singer_state"]["bookmarks"][customers]
    fresh.meltano("state", "set", "--force", state_id, json.dumps(state))
    after_reset = json.loads(fresh.meltano("state", "get", state_id).stdout)
    assert customers not in after_reset["singer_state"]["bookmarks"]
    assert after_reset["singer_state"]["bookmarks"][orders]["replication_key_value"] == 11


# --- every plugin, environment and job of meltano.yml, on the demo data -------------------------


DEMO_DATABASES = "demo_"  # scripts/demo_seed.py's `demo_shop` and `demo_crm`, prefixed by the test


def _demo_seed() -> t.Callable[..., dict[str, int]]:
    """scripts/demo_seed.py's `seed` (scripts/ is not a package)."""
    spec = importlib.util.spec_from_file_location("demo_seed", ROOT / "scripts" / "demo_seed.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.seed


class DemoOutputs:
    """Where one `meltano run` command's loaders put the demo data, and what arrived there.

    A stream `<database>-<collection>` is, in target-mongodb (`strip_database_prefix`), the
    collection in the command's destination database; in target-csv, `<stream>.csv`; in
    target-postgres (meltano.yml's empty `default_target_schema`), table `<collection>` of
    schema `<database>`.
    """

    def __init__(self, project: Project, deployment: Deployment, postgres_uri: str, number: int) -> None:
        self.csv_directory = project.root / ".demo" / "csv"
        shutil.rmtree(self.csv_directory, ignore_errors=True)
        self.mongodb: pymongo.database.Database = deployment.database(f"replica{number}")
        self.postgres = PostgresScratch(postgres_uri, prefix=deployment.prefix)
        pg = connection_settings(postgres_uri)
        self.env = {
            "TAP_MONGODB_MONGODB_URI": deployment.uri,
            # meltano.yml's `demo_*`, in this test's databases (not the copies below).
            "TAP_MONGODB_DATABASE_INCLUDES": json.dumps([f"{deployment.prefix}{DEMO_DATABASES}*"]),
            # One server holds source and copy: meltano.yml's `database_from_prefix` would write
            # each collection onto itself.
            "TARGET_MONGODB_MONGODB_URI": deployment.uri,
            "TARGET_MONGODB_DATABASE": self.mongodb.name,
            "TARGET_MONGODB_COLLECTION_NAMING": "strip_database_prefix",
            "TARGET_CSV_OUTPUT_PATH": str(self.csv_directory),
            **{f"TARGET_POSTGRES_{name.upper()}": value for name, value in _postgres_settings(pg).items()},
            **{f"PG{name.upper()}": value for name, value in _postgres_settings(pg).items()},
        }

    def rows(self, loader: str, stream: str) -> int:
        database, _, collection = stream.partition("-")
        if loader == "target-mongodb":
            return self.mongodb[collection].count_documents({})
        if loader == "target-csv":
            path = self.csv_directory / f"{stream}.csv"
            if not path.exists():
                return 0
            with path.open(newline="", encoding="utf-8") as handle:
                return sum(1 for _row in csv.DictReader(handle))
        if loader == "target-postgres":
            found = self.postgres.query(
                "SELECT 1 FROM information_schema.tables WHERE table_schema = %s AND table_name = %s",
                (database, collection),
            )
            if not found:
                return 0
            table = sql.SQL("{}.{}").format(sql.Identifier(database), sql.Identifier(collection))
            return int(self.postgres.query(sql.SQL("SELECT count(*) FROM {}").format(table))[0][0])
        msg = f"no reader for loader {loader!r}: add one to DemoOutputs"
        raise AssertionError(msg)

    def close(self) -> None:
        self.postgres.cleanup()


def _postgres_settings(pg: dict[str, str]) -> dict[str, str]:
    return {name: pg[name] for name in ("host", "port", "user", "password")} | {"database": pg["dbname"]}


def _expected_streams(
    config: dict[str, t.Any], extractor: str, collections: list[pymongo.collection.Collection]
) -> tuple[dict[str, int], dict[str, str]]:
    """Documents per stream the extractor must load, and the streams it must skip (with the key they lack).

    A `'*'` INCREMENTAL replication key in the extractor's metadata cannot apply to a
    collection none of whose documents has it: such a stream is skipped, saying so.
    """
    plugins = {plugin["name"]: plugin for plugin in config["plugins"]["extractors"]}
    every_stream = (plugins[extractor].get("metadata") or {}).get("*") or {}
    key = every_stream.get("replication-key") if every_stream.get("replication-method") == "INCREMENTAL" else None
    loaded, skipped = {}, {}
    for collection in collections:
        stream = f"{collection.database.name}-{collection.name}"
        if key is not None and collection.count_documents({key: {"$exists": True}}) == 0:
            skipped[stream] = key
        else:
            loaded[stream] = collection.count_documents({})
    return loaded, skipped


def _array_rows(collection: pymongo.collection.Collection) -> dict[str, int]:
    """Elements per top-level array field: the rows of its child stream with `denest_arrays`."""
    rows: dict[str, int] = {}
    for document in collection.find():
        for field, value in document.items():
            if isinstance(value, list):
                rows[field] = rows.get(field, 0) + len(value)
    return rows


def _check_command_output(
    config: dict[str, t.Any],
    command: Command,
    stderr: str,
    outputs: DemoOutputs,
    collections: list[pymongo.collection.Collection],
) -> None:
    by_stream = {f"{collection.database.name}-{collection.name}": collection for collection in collections}
    for extractor, loader in command.pairs:
        loaded, skipped = _expected_streams(config, extractor, collections)
        what = f"{extractor} -> {loader} ({command.environment})"
        for stream, key in skipped.items():
            explanation = f"Skipping stream '{stream}': none of its documents has the replication key '{key}'"
            assert explanation in stderr, f"{what}: no one-line explanation for skipping {stream}"
            assert outputs.rows(loader, stream) == 0, f"{what}: {stream} was to be skipped"
        assert loaded, f"{what}: no stream to load"
        arrived = {stream: outputs.rows(loader, stream) for stream in loaded}
        assert arrived == loaded, f"{what}: records per stream"
        if setting(config, command.environment, extractor, "denest_arrays"):
            for stream in loaded:
                for field, count in _array_rows(by_stream[stream]).items():
                    assert outputs.rows(loader, f"{stream}__{field}") == count, f"{what}: {stream}__{field}"
        exact = setting(config, command.environment, extractor, "bson_encoding") == "extended_json"
        if loader == "target-mongodb" and exact:
            for stream in loaded:
                source = by_stream[stream]
                copy = outputs.mongodb[source.name]
                assert list(copy.find().sort("_id")) == list(source.find().sort("_id")), f"{what}: {stream} differs"


def test_every_plugin_environment_and_job_of_meltano_yml_runs_on_the_demo_data(
    project: Project, deployment: Deployment, postgres_uri: str
) -> None:
    """meltano.yml as shipped, on scripts/demo_seed.py's data: the issue's acceptance check.

    The extractors, loaders, environments and jobs come from meltano.yml, so a new one is
    covered without editing this test; tests/support/meltano_runs.py pairs them into as few
    `meltano run` commands as cover each once. The demo databases get the test's prefix.
    """
    config = yaml.safe_load((ROOT / "meltano.yml").read_text(encoding="utf-8"))
    seeded = _demo_seed()(deployment.uri, prefix=f"{deployment.prefix}{DEMO_DATABASES}")
    collections = [deployment.client[name.split(".")[0]][name.split(".")[1]] for name in seeded]
    commands = plan(config)
    assert {extractor for command in commands for extractor, _ in command.pairs} == set(
        plugin_names(config, "extractors")
    )
    assert {loader for command in commands for _, loader in command.pairs} == set(plugin_names(config, "loaders"))
    assert {command.environment for command in commands} == set(environment_names(config))
    assert {job["name"] for job in config.get("jobs", [])} <= {word for c in commands for word in c.words}

    for number, command in enumerate(commands):
        outputs = DemoOutputs(project, deployment, postgres_uri, number)
        try:
            result = project.meltano(
                f"--environment={command.environment}", "run", "--full-refresh", *command.words, env=outputs.env
            )
            assert "Traceback" not in result.stderr, result.stderr[-4000:]
            _check_command_output(config, command, result.stderr, outputs, collections)
        finally:
            outputs.close()
