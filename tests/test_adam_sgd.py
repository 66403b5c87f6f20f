"""optim.name=adam_sgd on tiny real runs: Adam until optim.switch_epoch, then SGD with momentum at the
SWATS estimate of the lr, usable as one value of an optimizer sweep."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch

from runner.config import RunConfig
from runner.optim import AdamToSGD
from runner.presets import PRESETS
from runner.sink import MetricSink
from runner.store import Store
from runner.sweep import parse_grid
from runner.train import train


def _lr_per_step(tmp_path: Path, overrides: dict) -> tuple[RunConfig, dict[int, float], Store, int]:
    cfg = PRESETS["healthy"].config({"train.epochs": 3, **overrides})
    store = Store(tmp_path / "swats.db")
    run_id = store.create_run("swats", cfg.to_flat())
    sink = MetricSink(store, run_id)
    try:
        train(cfg, sink)
    finally:
        sink.close()
    lr = store.metrics(run_id, names=["lr"])
    return cfg, dict(zip(lr["step"].astype(int), lr["value"], strict=True)), store, run_id


@pytest.mark.slow  # a real training run
def test_adam_then_sgd_switches_at_the_chosen_epoch(tmp_path: Path) -> None:
    cfg, lr, store, run_id = _lr_per_step(tmp_path, {"optim.name": "adam_sgd", "optim.switch_epoch": 1})
    steps_per_epoch = max(lr) // 3
    switch = steps_per_epoch * cfg.optim.switch_epoch
    adam = {s: v for s, v in lr.items() if s <= switch}
    sgd = {s: v for s, v in lr.items() if s > switch}
    assert set(adam.values()) == {cfg.optim.lr}  # Adam's own lr up to and including the switch step
    assert len(set(sgd.values())) == 1 and sgd  # then one SGD lr: the estimate, held (no schedule)
    sgd_lr = next(iter(sgd.values()))
    assert sgd_lr != cfg.optim.lr and math.isfinite(sgd_lr) and sgd_lr > 0
    val = store.metrics(run_id, names=["val/acc"])
    assert val["value"].notna().all() and val["value"].iloc[-1] > 0.5  # SGD kept it learning, not wrecked


def test_a_switch_after_the_last_epoch_is_plain_adam(tmp_path: Path) -> None:
    cfg, lr, _, _ = _lr_per_step(tmp_path, {"optim.name": "adam_sgd", "optim.switch_epoch": 50})
    assert set(lr.values()) == {cfg.optim.lr}


def test_the_sgd_lr_is_the_projection_of_adams_steps() -> None:
    """On f(w) = ½‖w‖² the gradient is w: one Adam step p from w gives γ = pᵀp / (−pᵀw), times (1 − μ)."""
    w = torch.nn.Parameter(torch.tensor([1.0, -2.0, 0.5]))
    cfg = RunConfig().optim.__class__(name="adam_sgd", lr=0.1, momentum=0.9, switch_epoch=1)
    adam = torch.optim.Adam([w], lr=cfg.lr)
    switch = AdamToSGD(cfg, [w], steps_per_epoch=1)
    (0.5 * (w * w).sum()).backward()
    before, grad = w.detach().clone(), w.grad.detach().clone()
    switch.before_step()
    adam.step()
    sgd = switch.after_step(1, adam)
    p = w.detach() - before
    gamma = float((p @ p) / -(p @ grad))
    assert isinstance(sgd, torch.optim.SGD)
    assert switch.sgd_lr == pytest.approx(gamma * (1 - cfg.momentum), rel=1e-5)
    assert sgd.param_groups[0]["lr"] == switch.sgd_lr and sgd.param_groups[0]["momentum"] == cfg.momentum


def test_adam_sgd_is_a_sweep_value_of_the_optimizer() -> None:
    assert parse_grid(["optim.name=adam,adam_sgd"]) == {"optim.name": ["adam", "adam_sgd"]}
