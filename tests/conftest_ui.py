"""Fixtures shared by the dashboard tests: databases holding real (small) runs.

Imported by tests/test_pages.py and tests/test_browser.py (not a conftest.py: the
lead owns that). Runs come from the runner's own presets, trained in-process, so the
pages are tested on exactly what a user's database holds.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from runner.execute import execute
from runner.presets import PRESETS
from runner.store import Store

ROOT = Path(__file__).resolve().parent.parent
FAST_PRESET = "softmax_nll"  # ~1.5 s on a CPU, and it has a pathology for the findings to show


def make_db(path: Path, presets: tuple[str, ...] = (FAST_PRESET,)) -> dict[str, int]:
    """A run that failed on a bad config, then finished preset runs (newest first in the UI); name → id."""
    store = Store(path)
    run_id = store.create_run("bad_lr", {**PRESETS["healthy"].config().to_flat(), "optim.lr": -1.0})
    assert execute(store, run_id) == "failed"
    ids = {"bad_lr": run_id}
    for name in presets:
        run_id = store.create_run(name, PRESETS[name].config().to_flat())
        assert execute(store, run_id) == "finished"
        ids[name] = run_id
    store.close()
    return ids


def real_db_in(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, int]]:
    """One failed and one finished real run, built once per session and shared by the UI modules.

    The tests only read it; the file lives in the session's base temp dir so the page tests
    and the browser test (separate modules, separate fixtures) train the preset only once.
    """
    folder = tmp_path_factory.getbasetemp() / "ui-real-db"
    path = folder / "traindoc.db"
    if not (folder / "ready").exists():
        folder.mkdir(exist_ok=True)
        ids = make_db(path)
        (folder / "ready").write_text(json.dumps(ids))
    return path, json.loads((folder / "ready").read_text())
