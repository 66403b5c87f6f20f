"""Write a trained History through a real library's own writer API (one writer per run).

Lightning's ``CSVLogger`` and ``TensorBoardLogger`` (``log_metrics``/``save``/``finalize``, no
Trainer), HF ``TrainerState(...).save_to_json`` with a real ``log_history``, Keras 3's
``CSVLogger`` and ``History`` callbacks driven through their callback methods and its
``Progbar`` console output, torch's and tensorboardX's ``SummaryWriter``, an Ultralytics-style
multi-loss ``results.csv``, plain console text, python-logging lines, JSON dict-of-lists
histories and JSONL records. Each writer returns the paths it wrote and the train/val loss
curves *as written* (text formats round; with per-step losses, the train curve is their mean over
each evaluation's window, computed from the same values), so labels are confirmed on the numbers in the file.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import math
import re
import types
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.pop_spec import RunSpec
from bench.pop_train import History


@dataclass
class Written:
    """What a writer produced: paths (relative to the run folder), the curves in the file, their logged names."""

    paths: list[str]
    train: list[float]
    val: list[float]
    steps: list[float] = field(default_factory=list)
    names: dict[str, str] = field(default_factory=dict)  # role (train/val/step) -> logged name


def _fmt(v: float, spec: str = ".4f") -> str:
    return format(v, spec) if math.isfinite(v) else ("nan" if math.isnan(v) else ("inf" if v > 0 else "-inf"))


def _back(v: float, spec: str = ".4f") -> float:
    return float(_fmt(v, spec))


def _acc(row: dict[str, Any], split: str) -> float | None:
    return row.get(f"{split}_acc")


def _events(h: History) -> list[tuple[int, dict[str, float], bool]]:
    """(step, metrics, is_eval) in logging order: per-step losses, then the evaluation at the same step."""
    out: list[tuple[int, dict[str, float], bool]] = [(s, {"loss": v}, False) for s, v in h.steps]
    out += [(int(r["step"]), r, True) for r in h.evals]
    return sorted(out, key=lambda e: (e[0], e[2]))


# -------------------------------------------------------------------- Lightning loggers

def lightning(spec: RunSpec, h: History, out: Path, kind: str) -> Written:
    from lightning.pytorch.loggers import CSVLogger, TensorBoardLogger

    cls = CSVLogger if kind == "csv" else TensorBoardLogger
    lg = cls(save_dir=str(out), name="lightning_logs", version=0)
    lg.log_hyperparams({"lr": spec.lr, "batch_size": spec.batch, "optimizer": spec.optimizer, "width": spec.width})
    per_step = bool(h.steps)
    train_name = "train_loss_epoch" if per_step else "train_loss"
    for step, m, is_eval in _events(h):
        if not is_eval:
            lg.log_metrics({"train_loss_step": m["loss"]}, step=step - 1)
            continue
        row = {train_name: m["train_loss"], "val_loss": m["val_loss"], "epoch": math.floor(m["epoch"])}
        if "val_acc" in m:
            row["val_acc"] = m["val_acc"]
        lg.log_metrics(row, step=step - 1)
    lg.save()
    lg.finalize("success")
    folder = Path(lg.log_dir).relative_to(out)
    path = folder / "metrics.csv" if kind == "csv" else folder
    return Written([str(path)], [r["train_loss"] for r in h.evals], [r["val_loss"] for r in h.evals],
                   [v for _, v in h.steps], {"train": train_name, "val": "val_loss", "step": "train_loss_step"})


# ---------------------------------------------------------------------- HF TrainerState

def hf_state(spec: RunSpec, h: History, out: Path) -> Written:
    from transformers import TrainerState

    log: list[dict[str, Any]] = []
    for step, m, is_eval in _events(h):
        epoch = round(step / h.steps_per_epoch, 4)
        if not is_eval:
            log.append({"loss": m["loss"], "learning_rate": spec.lr, "epoch": epoch, "step": step})
            continue
        if not h.steps:
            log.append({"loss": m["train_loss"], "learning_rate": m["lr"], "epoch": epoch, "step": step})
        row = {"eval_loss": m["val_loss"], "epoch": epoch, "step": step}
        if "val_acc" in m:
            row["eval_accuracy"] = m["val_acc"]
        log.append(row)
    last = h.evals[-1]["step"]
    log.append({"train_runtime": 1.0, "train_loss": sum(r["train_loss"] for r in h.evals) / len(h.evals),
                "epoch": round(last / h.steps_per_epoch, 4), "step": last})
    every = h.evals[0]["step"]
    state = TrainerState(epoch=last / h.steps_per_epoch, global_step=last, max_steps=last,
                         logging_steps=1 if h.steps else every, eval_steps=every,
                         train_batch_size=spec.batch, num_train_epochs=math.ceil(last / h.steps_per_epoch),
                         log_history=log)
    state.save_to_json(str(out / "trainer_state.json"))
    return Written(["trainer_state.json"], [r["train_loss"] for r in h.evals],
                   [r["eval_loss"] for r in log if "eval_loss" in r], [v for _, v in h.steps],
                   {"train": "loss", "val": "eval_loss"})


# -------------------------------------------------------------------------------- Keras

def _keras_logs(row: dict[str, Any]) -> dict[str, float]:
    logs = {"loss": row["train_loss"], "val_loss": row["val_loss"], "learning_rate": row["lr"]}
    if "train_acc" in row:
        logs.update(accuracy=row["train_acc"], val_accuracy=row["val_acc"])
    return logs


def keras_csv(spec: RunSpec, h: History, out: Path) -> Written:
    import keras

    cb = keras.callbacks.CSVLogger(str(out / "training.log"))
    cb.on_train_begin()
    for i, row in enumerate(h.evals):
        cb.on_epoch_end(i, _keras_logs(row))
    cb.on_train_end()
    return Written(["training.log"], [r["train_loss"] for r in h.evals], [r["val_loss"] for r in h.evals],
                   names={"train": "loss", "val": "val_loss"})


def keras_history(spec: RunSpec, h: History, out: Path) -> Written:
    import keras

    cb = keras.callbacks.History()
    cb.set_model(types.SimpleNamespace())  # History hands itself to model.history at each epoch end
    cb.on_train_begin()
    for i, row in enumerate(h.evals):
        cb.on_epoch_end(i, _keras_logs(row))
    hist = {k: [float(v) for v in vs] for k, vs in cb.history.items()}
    (out / "history.json").write_text(json.dumps(hist), encoding="utf-8")  # json.dump(history.history)
    return Written(["history.json"], hist["loss"], hist["val_loss"], names={"train": "loss", "val": "val_loss"})


_PAIR = re.compile(r"(\w+): (-?(?:nan|inf|[\d.]+(?:e[-+]\d+)?))")


def keras_console(spec: RunSpec, h: History, out: Path) -> Written:
    """What ``fit(verbose=1)`` prints to a non-interactive console: Epoch i/N, then Keras' Progbar line."""
    import keras

    buf = io.StringIO()
    n = len(h.evals)
    with contextlib.redirect_stdout(buf):
        for i, row in enumerate(h.evals):
            print(f"Epoch {i + 1}/{n}")
            logs = _keras_logs(row)
            bar = keras.utils.Progbar(target=spec.every, verbose=1, stateful_metrics=list(logs))
            bar.update(spec.every, values=list(logs.items()), finalize=True)
    text = buf.getvalue()
    (out / "console.log").write_text(text, encoding="utf-8")
    train, val = [], []
    for line in text.splitlines():
        pairs = dict(_PAIR.findall(line))
        if "val_loss" in pairs:
            train.append(float(pairs["loss"]))
            val.append(float(pairs["val_loss"]))
    return Written(["console.log"], train, val, names={"train": "loss", "val": "val_loss"})


# ------------------------------------------------------------------------- event files

def events(spec: RunSpec, h: History, out: Path, library: str) -> Written:
    if library == "tbx":
        from tensorboardX import SummaryWriter
        tags = {"train": "train/loss", "val": "val/loss", "acc": "val/acc", "lr": "train/lr"}
    else:
        from torch.utils.tensorboard import SummaryWriter
        tags = {"train": "Loss/train", "val": "Loss/val", "acc": "Accuracy/val", "lr": "LearningRate"}
    folder = "tbx" if library == "tbx" else "runs"
    w = SummaryWriter(str(out / folder))
    for step, m, is_eval in _events(h):
        if not is_eval:
            w.add_scalar(tags["train"], m["loss"], step)
            continue
        if not h.steps:
            w.add_scalar(tags["train"], m["train_loss"], step)
        w.add_scalar(tags["val"], m["val_loss"], step)
        w.add_scalar(tags["lr"], m["lr"], step)
        if "val_acc" in m:
            w.add_scalar(tags["acc"], m["val_acc"], step)
    w.close()
    return Written([folder], [r["train_loss"] for r in h.evals], [r["val_loss"] for r in h.evals],
                   [v for _, v in h.steps], {"train": tags["train"], "val": tags["val"]})


# ------------------------------------------------------------------------- Ultralytics

ULTRA_COLS = ["epoch", "train/box_loss", "train/cls_loss", "train/dfl_loss", "metrics/precision(B)",
              "metrics/recall(B)", "metrics/mAP50(B)", "metrics/mAP50-95(B)", "val/box_loss", "val/cls_loss",
              "val/dfl_loss", "lr/pg0", "lr/pg1", "lr/pg2"]


def ultralytics(spec: RunSpec, h: History, out: Path) -> Written:
    """results.csv in Ultralytics' detect layout: three train and three val losses, four metrics, three lrs.

    The three losses are real terms of the same predictions: the Brier score (box), the trained
    cross-entropy (cls) and the focal loss (dfl). For single-label classes micro precision and
    recall both equal accuracy, so the metric columns carry the val accuracy.
    """
    rows = [",".join(f"{c:>25s}" for c in ULTRA_COLS)]
    for i, r in enumerate(h.evals):
        acc = r.get("val_acc", 0.0)
        vals = [i + 1, r["train_brier"], r["train_loss"], r["train_focal"], acc, acc, acc, acc,
                r["val_brier"], r["val_loss"], r["val_focal"], r["lr"], r["lr"], r["lr"]]
        rows.append(",".join(f"{_fmt(x, 'g') if isinstance(x, float) else x:>25}" for x in vals))
    (out / "results.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    return Written(["results.csv"], [_back(r["train_loss"], "g") for r in h.evals],
                   [_back(r["val_loss"], "g") for r in h.evals],
                   names={"train": "train/cls_loss", "val": "val/cls_loss"})


# ------------------------------------------------------------------- plain text, JSON

def console_text(spec: RunSpec, h: History, out: Path) -> Written:
    """``Epoch 3/50, Train Loss: 0.5100, Val Loss: 0.6200, Val Acc: 0.8100`` lines, as print() writes them."""
    n = len(h.evals)
    lines = []
    for i, r in enumerate(h.evals):
        line = f"Epoch {i + 1}/{n}, Train Loss: {_fmt(r['train_loss'])}, Val Loss: {_fmt(r['val_loss'])}"
        if "val_acc" in r:
            line += f", Val Acc: {_fmt(r['val_acc'])}"
        lines.append(line)
    (out / "train.log").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return Written(["train.log"], [_back(r["train_loss"]) for r in h.evals], [_back(r["val_loss"]) for r in h.evals],
                   names={"train": "Train Loss", "val": "Val Loss"})


def console_logging(spec: RunSpec, h: History, out: Path) -> Written:
    """python ``logging`` lines (timestamp - name - level - message) from a FileHandler."""
    logger = logging.getLogger("trainer")
    logger.propagate = False
    logger.setLevel(logging.INFO)
    handler = logging.FileHandler(out / "train.log", encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s - %(name)s - %(levelname)s - %(message)s"))
    logger.addHandler(handler)
    try:
        for step, m, is_eval in _events(h):
            if not is_eval:
                logger.info("step %d | loss: %s", step, _fmt(m["loss"]))
                continue
            acc = f" | val_acc: {_fmt(m['val_acc'])}" if "val_acc" in m else ""
            logger.info("epoch %d | step %d | train_loss: %s | val_loss: %s%s", math.floor(m["epoch"]), step,
                        _fmt(m["train_loss"]), _fmt(m["val_loss"]), acc)
    finally:
        logger.removeHandler(handler)
        handler.close()
    return Written(["train.log"], [_back(r["train_loss"]) for r in h.evals], [_back(r["val_loss"]) for r in h.evals],
                   [_back(v) for _, v in h.steps], {"train": "train_loss", "val": "val_loss", "step": "loss"})


JSON_STYLES = {  # the key styles people use for a dict-of-lists history
    "keras": ("loss", "val_loss", "accuracy", "val_accuracy"),
    "plural": ("train_losses", "val_losses", "train_accuracies", "val_accuracies"),
    "split": ("train_loss", "val_loss", "train_acc", "val_acc"),
}


def json_history(spec: RunSpec, h: History, out: Path) -> Written:
    style = list(JSON_STYLES)[spec.seed % len(JSON_STYLES)]
    tl, vl, ta, va = JSON_STYLES[style]
    hist: dict[str, list[float]] = {tl: [r["train_loss"] for r in h.evals], vl: [r["val_loss"] for r in h.evals]}
    if "val_acc" in h.evals[0]:
        hist[ta] = [r["train_acc"] for r in h.evals]
        hist[va] = [r["val_acc"] for r in h.evals]
    (out / "history.json").write_text(json.dumps(hist, indent=1), encoding="utf-8")
    return Written(["history.json"], hist[tl], hist[vl], names={"train": tl, "val": vl})


def jsonl(spec: RunSpec, h: History, out: Path) -> Written:
    lines = []
    for step, m, is_eval in _events(h):
        if not is_eval:
            lines.append({"step": step, "train_loss": m["loss"]})
            continue
        rec = {"step": step, "epoch": round(m["epoch"], 4), "val_loss": m["val_loss"], "lr": m["lr"]}
        if not h.steps:
            rec["train_loss"] = m["train_loss"]
        if "val_acc" in m:
            rec["val_acc"] = m["val_acc"]
        lines.append(rec)
    (out / "metrics.jsonl").write_text("\n".join(json.dumps(x) for x in lines) + "\n", encoding="utf-8")
    return Written(["metrics.jsonl"], [r["train_loss"] for r in h.evals], [r["val_loss"] for r in h.evals],
                   [v for _, v in h.steps], {"train": "train_loss", "val": "val_loss"})


WRITERS: dict[str, Callable[[RunSpec, History, Path], Written]] = {
    "lightning_csv": lambda s, h, o: lightning(s, h, o, "csv"),
    "lightning_tb": lambda s, h, o: lightning(s, h, o, "tb"),
    "hf_state": hf_state,
    "keras_csv": keras_csv,
    "keras_history": keras_history,
    "keras_console": keras_console,
    "torch_tb": lambda s, h, o: events(s, h, o, "torch"),
    "tbx": lambda s, h, o: events(s, h, o, "tbx"),
    "ultralytics": ultralytics,
    "console_text": console_text,
    "console_logging": console_logging,
    "json_history": json_history,
    "jsonl": jsonl,
}
