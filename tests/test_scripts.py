"""Registered scripts: launched through the queue like presets, swept, fix-verified, cancelled, crashed."""

from __future__ import annotations

import contextlib
import os
import signal
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from waiting import wait_for_run

from diagnostics.verify import group_verdicts
from runner import launcher, reproduce, scripts
from runner.cli import main as runner_main
from runner.config import ConfigError
from runner.store import ACTIVE, Store, StoreError
from traindoc.handoff import fix_group

pytestmark = pytest.mark.slow  # see CONTRIBUTING.md: left out of the fast loop

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "digits_mlp.py"
QUICK = ["--config", "train.epochs=3", "--config", "model.hidden=32"]
STALE_S = 8.0  # the slow-start test's stale limit: its script sleeps past it before start_run


@pytest.fixture
def kill_leftovers(tmp_path: Path) -> Iterator[None]:
    """Scripts started by a failed test die with it (their command line names tmp_path)."""
    yield
    for proc in Path("/proc").glob("[0-9]*"):
        with contextlib.suppress(OSError, ProcessLookupError, PermissionError):
            cmdline = (proc / "cmdline").read_bytes().decode(errors="replace")
            if str(tmp_path) in cmdline and int(proc.name) != os.getpid():
                os.kill(int(proc.name), signal.SIGKILL)


def _ended(run: dict) -> bool:
    return run["status"] not in ACTIVE


def test_register_validates_and_refuses_a_second_name(store: Store, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no such file"):
        scripts.register(store, "x", tmp_path / "missing.py")
    with pytest.raises(ConfigError, match="interpreter"):
        scripts.register(store, "x", EXAMPLE, interpreter="no-such-python-here")
    with pytest.raises(ConfigError, match="script name"):
        scripts.register(store, "a b; rm -rf /", EXAMPLE)
    scripts.register(store, "digits", EXAMPLE, config={"optim.lr": 1e-3})
    with pytest.raises(StoreError, match="already registered"):
        scripts.register(store, "digits", EXAMPLE)
    assert store.script("digits")["interpreter"] == sys.executable
    assert scripts.parse_pairs(store.script("digits")["config"], ["optim.lr=0.1", "model.hidden=8", "x=abc"]) == \
        {"optim.lr": 0.1, "model.hidden": 8, "x": "abc"}


def test_example_swept_over_two_lrs_then_a_fix_verified(db_path: Path, kill_leftovers: None) -> None:
    db = str(db_path)
    assert runner_main(["--db", db, "script", "add", "digits", str(EXAMPLE), *QUICK]) == 0
    assert runner_main(["--db", db, "script", "sweep", "digits", "--grid", "optim.lr=1e-3,0.5"]) == 0
    store = Store(db_path)
    runs = {store.run(i)["config"]["optim.lr"]: store.run(i) for i in sorted(store.runs().id)}
    assert set(runs) == {1e-3, 0.5}
    for lr, run in runs.items():
        run = wait_for_run(store, run["id"], _ended, timeout=240)
        # lr=0.5 blows the loss up at once: the live doctor may stop it (divergence) before it ends
        ended = ("finished",) if lr == 1e-3 else ("finished", "stopped")
        assert run["status"] in ended, launcher.log_path(store, run["id"]).read_text()
        assert run["status"] == "finished" or run["meta"]["stopped_by"]["rule"] == "divergence"
        assert run["source"] == "script" and run["config"]["train.epochs"] == 3
        _steps, logged_lr = store.metric_series(run["id"], "lr")
        assert set(logged_lr) == {lr}  # the script trained with the swept value it read from run.config
        evaluations = store.metric_series(run["id"], "val/acc")[0].size
        # stopped: at most its end (under load the doctor's stop can land after the last evaluation)
        assert evaluations == 3 if run["status"] == "finished" else evaluations <= 3, (run["status"], evaluations)
    bad = store.run(runs[0.5]["id"])
    assert reproduce.reproducible(store, bad)
    # the finding the run shows: lr_too_high once it ran to its end, the doctor's divergence if it stopped it
    rule, severity = (("lr_too_high", "warning") if bad["status"] == "finished" else
                      (bad["meta"]["stopped_by"]["rule"], "critical"))
    group_id = reproduce.submit_fix(store, bad, rule, severity, [("Lower the learning rate", {"optim.lr": 1e-3})])
    (fix_id,) = [int(i) for i in store.runs(group_id=group_id).id]
    fixed = wait_for_run(store, fix_id, _ended, timeout=240)
    assert fixed["status"] == "finished", launcher.log_path(store, fix_id).read_text()
    assert fixed["config"] == {**bad["config"], "optim.lr": 1e-3} and fixed["parent_id"] == bad["id"]
    (verdict,) = group_verdicts(*fix_group(store, group_id))
    assert verdict.verdict == "verified", verdict.reason


def _script(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "train_me.py"
    path.write_text("import time, traindoc\n" + body)
    return path


def test_cancel_reaches_the_script_and_keeps_its_rows(store: Store, tmp_path: Path, kill_leftovers: None) -> None:
    path = _script(tmp_path, "with traindoc.start_run('loop') as run:\n"
                             "    for step in range(1, 100000):\n"
                             "        run.log({'train/loss': 1.0 / step}, step=step)\n"
                             "        time.sleep(0.01)\n")
    scripts.register(store, "loop", path, args=["--literal", "a; echo not-a-shell"])
    _group, (run_id,) = scripts.submit(store, scripts.ScriptPlan("loop", "loop"))
    wait_for_run(store, run_id, lambda r: (r["last_step"] or 0) > 0, timeout=120)
    assert launcher.cancel(store, run_id) == "cancelled"
    store.reconcile()
    wait_for_run(store, run_id, lambda r: r["pid"] is None or not _alive(r["pid"]), timeout=30)
    assert store.run(run_id)["status"] == "cancelled"
    assert store.metric_series(run_id, "train/loss")[0].size >= 1


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # the process may exit between the two reads
        return "zombie" not in Path(f"/proc/{pid}/status").read_text().lower()
    except OSError:  # ProcessLookupError or FileNotFoundError: gone
        return False


@pytest.mark.parametrize(("body", "error"), [
    ("raise SystemExit(3)\n", "exited with code 3"),
    ("print('no traindoc here')\n", "without calling traindoc.start_run"),
    ("with traindoc.start_run('x') as run:\n    run.log({'train/loss': 1.0}, step=1)\n    1 / 0\n",
     "ZeroDivisionError"),
])
def test_a_script_that_fails_ends_failed_with_why(store: Store, tmp_path: Path, body: str, error: str,
                                                  kill_leftovers: None) -> None:
    scripts.register(store, "bad", _script(tmp_path, body))
    _group, (run_id,) = scripts.submit(store, scripts.ScriptPlan("bad", "bad"))
    run = wait_for_run(store, run_id, _ended, timeout=120)
    assert run["status"] == "failed" and error in run["error"]


def test_a_slow_starting_script_is_not_taken_for_crashed(store: Store, tmp_path: Path, kill_leftovers: None,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """Imports and data loading before start_run: the runner beats for the script meanwhile."""
    import runner.store.liveness

    # this process's reconcile (a page's) judges a run silent this long stalled. The runner beats from its
    # first, standard-library-only moments (runner/boot.py) every second, so 8 s stays far above its start-up
    # on a loaded machine, and a script asleep past it (STALE_S + 3 s) still shows whether the runner beats
    monkeypatch.setattr(runner.store.liveness, "STALE_AFTER_SECONDS", STALE_S)
    path = _script(tmp_path, f"time.sleep({STALE_S + 3:g})\nwith traindoc.start_run('slow') as run:\n"
                             "    run.log({'train/loss': 1.0}, step=1)\n")
    scripts.register(store, "slow", path)
    _group, (run_id,) = scripts.submit(store, scripts.ScriptPlan("slow", "slow"))
    wait_for_run(store, run_id, lambda r: r["status"] == "running" and r["meta"].get("executor"), timeout=120)
    run = wait_for_run(store, run_id, _ended, timeout=120)
    assert run["status"] == "finished", run["error"]
    assert not run["meta"].get("verdicts"), run["meta"]["verdicts"]  # never judged stalled or crashed meanwhile
