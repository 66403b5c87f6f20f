"""Draw the population: groups of (one faulty run, its healthy twin), each knob by a seeded hash.

A group fixes the family, the writer, the optimizer, the schedule, the cadence and the length;
the faulty run then changes only what its fault needs (data, width, learning rate, a bad batch...)
and the twin keeps the family's healthy recipe. Every draw comes from ``random.Random`` seeded by
the group's name, so run ``n`` is the same run on every machine and a longer population extends a
shorter one. Fault knobs come in three strengths (mild, clear, severe); the mild ones sit on the
border by design, and the written numbers decide the label (bench/pop_confirm.py).
"""

from __future__ import annotations

import hashlib
import math
import random
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from bench.pop_spec import RunSpec

SEED = "traindoc-population-v1"
# optimizer steps per run by family: about a second of training on one loaded CPU thread
STEP_BUDGET = {"mlp": 600, "cnn": 300, "charlm": 300, "gaussnll": 800}
LR_SCALE = {"charlm": 3.0}  # the language model learns too slowly in its budget at the MLP's rates
BATCHES = (16, 32, 32, 64)  # the healthy recipe's batch sizes (32 most often)
MIN_EVALS, MAX_EVALS = 5, 500
MAX_EPOCH_EVALS = 80  # per-epoch runs longer than this would need a train set too small to be healthy
HEALTHY_TRAIN_N = 1000
# a family's usable learning rate per optimizer (the healthy recipe)
LR = {"sgd": 0.2, "momentum": 0.05, "adam": 3e-3, "adamw": 3e-3, "rmsprop": 1e-3}
WIDTH = {"mlp": 64, "cnn": 64, "charlm": 32, "gaussnll": 32}
OPTIMIZERS = tuple(LR)
SCHEDULES = ("constant", "step", "cosine", "warmup")
CLASSIFIERS = ("mlp", "cnn", "charlm")

# writers that keep steps apart from evaluations (so per-step train losses can be written)
STEP_WRITERS = ("lightning_csv", "lightning_tb", "hf_state", "torch_tb", "tbx", "jsonl", "console_logging")
EPOCH_WRITERS = ("keras_csv", "keras_history", "keras_console", "ultralytics", "console_text", "json_history")
FRAMEWORKS = ("fw_lightning", "fw_hf", "fw_keras")  # the real training loops (bench/fault_writers.py)
FRAMEWORK_SHARE = 0.1
# faults a framework loop can express (bench/fault_writers.Scenario's knobs)
FRAMEWORK_FAULTS = ("healthy", "noisy_labels", "tiny_data", "wide_net", "tiny_lr", "too_small", "high_lr",
                    "lr_blowup", "dropout", "train_noise")

# intended label -> (mechanism, weight); weights set the mix of faults in the population
FAULTS: dict[str, list[tuple[str, float]]] = {
    "overfitting": [("noisy_labels", 1.0), ("tiny_data", 1.0), ("wide_net", 0.7), ("random_labels", 0.5)],
    "underfitting": [("tiny_lr", 1.2), ("heavy_wd", 0.8), ("too_small", 0.8), ("frozen", 0.6)],
    "oscillation": [("high_lr", 1.0), ("high_momentum", 0.8), ("tiny_batch", 0.6)],
    "divergence": [("lr_blowup", 1.0), ("overflow", 0.7), ("bad_batches", 1.0), ("val_nan", 0.6)],
    "val_better_than_train": [("dropout", 1.0), ("train_noise", 0.8), ("augment", 0.8), ("easy_val", 0.6)],
    "negative_loss": [("softmax_nll", 1.0)],
}
LABEL_WEIGHT = {"overfitting": 0.2, "underfitting": 0.18, "oscillation": 0.15, "divergence": 0.19,
                "val_better_than_train": 0.16, "negative_loss": 0.12}
EVAL_CAP = {"charlm": 120, "cnn": 200}  # evaluations cost these families most: their longest runs stop here
WIDTH_CAP = {"charlm": 64, "cnn": 128}  # wider costs seconds per run: these families' "wide" stops here
CLASSIFIER_ONLY = {"noisy_labels", "random_labels", "softmax_nll", "train_noise"}


def rng_for(name: str) -> random.Random:
    return random.Random(int.from_bytes(hashlib.sha256(f"{SEED}:{name}".encode()).digest()[:8], "big"))


def _pick(rng: random.Random, weighted: list[tuple[Any, float]]) -> Any:
    return rng.choices([k for k, _ in weighted], weights=[w for _, w in weighted])[0]


def group(g: int) -> list[RunSpec]:
    """Group ``g``: a faulty run and its healthy twin (same family, writer, length, optimizer, schedule)."""
    rng = rng_for(f"group-{g}")
    framework = rng.random() < FRAMEWORK_SHARE
    label = _pick(rng, list(LABEL_WEIGHT.items()))
    family = "mlp" if framework else rng.choice(("mlp", "mlp", "cnn", "charlm", "gaussnll"))
    choices = [(m, w) for m, w in FAULTS[label]
               if (family in CLASSIFIERS or m not in CLASSIFIER_ONLY) and (not framework or m in FRAMEWORK_FAULTS)]
    if not choices:  # e.g. Softmax + NLLLoss asked of the regression family: take another fault
        label, choices = "overfitting", [("tiny_data", 1.0)]
    fault = _pick(rng, choices)
    strength = rng.randrange(3)
    if framework:
        writer = rng.choice(FRAMEWORKS)
        optimizer = rng.choice(("adam", "sgd", "momentum"))
        cadence = "epoch"
    else:
        step_wise = fault == "bad_batches" or rng.random() < 0.5
        writer = rng.choice(STEP_WRITERS if step_wise else EPOCH_WRITERS)
        optimizer = rng.choice(OPTIMIZERS)
        cadence = rng.choice(("steps", "step_sparse")) if writer in STEP_WRITERS else rng.choice(("epoch", "steps"))
        if fault == "bad_batches" and writer in STEP_WRITERS:
            cadence = "step_sparse"
        if fault == "tiny_batch" and cadence == "epoch":
            cadence = "steps"  # an epoch of batches of one is thousands of steps
        if family == "gaussnll" and writer == "ultralytics":
            writer = "console_text"  # the detect layout's metric columns mean nothing for a regression
    schedule = "constant" if framework else rng.choice(SCHEDULES)
    n_evals = round(math.exp(rng.uniform(math.log(MIN_EVALS), math.log(MAX_EVALS))))
    if cadence == "epoch" or framework:
        n_evals = min(n_evals, MAX_EPOCH_EVALS if not framework else 30)
    base = RunSpec(id="", family=family, fault="healthy", label=None, strength=0, writer=writer,
                   optimizer=optimizer, schedule=schedule, cadence=cadence, n_evals=n_evals, every=1,
                   width=WIDTH[family], lr=LR[optimizer] * LR_SCALE.get(family, 1.0), batch=rng.choice(BATCHES),
                   train_n=HEALTHY_TRAIN_N,
                   seed=rng.randrange(2 ** 31), group=f"g{g:05d}")
    faulty = MECHANISMS[fault](replace(base, fault=fault, label=label, strength=strength), strength, rng)
    if family in WIDTH_CAP:
        faulty = replace(faulty, width=min(faulty.width, WIDTH_CAP[family]))
    twin = base
    if fault in ("bad_batches",):
        twin = replace(twin, cadence=faulty.cadence)
    faulty, twin = _pace(faulty, label == "overfitting"), _pace(twin)
    faulty = replace(faulty, id=f"{base.group}-{fault}")
    twin = replace(twin, id=f"{base.group}-twin", twin_of=faulty.id)
    return [faulty, twin]


def _pace(s: RunSpec, full: bool = False) -> RunSpec:
    """Steps between evaluations: one epoch for the epoch cadence, else the family's budget over the evaluations.

    Per-epoch runs get between half the budget and all of it (``full``: all of it, so an overfitting
    run trains long enough to memorise); fewer epochs would leave a healthy recipe unfinished.
    """
    budget = STEP_BUDGET[s.family]
    if s.cadence == "epoch":
        per_epoch = math.ceil(s.train_n / s.batch)
        most = max(MIN_EVALS, budget // per_epoch)
        least = most if full else max(MIN_EVALS, most // 2)
        return replace(s, every=per_epoch, n_evals=min(most, max(least, s.n_evals)))
    n = min(s.n_evals, budget, EVAL_CAP.get(s.family, MAX_EVALS))  # a step at least per evaluation
    return replace(s, every=max(1, budget // n), n_evals=n)


def _lr(s: RunSpec, factor: float) -> float:
    return s.lr * factor


Mechanism = Callable[[RunSpec, int, random.Random], RunSpec]


def _noisy_labels(s: RunSpec, k: int, r: random.Random) -> RunSpec:
    return replace(s, label_noise=(0.2, 0.35, 0.5)[k], train_n=r.choice((150, 250, 300)), width=256)


def _tiny_data(s: RunSpec, k: int, r: random.Random) -> RunSpec:
    return replace(s, train_n=(200, 100, 50)[k], width=(128, 256, 256)[k], batch=16,
                   label_noise=(0.1, 0.15, 0.2)[k] if s.family in CLASSIFIERS else 0.0)


def _wide_net(s: RunSpec, k: int, r: random.Random) -> RunSpec:
    return replace(s, width=(256, 384, 512)[k] if s.family != "charlm" else 96, train_n=150, batch=16,
                   label_noise=0.1 if s.family in CLASSIFIERS else 0.0)


def _random_labels(s: RunSpec, k: int, r: random.Random) -> RunSpec:
    return replace(s, random_labels=True, width=256, train_n=(300, 200, 100)[k], batch=16)


def _tiny_lr(s: RunSpec, k: int, r: random.Random) -> RunSpec:
    return replace(s, lr=_lr(s, (0.03, 0.01, 0.002)[k]))


def _heavy_wd(s: RunSpec, k: int, r: random.Random) -> RunSpec:
    opt = "adamw" if s.optimizer in ("adam", "adamw") else s.optimizer
    return replace(s, optimizer=opt, lr=LR[opt], weight_decay=(0.3, 1.0, 3.0)[k] * (30 if opt == "adamw" else 1))


def _too_small(s: RunSpec, k: int, r: random.Random) -> RunSpec:
    return replace(s, width=(4, 2, 1)[k] if s.family != "cnn" else 8)


def _frozen(s: RunSpec, k: int, r: random.Random) -> RunSpec:
    return replace(s, freeze="all_but_bias", lr=_lr(s, (1.0, 0.3, 0.1)[k]))


def _high_lr(s: RunSpec, k: int, r: random.Random) -> RunSpec:
    return replace(s, optimizer="momentum", lr=(0.3, 0.45, 0.7)[k] * (0.2 if s.family == "gaussnll" else 1))


def _high_momentum(s: RunSpec, k: int, r: random.Random) -> RunSpec:
    return replace(s, optimizer="momentum", momentum=(0.97, 0.99, 0.995)[k], lr=0.1)


def _tiny_batch(s: RunSpec, k: int, r: random.Random) -> RunSpec:
    return replace(s, optimizer="momentum", batch=(4, 2, 1)[k], lr=0.1)


def _lr_blowup(s: RunSpec, k: int, r: random.Random) -> RunSpec:
    return replace(s, lr_growth=(1e2, 1e3, 1e5)[k], schedule="constant")


def _overflow(s: RunSpec, k: int, r: random.Random) -> RunSpec:
    return replace(s, optimizer="sgd", lr=(5.0, 20.0, 100.0)[k])


def _bad_batches(s: RunSpec, k: int, r: random.Random) -> RunSpec:
    return replace(s, spike_prob=(0.02, 0.05, 0.3)[k], spike_scale=(1e3, 1e6, 1e10)[k], clip=1.0)


def _val_nan(s: RunSpec, k: int, r: random.Random) -> RunSpec:
    return replace(s, val_nan_evals=(1, 3, 10 ** 6)[k])


def _dropout(s: RunSpec, k: int, r: random.Random) -> RunSpec:
    return replace(s, dropout=(0.5, 0.7, 0.85)[k], width=256 if s.family != "charlm" else 64)


def _train_noise(s: RunSpec, k: int, r: random.Random) -> RunSpec:
    return replace(s, label_noise=(0.2, 0.4, 0.6)[k], weight_decay=1e-3)


def _augment(s: RunSpec, k: int, r: random.Random) -> RunSpec:
    if s.family == "charlm":  # token inputs cannot be noised: dropout on train only stands in for it
        return replace(s, dropout=(0.3, 0.5, 0.7)[k])
    return replace(s, augment=(0.3, 0.6, 1.0)[k])


def _easy_val(s: RunSpec, k: int, r: random.Random) -> RunSpec:
    return replace(s, easy_val=True, dropout=(0.0, 0.2, 0.4)[k])


def _softmax_nll(s: RunSpec, k: int, r: random.Random) -> RunSpec:
    return replace(s, softmax_nll=True)


MECHANISMS: dict[str, Mechanism] = {
    "noisy_labels": _noisy_labels, "tiny_data": _tiny_data, "wide_net": _wide_net, "random_labels": _random_labels,
    "tiny_lr": _tiny_lr, "heavy_wd": _heavy_wd, "too_small": _too_small, "frozen": _frozen,
    "high_lr": _high_lr, "high_momentum": _high_momentum, "tiny_batch": _tiny_batch,
    "lr_blowup": _lr_blowup, "overflow": _overflow, "bad_batches": _bad_batches, "val_nan": _val_nan,
    "dropout": _dropout, "train_noise": _train_noise, "augment": _augment, "easy_val": _easy_val,
    "softmax_nll": _softmax_nll,
}


def population(n: int) -> list[RunSpec]:
    """The first ``n`` runs (groups of two, in order)."""
    out: list[RunSpec] = []
    g = 0
    while len(out) < n:
        out.extend(group(g))
        g += 1
    return out[:n]
