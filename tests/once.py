"""Build a session fixture's files once for the whole test session, also under pytest-xdist.

A session fixture runs once PER xdist worker. For the expensive ones (every preset trained, a
database of real runs) the workers share one copy instead: it is built in the session's common
temp folder (the parent of each worker's own) by the first worker to get there, under an
exclusive file lock, and the others wait for it and read what it left. The tests read these
files and never write them, so sharing them between processes is safe.
"""

from __future__ import annotations

import fcntl
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

_READY = "ready.json"  # written last: its presence means the folder is complete


def shared_folder(tmp_path_factory: pytest.TempPathFactory, name: str) -> Path:
    """``name`` under the temp folder every worker of this session shares (this process's own without xdist)."""
    base = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):  # base is <session>/popen-gwN: its parent is common
        base = base.parent
    folder = base / name
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def built_once(tmp_path_factory: pytest.TempPathFactory, name: str, build: Callable[[Path], Any]) -> tuple[Path, Any]:
    """The shared folder ``name`` and what ``build(folder)`` returned (JSON), built by one process only."""
    folder = shared_folder(tmp_path_factory, name)
    with open(folder.with_name(f"{name}.lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes, also if build raised
        ready = folder / _READY
        if not ready.exists():
            ready.with_suffix(".tmp").write_text(json.dumps(build(folder)))
            ready.with_suffix(".tmp").replace(ready)
        return folder, json.loads(ready.read_text())
