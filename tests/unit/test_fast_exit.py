"""A successful command's fast exit keeps every promise of an ordinary one (fast_exit.py)."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import typing as t

if t.TYPE_CHECKING:
    from pathlib import Path

PROGRAM = textwrap.dedent(
    """
    import atexit, logging, sys, threading, time
    from mongodb_common.fast_exit import exit_succeeded

    logging.basicConfig(stream=sys.stderr, format="%(message)s")
    atexit.register(lambda: sys.stderr.write("exit function ran\\n"))
    sys.stdout.write("buffered output, no newline")
    worker = threading.Thread(target=lambda: (time.sleep(0.2), sys.stderr.write("thread finished\\n")))
    worker.start()
    logging.getLogger("x").warning("logged")
    exit_succeeded()
    sys.stderr.write("not reached\\n")
    """
)


def test_output_threads_and_exit_functions_all_finish_before_the_exit() -> None:
    result = subprocess.run([sys.executable, "-c", PROGRAM], capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0
    assert result.stdout == "buffered output, no newline"
    assert result.stderr.splitlines() == ["logged", "thread finished", "exit function ran"]


def test_an_unflushable_stdout_leaves_the_ordinary_exit_to_report_it() -> None:
    program = "import sys\nsys.stdout.close()\nfrom mongodb_common.fast_exit import exit_succeeded\nexit_succeeded()\n"
    program += "sys.stderr.write('ordinary exit follows')\n"
    result = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, timeout=60, check=False)
    assert result.stderr.endswith("ordinary exit follows")


def test_a_profiled_command_exits_the_ordinary_way_so_the_profile_is_written(tmp_path: Path) -> None:
    program = tmp_path / "command.py"
    program.write_text("from mongodb_common.fast_exit import exit_succeeded\nexit_succeeded()\n", encoding="utf-8")
    stats = tmp_path / "out.prof"
    command = [sys.executable, "-m", "cProfile", "-o", str(stats), str(program)]
    result = subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stderr
    assert stats.stat().st_size > 0
