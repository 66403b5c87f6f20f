"""The writers of bench/fault_logs.py: tiny models on sklearn's digits trained with the real
libraries, each scenario injecting one known fault, each writer returning the log it wrote and
the train/val loss curves the library recorded (so the fault can be confirmed by its numbers).
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Scenario:
    """One injected fault (or none): data size, model, optimizer and length of the run."""

    name: str
    label: str | None  # None: healthy
    train_n: int = 1200
    hidden: int = 64
    dropout: float = 0.0
    optimizer: str = "adam"
    lr: float = 1e-3
    epochs: int = 20
    batch: int = 32
    noise: float = 0.0  # share of training labels replaced at random (memorising them overfits)
    lr_growth: float = 1.0  # learning rate multiplied by this every epoch (gamma > 1: a schedule gone wrong)


SCENARIOS = {s.name: s for s in [
    Scenario("healthy", None, epochs=15),
    Scenario("healthy_short", None, epochs=8, lr=2e-3),
    Scenario("overfit", "overfitting", train_n=120, hidden=256, lr=3e-3, epochs=40, batch=16, noise=0.4),
    Scenario("overfit_short", "overfitting", train_n=80, hidden=512, lr=5e-3, epochs=10, batch=8, noise=0.4),
    Scenario("diverge", "divergence", optimizer="sgd_momentum", lr=0.05, lr_growth=2.0, epochs=15),
    Scenario("oscillate", "oscillation", optimizer="sgd_momentum", lr=0.5, epochs=25),
    Scenario("underfit", "underfitting", optimizer="sgd", lr=1e-4, epochs=15),
    Scenario("val_better", "val_better_than_train", hidden=256, dropout=0.85, lr=1e-3, epochs=15),
    Scenario("val_better_short", "val_better_than_train", hidden=256, dropout=0.85, lr=1e-3, epochs=6),
]}


# ---------------------------------------------------------------------------------- data

def digits(s: Scenario, seed: int = 0) -> tuple[Any, Any, Any, Any]:
    """sklearn digits (8x8, 10 classes) scaled to [0, 1]: the training part (with its label noise) and 500 held out."""
    import numpy as np
    from sklearn.datasets import load_digits

    x, y = load_digits(return_X_y=True)
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(y))
    x, y = (x[order] / 16.0).astype("float32"), y[order].astype("int64")
    xv, yv = x[:500], y[:500]
    xt, yt = x[500:500 + s.train_n], y[500:500 + s.train_n].copy()
    flip = rng.random(len(yt)) < s.noise
    yt[flip] = rng.integers(0, 10, flip.sum())
    return xt, yt, xv, yv


def torch_model(s: Scenario):
    import torch.nn as nn

    return nn.Sequential(nn.Linear(64, s.hidden), nn.ReLU(), nn.Dropout(s.dropout), nn.Linear(s.hidden, 10))


def torch_optimizer(s: Scenario, params):
    import torch

    if s.optimizer == "adam":
        return torch.optim.Adam(params, lr=s.lr)
    return torch.optim.SGD(params, lr=s.lr, momentum=0.9 if s.optimizer == "sgd_momentum" else 0.0)


# ------------------------------------------------------------------------- the writers
# Each returns (the path to diagnose, the train-loss and val-loss curves the library recorded).

Curves = tuple[Path, list[float], list[float]]


def plain_loop(s: Scenario, log: Callable[[int, float, float, float], None]) -> tuple[list[float], list[float]]:
    """A plain PyTorch loop: epoch mean train loss (model in train mode) and val loss; ``log`` writes them."""
    import torch
    import torch.nn.functional as F

    torch.manual_seed(0)
    xt, yt, xv, yv = digits(s)
    xt, yt, xv, yv = map(torch.from_numpy, (xt, yt, xv, yv))
    model = torch_model(s)
    opt = torch_optimizer(s, model.parameters())
    tr, va = [], []
    g = torch.Generator().manual_seed(0)
    for epoch in range(s.epochs):
        model.train()
        losses = []
        for idx in torch.randperm(len(yt), generator=g).split(s.batch):
            loss = F.cross_entropy(model(xt[idx]), yt[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            losses.append(loss.item())
        for group in opt.param_groups:
            group["lr"] *= s.lr_growth
        model.eval()
        with torch.no_grad():
            out = model(xv)
            vl = F.cross_entropy(out, yv).item()
            acc = (out.argmax(1) == yv).float().mean().item()
        tr.append(sum(losses) / len(losses))
        va.append(vl)
        log(epoch, tr[-1], vl, acc)
    return tr, va


def write_events(s: Scenario, out: Path, library: str) -> Curves:
    """Event files by ``torch.utils.tensorboard`` (TensorBoard's tag style) or ``tensorboardX`` (ours)."""
    if library == "tensorboardx":
        from tensorboardX import SummaryWriter
        tags = ("train/loss", "val/loss", "val/acc")
    else:
        from torch.utils.tensorboard import SummaryWriter
        tags = ("Loss/train", "Loss/val", "Accuracy/val")
    logdir = out / ("tbx" if library == "tensorboardx" else "tb")
    w = SummaryWriter(str(logdir))

    def log(epoch: int, t: float, v: float, acc: float) -> None:
        for tag, value in zip(tags, (t, v, acc), strict=True):
            w.add_scalar(tag, value, epoch)

    tr, va = plain_loop(s, log)
    w.close()
    return logdir, tr, va


def write_ultralytics(s: Scenario, out: Path) -> Curves:
    """results.csv as Ultralytics' classify trainer writes it (right-aligned, padded header)."""
    path = out / "results.csv"
    cols = ["epoch", "train/loss", "metrics/accuracy_top1", "metrics/accuracy_top5", "val/loss",
            "lr/pg0", "lr/pg1", "lr/pg2"]
    rows = [",".join(f"{c:>25s}" for c in cols)]

    def log(epoch: int, t: float, v: float, acc: float) -> None:
        vals = [epoch + 1, t, acc, min(1.0, acc + 0.1), v, s.lr, s.lr, s.lr]
        rows.append(",".join(f"{x:>25g}" for x in vals))

    tr, va = plain_loop(s, log)
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return path, tr, va


def write_keras(s: Scenario, out: Path, history: str = "") -> Curves:
    """Keras 3 (torch backend) fit() with CSVLogger; ``history`` = 'json'/'csv' also saves History that way."""
    import keras
    import numpy as np

    keras.utils.set_random_seed(0)
    xt, yt, xv, yv = digits(s)
    model = keras.Sequential([keras.Input((64,)), keras.layers.Dense(s.hidden, activation="relu"),
                              keras.layers.Dropout(s.dropout), keras.layers.Dense(10)])
    opt = (keras.optimizers.Adam(s.lr) if s.optimizer == "adam"
           else keras.optimizers.SGD(s.lr, momentum=0.9 if s.optimizer == "sgd_momentum" else 0.0))
    model.compile(opt, keras.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"])
    log = out / "training.log"
    h = model.fit(xt, yt, validation_data=(xv, yv), epochs=s.epochs, batch_size=s.batch, verbose=0,
                  callbacks=[keras.callbacks.CSVLogger(str(log)),
                             keras.callbacks.LearningRateScheduler(lambda e, _: s.lr * s.lr_growth ** e)])
    hist = {k: [float(v) for v in vs] for k, vs in h.history.items()}
    path = log
    if history == "json":
        path = out / "history.json"
        path.write_text(json.dumps(hist), encoding="utf-8")
    elif history == "csv":
        import pandas as pd

        path = out / "history.csv"
        pd.DataFrame(hist).to_csv(path)  # pandas' default: the unnamed index column in front
    return path, list(np.asarray(hist["loss"])), list(np.asarray(hist["val_loss"]))


def write_lightning(s: Scenario, out: Path) -> Curves:
    """Lightning Trainer + CSVLogger; train loss logged per step and per epoch, as the docs show."""
    import lightning as L
    import torch
    import torch.nn.functional as F
    from lightning.pytorch.loggers import CSVLogger

    class Module(L.LightningModule):
        def __init__(self) -> None:
            super().__init__()
            self.net = torch_model(s)

        def training_step(self, batch, _):
            x, y = batch
            loss = F.cross_entropy(self.net(x), y)
            self.log("train_loss", loss, on_step=True, on_epoch=True)
            return loss

        def validation_step(self, batch, _):
            x, y = batch
            out = self.net(x)
            self.log("val_loss", F.cross_entropy(out, y))
            self.log("val_acc", (out.argmax(1) == y).float().mean())

        def configure_optimizers(self):
            opt = torch_optimizer(s, self.parameters())
            return {"optimizer": opt, "lr_scheduler": torch.optim.lr_scheduler.ExponentialLR(opt, s.lr_growth)}

    class Keep(L.Callback):
        def __init__(self) -> None:
            self.tr: list[float] = []
            self.va: list[float] = []

        def on_train_epoch_end(self, trainer, _):
            m = trainer.callback_metrics
            self.tr.append(float(m["train_loss_epoch"]))
            self.va.append(float(m["val_loss"]))

    for name in ("lightning.pytorch", "lightning.fabric", "lightning.pytorch.utilities.rank_zero"):
        logging.getLogger(name).setLevel(logging.ERROR)  # set after import: Lightning sets its own
    L.seed_everything(0, verbose=False)
    xt, yt, xv, yv = digits(s)
    train = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(torch.from_numpy(xt), torch.from_numpy(yt)),
                                        batch_size=s.batch, shuffle=True)
    val = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(torch.from_numpy(xv), torch.from_numpy(yv)),
                                      batch_size=500)
    keep = Keep()
    trainer = L.Trainer(max_epochs=s.epochs, logger=CSVLogger(str(out), name="lit"), callbacks=[keep],
                        enable_progress_bar=False, enable_model_summary=False, enable_checkpointing=False,
                        log_every_n_steps=5, num_sanity_val_steps=0, accelerator="cpu", devices=1)
    trainer.fit(Module(), train, val)
    return Path(trainer.logger.log_dir) / "metrics.csv", keep.tr, keep.va


def write_hf(s: Scenario, out: Path) -> Curves:
    """HF Trainer with eval every N steps; ``save_state`` writes trainer_state.json (its log_history)."""
    import torch
    import torch.nn.functional as F
    from transformers import PrinterCallback, Trainer, TrainingArguments

    class Net(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.net = torch_model(s)

        def forward(self, x, labels=None):
            logits = self.net(x)
            return {"loss": F.cross_entropy(logits, labels), "logits": logits}

    class Rows(torch.utils.data.Dataset):
        def __init__(self, x, y) -> None:
            self.x, self.y = torch.from_numpy(x), torch.from_numpy(y)

        def __len__(self) -> int:
            return len(self.y)

        def __getitem__(self, i):
            return {"x": self.x[i], "labels": self.y[i]}

    torch.manual_seed(0)
    xt, yt, xv, yv = digits(s)
    steps_per_epoch = math.ceil(len(yt) / s.batch)
    every = max(1, steps_per_epoch // 2)  # two evaluations an epoch
    args = TrainingArguments(
        output_dir=str(out / "hf"), num_train_epochs=s.epochs, per_device_train_batch_size=s.batch,
        per_device_eval_batch_size=500, learning_rate=s.lr, max_grad_norm=0.0 if s.label == "divergence" else 1.0,
        eval_strategy="steps", eval_steps=every, logging_steps=every, save_strategy="no",
        report_to="none", use_cpu=True, disable_tqdm=True, seed=0, dataloader_num_workers=0)
    model = Net()
    opt = torch_optimizer(s, model.parameters())
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda step: s.lr_growth ** (step / steps_per_epoch))
    trainer = Trainer(model=model, args=args, train_dataset=Rows(xt, yt), eval_dataset=Rows(xv, yv),
                      optimizers=(opt, sched))
    trainer.remove_callback(PrinterCallback)  # disable_tqdm prints every log dict instead
    trainer.train()
    trainer.save_state()
    logs = trainer.state.log_history
    tr = [r["loss"] for r in logs if "loss" in r]
    va = [r["eval_loss"] for r in logs if "eval_loss" in r]
    return Path(args.output_dir) / "trainer_state.json", tr, va


WRITERS: dict[str, Callable[[Scenario, Path], Curves]] = {
    "keras": write_keras,
    "keras_history_json": lambda s, out: write_keras(s, out, "json"),
    "keras_history_csv": lambda s, out: write_keras(s, out, "csv"),
    "lightning": write_lightning,
    "hf": write_hf,
    "tensorboard": lambda s, out: write_events(s, out, "tensorboard"),
    "tensorboardx": lambda s, out: write_events(s, out, "tensorboardx"),
    "ultralytics": write_ultralytics,
}
