"""Live runs seen from the dashboard: a killed runner shows crashed; a restarted dashboard loses nothing."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest
from conftest_ui import ROOT
from streamlit.testing.v1 import AppTest
from waiting import wait_for_run

from runner import launcher
from runner.presets import PRESETS
from runner.store import Store

pytestmark = pytest.mark.slow  # see CONTRIBUTING.md: left out of the fast loop

APP = str(ROOT / "app.py")
# Long enough that the first dashboard usually opens mid-run (a finished run is accepted too), short
# enough not to dominate the suite: 180 steps, each of which must be stored.
EPOCHS = 15


def _overview(db: Path, monkeypatch: pytest.MonkeyPatch) -> AppTest:
    monkeypatch.setenv("TRAINDOC_DB", str(db))
    at = AppTest.from_file(APP, default_timeout=30).run()
    assert not at.exception
    return at




def test_a_killed_runner_shows_as_crashed_on_the_dashboard(db_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store = Store(db_path)
    run_id = store.create_run("doomed", PRESETS["healthy"].config({"train.epochs": 3_000}).to_flat())
    pid = launcher.launch(store, run_id)
    wait_for_run(store, run_id, lambda r: (r["last_step"] or 0) > 0)
    assert _overview(db_path, monkeypatch).dataframe[0].value["status"].tolist() == ["running"]
    os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)
    at = _overview(db_path, monkeypatch)  # the dashboard's read reconciles: no "running" forever
    assert at.dataframe[0].value["status"].tolist() == ["crashed"]
    assert store.metric_series(run_id, "train/loss")[0].size > 0


def test_restarting_the_dashboard_mid_run_loses_nothing(db_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store = Store(db_path)
    cfg = PRESETS["healthy"].config({"train.epochs": EPOCHS})
    run_id = store.create_run("survivor", cfg.to_flat())
    launcher.launch(store, run_id)
    wait_for_run(store, run_id, lambda r: (r["last_step"] or 0) > 0)
    first = _overview(db_path, monkeypatch)  # dashboard #1 watches, then goes away
    assert first.dataframe[0].value["status"].tolist() in (["running"], ["finished"])
    del first
    run = wait_for_run(store, run_id, lambda r: r["status"] != "running")
    second = _overview(db_path, monkeypatch)  # dashboard #2, a fresh process's view of the same file
    assert run["status"] == "finished"
    assert second.dataframe[0].value["status"].tolist() == ["finished"]
    steps, _ = store.metric_series(run_id, "train/loss")
    assert steps.tolist() == list(range(1, EPOCHS * 12 + 1))  # every step of EPOCHS x 12 batches, none lost
    monkeypatch.setenv("TRAINDOC_DB", str(db_path))
    page = AppTest.from_file(APP, default_timeout=30)
    page.switch_page("pages/run.py")
    page.query_params["run"] = str(run_id)
    page.run()
    assert not page.exception and page.get("plotly_chart")
