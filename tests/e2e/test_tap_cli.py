"""The installed `tap-mongodb` command, as a user or Meltano runs it."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import typing as t
from pathlib import Path

import pytest

from tests.support.schema_invariant import assert_records_fit_their_schemas

if t.TYPE_CHECKING:
    from tests.support.deployment import Deployment

pytestmark = pytest.mark.e2e

TAP = str(Path(sys.executable).with_name("tap-mongodb"))


def _run(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([TAP, *args], capture_output=True, text=True, timeout=timeout, check=False)


def _write(path: Path, data: dict[str, t.Any]) -> str:
    path.write_text(json.dumps(data), encoding="utf-8")
    return str(path)


def test_about_lists_settings_without_secret_values(tmp_path: Path) -> None:
    config = _write(tmp_path / "config.json", {"mongodb_uri": "mongodb://u:TopSecret@h/", "password": "TopSecret"})
    result = _run("--about", "--format", "json", "--config", config)
    assert result.returncode == 0, result.stderr
    about = json.loads(result.stdout)
    assert {"mongodb_uri", "password", "bson_encoding", "schema_mode"} <= set(about["settings"]["properties"])
    assert about["settings"]["properties"]["password"]["secret"] is True
    assert "TopSecret" not in result.stdout + result.stderr


def test_discover_then_sync_with_the_catalog_and_state(deployment: Deployment, tmp_path: Path) -> None:
    deployment.database("shop").orders.insert_many([{"_id": i, "total": i * 1.5} for i in range(5)])
    config = _write(tmp_path / "config.json", deployment.config())
    discovered = _run("--config", config, "--discover")
    assert discovered.returncode == 0, discovered.stderr
    catalog = _write(tmp_path / "catalog.json", json.loads(discovered.stdout))
    synced = _run("--config", config, "--catalog", catalog)
    assert synced.returncode == 0, synced.stderr
    messages = [json.loads(line) for line in synced.stdout.splitlines()]
    assert_records_fit_their_schemas(messages)
    assert [m["record"]["total"] for m in messages if m["type"] == "RECORD"] == [0.0, 1.5, 3.0, 4.5, 6.0]
    assert messages[-1]["type"] == "STATE"
    state = _write(tmp_path / "state.json", messages[-1]["value"])
    again = _run("--config", config, "--catalog", catalog, "--state", state)
    assert again.returncode == 0, again.stderr


def test_a_sync_without_a_catalog_samples_its_own_read_and_discover_samples_at_random(
    deployment: Deployment, tmp_path: Path
) -> None:
    """Without `--catalog` the collection is read once (schema_sampling.py); `--discover` uses `$sample`."""
    deployment.database("shop").orders.insert_many([{"_id": i, "total": i if i < 4 else f"{i}"} for i in range(6)])
    config = _write(tmp_path / "config.json", deployment.config(schema_sample_size=3))
    synced = _run("--config", config)
    assert synced.returncode == 0, synced.stderr
    assert "from the first 3 documents of its full-table read" in synced.stderr
    assert "sampled documents" not in synced.stderr
    messages = [json.loads(line) for line in synced.stdout.splitlines()]
    assert_records_fit_their_schemas(messages)
    rows = [m["record"] for m in messages if m["type"] == "RECORD"]
    assert [row.get("total", row.get("total__string")) for row in rows] == [0, 1, 2, 3, "4", "5"]
    discovered = _run("--config", config, "--discover")
    assert discovered.returncode == 0, discovered.stderr
    assert "from 3 sampled documents" in discovered.stderr


def test_unreachable_server_fails_within_the_timeout_naming_host_and_cause_but_not_password(tmp_path: Path) -> None:
    config = _write(
        tmp_path / "config.json",
        {
            "mongodb_uri": "mongodb://reader:Hunter2Secret@127.0.0.1:9/?directConnection=true",
            "server_selection_timeout_ms": 1500,
        },
    )
    started = time.monotonic()
    result = _run("--config", config, "--discover", timeout=60)
    elapsed = time.monotonic() - started
    assert result.returncode != 0
    assert "cannot reach MongoDB at mongodb://reader:***@127.0.0.1:9" in result.stderr
    assert "Hunter2Secret" not in result.stdout + result.stderr
    assert elapsed < 30  # the 1.5 s selection timeout plus start-up, never a hang


def test_invalid_setting_names_the_setting(tmp_path: Path) -> None:
    config = _write(tmp_path / "config.json", {"mongodb_uri": "mongodb://127.0.0.1:9/", "bson_encoding": "bsonish"})
    result = _run("--config", config, "--discover")
    assert result.returncode != 0
    assert "bson_encoding" in result.stderr
