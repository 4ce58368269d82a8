"""The installed tap killed with SIGKILL at many points of a multi-collection sync, then resumed;
SIGTERM; and secrets never printed by a failing or a succeeding run."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import typing as t
from pathlib import Path

import pytest

from tests.support.deployment import CODEC_OPTIONS
from tests.support.schema_invariant import assert_records_fit_their_schemas
from tests.support.singer_io import parse_messages, run_target

if t.TYPE_CHECKING:
    from tests.support.deployment import Deployment

pytestmark = pytest.mark.e2e

BIN = Path(sys.executable).parent
TAP, TARGET = str(BIN / "tap-mongodb"), str(BIN / "target-mongodb")


def _write(path: Path, data: t.Any) -> str:
    path.write_text(json.dumps(data), encoding="utf-8")
    return str(path)


def _seed(deployment: Deployment) -> None:
    for name in ("orders", "customers", "events"):
        deployment.database("src")[name].insert_many([{"_id": i, "name": name, "n": i} for i in range(120)])


def _snapshot(deployment: Deployment, database: str) -> dict[str, t.Any]:
    import bson

    db = deployment.database(database)
    return {
        name: sorted(bson.encode(d, codec_options=CODEC_OPTIONS) for d in db[name].find())
        for name in ("orders", "customers", "events")
    }


@pytest.mark.parametrize("kill_after_lines", [7, 60, 150, 290])
def test_sigkill_of_the_tap_then_resume_from_the_confirmed_state(
    deployment: Deployment, tmp_path: Path, kill_after_lines: int
) -> None:
    _seed(deployment)
    config = _write(
        tmp_path / "tap.json",
        deployment.config(
            database_includes=[deployment.db_name("src")], bson_encoding="extended_json", state_interval_records=25
        ),
    )
    target_config = deployment.config(database=deployment.db_name("dst"), collection_naming="strip_database_prefix")
    state: dict[str, t.Any] = {}
    for attempt in range(20):
        args = [TAP, "--config", config]
        if state:
            args += ["--state", _write(tmp_path / "state.json", state)]
        lines: list[str] = []
        killed = False
        with subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True) as process:
            assert process.stdout is not None
            for line in process.stdout:
                lines.append(line)
                if attempt == 0 and len(lines) >= kill_after_lines:
                    os.kill(process.pid, signal.SIGKILL)
                    killed = True
                    break
        confirmed: list[dict[str, t.Any]] = []
        run_target(target_config, parse_messages("".join(lines)), states_out=confirmed)
        if confirmed:
            state = confirmed[-1]
        if not killed:
            assert process.returncode == 0
            break
    assert _snapshot(deployment, "dst") == _snapshot(deployment, "src")


@pytest.mark.parametrize("unbuffered", [True, False], ids=["PYTHONUNBUFFERED", "buffered"])
def test_sigterm_writes_state_and_exits_zero(deployment: Deployment, tmp_path: Path, unbuffered: bool) -> None:
    """The signal mostly lands while the tap is blocked writing to the full pipe (the test reads
    slowly): the final STATE must still come out whole, after the records it covers, whether
    Python buffers stdout or not (it once got lost to a reentrant buffered write)."""
    deployment.database("src").orders.insert_many([{"_id": i, "pad": "x" * 2000} for i in range(3000)])
    config = _write(tmp_path / "tap.json", deployment.config(database_includes=[deployment.db_name("src")]))
    env = {name: value for name, value in os.environ.items() if name != "PYTHONUNBUFFERED"}
    if unbuffered:
        env["PYTHONUNBUFFERED"] = "1"
    seen: list[str] = []
    with subprocess.Popen(
        [TAP, "--config", config], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
    ) as process:
        assert process.stdout is not None
        for line in process.stdout:
            seen.append(line)
            if sum('"type":"RECORD"' in item for item in seen) == 50:
                process.send_signal(signal.SIGTERM)
                break
        # Read on through the same text stream: `communicate` reads the pipe itself and would skip
        # what this stream has already buffered, cutting a line in two.
        rest = process.stdout.read()
        assert process.stderr is not None
        stderr = process.stderr.read()
        assert process.wait(timeout=60) == 0, stderr
    messages = [json.loads(line) for line in [*seen, *rest.splitlines()] if line.strip()]
    assert_records_fit_their_schemas(messages)
    emitted = [m["record"]["_id"] for m in messages if m["type"] == "RECORD"]
    last_state = [m for m in messages if m["type"] == "STATE"][-1]["value"]
    progress = last_state["bookmarks"][f"{deployment.prefix}src-orders"]
    # Never ahead of what was written; at most the one record being handed on when the signal came.
    assert max(emitted) - 1 <= progress["last_id"] <= max(emitted)
    assert len(emitted) < 3000
    assert "Gracefully shutting down" in stderr


SECRET = "S3cr3t-Pa55"


@pytest.mark.parametrize("failing", [True, False])
def test_no_output_ever_contains_a_secret(deployment: Deployment, tmp_path: Path, failing: bool) -> None:
    deployment.database("src").orders.insert_many([{"_id": i} for i in range(5)])
    if failing:
        tap_settings = {
            "mongodb_uri": f"mongodb://reader:{SECRET}@127.0.0.1:9/?directConnection=true",
            "server_selection_timeout_ms": 1000,
        }
    else:
        tap_settings = deployment.config(database_includes=[deployment.db_name("src")])
    tap_settings |= {"password": SECRET, "tls_certificate_key_file_password": SECRET}
    tap_config = _write(tmp_path / "tap.json", tap_settings)
    target_config = _write(
        tmp_path / "target.json",
        deployment.config(database=deployment.db_name("dst")) | {"password": SECRET}
        if not failing
        else {
            "mongodb_uri": f"mongodb://writer:{SECRET}@127.0.0.1:9/",
            "database": "x",
            "server_selection_timeout_ms": 1000,
        },
    )
    outputs: list[str] = []
    for command in ([TAP, "--config", tap_config, "--about"], [TAP, "--config", tap_config, "--discover"]):
        result = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
        outputs += [result.stdout, result.stderr]
    pipeline = subprocess.run(
        ["bash", "-o", "pipefail", "-c", f"{TAP} --config {tap_config} | {TARGET} --config {target_config}"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    outputs += [pipeline.stdout, pipeline.stderr]
    assert (pipeline.returncode != 0) is failing
    joined = "\n".join(outputs)
    assert SECRET not in joined
    if failing:
        assert "reader:***@127.0.0.1:9" in joined
