"""The installed tap piped into a process that stops reading: one line saying so, naming the stream."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import typing as t
from pathlib import Path

import pytest

if t.TYPE_CHECKING:
    from tests.support.deployment import Deployment

pytestmark = pytest.mark.e2e

TAP = str(Path(sys.executable).with_name("tap-mongodb"))
# A "target" that reads one line, then exits with an error of its own.
QUITTER = [sys.executable, "-c", "import sys; sys.stdin.readline(); sys.exit(3)"]


def _pipe_into_quitter(config: Path, environment: dict[str, str]) -> tuple[int, int, str]:
    """Tap | quitter, as a shell pipeline would run them; the exit statuses and the tap's stderr."""
    with subprocess.Popen(
        [TAP, "--config", str(config)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=environment
    ) as tap:
        assert tap.stdout is not None
        assert tap.stderr is not None
        with subprocess.Popen(QUITTER, stdin=tap.stdout) as quitter:
            tap.stdout.close()  # only the quitter holds the read end now, as in a shell pipeline
            stderr = tap.stderr.read().decode()
            return tap.wait(timeout=120), quitter.wait(timeout=120), stderr


@pytest.mark.parametrize("debug", [False, True])
def test_a_target_that_stops_reading_ends_the_tap_with_one_line_naming_the_stream(
    deployment: Deployment, tmp_path: Path, debug: bool
) -> None:
    # Far more than a pipe buffer holds, so the tap is still writing when the reader is gone.
    deployment.database("src").orders.insert_many([{"_id": i, "pad": "x" * 200} for i in range(4000)])
    config = tmp_path / "tap.json"
    config.write_text(json.dumps(deployment.config(database_includes=[deployment.db_name("src")])))
    environment = {key: value for key, value in os.environ.items() if not key.endswith("LOGLEVEL")}
    if debug:
        environment["TAP_MONGODB_LOGLEVEL"] = "debug"
    tap_status, quitter_status, stderr = _pipe_into_quitter(config, environment)
    assert quitter_status == 3
    assert tap_status == 1, stderr
    expected = (
        "tap-mongodb: error: the downstream process (the target) stopped reading the tap's output while "
        f"syncing stream '{deployment.prefix}src-orders' (broken pipe); its own error output says why"
    )
    lines = stderr.strip().splitlines()
    assert [line for line in lines if line.startswith("tap-mongodb: error:")] == [expected]
    assert ("Traceback" in stderr) is debug
    if not debug:  # (at DEBUG level the driver still logs while closing)
        assert lines[-1] == expected
        assert "BrokenPipeError" not in stderr  # nor a failed final flush of stdout
