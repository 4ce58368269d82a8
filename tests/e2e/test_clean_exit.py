"""A successful run of the installed commands prints no warning and no traceback.

Python's development mode (`PYTHONDEVMODE=1`, what `python -X dev` sets) shows the warnings
a plain run hides, ResourceWarning among them; `PYTHONWARNINGS=error::ResourceWarning` makes
each one an error. A MongoClient left to the garbage collector, a file or socket never closed,
shows up here as "ResourceWarning ... Traceback" on stderr even though the exit status is 0.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import typing as t
from pathlib import Path

import pytest

from tests.support.singer_io import select_streams

if t.TYPE_CHECKING:
    from tests.support.deployment import Deployment

pytestmark = pytest.mark.e2e

BIN = Path(sys.executable).parent
TAP, TARGET = str(BIN / "tap-mongodb"), str(BIN / "target-mongodb")
STRICT = {**os.environ, "PYTHONDEVMODE": "1", "PYTHONWARNINGS": "error::ResourceWarning"}


def _run(args: list[str], stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(args, input=stdin, capture_output=True, text=True, env=STRICT, timeout=180, check=False)
    assert result.returncode == 0, result.stderr[-4000:]
    for word in ("Warning", "Traceback"):
        assert word not in result.stderr, f"{' '.join(args[:1])} printed a {word}:\n{result.stderr[-4000:]}"
    return result


def _write(path: Path, data: dict[str, t.Any]) -> str:
    path.write_text(json.dumps(data), encoding="utf-8")
    return str(path)


@pytest.mark.parametrize("replication_method", ["FULL_TABLE", "LOG_BASED"])
def test_discover_sync_and_load_end_without_warnings(
    deployment: Deployment, tmp_path: Path, replication_method: str
) -> None:
    deployment.database("shop").orders.insert_many([{"_id": i, "n": i} for i in range(5)])
    tap_config = _write(tmp_path / "tap.json", deployment.config())
    target_config = _write(tmp_path / "target.json", deployment.config(database=deployment.db_name("copy")))

    discovered = json.loads(_run([TAP, "--config", tap_config, "--discover"]).stdout)
    stream = f"{deployment.db_name('shop')}-orders"
    catalog = _write(
        tmp_path / "catalog.json", select_streams(discovered, [stream], replication_method=replication_method)
    )
    synced = _run([TAP, "--config", tap_config, "--catalog", catalog]).stdout
    _run([TARGET, "--config", target_config], stdin=synced)

    copied = deployment.database("copy")[stream]
    assert sorted(d["n"] for d in copied.find()) == list(range(5))
