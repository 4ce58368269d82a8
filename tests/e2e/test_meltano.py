"""The real `meltano` CLI on a copy of this repository's meltano.yml, with the embedded stand-in.

Plugins are installed once per module (uv, from the local packages and PyPI).
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

from mongodb_common.standin import connect
from tests.support.deployment import REAL_URI

pytestmark = [pytest.mark.e2e, pytest.mark.skipif(bool(REAL_URI), reason="uses the stand-in demo project")]

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

    def seed(self, documents: dict[str, list[dict[str, t.Any]]]) -> t.Any:
        client = connect(f"litemongo://{self.root}/.demo/source")
        for name, docs in documents.items():
            database, collection = name.split(".")
            client[database][collection].insert_many(docs)
        return client


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
def fresh(project: Project) -> Project:
    shutil.rmtree(project.root / ".demo", ignore_errors=True)
    project.meltano("state", "clear", "--force", "demo:tap-mongodb-to-target-mongodb", check=False)
    project.meltano("state", "clear", "--force", "demo:tap-mongodb--incremental-to-target-mongodb", check=False)
    return project


def test_flattened_and_denested_data_loads_into_target_csv(fresh: Project) -> None:
    fresh.seed(
        {
            "demo_shop.orders": [
                {
                    "_id": 1,
                    "customer": {"name": "Ada", "address": {"city": "Oslo"}},
                    "items": [{"sku": "a", "qty": 2}, {"sku": "b", "qty": 1}],
                },
                {"_id": 2, "customer": {"name": "Bo", "address": {"city": "Lima"}}, "items": []},
            ]
        }
    ).close()
    fresh.meltano("run", "tap-mongodb--flattened", "target-csv")
    output = fresh.root / ".demo" / "csv"
    with (output / "demo_shop-orders.csv").open() as handle:
        parents = {row["_id"]: row for row in csv.DictReader(handle)}
    assert parents["1"]["customer__name"] == "Ada"
    assert parents["1"]["customer__address__city"] == "Oslo"
    with (output / "demo_shop-orders__items.csv").open() as handle:
        items = list(csv.DictReader(handle))
    assert [(row["_sdc_source_key__id"], row["_sdc_level_0_id"], row["sku"], row["qty"]) for row in items] == [
        ("1", "0", "a", "2"),
        ("1", "1", "b", "1"),
    ]
    assert all(row["_sdc_source_key__id"] in parents for row in items)


def test_incremental_runs_pick_up_only_changes_and_state_resets_one_stream(fresh: Project) -> None:
    client = fresh.seed(
        {
            "demo_shop.orders": [{"_id": i, "updated_at": i} for i in range(5)],
            "demo_shop.customers": [{"_id": i, "updated_at": i} for i in range(3)],
        }
    )
    fresh.meltano("run", "tap-mongodb--incremental", "target-mongodb")
    state_id = "demo:tap-mongodb--incremental-to-target-mongodb"
    state = json.loads(fresh.meltano("state", "get", state_id).stdout)
    assert state["singer_state"]["bookmarks"]["demo_shop-orders"]["replication_key_value"] == 4

    client["demo_shop"].orders.insert_one({"_id": 10, "updated_at": 10})
    client["demo_shop"].orders.update_one({"_id": 0}, {"$set": {"updated_at": 11, "changed": True}})
    second = fresh.meltano("run", "tap-mongodb--incremental", "target-mongodb")
    assert second.returncode == 0
    destination = connect(f"litemongo://{fresh.root}/.demo/destination")
    copied = destination["demo_shop"].orders
    assert copied.count_documents({}) == 6
    assert copied.find_one({"_id": 0})["changed"] is True
    state = json.loads(fresh.meltano("state", "get", state_id).stdout)
    assert state["singer_state"]["bookmarks"]["demo_shop-orders"]["replication_key_value"] == 11

    # Table-level reset, as docs/replication.md describes it: drop one stream's bookmark.
    del state["singer_state"]["bookmarks"]["demo_shop-customers"]
    fresh.meltano("state", "set", "--force", state_id, json.dumps(state))
    after_reset = json.loads(fresh.meltano("state", "get", state_id).stdout)
    assert "demo_shop-customers" not in after_reset["singer_state"]["bookmarks"]
    assert after_reset["singer_state"]["bookmarks"]["demo_shop-orders"]["replication_key_value"] == 11
    client.close()
    destination.close()


def test_main_job_copies_mongodb_to_mongodb(fresh: Project) -> None:
    fresh.seed({"demo_shop.orders": [{"_id": i, "n": i} for i in range(20)]}).close()
    fresh.meltano("run", "tap-mongodb", "target-mongodb")
    destination = connect(f"litemongo://{fresh.root}/.demo/destination")
    assert sorted(d["n"] for d in destination["demo_shop"].orders.find()) == list(range(20))
    destination.close()
