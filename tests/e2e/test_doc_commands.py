"""Every command the docs show runs as written on the pinned Meltano (docs/contributing.md).

Blocks marked `run` (```` ```sh run ````) run in a copy of this project against two test
servers of this module's own: the docs name fixed databases (`shop`, `replica`), so they get
servers where nothing else lives, also when MONGODB_URI points the rest of the suite at a
shared deployment. Every `meltano` command line anywhere in the docs is parsed against
Meltano's click command tree.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import typing as t
from pathlib import Path

import pymongo
import pytest
import yaml

from tests.support.doc_commands import (
    ROOT,
    Block,
    Command,
    documentation_files,
    every_meltano_command,
    fenced_blocks,
    meltano_commands,
    meltano_parse_error,
)
from tests.support.meltano_project import MeltanoProject
from tests.support.server import SecantusServer

# One test process runs the whole module, so its Meltano plugins are installed once, not once
# per process (scripts/test.sh distributes with --dist loadgroup).
pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("meltano-docs")]

VENV_BIN = Path(sys.executable).parent
QUOTED_URI = re.compile(r"'mongodb(\+srv)?://[^']*'")
SYSTEM_DATABASES = {"admin", "local", "config"}
SEED: dict[str, dict[str, list[dict[str, t.Any]]]] = {
    "shop": {
        "orders": [{"_id": i, "sku": f"s{i}", "qty": i, "updated_at": i} for i in range(5)],
        "customers": [{"_id": i, "name": f"c{i}", "updated_at": i} for i in range(3)],
    },
    "crm": {"contacts": [{"_id": i, "email": f"{i}@example.com"} for i in range(2)]},
}


def _defined_plugins() -> dict[str, str]:
    """Plugin name -> kind (`extractors`, `loaders`) as meltano.yml defines them."""
    config = yaml.safe_load((ROOT / "meltano.yml").read_text(encoding="utf-8"))
    return {plugin["name"]: kind for kind, plugins in config["plugins"].items() for plugin in plugins}


def _runnable_blocks() -> dict[str, list[Block]]:
    return {
        str(path.relative_to(ROOT)): runnable
        for path in documentation_files()
        if (runnable := [block for block in fenced_blocks(path) if block.runnable])
    }


# --- every meltano command line parses ----------------------------------------------------


def test_the_parser_rejects_what_meltano_rejects() -> None:
    """The check below is only worth something if a wrong form fails it."""
    assert meltano_parse_error(["config", "tap-mongodb", "set", "mongodb_uri", "x"]) is not None
    assert meltano_parse_error(["run", "--no-such-option", "tap-mongodb"]) is not None
    assert meltano_parse_error(["schedule", "add", "s", "--job", "j", "--interval", "not cron"]) is not None
    assert meltano_parse_error(["--environment=prod", "config", "set", "tap-mongodb", "mongodb_uri", "x"]) is None


def test_every_meltano_command_line_in_the_docs_parses_on_the_pinned_meltano() -> None:
    commands = every_meltano_command()
    assert len(commands) >= 20, "the extractor found almost no meltano command lines"
    plugins = _defined_plugins()
    problems = [f"{command}\n    {error}" for command in commands if (error := meltano_parse_error(command.args))]
    problems += [
        f"{command}\n    plugin {word!r} is not defined in meltano.yml"
        for command in commands
        for word in command.args
        if re.fullmatch(r"(tap|target)-[\w-]+", word) and word not in plugins
    ]
    assert not problems, "\n".join(problems)


# --- marked blocks run --------------------------------------------------------------------


class Servers(t.NamedTuple):
    source: SecantusServer
    destination: SecantusServer


@pytest.fixture(scope="module")
def servers() -> t.Iterator[Servers]:
    with SecantusServer() as source, SecantusServer() as destination:
        yield Servers(source, destination)


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> MeltanoProject:
    """A copy of the project with the plugins the marked blocks name installed once."""
    root = tmp_path_factory.mktemp("doc-project")
    project = MeltanoProject.copy_of_repository(root)
    (root / "meltano.yml").rename(root / "meltano.yml.orig")
    shutil.copy(root / "meltano.yml.orig", root / "meltano.yml")
    (root / ".venv").symlink_to(ROOT / ".venv")
    plugins = _defined_plugins()
    used = sorted(
        {
            word
            for blocks in _runnable_blocks().values()
            for block in blocks
            for command in meltano_commands(block.text, block.where)
            for word in command.args
            if word in plugins
        }
    )
    for name in used:
        project.meltano("--log-level=warning", "install", plugins[name].rstrip("s"), name)
    return project


def _fresh(project: MeltanoProject, servers: Servers) -> None:
    """The project as checked out (settings, selections, state) and the servers as seeded."""
    shutil.copy(project.root / "meltano.yml.orig", project.root / "meltano.yml")
    (project.root / ".env").unlink(missing_ok=True)
    for system_database in (project.root / ".meltano").glob("meltano.db*"):
        system_database.unlink()
    for server in servers:
        with pymongo.MongoClient(server.uri) as client:
            for name in client.list_database_names():
                if name not in SYSTEM_DATABASES:
                    client.drop_database(name)
    with pymongo.MongoClient(servers.source.uri) as client:
        for database, collections in SEED.items():
            for collection, documents in collections.items():
                client[database][collection].insert_many(documents)


def _pointed_at(block: Block, servers: Servers) -> str:
    """The block's text with each quoted MongoDB URI replaced by a test server's."""
    lines = []
    for line in block.text.splitlines():
        server = servers.destination if re.search(r"\btarget-", line) else servers.source
        lines.append(QUOTED_URI.sub(f"'{server.uri}'", line))
    return "\n".join(lines) + "\n"


def _block_env(project: MeltanoProject) -> dict[str, str]:
    """As in a shell where `.venv` is active; no connector settings inherited from this process."""
    env = {
        key: value
        for key, value in project.env.items()
        if not key.startswith(("TAP_MONGODB_", "TARGET_MONGODB_", "MELTANO_")) and key != "VIRTUAL_ENV"
    }
    env.update(
        PATH=f"{VENV_BIN}{os.pathsep}{env.get('PATH', '')}",
        MELTANO_SEND_ANONYMOUS_USAGE_STATS="false",
    )
    return env


def _documents_at(server: SecantusServer) -> int:
    with pymongo.MongoClient(server.uri) as client:
        return sum(
            client[database][collection].count_documents({})
            for database in client.list_database_names()
            if database not in SYSTEM_DATABASES
            for collection in client[database].list_collection_names()
        )


@pytest.mark.parametrize("document", sorted(_runnable_blocks()))
def test_marked_blocks_run_as_written(document: str, project: MeltanoProject, servers: Servers) -> None:
    _fresh(project, servers)
    for block in _runnable_blocks()[document]:
        script = project.root / "block.sh"
        script.write_text(_pointed_at(block, servers), encoding="utf-8")
        result = subprocess.run(
            ["bash", "-e", "-o", "pipefail", str(script)],
            cwd=project.root,
            env=_block_env(project),
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        output = (result.stdout + result.stderr)[-6000:]
        assert result.returncode == 0, f"{block.where} exited {result.returncode}:\n{block.text}\n{output}"
        if _runs(block):
            assert _documents_at(servers.destination) > 0, f"{block.where} ran a pipeline that loaded nothing"


def _runs(block: Block) -> list[Command]:
    """The block's `meltano ... run ...` commands."""
    return [command for command in meltano_commands(block.text, block.where) if "run" in command.args]
