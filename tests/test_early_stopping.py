"""Early stopping on a tiny real run: it stops, and restore_best leaves the model at its best evaluation."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from runner.config import RunConfig
from runner.data import load
from runner.early_stopping import EarlyStopping
from runner.presets import PRESETS
from runner.sink import MetricSink
from runner.store import Store
from runner.train import _Evaluator, _loss_fn, train
from traindoc.core.vocabulary import Monitor


def _train(tmp_path: Path, overrides: dict) -> tuple[RunConfig, object, Store, int]:
    """The overfitting preset (val loss bottoms out early, then climbs), shortened, with ``overrides``."""
    cfg = PRESETS["overfitting"].config({"train.epochs": 25, "early_stopping.patience": 3, **overrides})
    store = Store(tmp_path / "es.db")
    run_id = store.create_run("es", cfg.to_flat())
    sink = MetricSink(store, run_id)
    try:
        outcome = train(cfg, sink)
    finally:
        sink.close()
    return cfg, outcome, store, run_id


def _val_loss(cfg: RunConfig, model: torch.nn.Module) -> float:
    split = load(cfg.data, cfg.train.seed)
    return _Evaluator(model, split, torch.device("cpu"), _loss_fn(cfg, model, split.n_classes))()["val/loss"]


@pytest.mark.parametrize("restore", [True, False], ids=["restore-best", "keep-last"])
@pytest.mark.slow
def test_early_stopping_stops_and_restores_the_best_weights(tmp_path: Path, restore: bool) -> None:
    cfg, outcome, store, run_id = _train(tmp_path, {"early_stopping.restore_best": restore})
    assert outcome.stopped_early and outcome.stopped_early.startswith("early stopping: val/loss did not improve")
    val = store.metrics(run_id, names=["val/loss"])
    best = val.loc[val["value"].idxmin()]
    assert outcome.steps > best["step"]  # it trained past the best evaluation, then stopped
    now = _val_loss(cfg, outcome.model)
    if restore:
        assert outcome.restored_step == int(best["step"])
        assert now == pytest.approx(best["value"], rel=1e-5)
        assert "restored the weights of step" in outcome.stopped_early
    else:
        assert outcome.restored_step is None
        assert now == pytest.approx(val["value"].iloc[-1], rel=1e-5) and now > best["value"]


def test_mode_follows_the_monitor_and_can_be_forced() -> None:
    model = torch.nn.Linear(1, 1)
    acc = EarlyStopping(Monitor("val/acc"), patience=1)
    assert acc.update({"val/acc": 0.5}, 1, model) is None and acc.update({"val/acc": 0.6}, 2, model) is None
    assert acc.update({"val/acc": 0.55}, 3, model).startswith("early stopping: val/acc")
    forced = EarlyStopping(Monitor("val/loss", "max"), patience=1, min_delta=0.1)
    assert forced.update({"val/loss": 1.0}, 1, model) is None
    assert forced.update({"val/loss": 1.05}, 2, model) is not None  # up, but by less than min_delta
