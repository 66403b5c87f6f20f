"""Shared fixtures: a fresh database per test, and every preset trained once per session."""

from __future__ import annotations

import contextlib
import os
import signal
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch

from runner.execute import execute
from runner.presets import PRESETS
from runner.store import Store
from tests.disks import small_disk  # noqa: F401 - the full-disk tests' fixture, registered here
from tests.once import built_once

os.environ.setdefault("TRAINDOC_STALE_SECONDS", "40")
# One OpenMP thread in this process and in every process a test starts (runs, schedulers, scripts, servers
# inherit the environment). The tests' nets are tiny, and two threads on two shared cores spin at each
# barrier while the other waits for a core. A 10-epoch preset run beside a running suite (load 6) took
# 4.2-4.9 s of CPU on one thread in five tries; on two, 4.8-5.3 s in three and 11 and 19 s in two.
# An OMP_NUM_THREADS set by the caller wins.
os.environ.setdefault("OMP_NUM_THREADS", "1")
torch.set_num_threads(int(os.environ["OMP_NUM_THREADS"]))


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
    """Each preset trained once per test session (seconds each on a CPU), shared by the xdist
    workers (tests/once.py); tests read, never write, this store."""

    torch.set_num_threads(1)  # tiny nets: threads only fight each other on a 2-core machine

    def train(folder: Path) -> dict[str, int]:
        store = Store(folder / "presets.db")
        ids = {}
        for name, preset in PRESETS.items():
            run_id = store.create_run(name, preset.config().to_flat(), meta={"preset": name})
            assert execute(store, run_id) == "finished", store.run(run_id)["error"]
            ids[name] = run_id
        store.close()
        return ids

    folder, ids = built_once(tmp_path_factory, "presets", train)
    return Store(folder / "presets.db"), ids


# The real-browser tests share one worker: each drives a chromium and a Streamlit server, and two of
# those pairs at once on two loaded cores starve each other's page draws.
BROWSER_GROUP = "browser"


def _drives_a_browser(item: pytest.Item) -> bool:
    """The test's module took ``browser_page`` from tests/conftest_browser.py."""
    browser = sys.modules.get("conftest_browser")
    module = getattr(item, "module", None)
    return browser is not None and getattr(module, "browser_page", None) is browser.browser_page


@pytest.hookimpl(tryfirst=True)  # before xdist's own hook reads the groups (--dist loadgroup)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Under ``pytest -n N --dist loadgroup`` (CI), each module's tests run on one worker, in file order,
    as in one process: a module that builds a fixture wider than one test (a server, a Ray cluster,
    trained runs) builds it once, and a module whose tests draw in turn from one module-level random
    generator (the rule tests' ``RNG``) draws the same curves as in one process; spread test by test,
    a test's curve depended on which tests its worker ran before it. The browser tests all go to one
    worker. A test that names its own ``xdist_group`` (a resource shared across modules) keeps it."""
    for item in items:
        if item.get_closest_marker("xdist_group") is not None:
            continue
        group = BROWSER_GROUP if _drives_a_browser(item) else item.nodeid.split("::", 1)[0]
        item.add_marker(pytest.mark.xdist_group(group))
