"""The live doctor: a critical finding stops a run that asked for it, within about one flush interval."""

from __future__ import annotations

import math
import time
from pathlib import Path

import pytest

import traindoc
from runner.execute import execute
from runner.presets import PRESETS
from runner.stop_on import check_stop_on
from runner.store import Store
from traindoc.live_doctor import for_run

ONSET = 1500  # the step from which the loss is NaN


def test_start_run_stop_on_divergence_stops_the_loop(db_path: Path) -> None:
    last, started = 0, time.monotonic()
    with traindoc.start_run("diverging", db=db_path, stop_on=("divergence",)) as run:
        for step in range(1, 200_000):
            run.log({"train/loss": 1.0 / math.sqrt(step) if step < ONSET else float("nan")}, step=step)
            last = step
            time.sleep(0.0005)
    rate = last / (time.monotonic() - started)  # steps per second on this (loaded) machine
    stored = Store(db_path).run(run.id)
    assert stored["status"] == "stopped" and "divergence" in stored["error"]
    stopped_by = stored["meta"]["stopped_by"]
    assert stopped_by["rule"] == "divergence" and stopped_by["onset_step"] == ONSET
    lag = stopped_by["detected_at_step"] - ONSET
    print(f"\nlive doctor: onset {ONSET}, detected at {stopped_by['detected_at_step']} (+{lag} steps, "
          f"{lag / rate:.2f} s at {rate:.0f} steps/s), loop left at {last}")
    # caught after the onset and the loop ended early; the lag in seconds is bench/live_doctor_lag.py's to print
    assert lag >= 0 and last < 200_000 - 1


def test_a_launched_preset_run_is_stopped_when_its_group_asks(store: Store) -> None:
    assert execute(store, store.create_run("unwatched", PRESETS["divergence"].config({"train.epochs": 3}).to_flat(),
                                           group_id=store.create_group("no one", spec={"stop_on": ["divergence"]}))
                   ) == "finished"  # no watcher handed in: the runner alone never loads the doctor
    cfg = PRESETS["divergence"].config({"train.epochs": 3000})
    group = store.create_group("stop me", spec={"stop_on": ["divergence"]})
    run_id = store.create_run("divergence", cfg.to_flat(), group_id=group)
    assert execute(store, run_id, watch=for_run) == "stopped"  # the watcher python -m runner hands in
    run = store.run(run_id)
    assert run["meta"]["stopped_by"]["rule"] == "divergence"
    assert run["last_step"] < 3000 * 10  # left long before its 3000 epochs


def test_only_critical_rules_can_stop_a_run() -> None:
    assert check_stop_on("divergence") == ("divergence",)
    with pytest.raises(ValueError, match="can be stopped on"):
        check_stop_on(("overfitting",))


def test_a_script_run_inherits_the_launch_toggle(store: Store) -> None:
    from runner.stop_on import requested

    group = store.create_group("g", spec={"stop_on": ["exploding_gradients"]})
    own = store.create_run("own", {}, source="script", meta={"stop_on": ["divergence"]}, group_id=group)
    inherited = store.create_run("inherited", {}, source="script", group_id=group)
    plain = store.create_run("plain", {}, source="script")
    assert requested(store, store.run(own)) == ("divergence",)
    assert requested(store, store.run(inherited)) == ("exploding_gradients",)
    assert requested(store, store.run(plain)) == ()
