"""The learning-rate range test (``python -m runner lr-find``): a short run whose lr grows
exponentially each step, stopped when the loss blows up, and the lr where the loss fell fastest.

Why: the learning rate matters most, and one short run (about a hundred steps) brackets it
before any long training: too small and the loss barely moves, too large and it explodes; the
steepest descent between the two is a good starting lr (Smith, "Cyclical Learning Rates for
Training Neural Networks", 2017; the finders of fastai and Lightning). The run is an ordinary
run in the store (``train/loss`` and ``lr`` per step), tagged ``lr-find``, with the tested
range and the suggestion in its meta under ``lr_find``.

The suggestion is pure numpy (``suggest``), so the Launch page can draw and explain a stored
range test without torch. Registered scripts are not range-tested: their loop and optimizer
are their own, and a script reads its config once, so the runner cannot grow the lr per step.
"""

from __future__ import annotations

import math
import threading
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from runner.config import RunConfig
from runner.store import Store

DEFAULT_STEPS = 100  # fastai's and Lightning's default: enough points per decade, seconds on a CPU
MIN_LR = 1e-7  # fastai's start_lr: far below any useful lr, so the flat start is seen
MAX_LR = 10.0  # fastai's end_lr: far above, so the blow-up is seen
BLOW_UP = 4.0  # stop once the smoothed loss exceeds this many times its best (fastai and Lightning: 4)
SMOOTHING = 0.98  # EMA weight of the past in the smoothed loss, bias-corrected (fastai and Lightning)
SKIP_START = 10  # points left out at the start: the EMA is still settling there (Lightning's skip_begin)
SKIP_END = 1  # points left out before the end: the blow-up step itself (Lightning's skip_end)
TAG = "lr-find"


@dataclass(frozen=True)
class Suggestion:
    """What a range test says: the suggested lr, where it sits, and why."""

    lr: float | None
    index: int | None  # the step (0-based) of the suggestion in the tested points
    stopped_at: int | None  # the step the loss blew up at, if it did
    reason: str


def lrs_for(steps: int, min_lr: float = MIN_LR, max_lr: float = MAX_LR) -> np.ndarray:
    """The lr of each step: from ``min_lr`` to ``max_lr``, a constant factor per step (exponential growth)."""
    return min_lr * (max_lr / min_lr) ** (np.arange(steps) / max(steps - 1, 1))


def smoothed(losses: np.ndarray, beta: float = SMOOTHING) -> np.ndarray:
    """Bias-corrected exponential moving average, the finders' smoothing (a NaN loss stays NaN)."""
    out = np.empty(len(losses))
    avg = 0.0
    for i, loss in enumerate(np.asarray(losses, dtype=float)):
        avg = beta * avg + (1 - beta) * loss
        out[i] = avg / (1 - beta ** (i + 1))
    return out


def blew_up(smooth: np.ndarray, factor: float = BLOW_UP) -> int | None:
    """The first step whose smoothed loss is not finite or above ``factor`` × the best so far."""
    best = math.inf
    for i, value in enumerate(smooth):
        if not math.isfinite(value) or (i > 0 and value > factor * best):
            return i
        best = min(best, value)
    return None


def suggest(lrs: np.ndarray, losses: np.ndarray) -> Suggestion:
    """The lr of the steepest descent of the smoothed loss against log lr, before the blow-up."""
    lrs, losses = np.asarray(lrs, dtype=float), np.asarray(losses, dtype=float)
    smooth = smoothed(losses)
    stop = blew_up(smooth)
    end = (stop if stop is not None else len(smooth)) - SKIP_END
    if end - SKIP_START < 3:
        return Suggestion(None, None, stop, f"too few steps before the loss blew up ({end + SKIP_END}) to find a "
                                            f"descent: lower the starting lr or take more steps")
    window = slice(SKIP_START, end)
    slope = np.gradient(smooth[window], np.log10(lrs[window]))
    if not np.isfinite(slope).any() or np.nanmin(slope) >= 0:
        return Suggestion(None, None, stop, "the loss never fell over the tested range: check the data and model "
                                            "before the lr")
    i = SKIP_START + int(np.nanargmin(slope))
    ended = (f"blew up (over {BLOW_UP:g}× its best) at lr {lrs[stop]:.3g}" if stop is not None
             else f"did not blow up up to lr {lrs[-1]:.3g}")
    return Suggestion(float(lrs[i]), i, stop,
                      f"the smoothed loss falls fastest at lr {lrs[i]:.3g} (slope {slope[i - SKIP_START]:.3g} per "
                      f"decade); it {ended}")


def stored_curve(store: Store, run_id: int) -> tuple[np.ndarray, np.ndarray, dict[str, Any]]:
    """A stored range test: (lr per step, loss per step, its ``lr_find`` meta), for the Launch page's chart."""
    rows = store.metrics(run_id, names=["lr", "train/loss"])
    wide = rows.pivot_table(index="step", columns="name", values="value", dropna=False).sort_index()
    lrs = wide["lr"].to_numpy(float) if "lr" in wide else np.array([])
    losses = wide["train/loss"].to_numpy(float) if "train/loss" in wide else np.array([])
    return lrs, losses, dict(store.run(run_id)["meta"].get("lr_find") or {})


def range_test(store: Store, name: str, cfg: RunConfig, steps: int = DEFAULT_STEPS, min_lr: float = MIN_LR,
               max_lr: float = MAX_LR, meta: dict[str, Any] | None = None,
               cancel: threading.Event | None = None) -> tuple[int, Suggestion]:
    """Run the range test on ``cfg``'s data, model, loss and optimizer as a run in ``store``."""
    from runner.lifecycle import RunLifecycle, device_label
    from runner.train import resolve_device  # torch: only when a test runs

    spec = {"steps": steps, "min_lr": min_lr, "max_lr": max_lr, "blow_up": BLOW_UP}
    device = resolve_device(cfg.train.device)  # before the run exists: no device, no run left queued
    run_id = store.create_run(name, cfg.to_flat(), meta={**(meta or {}), "lr_find": spec})
    store.tag([run_id], add=[TAG])
    life = RunLifecycle(store, run_id)
    sink = life.start(device_label(device))
    if sink is None:
        return run_id, Suggestion(None, None, None, "cancelled before it started")
    error: BaseException | None = None
    suggestion = Suggestion(None, None, None, "not run")
    try:
        lrs, losses = _steps(cfg, sink, device, lrs_for(steps, min_lr, max_lr), cancel or threading.Event())
        suggestion = suggest(lrs, losses)
        store.update_meta(run_id, lr_find={**spec, **asdict(suggestion), "tested": len(lrs)})
    except BaseException as exc:  # noqa: BLE001 - the run's verdict (Ctrl-C: cancelled), then raised again
        error = exc
    life.end(error, cancelled=bool(cancel and cancel.is_set()))
    if error is not None:
        raise error
    return run_id, suggestion


def _steps(cfg: RunConfig, sink: Any, device: Any, lrs: np.ndarray,
           cancel: threading.Event) -> tuple[np.ndarray, np.ndarray]:
    """Train step by step at the growing lr until the smoothed loss blows up; the tested (lr, loss) pairs.

    The loss is read every step (one host sync per step): the stop needs it, and a range test is short.
    """
    import torch
    from torch.optim.lr_scheduler import LambdaLR

    from runner.data import load
    from runner.model import MLP
    from runner.optim import build_optimizer
    from runner.train import _loss_fn

    torch.manual_seed(cfg.train.seed)
    split = load(cfg.data, cfg.train.seed)
    model = MLP(cfg.model, split.x_train.shape[1], split.n_classes).to(device)
    loss_fn = _loss_fn(cfg, model, split.n_classes)
    optimizer = build_optimizer(cfg.optim.__class__(**{**asdict(cfg.optim), "lr": float(lrs[0])}),
                                model.parameters())
    growth = float(lrs[1] / lrs[0]) if len(lrs) > 1 else 1.0
    scheduler = LambdaLR(optimizer, lambda s: growth ** s)  # ×growth per step: exponential in the step
    x = torch.as_tensor(split.x_train, device=device)
    y = torch.as_tensor(split.y_train, device=device)
    generator = torch.Generator().manual_seed(cfg.train.seed)
    tested_lr: list[float] = []
    losses: list[float] = []
    model.train()
    while len(losses) < len(lrs) and not cancel.is_set():
        order = torch.randperm(len(y), generator=generator).to(device)
        for start in range(0, len(order), cfg.train.batch_size):
            idx = order[start:start + cfg.train.batch_size]
            loss = loss_fn(model(x[idx]), y[idx])
            lr = optimizer.param_groups[0]["lr"]
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            scheduler.step()
            value = float(loss.detach())
            tested_lr.append(lr)
            losses.append(value)
            sink.log({"train/loss": value, "lr": lr}, step=len(losses))
            if blew_up(smoothed(np.array(losses))) is not None:
                return np.array(tested_lr), np.array(losses)
            if len(losses) >= len(lrs) or cancel.is_set():
                break
    return np.array(tested_lr), np.array(losses)


def add_parser(add: Any, config_args: Any) -> None:
    """``lr-find``: the range test from a preset (and ``--set`` overrides), in the foreground."""
    p = add("lr-find", help="learning-rate range test: a short run with the lr growing each step; "
                            "prints the suggested lr")
    config_args(p)
    p.add_argument("--steps", type=int, default=DEFAULT_STEPS,
                   help=f"steps of the test, the lr growing by the same factor each (default {DEFAULT_STEPS})")
    p.add_argument("--min-lr", type=float, default=MIN_LR, help=f"lr of the first step (default {MIN_LR:g})")
    p.add_argument("--max-lr", type=float, default=MAX_LR, help=f"lr of the last step (default {MAX_LR:g})")


def command(store: Store, args: Any) -> int:
    """Run the test; print the suggested lr (stdout) and the reason (stderr); exit 1 without a suggestion."""
    import sys

    from runner import presets
    from runner.config import ConfigError, parse_assignments

    if args.steps < 2 or not 0 < args.min_lr < args.max_lr:
        raise ConfigError(f"--steps {args.steps} --min-lr {args.min_lr:g} --max-lr {args.max_lr:g}: need at least "
                          "2 steps and 0 < min-lr < max-lr, e.g. --steps 100 --min-lr 1e-7 --max-lr 10")
    cfg = presets.get(args.preset).config(parse_assignments(args.set))
    name = args.name or f"lr-find {args.preset}"
    run_id, found = range_test(store, name, cfg, steps=args.steps, min_lr=args.min_lr, max_lr=args.max_lr,
                               meta={"preset": args.preset})
    print(f"run {run_id}: {found.reason}", file=sys.stderr)
    if found.lr is None:
        print(f"run {run_id}: no suggestion", file=sys.stderr)
        return 1
    print(f"suggested optim.lr={found.lr:.3g} (run {run_id}; tested {args.min_lr:g} to {args.max_lr:g})")
    print(f"next: python -m runner run --preset {args.preset} --set optim.lr={found.lr:.3g}", file=sys.stderr)
    return 0
