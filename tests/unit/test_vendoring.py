"""The build hook that puts the shared code into each plugin's wheel (hatch_build.py).

The built wheels are installed and run in tests/e2e/test_packaging.py; these checks catch,
in milliseconds, a source change the hook's import rewriting would refuse or miss.
"""

from __future__ import annotations

import ast
import importlib.util
import typing as t
from pathlib import Path

import pytest

if t.TYPE_CHECKING:
    import types

ROOT = Path(__file__).resolve().parents[2]
HOOKS = [ROOT / "tap-mongodb" / "hatch_build.py", ROOT / "target-mongodb" / "hatch_build.py"]
VENDORED = "tap_mongodb._vendor.mongodb_common"


def _load_hook() -> types.ModuleType:
    spec = importlib.util.spec_from_file_location("hatch_build_under_test", HOOKS[0])
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


hook = _load_hook()


def test_both_plugins_build_with_the_same_hook() -> None:
    assert HOOKS[0].read_bytes() == HOOKS[1].read_bytes(), "copy tap-mongodb/hatch_build.py to target-mongodb/"


def test_from_imports_are_redirected_and_mentions_are_left_alone() -> None:
    source = '''"""Uses mongodb_common.bson_codec; from mongodb_common import nothing here."""
from mongodb_common.cli_errors import ConnectorError
from mongodb_common import client_factory
from mongodb_common.bson_codec import (
    PLAIN,
    get_encoder,
)
from tap_mongodb.mongodb_commonplace import x


def later() -> None:
    from mongodb_common.ssh_tunnel import open_tunnel
'''
    rewritten = hook.rewrite_imports(source, VENDORED, "example.py")
    assert rewritten.splitlines() == [
        '"""Uses mongodb_common.bson_codec; from mongodb_common import nothing here."""',
        f"from {VENDORED}.cli_errors import ConnectorError",
        f"from {VENDORED} import client_factory",
        f"from {VENDORED}.bson_codec import (",
        "    PLAIN,",
        "    get_encoder,",
        ")",
        "from tap_mongodb.mongodb_commonplace import x",
        "",
        "",
        "def later() -> None:",
        f"    from {VENDORED}.ssh_tunnel import open_tunnel",
    ]


@pytest.mark.parametrize(
    "source",
    ["import mongodb_common.bson_codec\n", "import os, mongodb_common\n", "from \\\n  mongodb_common import x\n"],
)
def test_imports_it_cannot_redirect_stop_the_build_naming_the_line(source: str) -> None:
    with pytest.raises(ValueError, match=r"example\.py, line 1"):
        hook.rewrite_imports(source, VENDORED, "example.py")


def _absolute_shared_imports(source: str) -> list[int]:
    lines = []
    for node in ast.walk(ast.parse(source)):
        if (
            isinstance(node, ast.ImportFrom)
            and node.level == 0
            and (node.module or "").split(".")[0] == "mongodb_common"
        ):
            lines.append(node.lineno)
        if isinstance(node, ast.Import) and any(alias.name.split(".")[0] == "mongodb_common" for alias in node.names):
            lines.append(node.lineno)
    return lines


@pytest.mark.parametrize(
    "package", ["tap-mongodb/tap_mongodb", "target-mongodb/target_mongodb", "mongodb-common/mongodb_common"]
)
def test_every_shipped_module_rewrites_to_the_private_copy(package: str) -> None:
    modules = sorted((ROOT / package).rglob("*.py"))
    assert modules
    for module in modules:
        rewritten = hook.rewrite_imports(module.read_text(encoding="utf-8"), VENDORED, str(module))
        assert _absolute_shared_imports(rewritten) == [], module


def test_the_shared_code_is_found_beside_the_plugin_or_in_its_sdist(tmp_path: Path) -> None:
    assert hook.shared_source(ROOT / "tap-mongodb") == ROOT / "mongodb-common" / "mongodb_common"
    unpacked = tmp_path / "tap_mongodb-0.1.0"
    (unpacked / "mongodb-common" / "mongodb_common").mkdir(parents=True)
    (unpacked / "mongodb-common" / "mongodb_common" / "__init__.py").write_text("")
    assert hook.shared_source(unpacked) == unpacked / "mongodb-common" / "mongodb_common"
    with pytest.raises(FileNotFoundError, match="mongodb_common"):
        hook.shared_source(tmp_path / "elsewhere" / "tap-mongodb")
