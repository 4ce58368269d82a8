"""The `meltano run` commands that run every extractor, loader, environment and job of a meltano.yml.

A job runs as itself and covers the extractors and loaders of its tasks. Every other extractor
runs once, into the loader used least so far among those that can take its output. The runs
are grouped into as few commands as possible (each `meltano` start costs seconds) such that
no two runs of one command share a loader: each loader's output then belongs to one run and
can be checked before the next command. The commands take the environments in turn, the
default one first; the first command holds the jobs, which are meant for the default one.
"""

from __future__ import annotations

import dataclasses
import typing as t

# Destinations that want ordinary JSON: Extended JSON's wrapped values ({"$oid": ...}, as
# `bson_encoding: extended_json` writes them) are for target-mongodb (docs/bson-types.md).
NEEDS_PLAIN_JSON = frozenset({"target-postgres"})
PLAIN = "plain"


@dataclasses.dataclass(frozen=True)
class Run:
    words: tuple[str, ...]  # what `meltano run` is given: `extractor loader`, or a job's name
    pairs: tuple[tuple[str, str], ...]  # the (extractor, loader) pairs it runs


@dataclasses.dataclass
class Command:
    environment: str
    runs: list[Run]

    @property
    def words(self) -> list[str]:
        return [word for run in self.runs for word in run.words]

    @property
    def pairs(self) -> list[tuple[str, str]]:
        return [pair for run in self.runs for pair in run.pairs]


def plugin_names(config: dict[str, t.Any], kind: str) -> list[str]:
    return [plugin["name"] for plugin in config["plugins"].get(kind, [])]


def environment_names(config: dict[str, t.Any]) -> list[str]:
    """The default environment first."""
    names = [environment["name"] for environment in config.get("environments", [])]
    default = config.get("default_environment")
    return sorted(names, key=lambda name: name != default)


def setting(config: dict[str, t.Any], environment: str | None, plugin_name: str, key: str) -> t.Any:
    """A setting as meltano.yml gives it to a plugin: its environment's config, its own, then its parent's."""
    plugins = {plugin["name"]: plugin for kind in config["plugins"].values() for plugin in kind}
    plugin = plugins[plugin_name]
    layers = [plugin.get("config") or {}]
    if environment is not None:
        layers.insert(0, _environment_config(config, environment, plugin_name))
    for layer in layers:
        if key in layer:
            return layer[key]
    parent = plugin.get("inherit_from")
    return setting(config, environment, parent, key) if parent else None


def _environment_config(config: dict[str, t.Any], environment: str, plugin_name: str) -> dict[str, t.Any]:
    for candidate in config.get("environments", []):
        if candidate["name"] == environment:
            for kind in ((candidate.get("config") or {}).get("plugins") or {}).values():
                for plugin in kind:
                    if plugin["name"] == plugin_name:
                        return plugin.get("config") or {}
    return {}


def _job_runs(config: dict[str, t.Any]) -> list[Run]:
    extractors, loaders = set(plugin_names(config, "extractors")), set(plugin_names(config, "loaders"))
    runs = []
    for job in config.get("jobs", []):
        words = [word for task in job["tasks"] for word in (task if isinstance(task, list) else [task])]
        names = " ".join(words).split()
        pairs, extractor = [], None
        for name in names:
            if name in extractors:
                extractor = name
            elif name in loaders and extractor is not None:
                pairs.append((extractor, name))
                extractor = None
        runs.append(Run((job["name"],), tuple(pairs)))
    return runs


def _plain_everywhere(config: dict[str, t.Any], extractor: str) -> bool:
    """The extractor's own meltano.yml entry (or its parent's) asks for plain JSON (an environment does not rule)."""
    return setting(config, None, extractor, "bson_encoding") == PLAIN


def plan(config: dict[str, t.Any]) -> list[Command]:
    loaders = plugin_names(config, "loaders")
    runs = _job_runs(config)
    uses = dict.fromkeys(loaders, 0)
    for run in runs:
        for _extractor, loader in run.pairs:
            uses[loader] += 1
    covered = {extractor for run in runs for extractor, _loader in run.pairs}
    for extractor in plugin_names(config, "extractors"):
        if extractor in covered:
            continue
        fitting = [name for name in loaders if _plain_everywhere(config, extractor) or name not in NEEDS_PLAIN_JSON]
        loader = min(fitting, key=lambda name: (uses[name], loaders.index(name)))
        uses[loader] += 1
        runs.append(Run((extractor, loader), ((extractor, loader),)))

    commands: list[list[Run]] = []
    for run in runs:
        loaders_of_run = {loader for _extractor, loader in run.pairs}
        for command in commands:
            if not loaders_of_run & {loader for other in command for _extractor, loader in other.pairs}:
                command.append(run)
                break
        else:
            commands.append([run])
    environments = environment_names(config)
    while len(commands) < len(environments):
        largest = max(commands, key=len)
        if len(largest) < 2:
            msg = f"{len(runs)} runs cannot cover {len(environments)} environments"
            raise AssertionError(msg)
        commands.append([largest.pop()])
    return [Command(environments[i % len(environments)], command) for i, command in enumerate(commands)]
