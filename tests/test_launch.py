"""Background runs for real: launch to finish, kill -9 to crashed, SIGTERM to cancelled."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest
from waiting import wait_for_run

from runner import launcher
from runner.plan import Plan, submit
from runner.presets import PRESETS
from runner.store import Store
from runner.sweep import expand, parse_grid


def _long_run(store: Store) -> int:
    cfg = PRESETS["healthy"].config({"train.epochs": 3_000})
    return store.create_run("long", cfg.to_flat())


@pytest.mark.slow
def test_launch_runs_in_the_background_to_finished(store: Store) -> None:
    run_id = store.create_run("quick", PRESETS["healthy"].config({"train.epochs": 2}).to_flat())
    pid = launcher.launch(store, run_id)
    assert store.run(run_id)["pid"] == pid
    run = wait_for_run(store, run_id, lambda r: r["status"] not in ("queued", "running"))
    assert run["status"] == "finished", launcher.log_path(store, run_id).read_text()
    assert run["progress"] == 1.0 and run["device"] == "cpu"
    assert store.metric_series(run_id, "val/loss")[0].size == 2


def test_a_background_run_starts_in_the_callers_folder_and_imports_this_runner(
        store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Not in site-packages or the checkout (the user's relative paths mean what they meant), and a
    ``runner/`` of the user's own in that folder does not stand in for ours."""
    (tmp_path / "runner").mkdir()
    (tmp_path / "runner" / "__init__.py").write_text("raise SystemExit('the decoy runner was imported')\n")
    monkeypatch.chdir(tmp_path)
    argv, env = launcher.runner_argv(store, "_exec", "1"), launcher.child_env()
    assert argv[1:4] == ["-P", "-m", "runner"]
    assert env["PYTHONPATH"].split(os.pathsep)[-1] == str(launcher.PACKAGE_ROOT)
    probe = subprocess.run([*argv[:2], "-c", "import os, runner; print(os.getcwd(), runner.__file__)"],
                           env=env, capture_output=True, text=True, timeout=60, check=True)
    cwd, module = probe.stdout.split()
    assert Path(cwd) == tmp_path and Path(module).is_relative_to(launcher.PACKAGE_ROOT / "runner")


@pytest.mark.slow
def test_a_launched_run_works_in_the_callers_folder(store: Store, tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "runner").mkdir()
    (tmp_path / "runner" / "__init__.py").write_text("raise SystemExit('the decoy runner was imported')\n")
    monkeypatch.chdir(tmp_path)
    run_id = store.create_run("quick", PRESETS["healthy"].config({"train.epochs": 1}).to_flat())
    pid = launcher.launch(store, run_id)
    with contextlib.suppress(FileNotFoundError):  # the run may already be over
        assert Path(os.readlink(f"/proc/{pid}/cwd")) == tmp_path
    run = wait_for_run(store, run_id, lambda r: r["status"] not in ("queued", "running"))
    assert run["status"] == "finished", launcher.log_path(store, run_id).read_text()


@pytest.mark.slow
def test_kill_9_keeps_flushed_rows_and_becomes_crashed(store: Store) -> None:
    run_id = _long_run(store)
    pid = launcher.launch(store, run_id)
    wait_for_run(store, run_id, lambda r: (r["last_step"] or 0) > 0)
    os.kill(pid, signal.SIGKILL)
    run = wait_for_run(store, run_id, lambda r: r["status"] != "running", timeout=10)
    assert run["status"] == "crashed" and "gone" in run["error"]
    assert store.metric_series(run_id, "train/loss")[0].size >= 1


@pytest.mark.slow
def test_sigterm_flushes_and_ends_cancelled(store: Store) -> None:
    run_id = _long_run(store)
    pid = launcher.launch(store, run_id)
    wait_for_run(store, run_id, lambda r: (r["last_step"] or 0) > 0)
    os.kill(pid, signal.SIGTERM)
    run = wait_for_run(store, run_id, lambda r: r["status"] != "running", timeout=30)
    assert run["status"] == "cancelled"
    # the runner flushed its buffer on the way out: the last row is at or past the heartbeat's view
    steps = store.metric_series(run_id, "train/loss")[0]
    assert steps.size >= 1 and steps[-1] == store.run(run_id)["last_step"]


@pytest.mark.slow
def test_cancel_from_the_ui_marks_cancelled_and_stops_the_process(store: Store) -> None:
    run_id = _long_run(store)
    pid = launcher.launch(store, run_id)
    wait_for_run(store, run_id, lambda r: (r["last_step"] or 0) > 0)
    assert launcher.cancel(store, run_id) == "cancelled"
    deadline = time.time() + 30
    while time.time() < deadline:
        try:
            os.waitpid(pid, os.WNOHANG)
            os.kill(pid, 0)
        except (ChildProcessError, ProcessLookupError):
            break
        time.sleep(0.2)
    else:
        raise AssertionError("the cancelled process is still alive")


def test_grid_expands_to_the_cartesian_product() -> None:
    grid = parse_grid(["optim.eps=1e-1,1e-8", "train.seed=0,1,2"])
    assert grid == {"optim.eps": [0.1, 1e-8], "train.seed": [0, 1, 2]}
    assert expand(grid)[:2] == [{"optim.eps": 0.1, "train.seed": 0}, {"optim.eps": 0.1, "train.seed": 1}]
    assert len(expand(grid)) == 6
    with pytest.raises(ValueError, match="expected key=v1,v2"):
        parse_grid(["optim.eps"])


@pytest.mark.parametrize("text", ["log 1e-8 1e-1 3", "1e-1, 1e-4, 1e-1"], ids=["log-spaced", "repeated"])
def test_cli_grid_and_launch_page_parse_sweep_values_the_same(text: str) -> None:
    from runner.sweep import parse_values  # what the launch page calls

    assert parse_grid([f"optim.eps={text}"]) == {"optim.eps": parse_values("optim.eps", text)}
    assert parse_grid(["optim.eps=log 1e-8 1e-1 3"]) == {"optim.eps": [1e-8, 3.16e-5, 0.1]}
    assert parse_grid(["train.batch_size=16,32,16"]) == {"train.batch_size": [16, 32]}  # a repeat is dropped


@pytest.mark.slow
def test_sweep_runs_every_point_within_the_concurrency_limit(store: Store) -> None:
    base = PRESETS["adam_eps_small"].config({"train.epochs": 2})
    group_id, run_ids = submit(store, Plan("eps", base.to_flat(), {"optim.eps": [0.1, 1e-4, 1e-8]}, concurrency=2))
    for run_id in run_ids:
        wait_for_run(store, run_id, lambda r: r["status"] not in ("queued", "running"))
    runs = store.runs(group_id=group_id)
    assert sorted(runs.status) == ["finished"] * 3
    assert sorted(store.run(i)["config"]["optim.eps"] for i in run_ids) == [1e-8, 1e-4, 0.1]
    starts = sorted((store.run(i)["started_at"], store.run(i)["ended_at"]) for i in run_ids)
    # the third started only after one of the first two had ended
    assert starts[2][0] >= min(starts[0][1], starts[1][1]) - 0.5
