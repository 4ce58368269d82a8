"""The shell commands the documentation shows: the fenced blocks, and every `meltano` command line.

A fenced block whose info string carries the word `run` after its language (```` ```sh run ````)
is meant to run as written against a test server (tests/e2e/test_doc_commands.py runs it); the
convention is described in docs/contributing.md. Every other `meltano` command line, in any
block or inline code span, is parsed against Meltano's own click command tree, so a command
form the pinned Meltano rejects fails the tests without having to run it.
"""

from __future__ import annotations

import dataclasses
import re
import shlex
import typing as t
from pathlib import Path

import click

ROOT = Path(__file__).resolve().parents[2]
RUN_MARK = "run"
# Languages whose blocks hold commands; yaml, json, sql, js and plain output blocks are not parsed.
SHELL_LANGUAGES = {"sh", "bash", "shell", "console", "cron"}
FENCE = re.compile(r"^(`{3,})(.*)$")
INLINE_CODE = re.compile(r"(?<!`)`([^`\n]+)`(?!`)")
# `<setting>`-style placeholders in prose: not redirections, so replaced before those are cut.
PLACEHOLDER = re.compile(r"<[A-Za-z_][A-Za-z0-9_ -]*>")
# Redirections (`>> file`, `2>&1`, `> out`) end a command's arguments.
REDIRECTION = re.compile(r"\s\d*(>>?|<)&?\d*\s?\S*")
OPERATORS = {"&&", "||", "|", ";", "&", "(", ")"}


@dataclasses.dataclass(frozen=True)
class Block:
    """A fenced code block of a Markdown file."""

    path: Path
    line: int  # of the opening fence, 1-based
    language: str
    runnable: bool
    text: str

    @property
    def where(self) -> str:
        return f"{self.path.relative_to(ROOT)}:{self.line}"


@dataclasses.dataclass(frozen=True)
class Command:
    """One `meltano` command line the docs show (arguments after `meltano`)."""

    where: str
    args: tuple[str, ...]

    def __str__(self) -> str:
        return f"{self.where}: meltano {shlex.join(self.args)}"


def documentation_files() -> list[Path]:
    return [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def fenced_blocks(path: Path) -> list[Block]:
    blocks: list[Block] = []
    opening: tuple[int, str, str] | None = None
    body: list[str] = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        fence = FENCE.match(line)
        if opening is None and fence:
            opening, body = (number, fence.group(1), fence.group(2).strip()), []
        elif opening is not None and fence and fence.group(1) == opening[1] and not fence.group(2).strip():
            words = opening[2].split()
            language = words[0] if words else ""
            blocks.append(Block(path, opening[0], language, RUN_MARK in words[1:], "\n".join(body) + "\n"))
            opening = None
        elif opening is not None:
            body.append(line)
    return blocks


def inline_code(path: Path) -> list[tuple[int, str]]:
    """Inline code spans outside fenced blocks, with their line numbers."""
    spans: list[tuple[int, str]] = []
    opening: str | None = None
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        fence = FENCE.match(line)
        if opening is None and fence:
            opening = fence.group(1)
        elif opening is not None and fence and fence.group(1) == opening and not fence.group(2).strip():
            opening = None
        elif opening is None:
            spans.extend((number, span) for span in INLINE_CODE.findall(line))
    return spans


def _shell_words(text: str) -> list[str]:
    lexer = shlex.shlex(text, posix=True, punctuation_chars=";&|()")
    lexer.whitespace_split = True
    lexer.commenters = "#"
    return list(lexer)


def meltano_commands(text: str, where: str) -> list[Command]:
    """The `meltano ...` invocations in shell text: one per simple command, wherever it starts."""
    text = re.sub(r"\\\n", " ", text)  # continuation lines
    commands: list[Command] = []
    for shown in text.splitlines():
        if "meltano" not in shown or shown.lstrip().startswith("#"):
            continue
        # A here-document's opening line: only what comes before `<<`.
        line = PLACEHOLDER.sub("PLACEHOLDER", shown.split("<<", 1)[0])
        words = _shell_words(REDIRECTION.sub(" ", f" {line} "))
        segment: list[str] = []
        for word in [*words, ";"]:
            if word in OPERATORS:
                commands.extend(_meltano_in(segment, where))
                segment = []
            else:
                segment.append(word)
    return commands


def _meltano_in(words: list[str], where: str) -> list[Command]:
    """A simple command runs `meltano` when one of its words is the program (after `flock ...`, `env`)."""
    for index, word in enumerate(words):
        if Path(word).name == "meltano":
            return [Command(where, tuple(words[index + 1 :]))]
    return []


def every_meltano_command() -> list[Command]:
    commands: list[Command] = []
    for path in documentation_files():
        for block in fenced_blocks(path):
            if block.language in SHELL_LANGUAGES:
                commands.extend(meltano_commands(block.text, block.where))
        for number, span in inline_code(path):
            if span.startswith("meltano "):
                commands.extend(meltano_commands(span, f"{path.relative_to(ROOT)}:{number}"))
    return commands


def meltano_parse_error(args: t.Sequence[str]) -> str | None:
    """Why the pinned Meltano would reject these arguments, or None when it accepts them.

    The arguments go through Meltano's own click commands as `meltano ARGS` would, group by
    group, with every option and argument converted and validated (choices, cron intervals,
    missing arguments); nothing is invoked.
    """
    from meltano.cli import cli

    try:
        context = cli.make_context("meltano", list(args), obj={"project": None})
        command: click.Command = cli
        while isinstance(command, click.Group):
            rest = [*context._protected_args, *context.args]  # click keeps the subcommand here
            if not rest:
                break
            name, subcommand, rest = command.resolve_command(context, rest)
            if subcommand is None or name is None:
                return f"no such command {rest[0]!r}"
            context = subcommand.make_context(name, rest, parent=context)
            command = subcommand
    except click.exceptions.Exit:
        return None
    except Exception as exc:  # click's usage errors, and Meltano's own validation errors
        return f"{type(exc).__name__}: {exc}"
    return None
