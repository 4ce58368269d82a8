"""A freed buffer of megabytes goes back to the system in the commands (large_buffers.py)."""

from __future__ import annotations

import platform
import subprocess
import sys
import textwrap

import pytest

PROGRAM = textwrap.dedent(
    """
    import sys
    from mongodb_common.large_buffers import map_large_buffers_separately

    def rss_mb():
        with open("/proc/self/status") as status:
            return next(int(line.split()[1]) for line in status if line.startswith("VmRSS")) / 1024

    print(map_large_buffers_separately())
    first = b"x" * (16 << 20)  # a batch of one 16 MB document, then freed
    del first
    before = rss_mb()
    line = b"y" * (8 << 20)  # the next large buffer
    del line
    print(rss_mb() - before)
    """
)


def _run(env: dict[str, str] | None = None) -> tuple[str, float]:
    result = subprocess.run(
        [sys.executable, "-c", PROGRAM], capture_output=True, text=True, timeout=60, check=True, env=env
    )
    applied, retained = result.stdout.split()
    return applied, float(retained)


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="glibc's allocator")
def test_a_large_buffer_freed_after_an_earlier_one_is_returned_to_the_system() -> None:
    applied, retained_mb = _run()
    assert applied == "True"
    # Without the fixed threshold glibc serves the second buffer from its heap and keeps its 8 MB.
    assert retained_mb < 2


def test_a_threshold_the_user_set_is_left_alone() -> None:
    applied, _ = _run({"PATH": "/usr/bin:/bin", "MALLOC_MMAP_THRESHOLD_": "4194304"})
    assert applied == "False"
