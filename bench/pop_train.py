"""Train one RunSpec in a plain torch loop and record what a logger would see.

The loop is the same for every family: per-step optimisation with the spec's optimizer and
schedule, the fault injected where it acts in real training (data, model, optimizer, a bad batch,
a broken validation example), and at each evaluation the mean training loss since the last one,
the validation loss, accuracies and auxiliary losses (for multi-loss writers). A run whose loss
turns non-finite stops a few evaluations later, as a NaN guard would stop it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import torch
import torch.nn.functional as F

from bench.pop_models import Data, build, load, outputs
from bench.pop_spec import RunSpec

NAN_GRACE = 3  # evaluations logged after the first non-finite training loss before the run stops
STEP_DROP = 0.3  # the step schedule's factor at 1/3 and 2/3 of the run
COSINE_FLOOR = 0.05  # cosine schedules end at this share of the peak learning rate
WARMUP_SHARE = 0.1  # share of the run spent warming up
FOCAL_GAMMA = 2.0  # the focal loss logged as a third loss term by multi-loss writers
PROB_FLOOR = 1e-12  # the focal loss's log of a probability that underflowed to 0
FULL_VAL_EVALS = 50  # up to this many evaluations use the whole val set; more share its cost
MIN_VAL = 100  # ... but never evaluate on fewer examples than this


@dataclass
class History:
    """What was logged: one dict per evaluation; per-step train losses for the step cadence."""

    evals: list[dict[str, Any]] = field(default_factory=list)
    steps: list[tuple[int, float]] = field(default_factory=list)
    steps_per_epoch: int = 1


def _optimizer(spec: RunSpec, params: list[torch.nn.Parameter]) -> torch.optim.Optimizer:
    o, lr, wd = spec.optimizer, spec.lr, spec.weight_decay
    if o == "sgd":
        return torch.optim.SGD(params, lr=lr, weight_decay=wd)
    if o == "momentum":
        return torch.optim.SGD(params, lr=lr, momentum=spec.momentum, weight_decay=wd)
    if o == "adam":
        return torch.optim.Adam(params, lr=lr, weight_decay=wd)
    if o == "adamw":
        return torch.optim.AdamW(params, lr=lr, weight_decay=wd)
    return torch.optim.RMSprop(params, lr=lr, weight_decay=wd)


def lr_factor(spec: RunSpec, t: int, total: int) -> float:
    """The schedule's multiplier at step ``t`` of ``total`` (times the fault's growth, if any)."""
    u = t / max(1, total)
    if spec.schedule == "step":
        f = STEP_DROP ** math.floor(3 * u)
    elif spec.schedule == "cosine":
        f = COSINE_FLOOR + (1 - COSINE_FLOOR) * 0.5 * (1 + math.cos(math.pi * u))
    elif spec.schedule == "warmup":
        f = min(1.0, u / WARMUP_SHARE) if u < WARMUP_SHARE else \
            COSINE_FLOOR + (1 - COSINE_FLOOR) * 0.5 * (1 + math.cos(math.pi * (u - WARMUP_SHARE) / (1 - WARMUP_SHARE)))
        f = max(f, 1 / max(1, total))
    else:
        f = 1.0
    return f * spec.lr_growth ** u


def _losses(spec: RunSpec, data: Data, out: Any, y: torch.Tensor,
            extra: bool = True) -> tuple[torch.Tensor, dict[str, float]]:
    """The training objective and the auxiliary terms (accuracy; ``extra``: two more losses) as floats."""
    if not data.classes:
        mean, var = out
        loss = F.gaussian_nll_loss(mean, y, var)
        with torch.no_grad():
            aux = {"mse": F.mse_loss(mean, y).item(), "mae": F.l1_loss(mean, y).item()}
        return loss, aux
    y = y.reshape(-1)
    # Softmax + NLLLoss is the bug: NLLLoss wants log-probabilities, so the loss is -p(correct)
    loss = F.nll_loss(F.softmax(out, dim=1), y) if spec.softmax_nll else F.cross_entropy(out, y)
    with torch.no_grad():
        aux = {"acc": (out.argmax(1) == y).float().mean().item()}
        if extra:
            p = F.softmax(out.float(), dim=1)
            pc = p.gather(1, y[:, None]).squeeze(1).clamp_min(PROB_FLOOR)
            aux.update(brier=((p - F.one_hot(y, p.shape[1])) ** 2).sum(1).mean().item(),
                       focal=(-(1 - pc) ** FOCAL_GAMMA * pc.log()).mean().item())
    return loss, aux


def _freeze(spec: RunSpec, model: torch.nn.Module) -> None:
    """Leave only the last layer (or only its bias) trainable: a frozen backbone that cannot fit."""
    params = list(model.named_parameters())
    last = params[-1][0].rsplit(".", 1)[0]
    for name, p in params:
        keep = name == f"{last}.bias" if spec.freeze == "all_but_bias" else name.startswith(last + ".")
        p.requires_grad_(keep)


def train(spec: RunSpec) -> History:
    """Train ``spec`` and return what was logged."""
    torch.manual_seed(spec.seed)
    data = load(spec.family, spec.train_n, spec.seed, spec.label_noise, spec.random_labels, spec.easy_val)
    take = max(MIN_VAL, len(data.yv) * FULL_VAL_EVALS // max(FULL_VAL_EVALS, spec.n_evals))
    data.xv, data.yv = data.xv[:take], data.yv[:take]  # long runs evaluate on the val set's first part
    model = build(spec.family, spec.width, spec.dropout)
    if spec.freeze:
        _freeze(spec, model)
    params = [p for p in model.parameters() if p.requires_grad]
    opt = _optimizer(spec, params)
    total = spec.n_evals * spec.every
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda t: lr_factor(spec, t, total))
    gen = torch.Generator().manual_seed(spec.seed)
    n = len(data.yt)
    hist = History(steps_per_epoch=max(1, math.ceil(n / spec.batch)))
    order = torch.randperm(n, generator=gen)
    pos, step, bad_since = 0, 0, None
    for k in range(spec.n_evals):
        model.train()
        sums: dict[str, float] = {}
        count = 0
        for _ in range(spec.every):
            if pos >= n:
                order, pos = torch.randperm(n, generator=gen), 0
            idx = order[pos:pos + spec.batch]
            pos += spec.batch
            x, y = data.xt[idx], data.yt[idx]
            if spec.augment:
                x = x + spec.augment * torch.randn(x.shape, generator=gen)
            out = outputs(spec.family, model, x)
            if spec.spike_prob and torch.rand((), generator=gen).item() < spec.spike_prob:
                out, y = _corrupt(data, out, y, spec.spike_scale, gen)
            loss, aux = _losses(spec, data, out, y, extra=spec.writer == "ultralytics")
            opt.zero_grad()
            loss.backward()
            if spec.clip:
                torch.nn.utils.clip_grad_norm_(params, spec.clip)
            opt.step()
            sched.step()
            step += 1
            value = loss.item()
            if spec.cadence == "step_sparse":
                hist.steps.append((step, value))
            for key, v in {"loss": value, **aux}.items():
                sums[key] = sums.get(key, 0.0) + v
            count += 1
        row: dict[str, Any] = {"step": step, "epoch": step / hist.steps_per_epoch,
                               "lr": opt.param_groups[0]["lr"]}
        row.update({f"train_{key}": v / count for key, v in sums.items()})
        row.update(_evaluate(spec, data, model, k))
        hist.evals.append(row)
        if not math.isfinite(row["train_loss"]) and bad_since is None:
            bad_since = k
        if bad_since is not None and k - bad_since >= NAN_GRACE:
            break
    return hist


def _corrupt(data: Data, out: Any, y: torch.Tensor, scale: float, gen: torch.Generator) -> tuple[Any, torch.Tensor]:
    """A bad batch: outputs scaled far out of range (classifiers) or targets far off (regression)."""
    if not data.classes:
        return out, y + scale
    y = torch.randint(0, data.classes, y.shape, generator=gen)  # the corrupted examples' labels are wrong too
    return out * scale, y


def _evaluate(spec: RunSpec, data: Data, model: torch.nn.Module, k: int) -> dict[str, float]:
    """Validation loss and auxiliaries in eval mode; a broken example poisons the first evaluations."""
    model.eval()
    with torch.no_grad():
        out = outputs(spec.family, model, data.xv)
        y = data.yv
        if k < spec.val_nan_evals:
            if data.classes:
                out = out.clone()
                out[0, 0] = float("inf") if k % 2 else float("nan")
            else:
                mean, var = out
                mean = mean.clone()
                mean[0, 0] = float("nan")
                out = (mean, var)
        loss, aux = _losses(spec, data, out, y)
    return {"val_loss": loss.item(), **{f"val_{key}": v for key, v in aux.items()}}
