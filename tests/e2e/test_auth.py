"""The installed commands against a server that requires authentication (`--auth`).

A wrong password ends every command in one line naming the host and "authentication
failed", never the password; the right one works; a user without the privilege a command
needs gets a line naming the action, the namespace and the role to grant.
"""

from __future__ import annotations

import json
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
TAP, TARGET = str(BIN / "tap-mongodb"), str(BIN / "target-mongodb")
PASSWORD = "Pa55-w0rd-Right"
WRONG = "Pa55-w0rd-Wrong"
LOADER_PASSWORD = "L0ader-Pa55"
ONE_RECORD = singer_lines(
    [schema_message("orders", {"_id": {"type": "integer"}}, ["_id"]), record_message("orders", {"_id": 1})]
)


@pytest.fixture(scope="module")
def server() -> t.Iterator[SecantusServer]:
    """Users made while auth is off, then the same storage restarted with `--auth`."""
    with SecantusServer() as running:
        client: pymongo.MongoClient = pymongo.MongoClient(running.uri)
        client.shop.orders.insert_many([{"_id": i, "total": i * 2} for i in range(25)])
        client.admin.command("createUser", "admin", pwd=PASSWORD, roles=["root"])
        client.admin.command("createUser", "reader", pwd=PASSWORD, roles=[{"role": "read", "db": "shop"}])
        # May list the collections of `shop` but not read them.
        client.shop.command(
            "createRole",
            "lister",
            privileges=[{"resource": {"db": "shop", "collection": ""}, "actions": ["listCollections"]}],
            roles=[],
        )
        client.admin.command("createUser", "clerk", pwd=PASSWORD, roles=[{"role": "lister", "db": "shop"}])
        # May write `copy` only.
        client.admin.command("createUser", "loader", pwd=LOADER_PASSWORD, roles=[{"role": "readWrite", "db": "copy"}])
        client.close()
        running.extra_args.append("--auth")
        running.restart()
        yield running


def _uri(server: SecantusServer, user: str, password: str) -> str:
    return f"mongodb://{user}:{password}@127.0.0.1:{server.port}/?authSource=admin"


def _settings(server: SecantusServer, style: str, user: str, password: str) -> dict[str, t.Any]:
    """The same credentials in the URI, or as the discrete settings."""
    if style == "uri":
        return {"mongodb_uri": _uri(server, user, password)}
    return {"host": "127.0.0.1", "port": server.port, "username": user, "password": password}


def _write(path: Path, data: t.Any) -> str:
    path.write_text(json.dumps(data), encoding="utf-8")
    return str(path)


def _run(args: list[str], stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, input=stdin, capture_output=True, text=True, timeout=120, check=False)


def _catalog(server: SecantusServer, tmp_path: Path) -> str:
    """Discovered by a user who may, for the runs of users who may not."""
    settings = {"mongodb_uri": _uri(server, "reader", PASSWORD), "database_includes": ["shop"]}
    config = _write(tmp_path / "reader.json", settings)
    discovered = _run([TAP, "--config", config, "--discover"])
    assert discovered.returncode == 0, discovered.stderr
    return _write(tmp_path / "catalog.json", json.loads(discovered.stdout))


def _assert_one_clear_line(result: subprocess.CompletedProcess[str], command: str, expected: str) -> None:
    assert result.returncode == 1, result.stderr
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith(f"{command}: error: "), last
    assert expected in last, last
    assert "Traceback" not in result.stderr
    for secret in (PASSWORD, WRONG, LOADER_PASSWORD):
        assert secret not in result.stdout + result.stderr


@pytest.mark.parametrize("style", ["uri", "settings"])
def test_a_wrong_password_ends_every_command_in_one_line_naming_host_and_cause(
    server: SecantusServer, tmp_path: Path, style: str
) -> None:
    wrong = _settings(server, style, "reader", WRONG)
    host = f"127.0.0.1:{server.port}"
    where = f"mongodb://reader:***@{host}/?authSource=admin" if style == "uri" else host
    expected = f"MongoDB at {where} refused the connection: authentication failed"
    config = _write(tmp_path / "tap.json", {**wrong, "database_includes": ["shop"]})
    catalog = _catalog(server, tmp_path)
    _assert_one_clear_line(_run([TAP, "--config", config, "--discover"]), "tap-mongodb", expected)
    _assert_one_clear_line(_run([TAP, "--config", config, "--catalog", catalog]), "tap-mongodb", expected)

    target_config = _write(tmp_path / "target.json", {**wrong, "database": "copy"})
    _assert_one_clear_line(_run([TARGET, "--config", target_config], stdin=ONE_RECORD), "target-mongodb", expected)


@pytest.mark.parametrize("style", ["uri", "settings"])
def test_the_right_password_copies_everything(server: SecantusServer, tmp_path: Path, style: str) -> None:
    reader = _settings(server, style, "reader", PASSWORD)
    tap_config = _write(tmp_path / "tap.json", {**reader, "database_includes": ["shop"]})
    target_config = _write(
        tmp_path / "target.json",
        {
            **_settings(server, style, "loader", LOADER_PASSWORD),
            "database": "copy",
            "collection_naming": "strip_database_prefix",
        },
    )
    command = f"{TAP} --config {tap_config} | {TARGET} --config {target_config}"
    pipeline = _run(["bash", "-o", "pipefail", "-c", command])
    assert pipeline.returncode == 0, pipeline.stderr
    for secret in (PASSWORD, LOADER_PASSWORD):
        assert secret not in pipeline.stdout + pipeline.stderr
    admin: pymongo.MongoClient = pymongo.MongoClient(_uri(server, "admin", PASSWORD))
    try:
        assert list(admin.copy.orders.find(sort=[("_id", 1)])) == list(admin.shop.orders.find(sort=[("_id", 1)]))
    finally:
        admin.copy.drop_collection("orders")
        admin.close()


def test_a_user_who_may_not_read_gets_the_action_namespace_and_role_to_grant(
    server: SecantusServer, tmp_path: Path
) -> None:
    settings = {"mongodb_uri": _uri(server, "clerk", PASSWORD), "database_includes": ["shop"]}
    config = _write(tmp_path / "tap.json", settings)
    result = _run([TAP, "--config", config, "--catalog", _catalog(server, tmp_path)])
    expected = "not authorized to find on shop.orders: grant the user the `read` role on database 'shop'"
    _assert_one_clear_line(result, "tap-mongodb", expected)


def test_a_user_who_may_not_write_gets_the_action_namespace_and_role_to_grant(
    server: SecantusServer, tmp_path: Path
) -> None:
    config = _write(
        tmp_path / "target.json", {"mongodb_uri": _uri(server, "loader", LOADER_PASSWORD), "database": "elsewhere"}
    )
    result = _run([TARGET, "--config", config], stdin=ONE_RECORD)
    _assert_one_clear_line(
        result,
        "target-mongodb",
        "not authorized to write on elsewhere.orders: grant the user the `readWrite` role on database 'elsewhere'",
    )
