"""Optimizers and lr schedules from ``torch.optim``, chosen by config; nothing re-implemented."""

from __future__ import annotations

import math
from collections.abc import Iterable

import torch
from torch.optim import lr_scheduler

from runner.config import OptimConfig, SchedConfig

PER_EPOCH_SCHEDULES = ("exponential", "step", "cosine", "plateau")


def build_optimizer(cfg: OptimConfig, params: Iterable[torch.nn.Parameter]) -> torch.optim.Optimizer:
    wd = cfg.weight_decay
    if cfg.name == "sgd":
        return torch.optim.SGD(params, lr=cfg.lr, weight_decay=wd)
    if cfg.name in ("momentum", "nesterov"):
        return torch.optim.SGD(params, lr=cfg.lr, momentum=cfg.momentum, nesterov=cfg.name == "nesterov",
                               weight_decay=wd)
    if cfg.name == "adagrad":
        return torch.optim.Adagrad(params, lr=cfg.lr, eps=cfg.eps, weight_decay=wd)
    if cfg.name == "rmsprop":
        return torch.optim.RMSprop(params, lr=cfg.lr, eps=cfg.eps, momentum=cfg.momentum, weight_decay=wd)
    adam = torch.optim.AdamW if cfg.name == "adamw" else torch.optim.Adam  # adam_sgd starts as Adam
    return adam(params, lr=cfg.lr, betas=(cfg.beta1, cfg.beta2), eps=cfg.eps, weight_decay=wd,
                amsgrad=cfg.amsgrad)


def step_scheduler_per_epoch(cfg: SchedConfig) -> bool:
    """Decay schedules step once per evaluation (epoch); warm-up schedules step per iteration."""
    return cfg.name in PER_EPOCH_SCHEDULES


def noam_factor(step: int, cfg: SchedConfig) -> float:
    """The seed's Noam schedule, as a multiplier of the base lr:
    factor · d^-0.5 · min(step^-0.5, step · warmup^-1.5)."""
    step = max(step, 1)
    return cfg.factor * cfg.d_model ** -0.5 * min(step ** -0.5, step * cfg.warmup_steps ** -1.5)


def build_scheduler(cfg: SchedConfig, optimizer: torch.optim.Optimizer,
                    steps_per_epoch: int) -> lr_scheduler.LRScheduler | lr_scheduler.ReduceLROnPlateau | None:
    if cfg.name == "none":
        return None
    if cfg.name == "exponential":
        return lr_scheduler.ExponentialLR(optimizer, gamma=cfg.gamma)
    if cfg.name == "step":
        return lr_scheduler.StepLR(optimizer, step_size=cfg.step_size, gamma=cfg.gamma)
    if cfg.name == "cosine":
        return lr_scheduler.CosineAnnealingLR(optimizer, T_max=max(cfg.step_size, 1))
    if cfg.name == "plateau":
        return lr_scheduler.ReduceLROnPlateau(optimizer, factor=cfg.factor, patience=cfg.patience)
    if cfg.name == "warmup":
        return lr_scheduler.LinearLR(optimizer, start_factor=1.0 / cfg.warmup_steps, total_iters=cfg.warmup_steps)
    if cfg.name == "noam":
        return lr_scheduler.LambdaLR(optimizer, lambda s: noam_factor(s + 1, cfg))
    raise ValueError(f"unknown schedule {cfg.name!r}")




class AdamToSGD:
    """``optim.name=adam_sgd``: Adam until ``optim.switch_epoch``, then SGD with momentum (SWATS-style).

    Why: "Adam is fast, SGD with momentum is stable" (Keskar & Socher, "Improving Generalization
    Performance by Switching from Adam to SGD", 2017). The SGD lr is their estimate, not a guess:
    at each Adam step p (the parameter change) and g (the gradient), the SGD step length whose
    projection on p equals p is γ = pᵀp / (−pᵀg); its exponential average Λ (decay β2, bias
    corrected) over the Adam phase, times (1 − momentum) because heavy-ball SGD moves lr/(1 − μ)
    per unit gradient, is the SGD lr. Steps where −pᵀg ≤ 0 (p not a descent direction) carry no
    estimate; if none did, SGD starts from Adam's own lr. Sums stay on the device (no per-step sync).
    """

    def __init__(self, cfg: OptimConfig, params: Iterable[torch.nn.Parameter], steps_per_epoch: int) -> None:
        self.cfg = cfg
        self.params = [p for p in params if p.requires_grad]
        self.switch_step = cfg.switch_epoch * steps_per_epoch
        self.beta = cfg.beta2
        self.average = torch.zeros((), device=self.params[0].device if self.params else None)
        self.weight = torch.zeros_like(self.average)  # Σ of the EMA's weights: the bias correction
        self._before: list[torch.Tensor] = []
        self.sgd_lr: float | None = None

    def before_step(self) -> None:
        """Remember the parameters before Adam's step (only while Adam is the optimizer)."""
        if self.sgd_lr is None:
            self._before = [p.detach().clone() for p in self.params]

    def after_step(self, step: int, optimizer: torch.optim.Optimizer) -> torch.optim.Optimizer:
        """Fold this Adam step into the estimate; at the switch step, the SGD optimizer that takes over."""
        if self.sgd_lr is not None or not self._before:
            return optimizer
        moved = [p.detach() - b for p, b in zip(self.params, self._before, strict=True)]
        grads = [p.grad.detach() if p.grad is not None else torch.zeros_like(p) for p in self.params]
        pp = sum((m * m).sum() for m in moved)
        pg = -sum((m * g).sum() for m, g in zip(moved, grads, strict=True))
        ok = (pg > 0) & torch.isfinite(pp / pg)
        gamma = torch.where(ok, pp / torch.where(ok, pg, torch.ones_like(pg)), torch.zeros_like(pg))
        self.average = torch.where(ok, self.beta * self.average + (1 - self.beta) * gamma, self.average)
        self.weight = torch.where(ok, self.beta * self.weight + (1 - self.beta), self.weight)
        if step < self.switch_step:
            return optimizer
        estimate = float(self.average / self.weight) if float(self.weight) > 0 else math.nan
        self.sgd_lr = (estimate * (1 - self.cfg.momentum) if math.isfinite(estimate) and estimate > 0
                       else self.cfg.lr)
        self._before = []
        return torch.optim.SGD(self.params, lr=self.sgd_lr, momentum=self.cfg.momentum,
                               weight_decay=self.cfg.weight_decay)
