"""Hatchling build hook: ships the shared `mongodb_common` code inside this plugin's wheel.

The code tap-mongodb and target-mongodb share lives once, in the repository's
`mongodb-common/mongodb_common/`, a distribution no package index serves. So each plugin's
wheel carries its own private copy as `<plugin package>._vendor.mongodb_common`, and the
plugin's modules are rewritten in the wheel to import it from there. Two plugins installed in
one environment then never own the same files, and each runs the shared code it was built
with. Editable (development) installs get no copy: `dev-mode-dirs` puts the canonical
`mongodb-common/` on the path, so edits to it take effect at once.

The sdist carries the canonical code as `mongodb-common/mongodb_common/`, so a wheel built
from the sdist alone (`python -m build`, pip from an sdist) vendors it the same way.

This file is identical in tap-mongodb/ and target-mongodb/ (a unit test checks it).
"""

from __future__ import annotations

import ast
import shutil
import tempfile
import typing as t
from pathlib import Path

from hatchling.builders.hooks.plugin.interface import BuildHookInterface

SHARED = "mongodb_common"
SHARED_DIR = Path("mongodb-common") / SHARED


def shared_source(root: Path) -> Path:
    """The canonical shared package: in an unpacked sdist, else beside the plugin in the repository."""
    for candidate in (root / SHARED_DIR, root.parent / SHARED_DIR):
        if (candidate / "__init__.py").is_file():
            return candidate
    msg = (
        f"cannot find the shared package {SHARED!r}: build from a checkout of the whole repository "
        f"(it is in ../{SHARED_DIR.as_posix()}) or from this plugin's sdist"
    )
    raise FileNotFoundError(msg)


def rewrite_imports(source: str, vendored: str, where: str) -> str:
    """`from mongodb_common... import` statements redirected to `vendored` (a dotted package).

    Only `from` imports are rewritten, by the positions the parser reports, so strings and
    comments that merely mention the package stay as they are. Any other reference the
    rewrite cannot redirect (`import mongodb_common`) stops the build, naming the file.
    """
    lines = source.splitlines(keepends=True)
    for node in ast.walk(ast.parse(source, filename=where)):
        if isinstance(node, ast.Import) and any(
            alias.name == SHARED or alias.name.startswith(f"{SHARED}.") for alias in node.names
        ):
            msg = f"{where}, line {node.lineno}: write `from {SHARED}... import ...`, which the build can redirect"
            raise ValueError(msg)
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            if node.module != SHARED and not node.module.startswith(f"{SHARED}."):
                continue
            index = node.lineno - 1
            old = f"from {node.module}"
            if old not in lines[index]:
                msg = f"{where}, line {node.lineno}: put `from {node.module}` on one line so the build can redirect it"
                raise ValueError(msg)
            lines[index] = lines[index].replace(old, f"from {vendored}{node.module[len(SHARED) :]}", 1)
    return "".join(lines)


def _python_files(directory: Path) -> t.Iterator[Path]:
    for path in sorted(directory.rglob("*.py")):
        if "__pycache__" not in path.parts:
            yield path


class VendorSharedCode(BuildHookInterface):
    """Adds the shared code to the sdist, and a rewritten private copy of it to the wheel."""

    PLUGIN_NAME = "custom"

    def initialize(self, version: str, build_data: dict[str, t.Any]) -> None:
        root = Path(self.root)
        shared = shared_source(root)
        if self.target_name == "sdist":
            if not shared.is_relative_to(root):  # already inside when rebuilt from an sdist
                build_data["force_include"][str(shared)] = SHARED_DIR.as_posix()
            return
        if self.target_name != "wheel" or version == "editable":
            return
        package = self.metadata.name.replace("-", "_")
        vendored = f"{package}._vendor.{SHARED}"
        self._staging = Path(tempfile.mkdtemp(prefix=f"{package}-vendor-"))
        force_include = build_data["force_include"]

        def stage(text: str, destination: str) -> None:
            staged = self._staging / destination
            staged.parent.mkdir(parents=True, exist_ok=True)
            staged.write_text(text, encoding="utf-8")
            force_include[str(staged)] = destination

        stage(
            '"""Private copies of code this plugin ships with it (written by hatch_build.py)."""\n',
            f"{package}/_vendor/__init__.py",
        )
        for path in _python_files(shared):
            relative = path.relative_to(shared).as_posix()
            text = rewrite_imports(path.read_text(encoding="utf-8"), vendored, str(path))
            stage(text, f"{package}/_vendor/{SHARED}/{relative}")
        for path in _python_files(root / package):
            text = path.read_text(encoding="utf-8")
            rewritten = rewrite_imports(text, vendored, str(path))
            if rewritten != text:  # a forced file replaces the project file at the same path
                stage(rewritten, f"{package}/{path.relative_to(root / package).as_posix()}")

    def finalize(self, version: str, build_data: dict[str, t.Any], artifact_path: str) -> None:  # noqa: ARG002
        staging = getattr(self, "_staging", None)
        if staging is not None:
            shutil.rmtree(staging, ignore_errors=True)
