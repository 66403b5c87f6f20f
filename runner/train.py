"""The training loop: readable top to bottom, config in, metrics out through a sink.

Per step it logs ``train/loss``, ``lr`` and ``grad_norm`` as device tensors (no host
sync). At each evaluation (every epoch, or every ``train.eval_every`` steps) it syncs
once and logs the epoch-level metrics, per-layer gradient norms, dead-ReLU fractions
and, for Adam-family optimizers, how often ε dominates √v̂. System signals (step time,
samples per second, RSS, CUDA memory) come from the sink at its flush cadence, from a clock
and host-side counters: no extra sync (``runner/sysmetrics.py``).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch
from sklearn.metrics import roc_auc_score
from torch import nn

from runner.config import RunConfig
from runner.data import Split, load
from runner.early_stopping import EarlyStopping
from runner.model import MLP
from runner.optim import AdamToSGD, build_optimizer, build_scheduler, step_scheduler_per_epoch
from runner.sink import MetricSink
from runner.sysmetrics import SystemSampler


class TrainingError(RuntimeError):
    """Training stopped for a reason the user must act on (NaN loss under nan_policy=fail...)."""


@dataclass(frozen=True)
class Outcome:
    steps: int
    epochs: float
    stopped_early: str | None  # why training ended before its budget, if it did
    model: nn.Module | None = field(default=None, compare=False, repr=False)  # the model kept
    restored_step: int | None = None  # early_stopping.restore_best: the step whose weights the model holds


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise TrainingError("train.device=cuda but no CUDA device is available; use auto or cpu")
    return torch.device(name)


def _loss_fn(cfg: RunConfig, model: MLP, n_classes: int) -> Callable[[torch.Tensor, torch.Tensor], torch.Tensor]:
    name = cfg.loss.name
    if name == "cross_entropy":
        return nn.CrossEntropyLoss()
    if name == "nll":
        return nn.NLLLoss()  # expects log-probabilities: fed a softmax, it goes negative
    if name == "bce":
        bce = nn.BCEWithLogitsLoss()
        return lambda out, y: bce(out, nn.functional.one_hot(y, n_classes).float())
    if name == "mse":
        mse = nn.MSELoss()
        return lambda out, y: mse(out, nn.functional.one_hot(y, n_classes).float())
    gnll = nn.GaussianNLLLoss()
    return lambda out, y: gnll(out, nn.functional.one_hot(y, n_classes).float(), model.log_var.exp().expand_as(out))


class _Evaluator:
    """Epoch-level metrics in eval mode under no_grad; one host sync per evaluation."""

    def __init__(self, model: MLP, split: Split, device: torch.device, loss_fn: Callable) -> None:
        self.model = model
        self.loss_fn = loss_fn
        self.binary = split.n_classes == 2
        self.x_train = torch.as_tensor(split.x_train, device=device)
        self.y_train = torch.as_tensor(split.y_train, device=device)
        self.x_val = torch.as_tensor(split.x_val, device=device)
        self.y_val = torch.as_tensor(split.y_val, device=device)

    @torch.no_grad()
    def __call__(self) -> dict[str, float]:
        was_training = self.model.training
        self.model.eval()
        try:
            dead: dict[str, float] = {}
            hooks = [act.register_forward_hook(self._dead_hook(name, dead))
                     for name, act in self.model.activations().items() if isinstance(act, nn.ReLU)]
            try:  # dead units are judged on the training inputs
                train_out = self.model(self.x_train)
            finally:
                for h in hooks:
                    h.remove()
            out = self._scores("train", train_out, self.y_train)
            out.update(self._scores("val", self.model(self.x_val), self.y_val))
        finally:
            self.model.train(was_training)
        out.update({f"dead_frac/{k}": v for k, v in dead.items()})
        return out

    def _scores(self, split: str, outputs: torch.Tensor, y: torch.Tensor) -> dict[str, float]:
        out = {
            "train/loss_eval" if split == "train" else "val/loss": float(self.loss_fn(outputs, y)),
            f"{split}/acc": float((outputs.argmax(1) == y).float().mean()),
        }
        if self.binary:
            scores = torch.softmax(outputs.float(), 1)[:, 1].cpu().numpy()
            labels = y.cpu().numpy()
            if len(np.unique(labels)) == 2 and np.isfinite(scores).all():
                out[f"{split}/auc"] = float(roc_auc_score(labels, scores))
        return out

    @staticmethod
    def _dead_hook(name: str, sink: dict[str, float]) -> Callable:
        def hook(_module: nn.Module, _inp: tuple, output: torch.Tensor) -> None:
            sink[name] = float((output <= 0).all(dim=0).float().mean())
        return hook


def _grad_norms(model: MLP) -> dict[str, float]:
    return {
        f"grad_norm/{name}": float(layer.weight.grad.norm())
        for name, layer in model.linear_layers().items()
        if layer.weight.grad is not None
    }


def _eps_dominance(optimizer: torch.optim.Optimizer) -> float | None:
    """Share of parameters whose Adam ε exceeds √v̂: there Adam acts like SGD with a tiny step."""
    dominated, total = 0.0, 0
    for group in optimizer.param_groups:
        if "eps" not in group or "betas" not in group:
            return None
        beta2 = group["betas"][1]
        for p in group["params"]:
            state = optimizer.state.get(p, {})
            if "exp_avg_sq" not in state:
                continue
            step = float(state["step"])
            v_hat = state["exp_avg_sq"] / (1 - beta2 ** step)
            dominated += float((v_hat.sqrt() < group["eps"]).sum())
            total += v_hat.numel()
    return dominated / total if total else None


ProgressCallback = Callable[[float, int, dict[str, float]], None]


def train(cfg: RunConfig, sink: MetricSink, should_stop: Callable[[], bool] = lambda: False,
          progress: ProgressCallback | None = None) -> Outcome:
    """Train one run per ``cfg``, streaming metrics into ``sink``; returns how it ended.

    ``progress(fraction, step, eval_metrics)`` is called after each evaluation.
    """
    device = resolve_device(cfg.train.device)
    torch.manual_seed(cfg.train.seed)
    split = load(cfg.data, cfg.train.seed)
    model = MLP(cfg.model, split.x_train.shape[1], split.n_classes).to(device)
    loss_fn = _loss_fn(cfg, model, split.n_classes)
    optimizer = build_optimizer(cfg.optim, model.parameters())
    steps_per_epoch = math.ceil(len(split.y_train) / cfg.train.batch_size)
    total_steps = cfg.train.epochs * steps_per_epoch
    if cfg.train.max_steps:
        total_steps = min(total_steps, cfg.train.max_steps)
    scheduler = build_scheduler(cfg.sched, optimizer, steps_per_epoch)
    switch = AdamToSGD(cfg.optim, model.parameters(), steps_per_epoch) if cfg.optim.name == "adam_sgd" else None
    evaluate = _Evaluator(model, split, device, loss_fn)
    eval_every = cfg.train.eval_every or steps_per_epoch
    clip = cfg.train.clip_grad or float("inf")
    x_all = evaluate.x_train
    y_all = evaluate.y_train
    generator = torch.Generator().manual_seed(cfg.train.seed)
    early = EarlyStopping.from_config(cfg.early_stopping)
    if getattr(sink, "system", None) is None:
        sink.system = SystemSampler(samples_per_step=cfg.train.batch_size,
                                    cuda_device=device if device.type == "cuda" else None)
    loss_sum = torch.zeros((), device=device)
    loss_count = 0
    step = 0
    stopped: str | None = None

    model.train()
    while step < total_steps and stopped is None:
        order = torch.randperm(len(y_all), generator=generator).to(device)
        for start in range(0, len(order), cfg.train.batch_size):
            idx = order[start:start + cfg.train.batch_size]
            loss = loss_fn(model(x_all[idx]), y_all[idx])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            grad_norm = nn.utils.clip_grad_norm_(model.parameters(), clip)
            if switch is not None:
                switch.before_step()
            optimizer.step()
            step += 1
            lr = optimizer.param_groups[0]["lr"]
            if scheduler is not None and not step_scheduler_per_epoch(cfg.sched):
                scheduler.step()
            if switch is not None and (sgd := switch.after_step(step, optimizer)) is not optimizer:
                optimizer = sgd  # the schedule starts again on SGD's lr: a new stage of training
                scheduler = build_scheduler(cfg.sched, optimizer, steps_per_epoch)
            loss_sum += loss.detach()
            loss_count += 1
            sink.log({"train/loss": loss, "lr": lr, "grad_norm": grad_norm}, step=step,
                     epoch=step / steps_per_epoch)
            sink.progress = step / total_steps
            if step % eval_every == 0 or step == total_steps:
                metrics = {"train/loss_epoch": float(loss_sum) / loss_count, **evaluate(),
                           **_grad_norms(model)}
                eps_dom = _eps_dominance(optimizer)
                if eps_dom is not None:
                    metrics["adam/eps_dominance"] = eps_dom
                sink.log(metrics, step=step, epoch=step / steps_per_epoch)
                if progress is not None:
                    progress(step / total_steps, step, metrics)
                loss_sum.zero_()
                loss_count = 0
                if not math.isfinite(metrics["train/loss_epoch"]):
                    if cfg.train.nan_policy == "fail":
                        raise TrainingError(f"training loss became {metrics['train/loss_epoch']} by step "
                                            f"{step} (train.nan_policy=fail)")
                    if cfg.train.nan_policy == "stop":
                        stopped = f"non-finite training loss at step {step}"
                if scheduler is not None and step_scheduler_per_epoch(cfg.sched):
                    if cfg.sched.name == "plateau":
                        scheduler.step(metrics["val/loss"])
                    else:
                        scheduler.step()
                stopped = stopped or early.update(metrics, step, model)
            if step >= total_steps or stopped or should_stop():
                if should_stop() and not stopped:
                    stopped = "cancelled"
                break
    restored = early.restore(model)
    if restored is not None and stopped and stopped.startswith("early stopping"):
        stopped += f"; restored the weights of step {restored}"
    return Outcome(steps=step, epochs=step / steps_per_epoch, stopped_early=stopped, model=model,
                   restored_step=restored)
