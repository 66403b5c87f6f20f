"""A small tmpfs mounted for one test: a full disk for real (root and mount(8) only; skipped with the reason).

``small_disk`` is the fixture the full-disk tests share (registered through tests/conftest.py);
a test module sets its size with a module constant ``DISK_BYTES``, since what fills a disk
differs per test (a fresh database and its WAL; a few thousand rows).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

# Room for a fresh database and its WAL, little else: the size where a module names none.
DEFAULT_DISK_BYTES = 4 * 1024 * 1024
# Zeros written in ever smaller pieces, so the disk is left with no byte free.
_FILL_PIECES = (65536, 4096, 512, 1)


@contextmanager
def small_tmpfs(folder: Path, size_bytes: int) -> Iterator[Path]:
    """Mount a ``size_bytes`` tmpfs on ``folder`` (created) for the block; skip the test where that cannot be."""
    if os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("mounting a small tmpfs to fill needs root and mount(8); CI runs as root")
    folder.mkdir(parents=True, exist_ok=True)
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size_bytes}", "tmpfs", str(folder)],
                             capture_output=True, text=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.strip()}")
    try:
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], check=False)


@pytest.fixture
def small_disk(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Path]:
    """A tmpfs of the module's ``DISK_BYTES`` mounted under this test's tmp_path (root only; skipped otherwise)."""
    size = getattr(request.module, "DISK_BYTES", DEFAULT_DISK_BYTES)
    with small_tmpfs(tmp_path / "disk", size) as folder:
        yield folder


def fill(folder: Path) -> Path:
    """Write zeros until the disk refuses; returns the filler (delete it to free the space)."""
    filler = folder / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
    try:
        for size in _FILL_PIECES:
            with contextlib.suppress(OSError):
                while True:
                    os.write(fd, b"\0" * size)
    finally:
        os.close(fd)
    return filler
