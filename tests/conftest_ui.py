"""Fixtures shared by the dashboard tests: databases holding real (small) runs.

Imported by tests/test_pages.py and tests/test_browser.py (not a conftest.py: the
lead owns that). Runs come from the runner's own presets, trained in-process, so the
pages are tested on exactly what a user's database holds.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from runner.execute import execute
from runner.presets import PRESETS
from runner.store import Store

ROOT = Path(__file__).resolve().parent.parent
FAST_PRESET = "softmax_nll"  # ~1.5 s on a CPU, and it has a pathology for the findings to show


def make_db(path: Path, presets: tuple[str, ...] = (FAST_PRESET,), failed: bool = True) -> dict[str, int]:
    """A database with finished preset runs (and a run that failed on a bad config); name → run id."""
    store = Store(path)
    ids = {}
    for name in presets:
        run_id = store.create_run(name, PRESETS[name].config().to_flat())
        assert execute(store, run_id) == "finished"
        ids[name] = run_id
    if failed:
        run_id = store.create_run("bad_lr", {**PRESETS["healthy"].config().to_flat(), "optim.lr": -1.0})
        assert execute(store, run_id) == "failed"
        ids["bad_lr"] = run_id
    store.close()
    return ids


def real_db_in(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, int]]:
    """One finished real run and one failed run, for a module-scoped fixture (read-only for the tests)."""
    path = tmp_path_factory.mktemp("ui") / "traindoc.db"
    return path, make_db(path)
