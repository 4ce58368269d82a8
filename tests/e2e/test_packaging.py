"""Each plugin's built wheel and sdist install alone, from the package index, and work.

The shared code (mongodb-common/) is served by no package index, so each plugin's build
must carry it (tap-mongodb/hatch_build.py). This builds both plugins as a user would
(`uv build`: the sdist, then the wheel from that sdist), copies the artifacts where the
repository is out of reach, installs each into a fresh environment of its own with only the
package index to fetch dependencies from, and copies data through the two installed commands.

One environment per plugin (the tap from its wheel, the target from its sdist, built again by
the installer); then the target's wheel joins the tap's environment and the tap leaves it,
showing the two share no files. uv and its cache keep the installs to seconds; most of the
time is the five command starts.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import typing as t
from pathlib import Path

import pytest

if t.TYPE_CHECKING:
    from tests.support.deployment import Deployment

pytestmark = [pytest.mark.e2e]

ROOT = Path(__file__).resolve().parents[2]
UV = str(Path(sys.executable).with_name("uv"))
PLUGINS = ("tap-mongodb", "target-mongodb")
VERSION = "0.1.0"


def _run(*args: str | Path, cwd: Path | None = None, **kwargs: t.Any) -> subprocess.CompletedProcess[str]:
    command = [str(arg) for arg in args]
    env = {key: value for key, value in os.environ.items() if key != "VIRTUAL_ENV"}
    result = subprocess.run(
        command, cwd=cwd, env=env, capture_output=True, text=True, timeout=600, check=False, **kwargs
    )
    if result.returncode != 0:
        pytest.fail(f"{' '.join(command)} failed ({result.returncode}):\n{result.stdout}\n{result.stderr[-4000:]}")
    return result


class Environment:
    """A fresh virtual environment outside the repository."""

    def __init__(self, path: Path) -> None:
        self.path = path
        _run(UV, "venv", "--quiet", "--python", sys.executable, path)

    def install(self, *artifacts: Path) -> None:
        # From its own directory: nothing of the repository is on the path or nearby.
        _run(UV, "pip", "install", "--quiet", "--python", self.bin("python"), *artifacts, cwd=self.path)

    def uninstall(self, name: str) -> None:
        _run(UV, "pip", "uninstall", "--quiet", "--python", self.bin("python"), name, cwd=self.path)

    def bin(self, name: str) -> Path:
        return self.path / "bin" / name

    def about(self, plugin: str) -> dict[str, t.Any]:
        return json.loads(_run(self.bin(plugin), "--about", "--format=json", cwd=self.path).stdout)

    def installed(self, relative: str) -> bool:
        """Whether `relative` exists in the environment's site-packages."""
        return any((site / relative).exists() for site in self.path.glob("lib/python*/site-packages"))


def _build(plugin: Path, directory: Path) -> dict[str, Path]:
    """The plugin's wheel and sdist, copied into `directory`, away from the repository."""
    built = directory / f"{plugin.name}-build"
    _run(UV, "build", "--quiet", "--out-dir", built, plugin)
    package = plugin.name.replace("-", "_")
    wheel, sdist = f"{package}-{VERSION}-py3-none-any.whl", f"{package}-{VERSION}.tar.gz"
    found = {
        kind: Path(shutil.copy(built / name, directory / name)) for kind, name in (("wheel", wheel), ("sdist", sdist))
    }
    shutil.rmtree(built)
    return found


def test_built_plugins_install_alone_and_copy_data(deployment: Deployment, tmp_path: Path) -> None:
    """One test, so the environments are made once whatever the number of xdist workers."""
    artifacts = tmp_path / "artifacts"
    artifacts.mkdir()
    tap_build, target_build = _build(ROOT / "tap-mongodb", artifacts), _build(ROOT / "target-mongodb", artifacts)

    # Each alone in an environment of its own: the tap from its wheel, the target from its sdist.
    tap_env = Environment(tmp_path / "tap-venv")
    tap_env.install(tap_build["wheel"])
    target_env = Environment(tmp_path / "target-venv")
    target_env.install(target_build["sdist"])
    for plugin, environment in (("tap-mongodb", tap_env), ("target-mongodb", target_env)):
        about = environment.about(plugin)
        assert about["name"] == plugin
        assert "mongodb_uri" in about["settings"]["properties"]
        # The shared code is private to each plugin, never the top-level `mongodb_common`.
        # (`--about` imported it: the tap's settings come from it.)
        assert not environment.installed("mongodb_common")
        assert environment.installed(f"{plugin.replace('-', '_')}/_vendor/mongodb_common/bson_codec/__init__.py")

    # The installed tap feeds the installed target.
    deployment.database("shop").orders.insert_many([{"_id": n, "total": n * 10} for n in range(25)])
    tap_config = tmp_path / "tap.json"
    tap_config.write_text(json.dumps(deployment.config(database_includes=[deployment.db_name("shop")])))
    target_config = tmp_path / "target.json"
    target_settings = {"database": deployment.db_name("copy"), "collection_naming": "strip_database_prefix"}
    target_config.write_text(json.dumps(deployment.config(**target_settings)))
    singer = _run(tap_env.bin("tap-mongodb"), "--config", tap_config, cwd=tmp_path).stdout
    states = _run(target_env.bin("target-mongodb"), "--config", target_config, cwd=tmp_path, input=singer).stdout
    copied = deployment.database("copy").orders
    assert sorted((d["_id"], d["total"]) for d in copied.find()) == [(n, n * 10) for n in range(25)]
    assert f"{deployment.prefix}shop-orders" in json.loads(states.strip().splitlines()[-1])["bookmarks"]

    # Both in one environment share no file: removing the tap leaves the target whole.
    tap_env.install(target_build["wheel"])
    tap_env.uninstall("tap-mongodb")
    assert not tap_env.bin("tap-mongodb").exists()
    assert tap_env.about("target-mongodb")["name"] == "target-mongodb"
