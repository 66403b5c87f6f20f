"""The shared queue for real: two app sessions submit from the launch page, one scheduler process runs
both groups within their limits; cancel from the page; a failed run in a group shows its error."""

from __future__ import annotations

import os
import re
import time
from pathlib import Path

import pytest
from conftest_ui import ROOT
from streamlit.testing.v1 import AppTest
from waiting import wait_for_run

from runner import plan
from runner.presets import PRESETS
from runner.store import ACTIVE, Store

pytestmark = pytest.mark.slow  # see CONTRIBUTING.md: left out of the fast loop

APP = str(ROOT / "app.py")
START = "preset · healthy"
# the scheduler lingers 3 s for a follow-up group; tests wait for it to leave, so keep that short
os.environ["TRAINDOC_SCHEDULER_IDLE"] = "0.5"


def _session(db: Path, monkeypatch: pytest.MonkeyPatch) -> AppTest:
    monkeypatch.setenv("TRAINDOC_DB", str(db))
    at = AppTest.from_file(APP, default_timeout=60)
    at.switch_page("pages/launch.py")
    return at.run()


def _submit_lr_sweep(at: AppTest, lrs: str, concurrency: int) -> None:
    """What a user does: pick the preset, shorten it, sweep the learning rate, queue."""
    at.selectbox[0].select(START).run()
    at.text_input(key=f"{START}:train.epochs").input("1").run()
    at.multiselect(key=f"{START}:sweep-keys").select("optim.lr").run()
    at.text_input(key=f"{START}:values:optim.lr").input(lrs).run()
    at.number_input(key=f"{START}:concurrency").set_value(concurrency).run()
    button = next(b for b in at.button if b.label.startswith("Queue "))
    assert button.label == f"Queue {len(lrs.split(','))} runs"
    button.click().run()
    assert not at.exception and not at.error


def _wait_idle(store: Store, timeout: float = 300) -> None:  # a bound for a loaded machine, not a timing
    deadline = time.time() + timeout
    while time.time() < deadline:
        runs = store.runs()
        if not runs.status.isin(ACTIVE).any() and store.scheduler_holder() is None:
            return
        time.sleep(0.3)
    raise AssertionError(f"queue not drained: {store.runs()[['id', 'status']].values.tolist()}")


def test_two_sessions_share_one_queue_and_one_scheduler(db_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    first, second = _session(db_path, monkeypatch), _session(db_path, monkeypatch)
    _submit_lr_sweep(first, "0.01, 0.003", concurrency=1)
    _submit_lr_sweep(second, "0.02, 0.005", concurrency=1)
    store = Store(db_path)
    _wait_idle(store)
    runs = store.runs().sort_values("id")
    assert runs.status.tolist() == ["finished"] * 4
    details = [store.run(int(i)) for i in runs.id]
    # one scheduler at a time served both sessions: under load the first may go idle (or fall behind its
    # beat) and a new one takes over; two never launch together, so in launch order a scheduler that
    # handed over never launches again. (A run it launched may still be training then: runs are their
    # own processes, so run spans may overlap across schedulers.)
    launchers = [d["meta"]["scheduler_pid"] for d in sorted(details, key=lambda d: d["started_at"])]
    turns = [pid for i, pid in enumerate(launchers) if i == 0 or pid != launchers[i - 1]]
    assert len(turns) == len(set(turns)), launchers
    for group_id in runs.group_id.unique():
        spans = sorted((d["started_at"], d["ended_at"]) for d in details if d["group_id"] == group_id)
        assert spans[1][0] >= spans[0][1]  # concurrency 1: the second started after the first ended
        assert store.group(int(group_id))["spec"]["concurrency"] == 1
    # both groups' progress is visible to any session
    first.run()
    assert sum("4 finished" in p.proto.text or "2 finished" in p.proto.text for p in first.get("progress")) >= 2


def test_cancel_group_from_the_page_stops_running_and_queued_runs(db_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    store = Store(db_path)
    long = PRESETS["healthy"].config({"train.epochs": 3_000}).to_flat()
    group_id, ids = plan.submit(store, plan.Plan("long", long, {"optim.lr": [1e-3, 2e-3, 3e-3]}, concurrency=1))
    wait_for_run(store, ids[0], lambda run: (run["last_step"] or 0) > 0)  # it trains: steps reach the store
    at = _session(db_path, monkeypatch)
    at.button(key=f"cancel-group-{group_id}").click().run()
    assert [store.run(i)["status"] for i in ids] == ["cancelled"] * 3
    _wait_idle(store, timeout=30)  # the running process flushed and exited; nothing else was started
    assert [store.run(i)["started_at"] is None for i in ids] == [False, True, True]
    assert store.metric_series(ids[0], "train/loss")[0].size > 0


def test_a_failed_run_in_a_group_shows_its_error(db_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store = Store(db_path)
    base = PRESETS["divergence"].config({"train.nan_policy": "fail", "train.epochs": 2}).to_flat()
    plan.submit(store, plan.Plan("lr", base, {"optim.lr": [5.0, 0.05]}, concurrency=2))
    _wait_idle(store)
    statuses = dict(zip(store.runs().name, store.runs().status, strict=True))
    assert statuses == {"lr [optim.lr=5]": "failed", "lr [optim.lr=0.05]": "finished"}
    at = _session(db_path, monkeypatch)
    errors = [re.sub(r"\\(.)", r"\1", e.value) for e in at.error]  # undo md() escaping
    assert len(errors) == 1
    assert errors[0].startswith("Run #1 failed: TrainingError: training loss became nan by step")
