"""AppTests of the daily-use dashboard: launch form state, run management, compare picks, bad URLs."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from conftest_ui import ROOT
from streamlit.testing.v1 import AppTest

from runner import plan
from runner.store import Store

APP = str(ROOT / "app.py")


def _app(db: Path, monkeypatch: pytest.MonkeyPatch, page: str | None = None, **query: str) -> AppTest:
    monkeypatch.setenv("TRAINDOC_DB", str(db))
    at = AppTest.from_file(APP, default_timeout=60)
    if page:
        at.switch_page(page)
    for key, value in query.items():
        at.query_params[key] = value
    return at.run()


def _text(at: AppTest) -> str:
    parts = [e.value for kind in ("markdown", "caption", "info", "error", "warning", "success", "title",
                                  "subheader") for e in getattr(at, kind)]
    return re.sub(r"\\(.)", r"\1", "\n".join(str(p) for p in parts))


def _queue_button(at: AppTest):  # noqa: ANN202 - an AppTest element
    return at.button(key="launch:queue")


def test_launch_form_keeps_its_state_when_a_run_finishes_and_queue_disables_after_submit(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    db = tmp_path / "l.db"
    store = Store(db)
    real_submit = plan.submit
    monkeypatch.setattr(plan, "submit", lambda s, p: real_submit(s, p, start_scheduler=False))
    at = _app(db, monkeypatch, "pages/launch.py")
    at.selectbox(key="launch:start").select("preset · healthy").run()
    at.text_input(key="preset · healthy:train.epochs").input("40").run()
    at.text_input(key="preset · healthy:group-name").input("my group").run()
    assert _queue_button(at).label == "Queue 1 run"
    run_id = store.create_run("elsewhere", {}, status="running")  # a run finishing elsewhere adds an option
    store.finish(run_id, "finished")
    at.run()
    assert at.selectbox(key="launch:start").value == "preset · healthy"
    assert at.text_input(key="preset · healthy:train.epochs").value == "40"
    assert at.text_input(key="preset · healthy:group-name").value == "my group"
    assert _queue_button(at).label == "Queue 1 run"
    _queue_button(at).click().run()
    button = _queue_button(at)
    assert button.disabled and button.label.startswith("Queued as group #")
    group = store.groups().iloc[0]
    assert group["name"] == "my group"
    assert json.loads(store.runs(group_id=int(group["id"])).iloc[0]["config"])["train.epochs"] == 40
    at.text_input(key="preset · healthy:train.epochs").input("41").run()
    assert _queue_button(at).label == "Queue 1 run" and not _queue_button(at).disabled


def test_launch_invalid_value_names_it_instead_of_queue_0_runs(tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    at = _app(tmp_path / "l.db", monkeypatch, "pages/launch.py")
    at.selectbox(key="launch:start").select("preset · healthy").run()
    at.text_input(key="preset · healthy:optim.lr").input("abc").run()
    button = _queue_button(at)
    assert button.disabled and "0 runs" not in button.label and "optim.lr" in button.label
    assert "optim.lr" in _text(at)
