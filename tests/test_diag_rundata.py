"""RunData from tidy frames: canonical names, logged NaN kept, from a CSV and from the store; and speed."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pandas as pd

from diagnostics import RunData, diagnose
from runner.importers import read_path
from runner.store import Store
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


def million_point_run() -> RunData:
    """1,000,000 logged points: three per-step curves of 330k steps plus epoch-level curves."""
    rng = np.random.default_rng(1)
    n, evals = 330_000, 1000
    steps = np.arange(1, n + 1, dtype=float)
    loss = 2.0 * np.exp(-steps / 50_000) + 0.1 + rng.normal(0, 0.05, n)
    epoch_steps = np.linspace(330, n, evals)
    per_step = (("train/loss", loss), ("lr", np.full(n, 1e-3)), ("grad_norm", rng.lognormal(0, 0.3, n)))
    frames = [pd.DataFrame({"step": steps, "name": name, "value": values}) for name, values in per_step]
    for name, values in (
        ("val/loss", 0.5 + np.abs(np.linspace(-1, 1, evals))),
        ("train/loss_epoch", np.linspace(2, 0.1, evals)),
        ("train/acc", np.linspace(0.5, 1, evals)),
        ("val/acc", np.linspace(0.5, 0.9, evals)),
        ("grad_norm/layer0", np.full(evals, 0.1)),
        ("grad_norm/layer1", np.full(evals, 0.2)),
        ("dead_frac/layer0", np.full(evals, 0.1)),
        ("adam/eps_dominance", np.full(evals, 0.05)),
        ("train/auc", np.linspace(0.6, 0.99, evals)),
        ("val/auc", np.linspace(0.6, 0.95, evals)),
    ):
        frames.append(pd.DataFrame({"step": epoch_steps, "name": name, "value": values}))
    frame = pd.concat(frames, ignore_index=True)
    assert len(frame) == 1_000_000
    return RunData.from_frame(frame, config={"optim.name": "adam", "optim.lr": 1e-3, "optim.eps": 1e-8})


def test_a_million_points_diagnose_well_under_a_second():
    run = million_point_run()
    diagnose(run)  # warm-up: imports and first-call allocation
    start = time.perf_counter()
    findings = diagnose(run)
    elapsed = time.perf_counter() - start
    assert elapsed < 1.0, f"diagnose took {elapsed:.2f}s on 1M points"
    assert "overfitting" in {f.rule for f in findings}
