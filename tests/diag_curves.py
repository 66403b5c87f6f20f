"""Literal curves for diagnostics tests: a RunData from plain lists, no training involved."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from diagnostics.rundata import RunData


def make_run(
    config: dict[str, Any] | None = None,
    meta: dict[str, Any] | None = None,
    steps: dict[str, Sequence[float]] | None = None,
    **curves: Sequence[float],
) -> RunData:
    """``make_run(**{"val/loss": [...]})``: each curve at steps 1..n unless ``steps`` gives them."""
    rows = []
    for name, values in curves.items():
        xs = (steps or {}).get(name, range(1, len(values) + 1))
        rows.extend({"step": s, "name": name, "value": float(v)} for s, v in zip(xs, values, strict=True))
    frame = pd.DataFrame(rows, columns=["step", "name", "value"])
    return RunData.from_frame(frame, config=config or {}, meta=meta or {}, epoch_level=False)


def u_curve(n: int, best: int, low: float = 0.5, rise: float = 0.004) -> np.ndarray:
    """A val loss that falls to ``low`` at index ``best`` and then rises linearly."""
    i = np.arange(n, dtype=float)
    fall = low + (2.0 - low) * np.exp(-i / max(best / 4, 1))
    return np.where(i <= best, fall, low + rise * (i - best) + (fall[best] - low))


def fired(run, rule_id):  # noqa: ANN001, ANN201 - a RunData in, the rule's findings out
    """What one rule says about ``run`` (nothing when it does not apply), bypassing the engine's ordering."""
    from diagnostics.base import REGISTRY

    rule = REGISTRY[rule_id]()
    return rule.check(run) if rule.applies(run) else []


def falling(n, start=2.0, end=0.05):  # noqa: ANN001, ANN201
    """A geometric decay from ``start`` to ``end`` over ``n`` points: a loss that learns."""
    return start * (end / start) ** (np.arange(n) / (n - 1))


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
