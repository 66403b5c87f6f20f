"""Optimizers and lr schedules from ``torch.optim``, chosen by config; nothing re-implemented."""

from __future__ import annotations

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
    adam = torch.optim.AdamW if cfg.name == "adamw" else torch.optim.Adam
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


