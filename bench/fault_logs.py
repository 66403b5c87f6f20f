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

from bench.corpus import fmt, traindoc_findings  # noqa: E402 - the same reading path and table cells
from bench.fault_writers import SCENARIOS, WRITERS, Scenario  # noqa: E402

LABEL_RULES = [  # the corpus scorer's mapping (../shared/corpus/score.py), restated for its absence
    ("overfitting", "overfitting"),
    ("underfitting", "underfitting"),
    ("oscillation", "loss_oscillation"),
    ("val_better_than_train", "val_above_train"),
    ("divergence", "divergence"),
]
FIRING = {"warning", "critical"}
IGNORED_ON_HEALTHY = {"early_stop_point"}


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
                    case.fired = {r for r, sev in traindoc_findings(path) if sev in FIRING}
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
