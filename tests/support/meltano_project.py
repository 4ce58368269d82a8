"""A copy of this repository's meltano.yml in a temporary directory, driven by the real `meltano` CLI.

The local plugins' `pip_url`s (`-e ./tap-mongodb`) are made absolute so the copy installs this
working tree. Settings come from environment variables, which Meltano ranks above meltano.yml,
so each test points the same installed plugins at its own databases.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import typing as t
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
MELTANO = str(Path(sys.executable).with_name("meltano"))
RUN_TIMEOUT_SECONDS = 600


class MeltanoError(AssertionError):
    """A `meltano` command exited non-zero; carries what it printed."""


class MeltanoProject:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.env: dict[str, str] = {
            **os.environ,
            "MELTANO_SEND_ANONYMOUS_USAGE_STATS": "false",
            "MELTANO_PROJECT_ROOT": str(root),
        }

    @classmethod
    def copy_of_repository(cls, root: Path) -> MeltanoProject:
        config = yaml.safe_load((ROOT / "meltano.yml").read_text(encoding="utf-8"))
        for kind in config["plugins"].values():
            for plugin in kind:
                if "pip_url" in plugin:
                    plugin["pip_url"] = plugin["pip_url"].replace("./", f"{ROOT}/")
        (root / "meltano.yml").write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
        return cls(root)

    def plugin_executable(self, kind: str, name: str) -> Path:
        """A plugin's command inside its Meltano venv (`kind` is `extractors` or `loaders`)."""
        return self.root / ".meltano" / kind / name / "venv" / "bin" / name

    def meltano(
        self, *args: str, check: bool = True, env: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        """Run `meltano ARGS` (`env` adds variables for this command only); on failure raise with
        the end of its output (the plugins' errors are there)."""
        result = subprocess.run(
            [MELTANO, *args],
            cwd=self.root,
            env={**self.env, **(env or {})},
            capture_output=True,
            text=True,
            timeout=RUN_TIMEOUT_SECONDS,
            check=False,
        )
        if check and result.returncode != 0:
            raise MeltanoError(f"meltano {' '.join(args)} exited {result.returncode}:\n{tail_of(result)}")
        return result


ERROR_LINE = re.compile(r"\b\w+(Error|Exception)\b: ")


def tail_of(result: subprocess.CompletedProcess[str], lines: int = 30) -> str:
    """The exceptions the plugins printed, then the last lines (a traceback's head says little)."""
    printed = (result.stdout + result.stderr).splitlines()
    errors = [line for line in printed if ERROR_LINE.search(line)]
    return "\n".join([*errors[-5:], "...", *printed[-lines:]])


def install(project: MeltanoProject, plugins: t.Iterable[tuple[str, str]]) -> None:
    for kind, name in plugins:
        project.meltano("install", kind, name)
