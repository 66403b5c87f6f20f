"""Precision and recall of every diagnostics rule on a labelled set of runs trained from the presets.

    python bench/accuracy.py [--seeds 3] [--db FILE] [--workers 2]

Each preset is trained with several seeds and variations (smaller data sets, an
evaluation twice per epoch); each trained run is then seen three ways: as logged,
epoch-only with Keras names (the per-step metrics dropped, as in a CSVLogger file) and
with the per-step rows subsampled (sparse logging). The label of a run is its preset's
``shows``; twins and ``healthy`` are negatives for every rule. A few scenarios of our
own (SCENARIOS below) add positives for rules no preset shows; ``early_stop_point`` is
expected wherever ``overfitting`` is, ``divergence`` wherever the logged training loss
reached NaN/inf (the exploding-gradients runs that blow up), and measured side effects
of a preset (SIDE_EFFECTS) wherever it is trained. A rule counts as predicted when ``diagnose``
returns a finding with its id, at any severity.
"""

from __future__ import annotations

import argparse
import math
import sys
import tempfile
import time
from collections import defaultdict
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import pandas as pd  # noqa: E402

from diagnostics import RunData, diagnose  # noqa: E402
from diagnostics.base import REGISTRY, all_rules  # noqa: E402
from runner.presets import PRESETS  # noqa: E402
from traindoc.handoff import load_run  # noqa: E402

# Scenarios of our own, for rules no preset shows: (name, base preset, overrides, shows).
SCENARIOS: tuple[tuple[str, str, dict[str, Any], tuple[str, ...]], ...] = (
    ("lr_low_adam", "healthy", {"optim.lr": 1e-5}, ("lr_too_low",)),
    ("lr_low_sgd", "healthy", {"optim.name": "sgd", "optim.lr": 1e-3}, ("lr_too_low",)),
    (
        "warmup_missing",
        "healthy",
        {"optim.lr": 0.1, "train.epochs": 15, "model.activation": "leaky_relu"},
        ("missing_warmup",),
    ),
    (
        "warmup_present",
        "healthy",
        {
            "optim.lr": 0.1,
            "train.epochs": 15,
            "model.activation": "leaky_relu",
            "sched.name": "warmup",
            "sched.warmup_steps": 60,
        },
        (),
    ),
)
IMPLIES = {"overfitting": ("early_stop_point",)}
# Pathologies a preset shows besides its own, measured on its runs (reported to the preset owner):
# Adam at lr 0.1 on digits (lr_too_high) leaves 58-80% of the second ReLU layer dead in every seed.
SIDE_EFFECTS = {"lr_too_high": ("dead_relu", "loss_oscillation")}
PER_STEP = ("train/loss", "lr", "grad_norm")
KERAS = {
    "train/loss_epoch": "loss",
    "val/loss": "val_loss",
    "train/acc": "accuracy",
    "val/acc": "val_accuracy",
    "train/auc": "auc",
    "val/auc": "val_auc",
}


def plan(seeds: int) -> list[dict[str, Any]]:
    """Every run to train: name, flat config overrides, expected rule ids."""
    jobs = []
    for name, preset in PRESETS.items():
        for seed in range(seeds):
            for variant, extra in _variants(preset.overrides).items():
                jobs.append(
                    {
                        "label": f"{name}/{variant}/s{seed}",
                        "preset": name,
                        "overrides": {**extra, "train.seed": seed},
                        "shows": preset.shows + SIDE_EFFECTS.get(name, ()),
                    }
                )
    for name, base, overrides, shows in SCENARIOS:
        for seed in range(seeds):
            jobs.append(
                {
                    "label": f"{name}/default/s{seed}",
                    "preset": base,
                    "overrides": {**overrides, "train.seed": seed},
                    "shows": shows,
                }
            )
    return jobs


def _variants(overrides: dict[str, Any]) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {"default": {}}
    if overrides.get("data.name") in ("moons", "classification"):
        out["small"] = {"data.n_samples": max(400, int(overrides.get("data.n_samples", 1000) * 0.6))}
    else:
        out["eval2"] = {"train.eval_every": _half_epoch(overrides)}
    return out


def _half_epoch(overrides: dict[str, Any]) -> int:
    sizes = {"digits": 1797, "breast_cancer": 569, "wine": 178}
    n = sizes.get(overrides.get("data.name", "digits"), 1000) * (1 - overrides.get("data.val_fraction", 0.25))
    if overrides.get("data.train_limit"):
        n = min(n, overrides["data.train_limit"])
    return max(1, math.ceil(n / overrides.get("train.batch_size", 64)) // 2)


def train_one(db: str, job: dict[str, Any]) -> int:
    import torch

    from runner.execute import execute
    from runner.store import Store

    torch.set_num_threads(1)
    store = Store(db)
    config = PRESETS[job["preset"]].config(job["overrides"]).to_flat()
    run_id = store.create_run(job["label"], config)
    execute(store, run_id)
    return run_id


def views(run: RunData, frame: pd.DataFrame) -> dict[str, RunData]:
    """The run as logged, epoch-only with Keras names, and with per-step rows subsampled."""
    epoch = frame[~frame["name"].isin(PER_STEP) & frame["name"].isin(KERAS)].copy()
    epoch["step"] = epoch["epoch"].round().astype(int)
    epoch["name"] = epoch["name"].map(KERAS)
    per_step = frame["name"].isin(PER_STEP)
    sparse = frame[~per_step | (frame["step"] % 5 == 0)]
    meta = dict(run.meta)
    return {
        "logged": run,
        "epoch_only": RunData.from_frame(
            epoch.drop(columns=["epoch"]), config=run.config, meta={**meta, "axis": "epoch"}, epoch_level=True
        ),
        "sparse": RunData.from_frame(sparse, config=run.config, meta=meta, epoch_level=False),
    }


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--db", help="reuse (or create) this database instead of a temporary one")
    args = p.parse_args()
    t0 = time.time()
    tmp = tempfile.TemporaryDirectory()
    db = args.db or str(Path(tmp.name) / "bench.db")
    jobs = plan(args.seeds)
    from runner.store import Store

    store = Store(db)
    done = {row["name"]: int(row["id"]) for _, row in store.runs(reconcile=False).iterrows()}
    todo = [j for j in jobs if j["label"] not in done]
    print(f"training {len(todo)} runs ({len(jobs) - len(todo)} reused) ...", file=sys.stderr)
    with ProcessPoolExecutor(max_workers=args.workers) as pool:
        for job, run_id in zip(todo, pool.map(train_one, [db] * len(todo), todo), strict=True):
            done[job["label"]] = run_id
    t1 = time.time()
    rules = all_rules()
    counts: dict[str, dict[str, int]] = defaultdict(lambda: {"tp": 0, "fp": 0, "fn": 0, "tn": 0})
    errors: list[str] = []
    diag_time, n_views = 0.0, 0
    for job in jobs:
        run_id = done[job["label"]]
        labelled = set(job["shows"]) | {i for r in job["shows"] for i in IMPLIES.get(r, ())}
        run = load_run(store, run_id)
        if _loss_went_non_finite(store, run_id):  # divergence by definition, whatever the preset is about
            labelled.add("divergence")
        for view, data in views(run, store.metrics(run_id)).items():
            t = time.perf_counter()
            fired = {f.rule for f in diagnose(data, rules)}
            diag_time += time.perf_counter() - t
            n_views += 1
            expected, excused = _expectations(labelled, data, rules)
            for rule_id in sorted(set(REGISTRY) - excused):
                key = (
                    ("tp" if rule_id in fired else "fn")
                    if rule_id in expected
                    else ("fp" if rule_id in fired else "tn")
                )
                counts[rule_id][key] += 1
                if key in ("fp", "fn"):
                    errors.append(f"{key.upper()} {rule_id:20s} {job['label']} [{view}]")
    print_table(counts)
    for line in errors:
        print("  " + line)
    scored = [c for c in counts.values() if c["tp"] + c["fn"]]
    tp, fp, fn = (sum(c[k] for c in counts.values()) for k in ("tp", "fp", "fn"))
    print(
        f"\nsummary: {len(jobs)} trained runs x 3 views = {n_views} diagnosed; micro precision "
        f"{_ratio(tp, tp + fp)}, micro recall {_ratio(tp, tp + fn)}; {len(scored)} rules with positives; "
        f"training {t1 - t0:.0f}s, diagnosing {diag_time:.1f}s "
        f"({1000 * diag_time / max(n_views, 1):.1f} ms/run)"
    )
    tmp.cleanup()
    return 0


def _loss_went_non_finite(store: Any, run_id: int) -> bool:
    import numpy as np

    _, values = store.metric_series(run_id, "train/loss")
    return bool(len(values)) and not np.isfinite(values).all()


def _expectations(labelled: set[str], data: RunData, rules: list) -> tuple[set[str], set[str]]:
    """Labels a view can show, and rules not scored on it.

    A rule whose metrics the view lacks (per-layer gradients in an epoch-only file) cannot
    fire, so it is not expected there; the symptom rules it would explain (its name in
    their ``explained_by``: underfitting for vanishing gradients) are then not scored.
    """
    applies = {r.id for r in rules if r.applies(data)}
    missing = labelled - applies
    excused = {r.id for r in rules if missing & set(r.explained_by)} | missing
    return labelled & applies, excused


def print_table(counts: dict[str, dict[str, int]]) -> None:
    print(f"{'rule':22s} {'prec':>6s} {'recall':>6s} {'tp':>4s} {'fp':>4s} {'fn':>4s} {'tn':>5s}")
    for rule_id in sorted(REGISTRY):
        c = counts[rule_id]
        print(
            f"{rule_id:22s} {_ratio(c['tp'], c['tp'] + c['fp']):>6s} "
            f"{_ratio(c['tp'], c['tp'] + c['fn']):>6s} "
            f"{c['tp']:4d} {c['fp']:4d} {c['fn']:4d} {c['tn']:5d}"
        )


def _ratio(a: int, b: int) -> str:
    return f"{a / b:.2f}" if b else "n/a"


if __name__ == "__main__":
    sys.exit(main())
