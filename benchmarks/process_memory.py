"""The peak resident memory of one command's own processes, not of the process that starts it.

Linux keeps a process's memory high-water mark across `exec`: a command started straight
from a benchmark process that has held hundreds of MB (documents it generated, a Singer file
it wrote) reports that process's peak as its own. So the command is started by a small
launcher (a Python without site packages, about 10 MB), whose child reports, through
`wait4`, the largest peak of the launcher, the command, and every process the command
waited for (the tap's record processes): the largest single process, not their sum.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import typing as t

_LAUNCHER = """
import os, subprocess, sys
child = subprocess.Popen(sys.argv[2:])
_pid, status, usage = os.wait4(child.pid, 0)
with open(sys.argv[1], "w") as report:
    report.write(str(usage.ru_maxrss))
sys.exit(os.waitstatus_to_exitcode(status))
"""


def peak_rss_mb(command: list[str], stdin: t.Any = None) -> float:
    """The command's peak RSS in MB (its VmHWM); its output is discarded, its errors raised."""
    with tempfile.NamedTemporaryFile("r", suffix=".rss") as report:
        result = subprocess.run(
            [sys.executable, "-I", "-S", "-c", _LAUNCHER, report.name, *command],
            stdin=stdin if stdin is not None else subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            check=False,
        )
        if result.returncode:
            msg = f"{command[0]} failed (exit {result.returncode}):\n{result.stderr.decode(errors='replace')[-4000:]}"
            raise RuntimeError(msg)
        return int(report.read()) / 1024  # kB on Linux
