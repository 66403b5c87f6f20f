"""RunData from tidy frames: canonical names, logged NaN kept, from a CSV and from the store; a million points."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from diagnostics import RunData, diagnose
from runner.importers import read_path
from runner.store import Store
from tests.diag_curves import million_point_run
from traindoc.core.vocabulary import Monitor
from traindoc.handoff import from_imported, load_run


def _read(path: Path) -> RunData:
    (run,) = read_path(path)
    return from_imported(run)


def test_foreign_names_map_to_canonical_ones_and_keep_originals():
    frame = pd.DataFrame(
        {
            "step": [1, 2, 1, 2, 1, 2],
            "name": ["loss", "loss", "val_loss", "val_loss", "val_accuracy", "val_accuracy"],
            "value": [1.0, 0.5, 1.1, 0.6, 0.5, 0.7],
        }
    )
    run = RunData.from_frame(frame)
    assert run.names == ["train/loss_epoch", "val/acc", "val/loss"]
    assert run.original("val/loss") == "val_loss"
    assert run.get("train/loss_epoch").values.tolist() == [1.0, 0.5]


def test_per_step_loss_maps_to_train_loss():
    frame = pd.DataFrame({"step": range(100), "name": "loss", "value": np.linspace(1, 0, 100)})
    frame = pd.concat([frame, pd.DataFrame({"step": [49, 99], "name": "val_loss", "value": [0.6, 0.4]})])
    assert RunData.from_frame(frame).names == ["train/loss", "val/loss"]


def test_csv_reader_epoch_axis_sparse_rows_and_logged_nan(tmp_path: Path):
    path = tmp_path / "log.csv"
    path.write_text("epoch,loss,val_loss\n0,1.0,1.2\n1,0.8,\n2,nan,0.9\n3,inf,1.5\n")
    run = _read(path)
    assert run.meta["axis"] == "epoch" and run.meta["format"] == "keras_csv"
    loss = run.get("train/loss_epoch")
    assert loss.steps.tolist() == [0, 1, 2, 3]
    assert np.isnan(loss.values[2]) and np.isinf(loss.values[3])
    assert run.get("val/loss").steps.tolist() == [0, 2, 3]  # the empty cell is "not logged"
    assert run.when(2) == "epoch 2"


def test_csv_sidecar_hparams_become_the_config(tmp_path: Path):
    path = tmp_path / "run.csv"
    path.write_text("step,loss\n1,1.0\n2,0.5\n")
    (tmp_path / "run.csv.hparams.json").write_text('{"optim": {"eps": 0.1, "name": "adam"}}')
    assert dict(_read(path).config) == {"optim.eps": 0.1, "optim.name": "adam"}


def test_from_store_keeps_nan_config_and_epochs(tmp_path: Path):
    store = Store(tmp_path / "t.db")
    run_id = store.create_run("r", {"loss.name": "nll", "optim.lr": 0.1})
    nan = float("nan")
    store.write_metrics([(run_id, 1, 0.5, "train/loss", 0.7, 0.0), (run_id, 2, 1.0, "train/loss", nan, 0.0)])
    run = load_run(store, run_id)
    assert run.config["optim.lr"] == 0.1 and run.meta["loss_type"] == "nll" and run.meta["run_id"] == run_id
    assert np.isnan(run.get("train/loss").values[1])
    assert run.when(2) == "epoch 1"
    assert [f.rule for f in diagnose(run)] == ["divergence"]  # a NaN after a finite value is a fact



@pytest.mark.slow  # a million points diagnosed
def test_a_million_points_diagnose_and_find_the_overfitting():
    """How fast is bench/diagnose_speed.py's to print (no wall-clock bound in a test)."""
    findings = diagnose(million_point_run())
    assert "overfitting" in {f.rule for f in findings}


def _same_run(a: RunData, b: RunData) -> None:
    assert list(a.series) == list(b.series)
    for name, s in a.series.items():
        t = b.series[name]
        assert s.original == t.original
        np.testing.assert_array_equal(s.steps, t.steps)
        np.testing.assert_array_equal(s.values, t.values)  # NaN where NaN, inf where inf
        assert (s.epochs is None) == (t.epochs is None)
        if s.epochs is not None:
            np.testing.assert_array_equal(s.epochs, t.epochs)


def test_numpy_columns_make_the_same_run_as_the_frame():
    """A reader that hands numpy columns (no pandas on the diagnose path) gets exactly from_frame's run."""
    rng = np.random.default_rng(7)
    logged = np.array(["loss", "val_loss", "val_accuracy", "lr", "grad_norm/fc1", "acc"])
    for trial in range(40):
        n = int(rng.integers(1, 400))
        steps = rng.integers(0, 60, n).astype(float)  # repeated steps: the last row of each counts
        steps[rng.random(n) < 0.05] = np.nan  # rows without a step are dropped
        values = rng.normal(size=n)
        values[rng.random(n) < 0.1] = np.nan  # a logged NaN stays
        values[rng.random(n) < 0.02] = np.inf
        names = rng.choice(logged[: int(rng.integers(1, len(logged) + 1))], n)
        epochs = None if trial % 3 == 0 else np.floor(steps / 7)
        if epochs is not None and trial % 3 == 1:
            epochs[names == "lr"] = np.nan  # one metric without epochs
        frame = pd.DataFrame({"step": steps, "name": names, "value": values})
        if epochs is not None:
            frame["epoch"] = epochs
        meta = {"axis": "epoch" if trial % 2 else "step"}
        _same_run(RunData.from_frame(frame, meta=meta), RunData.from_columns(steps, names, values, epochs, meta=meta))
        mapping = {"loss": "train/loss"}
        _same_run(RunData.from_frame(frame, mapping=mapping),
                  RunData.from_columns(steps, names, values, epochs, mapping=mapping))


def test_numpy_columns_of_different_lengths_are_refused():
    import pytest

    with pytest.raises(ValueError, match="length"):
        RunData.from_columns(np.arange(3.0), np.array(["loss"] * 2), np.arange(3.0))


def test_a_runs_best_of_a_monitored_metric_skips_what_is_not_finite():
    run = RunData.from_columns(np.array([1, 2, 3, 1, 2], dtype=float),
                               np.array(["val/loss", "val/loss", "val/loss", "val/acc", "val/acc"]),
                               np.array([0.5, np.nan, 0.4, np.nan, np.nan]))
    assert run.best(Monitor("val/loss")) == 0.4
    assert run.best(Monitor("val/loss", mode="max")) == 0.5
    assert run.best(Monitor("val/acc")) is None  # logged, but never a finite value
    assert run.best(Monitor("val/auc")) is None  # not logged


def test_rows_without_a_name_belong_to_no_metric():
    """A tidy frame whose name cell is empty (None or NaN) for some rows: those rows are dropped, not read as a
    metric called 'nan'."""
    frame = pd.DataFrame({"step": [1, 2, 3, 4], "name": ["train/loss", None, np.nan, "train/loss"],
                          "value": [1.0, 2.0, 3.0, 0.5]})
    run = RunData.from_frame(frame)
    assert run.names == ["train/loss"] and run.series["train/loss"].values.tolist() == [1.0, 0.5]
