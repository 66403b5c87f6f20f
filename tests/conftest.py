"""Shared fixtures: a fresh database per test, and every preset trained once per session."""

from __future__ import annotations

import contextlib
import os
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch

from runner.execute import execute
from runner.presets import PRESETS
from runner.store import Store
from tests.disks import small_disk  # noqa: F401 - the full-disk tests' fixture, registered here

os.environ.setdefault("TRAINDOC_STALE_SECONDS", "40")


@pytest.fixture(scope="session", autouse=True)
def no_stray_processes(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Background runs and schedulers started by a test die with the session, even if it failed midway."""
    yield
    base = str(tmp_path_factory.getbasetemp())
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if base in cmdline and "runner" in cmdline and int(proc.name) != os.getpid():
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(int(proc.name), signal.SIGKILL)


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "traindoc.db"


@pytest.fixture
def store(db_path: Path) -> Store:
    return Store(db_path)


@pytest.fixture(scope="session")
def preset_runs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Store, dict[str, int]]:
    """Each preset trained once (seconds each on a CPU); tests read, never write, this store."""
    torch.set_num_threads(1)  # tiny nets: threads only fight each other on a 2-core machine
    store = Store(tmp_path_factory.mktemp("presets") / "presets.db")
    ids = {}
    for name, preset in PRESETS.items():
        run_id = store.create_run(name, preset.config().to_flat(), meta={"preset": name})
        assert execute(store, run_id) == "finished", store.run(run_id)["error"]
        ids[name] = run_id
    return store, ids
