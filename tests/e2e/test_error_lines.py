"""Each way a person gets a run wrong ends in ONE error line naming the culprit, never a traceback.

A wrong setting, an unreachable server, a missing privilege, a bad catalog (tap) or a bad
input line (target): the installed command exits non-zero, and besides log records below
ERROR (progress, warnings) stderr holds exactly one line, `<command>: error: ...`, naming the setting, stream,
privilege or line at fault. The tracebacks behind them are for `<PLUGIN>_LOGLEVEL=debug` only.

The cases run against a server of this module's own started with `--auth` (users made
first), so a missing privilege is a real refusal.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import subprocess
import sys
import typing as t
from pathlib import Path

import pymongo
import pytest

from tests.support.server import SecantusServer
from tests.support.singer_io import record_message, schema_message, singer_lines

pytestmark = pytest.mark.e2e

BIN = Path(sys.executable).parent
PASSWORD = "Pa55-w0rd-Right"
STREAM = "shop-orders"
# Log records below ERROR, e.g. "2026-01-01 10:00:00,123 | INFO     | tap-mongodb | ...": progress, and
# warnings that say what a least-privileged user could not do (list databases) and what was done instead.
QUIET_LOG_LINE = re.compile(r"^\S+ \S+ \| (DEBUG|INFO|WARNING)\s*\|")
UNREACHABLE = {"mongodb_uri": "mongodb://127.0.0.1:9/?directConnection=true", "server_selection_timeout_ms": 1500}
ONE_RECORD = [schema_message("orders", {"_id": {"type": "integer"}}, ["_id"]), record_message("orders", {"_id": 1})]


@dataclasses.dataclass(frozen=True)
class Case:
    command: str  # tap-mongodb or target-mongodb
    settings: dict[str, t.Any]  # over a working user's settings; "user" picks the user
    culprit: str  # what the error line must name
    catalog: t.Callable[[dict[str, t.Any]], str | dict[str, t.Any]] | None = None
    stdin: str = ""


def _with_root_metadata(**metadata: t.Any) -> t.Callable[[dict[str, t.Any]], dict[str, t.Any]]:
    def edit(catalog: dict[str, t.Any]) -> dict[str, t.Any]:
        for stream in catalog["streams"]:
            for entry in stream["metadata"]:
                if entry["breadcrumb"] == []:
                    entry["metadata"].update(selected=True, **metadata)
        return catalog

    return edit


def _renamed_stream(catalog: dict[str, t.Any]) -> dict[str, t.Any]:
    catalog = _with_root_metadata()(catalog)
    catalog["streams"][0].update(tap_stream_id="shop-nowhere", stream="shop-nowhere")
    return catalog


CASES: dict[str, Case] = {
    "tap: unknown value of a setting": Case("tap-mongodb", {"bson_encoding": "bsonish"}, "'bson_encoding'"),
    "tap: setting of the wrong type": Case("tap-mongodb", {"max_retries": "many"}, "'max_retries'"),
    "tap: unreachable server": Case("tap-mongodb", UNREACHABLE, "127.0.0.1:9"),
    "tap: user without the read role": Case("tap-mongodb", {"user": "clerk"}, "`read` role"),
    "tap: catalog that is not JSON": Case("tap-mongodb", {}, "catalog file", catalog=lambda _: '{"streams": ['),
    "tap: catalog with an unknown stream": Case("tap-mongodb", {}, "'shop-nowhere'", catalog=_renamed_stream),
    "tap: catalog with bad metadata": Case(
        "tap-mongodb", {}, "'SIDEWAYS'", catalog=_with_root_metadata(**{"replication-method": "SIDEWAYS"})
    ),
    "target: unknown value of a setting": Case(
        "target-mongodb", {"load_method": "sideways"}, "'load_method'", stdin=singer_lines(ONE_RECORD)
    ),
    "target: unreachable server": Case("target-mongodb", UNREACHABLE, "127.0.0.1:9", stdin=singer_lines(ONE_RECORD)),
    "target: user without write privilege": Case(
        "target-mongodb", {"user": "reader", "database": "shop"}, "`readWrite` role", stdin=singer_lines(ONE_RECORD)
    ),
    "target: input line that is not JSON": Case(
        "target-mongodb", {}, "input line 3", stdin=singer_lines([*ONE_RECORD, '{"type": "RECORD", "stream": "o'])
    ),
}


@pytest.fixture(scope="module")
def server() -> t.Iterator[SecantusServer]:
    """Users made while auth is off, then the same storage restarted with `--auth`."""
    with SecantusServer() as running:
        with pymongo.MongoClient(running.uri) as client:
            client.shop.orders.insert_many([{"_id": i, "total": i} for i in range(3)])
            client.admin.command("createUser", "admin", pwd=PASSWORD, roles=["root"])
            client.admin.command("createUser", "reader", pwd=PASSWORD, roles=[{"role": "read", "db": "shop"}])
            lists_only = [{"resource": {"db": "shop", "collection": ""}, "actions": ["listCollections"]}]
            client.shop.command("createRole", "lister", privileges=lists_only, roles=[])
            client.admin.command("createUser", "clerk", pwd=PASSWORD, roles=[{"role": "lister", "db": "shop"}])
        running.extra_args.append("--auth")
        running.restart()
        yield running


@pytest.fixture(scope="module")
def discovered(server: SecantusServer, tmp_path_factory: pytest.TempPathFactory) -> dict[str, t.Any]:
    config = tmp_path_factory.mktemp("discovery") / "config.json"
    config.write_text(json.dumps(_settings(server, "tap-mongodb", {})), encoding="utf-8")
    result = subprocess.run(
        [str(BIN / "tap-mongodb"), "--config", str(config), "--discover"],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return t.cast("dict[str, t.Any]", json.loads(result.stdout))


def _settings(server: SecantusServer, command: str, overrides: dict[str, t.Any]) -> dict[str, t.Any]:
    overrides = dict(overrides)
    user = overrides.pop("user", "admin")
    settings: dict[str, t.Any] = {
        "mongodb_uri": f"mongodb://{user}:{PASSWORD}@127.0.0.1:{server.port}/?authSource=admin",
        "server_selection_timeout_ms": 5000,
        "max_retries": 0,
    }
    settings.update(database_includes=["shop"]) if command == "tap-mongodb" else settings.update(database="copy")
    return {**settings, **overrides}


@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
def test_one_error_line_names_the_culprit_without_traceback(
    case: Case, server: SecantusServer, discovered: dict[str, t.Any], tmp_path: Path
) -> None:
    config = tmp_path / "config.json"
    config.write_text(json.dumps(_settings(server, case.command, case.settings)), encoding="utf-8")
    args = [str(BIN / case.command), "--config", str(config)]
    if case.catalog is not None:
        catalog = case.catalog(json.loads(json.dumps(discovered)))
        (tmp_path / "catalog.json").write_text(
            catalog if isinstance(catalog, str) else json.dumps(catalog), encoding="utf-8"
        )
        args += ["--catalog", str(tmp_path / "catalog.json")]
    env = {key: value for key, value in os.environ.items() if not key.endswith("LOGLEVEL")}
    result = subprocess.run(args, input=case.stdin, capture_output=True, text=True, env=env, timeout=120, check=False)

    assert result.returncode != 0
    assert "Traceback" not in result.stderr, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip() and not QUIET_LOG_LINE.match(line)]
    assert len(lines) == 1, "\n".join(lines)
    assert lines[0].startswith(f"{case.command}: error: "), lines[0]
    assert case.culprit in lines[0], lines[0]
    assert PASSWORD not in result.stderr


def test_the_debug_log_level_adds_the_traceback_before_the_same_line(server: SecantusServer, tmp_path: Path) -> None:
    config = tmp_path / "config.json"
    config.write_text(json.dumps(_settings(server, "tap-mongodb", {"bson_encoding": "bsonish"})), encoding="utf-8")
    env = {**os.environ, "TAP_MONGODB_LOGLEVEL": "debug"}
    result = subprocess.run(
        [str(BIN / "tap-mongodb"), "--config", str(config)],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert result.returncode != 0
    assert "Traceback" in result.stderr
    assert result.stderr.rstrip().splitlines()[-1].startswith("tap-mongodb: error: invalid settings: setting 'bson_")
