"""The real `meltano` CLI on a copy of this repository's meltano.yml, against the test server.

Plugins are installed once per module (uv, from the local packages and PyPI). Each test points
the demo environment at its own databases through Meltano's environment variables, which
take precedence over meltano.yml: the source is `<prefix>shop`, the copy `<prefix>dst`.
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import subprocess
import sys
import typing as t
from pathlib import Path

import pytest
import yaml

if t.TYPE_CHECKING:
    from tests.support.deployment import Deployment

# One test process runs the whole module, so its Meltano plugins are installed once, not once
# per process (scripts/test.sh distributes with --dist loadgroup).
pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("meltano-demo")]

ROOT = Path(__file__).resolve().parents[2]
MELTANO = str(Path(sys.executable).with_name("meltano"))
PLUGINS = [
    ("extractor", "tap-mongodb"),
    ("extractor", "tap-mongodb--flattened"),
    ("extractor", "tap-mongodb--incremental"),
    ("loader", "target-mongodb"),
    ("loader", "target-csv"),
]


class Project:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.env = {**os.environ, "MELTANO_SEND_ANONYMOUS_USAGE_STATS": "false", "MELTANO_PROJECT_ROOT": str(root)}
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

    def meltano(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            [MELTANO, "--log-level=warning", *args],
            cwd=self.root,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        if check and result.returncode != 0:
            pytest.fail(f"meltano {' '.join(args)} failed:\n{result.stdout}\n{result.stderr[-4000:]}")
        return result

    def seed(self, documents: dict[str, list[dict[str, t.Any]]]) -> None:
        for collection, docs in documents.items():
            self.source[collection].insert_many(docs)


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Project:
    root = tmp_path_factory.mktemp("meltano-project")
    config = yaml.safe_load((ROOT / "meltano.yml").read_text(encoding="utf-8"))
    for kind in config["plugins"].values():
        for plugin in kind:
            if "pip_url" in plugin:
                plugin["pip_url"] = plugin["pip_url"].replace("./", f"{ROOT}/")
    (root / "meltano.yml").write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    current = Project(root)
    for kind, name in PLUGINS:
        current.meltano("install", kind, name)
    return current


@pytest.fixture
def fresh(project: Project, deployment: Deployment) -> Project:
    shutil.rmtree(project.root / ".demo", ignore_errors=True)
    project.use(deployment)
    project.meltano("state", "clear", "--force", "demo:tap-mongodb-to-target-mongodb", check=False)
    project.meltano("state", "clear", "--force", "demo:tap-mongodb--incremental-to-target-mongodb", check=False)
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
    first = fresh.meltano("run", "tap-mongodb--incremental", "target-mongodb")
    assert f"Skipping stream '{fresh.source.name}-leads'" in first.stderr
    assert "leads" not in fresh.destination.list_collection_names()
    state_id = "demo:tap-mongodb--incremental-to-target-mongodb"
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


def test_main_job_copies_mongodb_to_mongodb(fresh: Project) -> None:
    fresh.seed({"orders": [{"_id": i, "n": i} for i in range(20)]})
    fresh.meltano("run", "tap-mongodb", "target-mongodb")
    assert sorted(d["n"] for d in fresh.destination.orders.find()) == list(range(20))
