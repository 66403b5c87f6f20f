"""Fault-injected logs written by the real libraries, diagnosed and scored per label.

    python bench/fault_logs.py [--libs keras lightning ...] [--scenarios overfit healthy ...]
                               [--out DIR] [--verbose]

The real-log corpus (bench/corpus.py) holds what people published; this bench holds what the
libraries themselves write when a run goes wrong in a known way. Tiny models on sklearn's
digits train in seconds on the CPU with Lightning (CSVLogger metrics.csv), the HF Trainer
(trainer_state.json), Keras 3 on the torch backend (CSVLogger, History as JSON and as a
pandas CSV), torch.utils.tensorboard and tensorboardX (event files) and a plain loop writing
an Ultralytics classify-style results.csv. Each scenario injects one fault (overfitting, a
short overfitting run, divergence, oscillation, underfitting, val better than train) or none
(healthy); its label comes from construction AND from its numbers: ``confirm`` checks that the
fault really shows in the curves the library recorded, and a run where it does not is
dropped (listed in the report), never scored. Every log is then diagnosed through the CLI's
own reading path (``diagnostics.cli.load_all`` + ``diagnose``) and scored like score.py
(per label P/R/F1 over the label's rule, healthy false alarms). A few minutes in all.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import os
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

os.environ.setdefault("KERAS_BACKEND", "torch")

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

LABEL_RULES = [  # the corpus scorer's mapping (../shared/corpus/score.py), restated for its absence
    ("overfitting", "overfitting"),
    ("underfitting", "underfitting"),
    ("oscillation", "loss_oscillation"),
    ("val_better_than_train", "val_above_train"),
    ("divergence", "divergence"),
]
FIRING = {"warning", "critical"}
IGNORED_ON_HEALTHY = {"early_stop_point"}


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


def write_tensorboard(s: Scenario, out: Path) -> Curves:
    from torch.utils.tensorboard import SummaryWriter

    logdir = out / "tb"
    w = SummaryWriter(str(logdir))

    def log(epoch: int, t: float, v: float, acc: float) -> None:
        w.add_scalar("Loss/train", t, epoch)
        w.add_scalar("Loss/val", v, epoch)
        w.add_scalar("Accuracy/val", acc, epoch)

    tr, va = plain_loop(s, log)
    w.close()
    return logdir, tr, va


def write_tensorboardx(s: Scenario, out: Path) -> Curves:
    from tensorboardX import SummaryWriter

    logdir = out / "tbx"
    w = SummaryWriter(str(logdir))

    def log(epoch: int, t: float, v: float, acc: float) -> None:
        w.add_scalar("train/loss", t, epoch)
        w.add_scalar("val/loss", v, epoch)
        w.add_scalar("val/acc", acc, epoch)

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
    "tensorboard": write_tensorboard,
    "tensorboardx": write_tensorboardx,
    "ultralytics": write_ultralytics,
}


# ------------------------------------------------------------------- labels by numbers

def _finite(xs: list[float]) -> list[float]:
    return [x for x in xs if math.isfinite(x)]


def confirm(label: str | None, tr: list[float], va: list[float]) -> str | None:
    """None when the curves show ``label`` (None: healthy) plainly; else why they don't."""
    ft, fv = _finite(tr), _finite(va)
    if label == "divergence":
        if len(ft) < len(tr) or len(fv) < len(va):
            return None
        return None if ft and max(ft[1:] or ft) > 10 * min(ft) else "no NaN/inf and no 10x blow-up"
    if len(ft) < len(tr) or len(fv) < len(va) or len(tr) < 4 or len(va) < 4:
        return "non-finite or too short"
    best = min(range(len(fv)), key=fv.__getitem__)
    if label == "overfitting":
        ok = best <= 0.7 * (len(fv) - 1) and fv[-1] >= 1.15 * fv[best] and ft[-1] < ft[0] * 0.7
        return None if ok else f"val best at {best}/{len(fv)}, end/best {fv[-1] / fv[best]:.2f}"
    if label == "underfitting":
        ok = ft[-1] > 0.85 * ft[0] and ft[-1] > 1.5  # barely below chance (ln 10 = 2.30)
        return None if ok else f"train {ft[0]:.2f} -> {ft[-1]:.2f}"
    if label == "oscillation":
        half = ft[len(ft) // 3:]
        d = [b - a for a, b in zip(half, half[1:], strict=False)]
        turns = sum((a > 0) != (b > 0) for a, b in zip(d, d[1:], strict=False)) / max(1, len(d) - 1)
        amp = sum(abs(x) for x in d) / len(d) / ft[0]  # typical step against the starting level
        ok = turns >= 0.4 and amp >= 0.05
        return None if ok else f"turns {turns:.2f}, relative step {amp:.2f}"
    if label == "val_better_than_train":
        tail = len(fv) // 2
        below = sum(v < t for v, t in zip(fv[-tail:], _resample(ft, len(fv))[-tail:], strict=True)) / tail
        return None if below >= 0.8 else f"val below train in {below:.0%} of the second half"
    # healthy: falls well, val best near the end and not climbing back, and val not below train
    # in most evaluations: the corpus labels that val_better_than_train even in a 5-epoch run
    # still learning fast (pl_0004), so a short run like that is no healthy twin
    ok = ft[-1] < 0.5 * ft[0] and best >= 0.6 * (len(fv) - 1) and fv[-1] <= 1.1 * fv[best]
    below = sum(v < t for v, t in zip(fv, _resample(ft, len(fv)), strict=True)) / len(fv)
    if ok and below >= 0.7:
        return f"val below train in {below:.0%} of the evaluations (val_better_than_train by the corpus's rule)"
    return None if ok else f"train {ft[0]:.2f}->{ft[-1]:.2f}, val best at {best}/{len(fv)}"


def _resample(xs: list[float], n: int) -> list[float]:
    """``xs`` picked at ``n`` evenly spaced places (train and val logged at different rates)."""
    if len(xs) == n:
        return xs
    return [xs[min(len(xs) - 1, round(i * (len(xs) - 1) / max(1, n - 1)))] for i in range(n)]


# ------------------------------------------------------------------------------ scoring

def findings(path: Path) -> list[tuple[str, str]]:
    """(rule, severity) of every finding on every run of one log, through the CLI's reading path."""
    from diagnostics.cli import load_all
    from diagnostics.engine import diagnose

    return [(f.rule, f.severity) for run in load_all([str(path)], None, []) for f in diagnose(run)]


@dataclass
class Case:
    lib: str
    scenario: Scenario
    path: Path | None = None
    dropped: str | None = None
    error: str | None = None
    fired: set[str] = field(default_factory=set)
    seconds: float = 0.0


def build(libs: list[str], scenarios: list[str], out: Path, log: Callable[[str], None] = lambda _: None) -> list[Case]:
    """Train and write every (library, scenario) log under ``out``, confirm it by its numbers, diagnose it."""
    import torch

    torch.set_num_threads(1)
    logging.getLogger("lightning").setLevel(logging.ERROR)
    logging.getLogger("lightning.pytorch").setLevel(logging.ERROR)
    logging.getLogger("transformers").setLevel(logging.ERROR)
    warnings.filterwarnings("ignore")
    cases = []
    for lib in libs:
        for name in scenarios:
            s = SCENARIOS[name]
            case = Case(lib, s)
            started = time.perf_counter()
            folder = out / lib / name
            folder.mkdir(parents=True, exist_ok=True)
            path, tr, va = WRITERS[lib](s, folder)
            case.path = path
            case.dropped = confirm(s.label, tr, va)
            if case.dropped is None:
                try:
                    case.fired = {r for r, sev in findings(path) if sev in FIRING}
                except Exception as exc:  # unreadable: its positive is a miss
                    case.error = f"{type(exc).__name__}: {exc}"
            case.seconds = time.perf_counter() - started
            log(f"{lib:20s} {name:14s} {case.seconds:5.1f}s "
                + (f"DROPPED ({case.dropped})" if case.dropped else
                   f"error {case.error}" if case.error else ", ".join(sorted(case.fired)) or "-"))
            cases.append(case)
    return cases


def prf(tp: int, fp: int, fn: int) -> tuple[float | None, float | None, float | None]:
    p = tp / (tp + fp) if tp + fp else None
    r = tp / (tp + fn) if tp + fn else None
    f = 2 * p * r / (p + r) if p and r else (0.0 if p is not None and r is not None else None)
    return p, r, f


def score(cases: list[Case]) -> dict[str, Any]:
    """Per label (tp, fp, fn, P, R, F1) over the kept cases, macro-F1, healthy false alarms, per-library misses."""
    kept = [c for c in cases if c.dropped is None]
    labels, macro = {}, []
    for label, rule in LABEL_RULES:
        tp = sum(c.scenario.label == label and rule in c.fired for c in kept)
        fn = sum(c.scenario.label == label and rule not in c.fired for c in kept)
        fp = sum(c.scenario.label != label and rule in c.fired for c in kept)
        p, r, f = prf(tp, fp, fn)
        labels[label] = {"pos": tp + fn, "tp": tp, "fp": fp, "fn": fn, "p": p, "r": r, "f1": f}
        if tp + fn and f is not None:
            macro.append(f)
    mapped = {rule for _, rule in LABEL_RULES}
    alarms = [c for c in kept if c.scenario.label is None and (c.fired - IGNORED_ON_HEALTHY) & mapped]
    libs: dict[str, list[int]] = {}
    for c in kept:
        want = dict(LABEL_RULES).get(c.scenario.label or "", None)
        ok = (want in c.fired if want else True) and not ((c.fired - {want}) & mapped) and c.error is None
        libs.setdefault(c.lib, [0, 0])
        libs[c.lib][0] += ok
        libs[c.lib][1] += 1
    return {"labels": labels, "macro_f1": sum(macro) / len(macro) if macro else None,
            "healthy": sum(c.scenario.label is None for c in kept), "alarms": alarms,
            "kept": len(kept), "dropped": [c for c in cases if c.dropped], "libs": libs}


def fmt(x: float | None) -> str:
    return "  -  " if x is None else f"{x:5.2f}"


def verdict(case: Case) -> str:
    """One cell of the library x scenario table: ok, miss, false alarm (+rule), dropped, unreadable."""
    mapped = dict(LABEL_RULES)
    want = mapped.get(case.scenario.label or "")
    if case.dropped:
        return "dropped"
    if case.error:
        return "unread"
    extra = sorted((case.fired - {want} - IGNORED_ON_HEALTHY) & set(mapped.values()))
    cell = "ok" if not want or want in case.fired else "miss"
    return cell + "".join(f" +{r}" for r in extra)


def matrix(cases: list[Case]) -> str:
    """Library x scenario verdicts, as a Markdown table."""
    names = list(dict.fromkeys(c.scenario.name for c in cases))
    libs = list(dict.fromkeys(c.lib for c in cases))
    cell = {(c.lib, c.scenario.name): verdict(c) for c in cases}
    rows = ["| library | " + " | ".join(names) + " |", "|---|" + "---|" * len(names)]
    rows += [f"| {lib} | " + " | ".join(cell.get((lib, n), "") for n in names) + " |" for lib in libs]
    return "\n".join(rows)


def report(cases: list[Case], verbose: bool = False) -> str:
    sc = score(cases)
    lines = [f"{'label':24s} {'pos':>4s} {'tp':>4s} {'fp':>4s} {'fn':>4s} {'prec':>5s} {'rec':>5s} {'F1':>5s}"]
    for label, row in sc["labels"].items():
        lines.append(f"{label:24s} {row['pos']:4d} {row['tp']:4d} {row['fp']:4d} {row['fn']:4d} "
                     f"{fmt(row['p'])} {fmt(row['r'])} {fmt(row['f1'])}")
    lines.append(f"logs kept {sc['kept']}/{len(cases)}; healthy false alarms {len(sc['alarms'])}/{sc['healthy']}; "
                 f"macro-F1 {fmt(sc['macro_f1']).strip()}; {sum(c.seconds for c in cases):.0f} s")
    lines.append("all-correct logs per library: " + ", ".join(f"{k} {a}/{b}" for k, (a, b) in sc["libs"].items()))
    if verbose:
        mapped = dict(LABEL_RULES)
        for c in cases:
            want = mapped.get(c.scenario.label or "")
            if c.dropped:
                lines.append(f"  dropped {c.lib}/{c.scenario.name}: {c.dropped}")
                continue
            miss = want if want and want not in c.fired else None
            extra = sorted((c.fired - {want} - IGNORED_ON_HEALTHY) & set(mapped.values()))
            if miss or extra or c.error:
                lines.append(f"  {c.lib}/{c.scenario.name}: miss {miss or '-'}; extra {','.join(extra) or '-'}"
                             + (f"; error {c.error}" if c.error else "") + f"  [{c.path}]")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--libs", nargs="*", default=list(WRITERS), choices=list(WRITERS))
    ap.add_argument("--scenarios", nargs="*", default=list(SCENARIOS), choices=list(SCENARIOS))
    ap.add_argument("--out", type=Path, default=None, help="where the logs go (default: a fresh temp folder)")
    ap.add_argument("--verbose", "-v", action="store_true")
    args = ap.parse_args(argv)
    out = args.out or Path(tempfile.mkdtemp(prefix="traindoc_faults_"))
    cases = build(args.libs, args.scenarios, out, log=print if args.verbose else (lambda _: None))
    print(report(cases, args.verbose))
    print(matrix(cases))
    print(f"logs under {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
