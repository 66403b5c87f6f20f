"""The logging API for users' own scripts: ``traindoc.start_run``, the one public ``start_run``."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

import traindoc
from runner.store import Store


def test_logs_floats_and_tensors_and_finishes(db_path: Path) -> None:
    with traindoc.start_run("exp", config={"optim.lr": 0.01}, db=db_path) as run:
        for step in range(1, 301):
            run.log({"train/loss": torch.tensor(1.0 / step), "lr": 0.01}, step=step)
        run.log({"val/loss": 0.5, "val/acc": None}, step=300, epoch=1.0)
    store = Store(db_path)
    record = store.run(run.id)
    assert (record["status"], record["source"], record["config"]) == ("finished", "api", {"optim.lr": 0.01})
    steps, values = store.metric_series(run.id, "train/loss")
    assert steps.tolist() == list(range(1, 301))
    assert values[-1] == pytest.approx(1 / 300)
    logged = [n for n in store.metric_names(run.id) if not n.startswith("sys/")]  # system rows: the clock's
    assert logged == ["lr", "train/loss", "val/loss"]  # None means "not logged"


def test_an_exception_marks_the_run_failed_and_keeps_its_data(db_path: Path) -> None:
    with pytest.raises(ZeroDivisionError), traindoc.start_run("buggy", db=db_path) as run:
        for step in range(10):
            run.log({"train/loss": 1.0 / (5 - step)}, step=step)
    store = Store(db_path)
    record = store.run(run.id)
    assert record["status"] == "failed"
    assert record["error"].startswith("ZeroDivisionError: float division by zero (at test_api.py:")
    assert store.metric_series(run.id, "train/loss")[0].tolist() == [0, 1, 2, 3, 4]


def test_non_scalar_tensor_is_refused_with_its_shape(db_path: Path) -> None:
    with pytest.raises(ValueError, match=r"expected a scalar, got a tensor of shape \(3,\)"), \
            traindoc.start_run("x", db=db_path) as run:
        run.log({"train/loss": torch.ones(3)}, step=0)


def test_a_script_run_gets_the_system_signals_of_the_runners_loop(db_path: Path) -> None:
    """Step time and memory ride on the sink's flushes for a logging-API run too (issue: system signals
    for every run), named like the runner's own (sys/step_time, sys/rss_mb), with no call of the user's."""
    with traindoc.start_run("api system", db=db_path) as run:
        for step in range(1, 5001):  # a few flushes of the 2,048-row buffer
            run.log({"train/loss": 1.0 / step}, step=step)
    names = Store(db_path).metric_names(run.id)
    assert "sys/step_time" in names and "sys/rss_mb" in names and "train/loss" in names
